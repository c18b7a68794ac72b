/* A session: what the TUI looks at. Either a live target (a sampler
 * thread feeding a model) or a replayed recording (a reader feeding the
 * model by a replay clock). The UI queries the model and dictionary under
 * the session's lock, asks for the header's numbers, and calls a few
 * actions; it does not know which kind it has, except to show replay
 * controls (session_info.replay).
 *
 * Threads: every function here is for the one UI thread. A live session's
 * sampler thread never takes the lock: it queues its samples, and
 * session_tick feeds them to the model. */
#ifndef PYTOP_SESSION_SESSION_H
#define PYTOP_SESSION_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/stacks.h"
#include "model/model.h"

struct session_info {
    int replay;                 /* a recording: show the replay controls */
    uint32_t pid;
    const char *command;        /* owned by the session, stable */
    const char *python;         /* version text, "" when unknown */
    uint64_t elapsed_ns;        /* live: since sampling began; replay: the position */
    uint64_t length_ns;         /* replay: the recording's length */
    int playing;                /* replay: the clock runs */
    double speed;               /* replay speed */
    uint64_t samples;           /* taken (live) or replayed so far */
    uint64_t late, errors;      /* live: so far; replay: the whole recording's */
    /* Thread samples by enum stack_kind, as errors; have_stacks is 0 when
     * unknown (a recording before format 1.2, or cut short). */
    int have_stacks;
    uint64_t stacks[STACK_KINDS];
    /* live: samples taken but not shown, as the queue to the view was
     * full (the view fell seconds behind); 0 otherwise. */
    uint64_t dropped;
    double rate_hz;             /* requested */
    double achieved_hz;
    int have_cpu;               /* cpu_percent is known */
    double cpu_percent;         /* the process's CPU use, 100 = one core */
    /* The target's RSS as the session read it, when it did: the header's
     * fallback while the model has no counters (model_counters is what
     * the Memory view and the header show). */
    int have_memory;
    uint64_t rss_bytes;
    uint32_t threads;           /* threads now (0: unknown) */
    int ended;                  /* the target exited (replay: and the clock is at the end) */
    int exit_status;            /* its exit code when known, else -1 */
    int execd;                  /* live: the target exec'd a program that is not Python */
    int gil_only;               /* --gil or --mode gil: only threads holding the GIL */
    uint32_t execs;             /* live: new Python images of the target followed */
    uint64_t dict_full;         /* live: thread stacks cut short, the dictionary full */
    int error;                  /* sampling stopped on this error (negative), else 0 */
    int done;                   /* live: sampling ended by its duration */
    int truncated;              /* replay: the recording was cut short */
    /* live --blocking: how long threads were held per sample, over the
     * run (pause_samples: samples with a thread held). */
    int blocking;
    uint64_t pause_samples, pause_median_ns, pause_p90_ns;
};

struct session;

void session_lock(struct session *s);
void session_unlock(struct session *s);
/* Under the lock. Ids from a query stay valid, and the dictionary may be
 * read without the lock, until the next session_tick, _seek or _reset. */
const struct model *session_model(struct session *s);
const struct stack_table *session_dict(struct session *s);

void session_info(struct session *s, struct session_info *out);
/* Let time pass: a replay feeds the model up to its clock. Call it often. */
void session_tick(struct session *s, uint64_t mono_ns);
/* Replay only (no effect live): run or stop the clock; move it by delta.
 * session_seek returns 0 or a negative error (the position then stays). */
void session_set_playing(struct session *s, int playing);
int session_seek(struct session *s, int64_t delta_ns);

/* Forget what the model holds. */
void session_reset(struct session *s);
/* The model's window, kept across a replay's rebuilds. */
void session_set_window(struct session *s, uint64_t window_ns);

/* Write what the model holds over range r, filtered, in the snapshot
 * format into the snapshot directory. Returns 0 and the path, or a
 * negative error. */
int session_snapshot(struct session *s, enum model_range r, enum model_weight w,
                     const struct model_filter *filter, char *path, size_t cap);
const char *session_snapshot_dir(const struct session *s);

/* A source file as the target would see it, whole and NUL-terminated,
 * into a malloc'd buffer the caller frees. Returns 0 or a negative error
 * (-EFBIG over 16 MiB). */
int session_read_source(struct session *s, const char *path, char **data, size_t *len);

void session_free(struct session *s);      /* NULL is fine */

#endif
