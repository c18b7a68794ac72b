/* export_write: check the input, build the shared view of the profile
 * (export_walk.c) and hand it to the writer of the format asked for. */
#include "config.h"

#include "record/export.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "record/export_internal.h"
#include "record/export_writers.h"

/* ---- names ------------------------------------------------------------------ */

static const struct {
    enum export_format fmt;
    const char *name;
    const char *suffix;
} formats[] = {
    { EXPORT_FOLDED, "folded", ".folded" },
    { EXPORT_SPEEDSCOPE, "speedscope", ".speedscope.json" },
    { EXPORT_PSTATS, "pstats", ".pstats" },
    { EXPORT_CALLGRIND, "callgrind", ".callgrind" },
    { EXPORT_PPROF, "pprof", ".pb.gz" },
    { EXPORT_SVG, "svg", ".svg" },
    { EXPORT_GECKO, "gecko", ".gecko.json" },
    { EXPORT_CHROMETRACE, "chrometrace", ".trace.json" },
    { EXPORT_ANNOTATE, "annotate", ".annotate.txt" },
    { EXPORT_HEATMAP, "heatmap", ".html" },
};

int export_format_is_timeline(enum export_format fmt)
{
    return fmt == EXPORT_GECKO || fmt == EXPORT_CHROMETRACE;
}
#define NFORMATS (sizeof formats / sizeof formats[0])

int export_format_parse(const char *name, enum export_format *out)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < NFORMATS; i++) {
        if (strcmp(name, formats[i].name) == 0) {
            *out = formats[i].fmt;
            return 0;
        }
    }
    /* The names other tools use for the same files. */
    if (strcmp(name, "collapsed") == 0) {
        *out = EXPORT_FOLDED;
        return 0;
    }
    if (strcmp(name, "flamegraph") == 0) {
        *out = EXPORT_SVG;
        return 0;
    }
    return -EINVAL;
}

const char *export_format_name(enum export_format fmt)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].fmt == fmt)
            return formats[i].name;
    return "unknown";
}

const char *export_format_suffix(enum export_format fmt)
{
    for (size_t i = 0; i < NFORMATS; i++)
        if (formats[i].fmt == fmt)
            return formats[i].suffix;
    return "";
}

/* ---- dispatch ------------------------------------------------------------------------ */

int export_write(FILE *out, enum export_format fmt, enum export_mode mode,
                 const struct export_input *in)
{
    if (!out || !in || !in->dict || (in->nrows && !in->rows))
        return -EINVAL;
    if (mode != EXPORT_CPU && mode != EXPORT_WALL && mode != EXPORT_MEMORY)
        return -EINVAL;

    if (export_format_is_timeline(fmt) && !in->row_time_ns)
        return -ENOTSUP;
    if (in->baseline && ((fmt != EXPORT_FOLDED && fmt != EXPORT_SVG) ||
                         !in->baseline->dict || (in->baseline->nrows && !in->baseline->rows)))
        return -ENOTSUP;

    /* speedscope, pprof and the timelines keep processes apart their own
     * way (a profile or track per process and thread, a pid label). */
    int roots = fmt != EXPORT_SPEEDSCOPE && fmt != EXPORT_PPROF && !export_format_is_timeline(fmt);
    struct export_prep p, base;
    int rc = export_prep_init(&p, in, mode, roots);
    if (rc != 0)
        return rc;
    if (in->baseline) {
        rc = export_prep_init(&base, in->baseline, mode, roots);
        if (rc != 0) {
            export_prep_release(&p);
            return rc;
        }
    }
    struct export_out o;
    export_out_init(&o, out);
    if (in->baseline) {
        rc = fmt == EXPORT_FOLDED ? export_write_folded_diff(&o, &p, &base)
                                  : export_write_svg_diff(&o, &p, &base);
        int frc = export_out_finish(&o);
        export_prep_release(&base);
        export_prep_release(&p);
        return rc ? rc : frc;
    }
    switch (fmt) {
    case EXPORT_FOLDED: rc = export_write_folded(&o, &p); break;
    case EXPORT_SPEEDSCOPE: rc = export_write_speedscope(&o, &p); break;
    case EXPORT_PSTATS: rc = export_write_pstats(&o, &p); break;
    case EXPORT_CALLGRIND: rc = export_write_callgrind(&o, &p); break;
    case EXPORT_PPROF: rc = export_write_pprof(&o, &p); break;
    case EXPORT_SVG: rc = export_write_svg(&o, &p); break;
    case EXPORT_GECKO: rc = export_write_gecko(&o, &p); break;
    case EXPORT_CHROMETRACE: rc = export_write_chrometrace(&o, &p); break;
    case EXPORT_ANNOTATE: rc = export_write_annotate(&o, &p, 0); break;
    case EXPORT_HEATMAP: rc = export_write_annotate(&o, &p, 1); break;
    default: rc = -EINVAL; break;
    }
    int frc = export_out_finish(&o);
    export_prep_release(&p);
    return rc ? rc : frc;
}
