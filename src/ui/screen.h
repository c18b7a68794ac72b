/* The terminal: taking and restoring it, colors by role, drawing text
 * that fits. Every other file of src/ui draws through stdscr and these
 * helpers; curses is included only under src/ui/. */
#ifndef PYTOP_UI_SCREEN_H
#define PYTOP_UI_SCREEN_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>

/* What a piece of text is, not how it looks: the scheme decides. */
enum ui_role {
    ROLE_NORMAL,
    ROLE_HEADER,        /* labels of the header */
    ROLE_VALUE,         /* numbers in the header */
    ROLE_TAB,           /* a view's name in the tab bar */
    ROLE_TAB_ACTIVE,    /* the current view's name */
    ROLE_TITLE,         /* column titles */
    ROLE_TITLE_SORTED,  /* the sort column's title */
    ROLE_SELECTED,      /* the selected row */
    ROLE_HOT,           /* a large share */
    ROLE_WARM,          /* a noticeable share */
    ROLE_DIM,           /* less important text: files, idle threads */
    ROLE_STATUS,        /* the status line's messages */
    ROLE_ALERT,         /* errors, "target exited", paused */
    ROLE_KEY,           /* a key in the footer */
    ROLE_KEY_LABEL,     /* what it does */
    ROLE_GRAPH,         /* sparklines and charts */
    ROLE_COUNT
};

struct screen {
    int rows, cols;
    int utf8;           /* the locale is UTF-8: use box and block characters */
    int color;          /* colors in use (else the monochrome scheme) */
    attr_t attr[ROLE_COUNT];
};

/* Take the terminal: locale, curses, the color scheme (monochrome when
 * NO_COLOR is set or the terminal has no colors), and handlers that
 * restore the terminal on SIGINT/SIGTERM/SIGHUP (the loop then quits),
 * on crashes, and at exit. Returns 0, or -ENOTTY when curses cannot start
 * (nothing was changed then). */
int screen_open(struct screen *scr);
/* The quit signals' handler installed now, before screen_open (which keeps
 * it): one arriving while the view starts ends the loop as soon as it
 * runs, as one arriving later does. */
void screen_catch_quit_early(void);
/* Give the terminal back; safe to call more than once. */
void screen_close(struct screen *scr);
/* The terminating signal that arrived (the loop should end), or 0. */
int screen_quit_requested(void);
/* Re-read the size after KEY_RESIZE. */
void screen_update_size(struct screen *scr);

/* Draw s at (y, x) in at most w columns with role's look, cut with an
 * ellipsis (at the start when keep_tail). Returns the columns drawn. */
int screen_put(const struct screen *scr, int y, int x, int w, const char *s, enum ui_role role,
               int keep_tail);
/* The same, padded with spaces to exactly w columns, right-aligned when
 * right. */
void screen_cell(const struct screen *scr, int y, int x, int w, const char *s, enum ui_role role,
                 int right, int keep_tail);
/* Fill w columns of row y from x with spaces in role's look. */
void screen_fill(const struct screen *scr, int y, int x, int w, enum ui_role role);

#endif
