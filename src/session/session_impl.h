/* What the session variants (session_live.c, session_replay.c) share:
 * the base object they embed first, and its helpers. */
#ifndef PYTOP_SESSION_SESSION_IMPL_H
#define PYTOP_SESSION_SESSION_IMPL_H

#include <pthread.h>

#include "python/discover.h"
#include "record/export.h"
#include "record/export_model.h"
#include "session/gil_filter.h"
#include "session/session.h"

struct session_ops {
    void (*info)(struct session *s, struct session_info *out);
    void (*tick)(struct session *s, uint64_t mono_ns);            /* may be NULL */
    void (*set_playing)(struct session *s, int playing);          /* may be NULL */
    int (*seek)(struct session *s, int64_t delta_ns);             /* may be NULL */
    /* Open a source file; NULL: open the path as given. */
    int (*open_file)(struct session *s, const char *path, int *fd);
    void (*release)(struct session *s);   /* stop threads, free the variant's parts */
};

struct session_options {
    double rate_hz;                     /* live: samples per second */
    uint64_t duration_ns;               /* live: stop sampling after this long; 0: never */
    uint64_t window_ns;                 /* the model's first window */
    double speed;                       /* replay: clock speed, 1 = real time */
    const char *snapshot_dir;           /* borrowed */
    enum export_format snapshot_format;
    int native, native_all;             /* live: --native, --native-all */
    int blocking;                       /* live: --blocking */
    int subprocesses;                   /* live: --subprocesses */
    int async;                          /* live: --async */
    int schedstat;                      /* live: --schedstat */
    enum py_layout_source layout_source;   /* live: for descendants */
    int gil;                            /* --gil: only threads holding the GIL */
};

struct session {
    const struct session_ops *ops;
    pthread_mutex_t lock;
    /* Test hook (PYTOP_TEST_UI_DELAY_MS): session_unlock holds the lock
     * this much longer, as a slow query would. */
    uint64_t ui_delay_ns;
    struct model *model;                /* under the lock */
    const struct stack_table *dict;     /* under the lock */
    uint64_t window_ns;
    /* For snapshots; the strings are what session_info shows. */
    uint32_t pid;
    char python[32];
    char command[1024];
    uint64_t start_unix_ns;
    uint32_t rate_hz;
    const char *snapshot_dir;
    enum export_format snapshot_format;
    struct gil_filter gil;              /* --gil, applied by session_model_add */
};

/* The model's retention: the longest window the UI offers. */
#define SESSION_RETENTION_NS (300ULL * 1000000000ULL)
void session_base_init(struct session *s, const struct session_ops *ops,
                       const struct session_options *o);
/* A model over dict with the session's window and the shared retention. */
struct model *session_new_model(const struct session *s, const struct stack_table *dict);
/* model_add of smp, without the threads --gil leaves out. */
int session_model_add(struct session *s, struct model *m, const struct sample *smp);

#endif
