/* The header: the target; the sampler's numbers; the process's state,
 * CPU, RSS and its change over the window, threads, and the processes
 * seen when there are several; what the views show (CPU or WALL, the
 * window, the filters); and the tab bar of views. Each fits in 80
 * columns. */
#ifndef PYTOP_UI_HEADER_H
#define PYTOP_UI_HEADER_H

#include "session/session.h"
#include "ui/screen.h"
#include "ui/view.h"

#define HEADER_ROWS 5

void header_draw(const struct screen *scr, const struct session_info *info,
                 const struct ui_query *q, const struct ui_summary *sum, int paused,
                 struct view *const *views, int nviews, int active);

#endif
