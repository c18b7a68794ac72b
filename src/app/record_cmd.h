/* pytop --record: sample with no terminal into a recording file, with
 * optional periodic snapshots in an export format. */
#ifndef PYTOP_APP_RECORD_CMD_H
#define PYTOP_APP_RECORD_CMD_H

#include <stdint.h>
#include <stdio.h>

#include "app/launch.h"
#include "python/discover.h"
#include "record/export.h"

struct record_options {
    const char *path;                /* the file the summary names */
    int fd;                          /* the recording: an open file (taken), or -1 to create path */
    double rate_hz;
    uint64_t duration_ns;            /* 0: until the target exits or a signal */
    uint64_t snapshot_every_ns;      /* 0: no snapshots */
    const char *snapshot_dir;
    enum export_format snapshot_format;
    enum export_mode snapshot_mode;
    int native, native_all;          /* --native, --native-all */
    int blocking;                    /* --blocking */
    int subprocesses;                /* --subprocesses */
    enum py_layout_source layout_source;   /* for descendants */
    int gil;                         /* --gil: keep only the threads holding the GIL */
    int async;                       /* --async: stacks rooted in asyncio tasks */
    int schedstat;                   /* --schedstat: CPU time from schedstat only */
};

/* Record target until the duration ends, it exits, or SIGINT/SIGTERM.
 * launched is the child when pytop started the target (NULL when
 * attached). On a terminal, keeps one line on status up to date while it
 * runs; prints the one-line summary on status, and why when the rate
 * achieved is below 90 % of the rate asked. Returns 0 or a
 * negative error; a failed snapshot is reported on status and recording
 * goes on. *ended_launched (may be NULL) says whether pytop ended the
 * launched program (--duration, a signal) rather than it exiting. */
int record_run(struct py_target *target, struct launch *launched,
               const struct record_options *o, FILE *status, int *ended_launched);

#endif
