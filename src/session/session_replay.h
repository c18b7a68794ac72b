/* A replay session: a recording fed into the model by a replay clock, so
 * the TUI shows what the live view showed at each moment of the run. */
#ifndef PYTOP_SESSION_SESSION_REPLAY_H
#define PYTOP_SESSION_SESSION_REPLAY_H

#include "session/session.h"
#include "session/session_impl.h"

/* Read the recording at path through once (its length, and whether it is
 * one), then position the clock at its start, playing. Returns 0 and *out,
 * -PT_ERR_FORMAT for a file that is not a pytop recording, or -errno.
 * o->snapshot_dir is borrowed. */
int session_replay_open(const char *path, const struct session_options *o,
                        struct session **out);

#endif
