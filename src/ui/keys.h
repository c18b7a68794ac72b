/* Every key binding in one table: a key, where it applies, and the
 * action it stands for. The help overlay is drawn from the same table, so
 * the two cannot drift apart. */
#ifndef PYTOP_UI_KEYS_H
#define PYTOP_UI_KEYS_H

#include <stddef.h>

/* Keys as the loop reads them: a character's code point, or a curses key
 * code (KEY_UP...) marked by UI_FN so the two never collide. */
#define UI_FN(k) (0x1000000 | (k))

enum ui_action {
    ACT_NONE,
    ACT_QUIT, ACT_HELP, ACT_REDRAW,
    ACT_NEXT_VIEW, ACT_PREV_VIEW,
    ACT_VIEW_FUNCTIONS, ACT_VIEW_THREADS, ACT_VIEW_TREE, ACT_VIEW_SOURCE, ACT_VIEW_MEMORY,
    ACT_VIEW_TASKS,
    ACT_WEIGHT, ACT_SAVE, ACT_PAUSE, ACT_RESET, ACT_FILTER, ACT_PROCESS,
    ACT_SORT_PREV, ACT_SORT_NEXT, ACT_SORT_INVERT,
    ACT_WINDOW_LONGER, ACT_WINDOW_SHORTER,
    ACT_UP, ACT_DOWN, ACT_PAGE_UP, ACT_PAGE_DOWN, ACT_HOME, ACT_END,
    ACT_BACK,
    /* views */
    ACT_OPEN_SOURCE, ACT_LINES, ACT_SORT_MEMORY, ACT_BASELINE, ACT_SELECT_THREAD, ACT_SELECT_TASK,
    ACT_TOGGLE, ACT_EXPAND, ACT_COLLAPSE, ACT_EXPAND_ALL,
    /* replay */
    ACT_STEP_BACK, ACT_STEP_FORWARD, ACT_JUMP_BACK, ACT_JUMP_FORWARD,
};

/* Where a binding applies. */
enum key_scope {
    SCOPE_GLOBAL = 1u << 0,
    SCOPE_FUNCTIONS = 1u << 1,
    SCOPE_THREADS = 1u << 2,
    SCOPE_TREE = 1u << 3,
    SCOPE_SOURCE = 1u << 4,
    SCOPE_MEMORY = 1u << 5,
    SCOPE_REPLAY = 1u << 6,
    SCOPE_TASKS = 1u << 7,
};

struct key_binding {
    int key;
    enum ui_action action;
    unsigned scope;
    const char *name;       /* as the help shows it; NULL: folded into the entry above */
    const char *help;
};

/* The action for key where scopes applies (a view's own bindings win over
 * the global ones), or ACT_NONE. */
enum ui_action keys_lookup(int key, unsigned scopes);
/* The whole table, for the help overlay. */
const struct key_binding *keys_table(size_t *n);

#endif
