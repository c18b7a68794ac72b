#include "config.h"

#include "ui/keys.h"

#include "ui/screen.h"

#define CTRL(c) ((c) & 0x1f)

/* View and replay bindings come first so they win over global ones; the
 * help lists the entries with a name, in this order, per scope. */
static const struct key_binding bindings[] = {
    { '\r', ACT_OPEN_SOURCE, SCOPE_FUNCTIONS, "Enter", "open the selected function's source (Source view)" },
    { '\n', ACT_OPEN_SOURCE, SCOPE_FUNCTIONS, NULL, NULL },
    { UI_FN(KEY_ENTER), ACT_OPEN_SOURCE, SCOPE_FUNCTIONS, NULL, NULL },
    { 'l', ACT_LINES, SCOPE_FUNCTIONS, "l", "rows per function or per line" },
    { 'm', ACT_SORT_MEMORY, SCOPE_FUNCTIONS, "m", "rank by memory growth (+MEM); again: by own time" },
    { 'b', ACT_BASELINE, SCOPE_FUNCTIONS, "b", "take the range shown as the baseline: DIFF% is each function's TOTAL% now minus then; again: drop it" },

    { '\r', ACT_SELECT_THREAD, SCOPE_THREADS, "Enter", "show only this thread in every view (again: all threads)" },
    { '\n', ACT_SELECT_THREAD, SCOPE_THREADS, NULL, NULL },
    { UI_FN(KEY_ENTER), ACT_SELECT_THREAD, SCOPE_THREADS, NULL, NULL },

    { '\r', ACT_SELECT_TASK, SCOPE_TASKS, "Enter", "show only this task's stacks in every view (again: all)" },
    { '\n', ACT_SELECT_TASK, SCOPE_TASKS, NULL, NULL },
    { UI_FN(KEY_ENTER), ACT_SELECT_TASK, SCOPE_TASKS, NULL, NULL },

    { '\r', ACT_TOGGLE, SCOPE_TREE, "Enter", "expand or collapse the selected call" },
    { '\n', ACT_TOGGLE, SCOPE_TREE, NULL, NULL },
    { UI_FN(KEY_ENTER), ACT_TOGGLE, SCOPE_TREE, NULL, NULL },
    { UI_FN(KEY_RIGHT), ACT_EXPAND, SCOPE_TREE, "Right", "expand" },
    { UI_FN(KEY_LEFT), ACT_COLLAPSE, SCOPE_TREE, "Left", "collapse, or go to the caller" },
    { '*', ACT_EXPAND_ALL, SCOPE_TREE, "*", "expand everything under the selected call" },

    { 27, ACT_BACK, SCOPE_SOURCE, "Esc", "back to the previous view" },
    { UI_FN(KEY_LEFT), ACT_BACK, SCOPE_SOURCE, NULL, NULL },

    { '.', ACT_STEP_FORWARD, SCOPE_REPLAY, ". ,", "replay: step 1 s forward, back" },
    { ',', ACT_STEP_BACK, SCOPE_REPLAY, NULL, NULL },
    { ']', ACT_JUMP_FORWARD, SCOPE_REPLAY, "] [", "replay: step 10 s forward, back" },
    { '[', ACT_JUMP_BACK, SCOPE_REPLAY, NULL, NULL },

    { UI_FN(KEY_F(1)), ACT_HELP, SCOPE_GLOBAL, "F1 ? h", "show or hide this help" },
    { '?', ACT_HELP, SCOPE_GLOBAL, NULL, NULL },
    { 'h', ACT_HELP, SCOPE_GLOBAL, NULL, NULL },
    { '\t', ACT_NEXT_VIEW, SCOPE_GLOBAL, "Tab S-Tab", "next, previous view" },
    { UI_FN(KEY_BTAB), ACT_PREV_VIEW, SCOPE_GLOBAL, NULL, NULL },
    { '1', ACT_VIEW_FUNCTIONS, SCOPE_GLOBAL, "1 2 3 4 5 6", "Functions, Threads, Call tree, Source, Memory, Tasks (--async)" },
    { '2', ACT_VIEW_THREADS, SCOPE_GLOBAL, NULL, NULL },
    { '3', ACT_VIEW_TREE, SCOPE_GLOBAL, NULL, NULL },
    { '4', ACT_VIEW_SOURCE, SCOPE_GLOBAL, NULL, NULL },
    { '5', ACT_VIEW_MEMORY, SCOPE_GLOBAL, NULL, NULL },
    { '6', ACT_VIEW_TASKS, SCOPE_GLOBAL, NULL, NULL },
    { UI_FN(KEY_UP), ACT_UP, SCOPE_GLOBAL, "Up Down k j", "move the selection" },
    { UI_FN(KEY_DOWN), ACT_DOWN, SCOPE_GLOBAL, NULL, NULL },
    { 'k', ACT_UP, SCOPE_GLOBAL, NULL, NULL },
    { 'j', ACT_DOWN, SCOPE_GLOBAL, NULL, NULL },
    { UI_FN(KEY_PPAGE), ACT_PAGE_UP, SCOPE_GLOBAL, "PgUp PgDn", "a page up, down" },
    { UI_FN(KEY_NPAGE), ACT_PAGE_DOWN, SCOPE_GLOBAL, NULL, NULL },
    { UI_FN(KEY_HOME), ACT_HOME, SCOPE_GLOBAL, "Home End", "first, last row" },
    { UI_FN(KEY_END), ACT_END, SCOPE_GLOBAL, NULL, NULL },
    { 'c', ACT_WEIGHT, SCOPE_GLOBAL, "c", "CPU time or WALL (elapsed) time, over the same samples" },
    { '<', ACT_SORT_PREV, SCOPE_GLOBAL, "< >", "sort by the previous, next column" },
    { '>', ACT_SORT_NEXT, SCOPE_GLOBAL, NULL, NULL },
    { 'I', ACT_SORT_INVERT, SCOPE_GLOBAL, "I", "reverse the sort order" },
    { '+', ACT_WINDOW_LONGER, SCOPE_GLOBAL, "+ -", "longer, shorter window: 1 5 10 30 60 s, 5 min, since start" },
    { '=', ACT_WINDOW_LONGER, SCOPE_GLOBAL, NULL, NULL },
    { '-', ACT_WINDOW_SHORTER, SCOPE_GLOBAL, NULL, NULL },
    { '/', ACT_FILTER, SCOPE_GLOBAL, "/", "filter by function or file (Enter applies, Esc cancels, empty clears)" },
    { 'P', ACT_PROCESS, SCOPE_GLOBAL, "P", "one process, then the next, ... then all (--subprocesses)" },
    { UI_FN(KEY_F(3)), ACT_FILTER, SCOPE_GLOBAL, NULL, NULL },
    { 's', ACT_SAVE, SCOPE_GLOBAL, "s", "save a snapshot of what is shown (window and filters)" },
    { 'p', ACT_PAUSE, SCOPE_GLOBAL, "p Space", "pause the display, sampling goes on (replay: play, pause)" },
    { ' ', ACT_PAUSE, SCOPE_GLOBAL, NULL, NULL },
    { 'r', ACT_RESET, SCOPE_GLOBAL, "r", "reset: forget what was gathered so far" },
    { CTRL('l'), ACT_REDRAW, SCOPE_GLOBAL, "Ctrl-L", "redraw the screen" },
    { 27, ACT_BACK, SCOPE_GLOBAL, NULL, NULL },
    { 'q', ACT_QUIT, SCOPE_GLOBAL, "q F10", "quit" },
    { UI_FN(KEY_F(10)), ACT_QUIT, SCOPE_GLOBAL, NULL, NULL },
};

enum ui_action keys_lookup(int key, unsigned scopes)
{
    for (size_t i = 0; i < sizeof bindings / sizeof *bindings; i++)
        if (bindings[i].key == key && (bindings[i].scope & scopes))
            return bindings[i].action;
    return ACT_NONE;
}

const struct key_binding *keys_table(size_t *n)
{
    *n = sizeof bindings / sizeof *bindings;
    return bindings;
}
