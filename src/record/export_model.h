/* A model's aggregates as an exporter's input, and written to a file:
 * what pytop --export, --record's snapshots and the live view's snapshot
 * key share. */
#ifndef PYTOP_RECORD_EXPORT_MODEL_H
#define PYTOP_RECORD_EXPORT_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/sample.h"
#include "model/model.h"
#include "record/export.h"

/* What the model does not know about the run, for the file's metadata. */
struct export_context {
    uint32_t pid;
    const char *python;
    const char *command;
    uint64_t start_unix_ns;
    uint32_t rate_hz;
};

/* A recording's samples one row per thread entry, in order, for the
 * timeline formats. Zero it to start; export_timeline_free releases it. */
struct export_timeline {
    struct stack_weight *rows;
    uint64_t *time_ns;
    size_t n, cap;
};

/* Returns 0 or -ENOMEM (tl then holds the entries added before). */
int export_timeline_add(struct export_timeline *tl, const struct sample *s);
void export_timeline_free(struct export_timeline *tl);

/* The rows and labels behind an export_input, owned by it. */
struct export_parts {
    struct stack_weight *rows;
    struct thread_label *labels;
    struct process_info *procs;
    size_t nrows, nlabels, nprocs;
};

void export_parts_free(struct export_parts *ip);

/* Fill *in from what m holds over range r (filter may be NULL); the rows
 * it points to are ip's, which the caller frees with export_parts_free
 * (also on error). in->dict is dict. Returns 0 or a negative error. */
int export_model_input(const struct model *m, const struct stack_table *dict, enum model_range r,
                       const struct model_filter *filter, enum export_mode mode,
                       const struct export_context *ctx, struct export_parts *ip,
                       struct export_input *in);

/* Write m's aggregates as fmt on out; tl (may be NULL) replaces the rows
 * by the timeline's, baseline (may be NULL) is the compared-with input.
 * Returns 0 or a negative error. */
int export_model_write(FILE *out, const struct model *m, const struct stack_table *dict,
                       enum model_range r, const struct model_filter *filter,
                       enum export_format fmt, enum export_mode mode,
                       const struct export_context *ctx, const struct export_timeline *tl,
                       const struct export_input *baseline);

/* Write what model holds over range r as fmt into path, atomically (a
 * temporary file beside it renamed into place, so a reader never sees half
 * a file; -EEXIST when something other than a regular file is at path).
 * filter may be NULL. Returns 0 or a negative error. */
int export_model_to_file(const char *path, const struct model *m, const struct stack_table *dict,
                         enum model_range r, const struct model_filter *filter,
                         enum export_format fmt, enum export_mode mode,
                         const struct export_context *ctx);
/* The same with export_model_write's tl and baseline. */
int export_model_to_file_ex(const char *path, const struct model *m,
                            const struct stack_table *dict, enum model_range r,
                            const struct model_filter *filter, enum export_format fmt,
                            enum export_mode mode, const struct export_context *ctx,
                            const struct export_timeline *tl, const struct export_input *baseline);

/* DIR/pytop-PID-YYYYMMDD-HHMMSS[-N]<suffix> for the current local time,
 * unique in DIR. Returns 0 or -ENAMETOOLONG. */
int snapshot_path(char *buf, size_t cap, const char *dir, uint32_t pid, enum export_format fmt);

#endif
