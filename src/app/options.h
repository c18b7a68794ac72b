/* Command-line options. */
#ifndef PYTOP_APP_OPTIONS_H
#define PYTOP_APP_OPTIONS_H

#include <stdint.h>
#include <sys/types.h>

#include "python/discover.h"
#include "record/export.h"

enum pytop_mode {
    MODE_NONE,
    MODE_DUMP,           /* --dump */
    MODE_RECORD,         /* --record FILE */
    MODE_EXPORT,         /* --export RECORDING */
    MODE_TOP,            /* the live view: a target and no other mode */
    MODE_REPLAY,         /* --replay RECORDING: the same view over a recording */
};

struct pytop_options {
    enum pytop_mode mode;
    pid_t pid;                       /* -p */
    char **command;                  /* after "--": a program to launch, NULL-terminated */
    int json;                        /* --json */
    enum py_layout_source layout_source;
    /* sampling */
    double rate_hz;                  /* --rate */
    uint64_t duration_ns;            /* --duration */
    int native;                      /* --native: merge C frames with Python frames */
    int native_all;                  /* --native-all: and keep the interpreter's own frames */
    int blocking;                    /* --blocking: hold each thread while it is read */
    int subprocesses;                /* --subprocesses: follow the target's descendants */
    /* recording and snapshots */
    const char *record_path;         /* --record */
    uint64_t snapshot_every_ns;      /* --snapshot-every */
    const char *snapshot_dir;        /* --snapshot-dir */
    enum export_format snapshot_format;   /* --snapshot-format */
    /* export */
    const char *export_path;         /* --export */
    enum export_format format;       /* --format */
    enum export_mode weight;         /* --mode cpu|wall|memory (also the view's first weight) */
    const char *output;              /* -o */
    /* the live view and replay */
    uint64_t refresh_ns;             /* --refresh */
    const char *replay_path;         /* --replay */
    double speed;                    /* --speed */
};

/* Parse argv. Returns 0, 1 when the program should exit 0 at once (--help,
 * --version were printed), or -1 after printing one line on stderr. */
int options_parse(int argc, char **argv, struct pytop_options *o);

#endif
