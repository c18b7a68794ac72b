/* Writing aggregated profiles in standard formats.
 *
 * Every exporter takes the same input: per (thread, call path) weights and
 * the dictionary they refer to. The CLI's --export (from a recording), the
 * periodic snapshots and the TUI's snapshot key all call export_write. */
#ifndef PYTOP_RECORD_EXPORT_H
#define PYTOP_RECORD_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/sample.h"
#include "core/stacks.h"

enum export_format {
    EXPORT_FOLDED,        /* collapsed stacks: "root;...;leaf weight" */
    EXPORT_SPEEDSCOPE,    /* speedscope JSON, one sampled profile per thread */
    EXPORT_PSTATS,        /* marshalled pstats dict, for pstats/snakeviz */
    EXPORT_CALLGRIND,     /* callgrind format, for callgrind_annotate/kcachegrind */
    EXPORT_PPROF,         /* gzipped profile.proto */
    EXPORT_SVG,           /* self-contained interactive flame graph */
    EXPORT_GECKO,         /* Firefox Profiler (Gecko profile JSON), a timeline */
    EXPORT_CHROMETRACE,   /* Chrome/Perfetto trace events JSON, a timeline */
    EXPORT_ANNOTATE,      /* source listing: hits, own and total share per line */
    EXPORT_HEATMAP,       /* one HTML page of the sources, shares as colours */
};

/* Whether fmt draws samples over time: it needs export_input.row_time_ns. */
int export_format_is_timeline(enum export_format fmt);

/* What a profile's values measure: CPU time, wall time, or bytes of
 * resident memory growth credited to each stack ("memory"). */
enum export_mode { EXPORT_CPU, EXPORT_WALL, EXPORT_MEMORY };

struct export_input {
    const struct stack_table *dict;
    const struct stack_weight *rows;
    size_t nrows;
    const struct thread_label *threads;   /* names by tid; may be NULL */
    size_t nthreads;
    /* The processes rows refer to; with more than one, each process's
     * stacks are kept apart (a root frame or profile per process). */
    const struct process_info *processes;  /* may be NULL */
    size_t nprocesses;
    uint32_t pid;
    const char *python;                   /* version text, may be NULL */
    const char *command;                  /* target command line, may be NULL */
    uint64_t start_unix_ns;
    uint64_t duration_ns;
    uint32_t rate_hz;
    /* Set for the timeline formats (gecko, chrometrace): rows are then one
     * per thread per sample, in the recording's order, and row_time_ns[i]
     * is row i's sample time since the start of the run. The other
     * formats take such rows too (they merge equal paths). */
    const uint64_t *row_time_ns;
    /* folded and svg: another profile to compare with. Both are then
     * normalised to seconds per second of their own duration_ns. */
    const struct export_input *baseline;
};

/* Returns 0 or a negative error (-errno from writing; -ENOTSUP for a
 * timeline format without row_time_ns, or a baseline with a format that
 * cannot compare). */
int export_write(FILE *out, enum export_format fmt, enum export_mode mode,
                 const struct export_input *in);

/* "folded", "speedscope", "pstats", "callgrind", "pprof", "svg", "gecko",
 * "chrometrace", "annotate", "heatmap" */
int export_format_parse(const char *name, enum export_format *out);
const char *export_format_name(enum export_format fmt);
/* A file name suffix: ".folded", ".speedscope.json", ".pstats", ".callgrind",
 * ".pb.gz", ".svg", ".gecko.json", ".trace.json", ".annotate.txt", ".html". */
const char *export_format_suffix(enum export_format fmt);

#endif
