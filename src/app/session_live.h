/* A live session: sample a target on a thread of its own into a model
 * the TUI queries, and keep the process's CPU and memory counters. */
#ifndef PYTOP_APP_SESSION_LIVE_H
#define PYTOP_APP_SESSION_LIVE_H

#include "app/launch.h"
#include "app/session.h"
#include "app/session_impl.h"
#include "python/discover.h"

/* Start sampling target at once. target, launched (NULL when attached)
 * and o->snapshot_dir are borrowed and must outlive the session; when the
 * target exits, the session collects a launched child's status. Returns 0
 * and *out, or a negative error. */
int session_live_new(struct py_target *target, struct launch *launched,
                     const struct session_options *o, struct session **out);

#endif
