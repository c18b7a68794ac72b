/* A live session: sample a target on a thread of its own into a model
 * the TUI queries, and keep the process's CPU and memory counters. */
#ifndef PYTOP_SESSION_SESSION_LIVE_H
#define PYTOP_SESSION_SESSION_LIVE_H

#include "session/session.h"
#include "session/session_impl.h"
#include "python/discover.h"

/* A target pytop started (app/launch.c knows how): the sampler thread
 * calls reap(ctx) once the target exited, which collects it (without
 * waiting: it is a zombie or gone) and returns its exit code, or -1. */
struct session_child {
    int (*reap)(void *ctx);
    void *ctx;
};

/* Start sampling target at once. target, child (NULL when attached) and
 * o->snapshot_dir are borrowed and must outlive the session. A child is
 * seen from its start-up on (its phases named). Returns 0 and *out, or a
 * negative error. */
int session_live_new(struct py_target *target, const struct session_child *child,
                     const struct session_options *o, struct session **out);

#endif
