/* The bottom of the screen: the status line (messages, the filter's
 * input line) and the key bar; and the help overlay. */
#ifndef PYTOP_UI_FOOTER_H
#define PYTOP_UI_FOOTER_H

#include "ui/screen.h"

#define FOOTER_ROWS 2

/* The status line at y: msg in role, or the input line when input is not
 * NULL (then the cursor is left at its end). */
void footer_status(const struct screen *scr, int y, const char *msg, enum ui_role role,
                   const char *input);
/* The key bar at y; replay adds its controls, scope (the view's) its
 * keys, several processes the process filter's. Entries that do not fit
 * are left out, the least needed first; q Quit always shows. */
void footer_keys(const struct screen *scr, int y, int replay, unsigned scope, size_t nprocs);
/* Every binding, scrolled by *top (clamped here), over the screen. */
void help_draw(const struct screen *scr, int *top);

#endif
