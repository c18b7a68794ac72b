#include "config.h"

#include "ui/footer.h"

#include "ui/format.h"
#include "ui/keys.h"

#include <stdio.h>
#include <string.h>

void footer_status(const struct screen *scr, int y, const char *msg, enum ui_role role,
                   const char *input)
{
    if (input) {
        static const char prompt[] = "Filter (function or file; Enter applies, Esc cancels): ";
        int x = screen_put(scr, y, 0, scr->cols, prompt, ROLE_HEADER, 0);
        /* Show the end of a long entry, where the typing happens. */
        x += screen_put(scr, y, x, scr->cols - x - 1, input, ROLE_VALUE, 1);
        move(y, x < scr->cols ? x : scr->cols - 1);
        return;
    }
    if (msg && *msg)
        screen_put(scr, y, 0, scr->cols, msg, role, 0);
}

struct key_label {
    const char *key, *label;
    int keep;               /* leave out: 1 first ... 9 never */
    unsigned when;          /* KEYBAR_* conditions, 0: always */
};

enum {
    KEYBAR_LIVE = 1u << 0,
    KEYBAR_REPLAY = 1u << 1,
    KEYBAR_FUNCTIONS = 1u << 2,
    KEYBAR_PROCESSES = 1u << 3,     /* more than one process */
};

static const struct key_label bar[] = {
    { "F1/?", "Help", 9, 0 },
    { "Tab", " View", 8, 0 },
    { "c", " CPU/Wall", 7, 0 },
    { "m", " +Mem", 5, KEYBAR_FUNCTIONS },
    { "P", " Process", 6, KEYBAR_PROCESSES },
    { "s", " Save", 3, 0 },
    { "p", " Pause", 4, KEYBAR_LIVE },
    { "p", " Play/Pause", 8, KEYBAR_REPLAY },
    { ", .", " Step", 7, KEYBAR_REPLAY },
    { "/", " Filter", 4, 0 },
    { "< >", " Sort", 3, 0 },
    { "+ -", " Window", 2, 0 },
    { "q", " Quit", 9, 0 },
};

#define NBAR (sizeof bar / sizeof *bar)

static int entry_width(const struct key_label *k)
{
    return text_width(k->key) + text_width(k->label);
}

void footer_keys(const struct screen *scr, int y, int replay, unsigned scope, size_t nprocs)
{
    unsigned have = (replay ? KEYBAR_REPLAY : KEYBAR_LIVE) |
                    (scope & SCOPE_FUNCTIONS ? KEYBAR_FUNCTIONS : 0) |
                    (nprocs > 1 ? KEYBAR_PROCESSES : 0);
    int on[NBAR];
    int n = 0, width = 0;
    for (size_t i = 0; i < NBAR; i++) {
        on[i] = !bar[i].when || (bar[i].when & have);
        if (on[i]) {
            n++;
            width += entry_width(&bar[i]);
        }
    }
    /* Two spaces between entries when they fit, else one; then leave out
     * entries, the least needed first, until the rest fit. */
    int gap = width + 2 * (n - 1) <= scr->cols ? 2 : 1;
    while (n > 1 && width + gap * (n - 1) > scr->cols) {
        size_t victim = NBAR;
        for (size_t i = 0; i < NBAR; i++)
            if (on[i] && bar[i].keep < 9 && (victim == NBAR || bar[i].keep < bar[victim].keep))
                victim = i;
        if (victim == NBAR)
            break;
        on[victim] = 0;
        n--;
        width -= entry_width(&bar[victim]);
    }
    int x = 0, first = 1;
    for (size_t i = 0; i < NBAR && x < scr->cols; i++) {
        if (!on[i])
            continue;
        if (!first)
            x += screen_put(scr, y, x, scr->cols - x, gap == 2 ? "  " : " ", ROLE_NORMAL, 0);
        first = 0;
        x += screen_put(scr, y, x, scr->cols - x, bar[i].key, ROLE_KEY, 0);
        x += screen_put(scr, y, x, scr->cols - x, bar[i].label, ROLE_KEY_LABEL, 0);
    }
}

static const struct {
    unsigned scope;
    const char *title;
} sections[] = {
    { SCOPE_GLOBAL, "Everywhere" },
    { SCOPE_FUNCTIONS, "Functions view" },
    { SCOPE_THREADS, "Threads view" },
    { SCOPE_TASKS, "Tasks view (--async)" },
    { SCOPE_TREE, "Call tree view" },
    { SCOPE_SOURCE, "Source view" },
    { SCOPE_REPLAY, "Replay (pytop --replay)" },
};

#define NSECTIONS (sizeof sections / sizeof *sections)

void help_draw(const struct screen *scr, int *top)
{
    size_t nb;
    const struct key_binding *b = keys_table(&nb);
    int x0 = scr->cols > 84 ? (scr->cols - 80) / 2 : 1;
    int w = scr->cols - 2 * x0;
    int y0 = 1, h = scr->rows - 3;   /* the status line stays visible */
    if (w < 20 || h < 3)
        return;
    /* Count the lines, to clamp the scroll. */
    int lines = 0;
    for (size_t s = 0; s < NSECTIONS; s++) {
        lines += 2;
        for (size_t i = 0; i < nb; i++)
            lines += b[i].name && (b[i].scope & sections[s].scope);
    }
    int body = h - 2;
    if (*top > lines - body)
        *top = lines - body;
    if (*top < 0)
        *top = 0;

    for (int r = 0; r < h; r++)
        screen_fill(scr, y0 + r, x0, w, ROLE_NORMAL);
    /* Sides, so the box stands out from the view under it. */
    attrset(scr->attr[ROLE_TITLE]);
    mvvline(y0 + 1, x0, ACS_VLINE, h - 2);
    mvvline(y0 + 1, x0 + w - 1, ACS_VLINE, h - 2);
    attrset(A_NORMAL);
    screen_fill(scr, y0, x0, w, ROLE_TITLE);
    screen_put(scr, y0, x0 + 1, w - 2, "pytop keys", ROLE_TITLE, 0);
    screen_fill(scr, y0 + h - 1, x0, w, ROLE_TITLE);
    screen_put(scr, y0 + h - 1, x0 + 1, w - 2,
               "Esc or ? closes, Up/Down scroll, any other key acts and closes", ROLE_TITLE, 0);
    int line = 0, y = y0 + 1;
    for (size_t s = 0; s < NSECTIONS; s++) {
        if (line >= *top && y < y0 + h - 1)
            screen_put(scr, y++, x0 + 2, w - 4, sections[s].title, ROLE_HEADER, 0);
        line++;
        for (size_t i = 0; i < nb; i++) {
            if (!b[i].name || !(b[i].scope & sections[s].scope))
                continue;
            if (line >= *top && y < y0 + h - 1) {
                screen_put(scr, y, x0 + 4, 12, b[i].name, ROLE_KEY, 0);
                screen_put(scr, y, x0 + 17, w - 19, b[i].help, ROLE_NORMAL, 0);
                y++;
            }
            line++;
        }
        if (line >= *top && y < y0 + h - 1)
            y++;
        line++;
    }
}
