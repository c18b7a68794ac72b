/* Command-line options. */
#ifndef PYTOP_APP_OPTIONS_H
#define PYTOP_APP_OPTIONS_H

#include <stdint.h>
#include <sys/types.h>

#include "python/discover.h"
#include "record/export.h"

enum pytop_mode {
    MODE_NONE,
    MODE_DUMP,           /* pytop dump, --dump */
    MODE_RECORD,         /* pytop record -o FILE, --record FILE */
    MODE_EXPORT,         /* pytop export RECORDING, --export RECORDING */
    MODE_TOP,            /* pytop top, or a target and no other mode: the live view */
    MODE_REPLAY,         /* pytop replay RECORDING, --replay: the same view over a recording */
};

struct pytop_options {
    enum pytop_mode mode;
    pid_t pid;                       /* -p */
    char **command;                  /* after "--": a program to launch, NULL-terminated */
    int dashdash;                    /* the command came after "--" */
    int json;                        /* --json */
    enum py_layout_source layout_source;
    /* sampling */
    double rate_hz;                  /* --rate */
    uint64_t duration_ns;            /* --duration */
    int native;                      /* --native: merge C frames with Python frames */
    int native_all;                  /* --native-all: and keep the interpreter's own frames */
    int blocking;                    /* --blocking: hold each thread while it is read */
    int subprocesses;                /* --subprocesses: follow the target's descendants */
    int idle;                        /* --idle: waiting threads count too (wall time) */
    int gil;                         /* --gil: only samples of threads holding the GIL */
    int async;                       /* --async: stacks rooted in asyncio tasks (3.11+) */
    int schedstat;                   /* --schedstat: CPU time from schedstat, no perf events */
    /* recording and snapshots */
    const char *record_path;         /* --record FILE, or record's -o FILE */
    int record_export;               /* record_path is a profile in format, not a recording */
    int keep_recording;              /* --keep-recording: the recording beside that profile */
    uint64_t snapshot_every_ns;      /* --snapshot-every */
    const char *snapshot_dir;        /* --snapshot-dir */
    enum export_format snapshot_format;   /* --snapshot-format */
    /* export */
    const char *export_path;         /* --export */
    const char *baseline_path;       /* --baseline: a recording to compare with */
    enum export_format format;       /* --format */
    enum export_mode weight;         /* --mode cpu|wall|memory (also the view's first weight) */
    const char *output;              /* -o (export) */
    int weight_given;                /* --mode was given */
    /* the live view and replay */
    uint64_t refresh_ns;             /* --refresh */
    const char *replay_path;         /* --replay */
    double speed;                    /* --speed */
};

/* Parse argv. Returns 0, 1 when the program should exit 0 at once (--help,
 * --version were printed), or -1 after printing one line on stderr. */
int options_parse(int argc, char **argv, struct pytop_options *o);

/* "30" (seconds), "2s", "500ms", "1m", "1h": 0 and *out_ns, or -1. */
int options_parse_time(const char *s, double max_seconds, uint64_t *out_ns);
/* "100", "250hz", "1khz", "10k": 0 and *out_hz (at most 100 kHz), or -1. */
int options_parse_rate(const char *s, double *out_hz);
/* The export format a file's name asks for: 0 and *out; 1 when the name
 * names none (a recording); -1 when it could be several (".json"). */
int options_format_of_name(const char *path, enum export_format *out);

#endif
