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
    const char *path;                /* the recording */
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
};

/* Record target until the duration ends, it exits, or SIGINT/SIGTERM.
 * launched is the child when pytop started the target (NULL when
 * attached). Prints the one-line summary on status. Returns 0 or a
 * negative error; a failed snapshot is reported on status and recording
 * goes on. */
int record_run(struct py_target *target, struct launch *launched,
               const struct record_options *o, FILE *status);

#endif
