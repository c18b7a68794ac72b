/* The format writers, called by export_write (export_write.c) with the
 * shared view of the profile (export_internal.h). Each writes only its
 * format. Not for use outside src/record/export*. */
#ifndef PYTOP_RECORD_EXPORT_WRITERS_H
#define PYTOP_RECORD_EXPORT_WRITERS_H

#include "record/export_internal.h"

int export_write_folded(struct export_out *o, struct export_prep *p);
int export_write_speedscope(struct export_out *o, struct export_prep *p);
int export_write_pstats(struct export_out *o, struct export_prep *p);
int export_write_callgrind(struct export_out *o, struct export_prep *p);
int export_write_pprof(struct export_out *o, struct export_prep *p);
int export_write_svg(struct export_out *o, struct export_prep *p);
int export_write_gecko(struct export_out *o, struct export_prep *p);
int export_write_chrometrace(struct export_out *o, struct export_prep *p);
int export_write_annotate(struct export_out *o, struct export_prep *p, int html);
/* folded with in->baseline: "path old new" lines, seconds per second. */
int export_write_folded_diff(struct export_out *o, struct export_prep *p,
                             struct export_prep *base);
/* svg with in->baseline: widths from p, colours and hover from the change. */
int export_write_svg_diff(struct export_out *o, struct export_prep *p,
                          struct export_prep *base);
/* The call paths of p and base merged by text, sorted: emit gets each
 * with base's weight and p's, each per second of its own duration_ns. */
int export_diff_lines(struct export_prep *p, struct export_prep *base,
                      void (*emit)(void *ctx, const char *path, double old, double new_),
                      void *ctx);

#endif
