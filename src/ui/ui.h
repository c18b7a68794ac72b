/* The full-screen view: the entry point of src/ui. It runs the loop over a
 * session until the user quits or a terminating signal arrives, and gives
 * the terminal back on every path. */
#ifndef PYTOP_UI_UI_H
#define PYTOP_UI_UI_H

#include <stdint.h>

#include "session/session.h"
#include "model/model.h"

struct ui_options {
    uint64_t refresh_ns;            /* how often the views re-query; default 1 s */
    enum model_weight weight;       /* CPU or WALL at start */
    uint64_t window_ns;             /* the window at start (one of the + - steps) */
};

/* Returns 0 when the user quit, a positive signal number when one ended
 * the loop, or -ENOTTY when the terminal could not be used (nothing was
 * drawn then). */
int ui_run(struct session *s, const struct ui_options *o);

/* From now on SIGINT, SIGTERM, SIGHUP and SIGQUIT are taken as a request
 * to quit: called before the view starts (attaching, starting the
 * sampler), so that one arriving meanwhile ends the view as one arriving
 * later does (ui_run returns it at once), not pytop at the signal. */
void ui_catch_quit_signals(void);

#endif
