/* The views: small objects with a query (ask the model), a draw and
 * an action handler, all over the state the loop shares with them. */
#ifndef PYTOP_UI_VIEW_H
#define PYTOP_UI_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "session/session.h"
#include "model/model.h"
#include "ui/keys.h"
#include "ui/screen.h"
#include "ui/table.h"

/* What an action asks of the loop. */
enum ui_redraw {
    UI_DRAW = 1,            /* draw the screen again */
    UI_QUERY = 2,           /* query the model again, then draw */
    UI_QUIT = 4,
};

enum view_id { VIEW_FUNCTIONS, VIEW_THREADS, VIEW_TREE, VIEW_SOURCE, VIEW_MEMORY, VIEW_TASKS,
               VIEW_COUNT };

#define UI_FILTER_MAX 256

/* What every view's queries are about: the loop owns it, the keys change it. */
struct ui_query {
    enum model_range range;         /* MODEL_TOTAL for "since start" */
    enum model_weight weight;
    uint64_t window_ns;             /* the window when range is MODEL_WINDOW */
    uint32_t pid;                   /* 0: all processes */
    uint32_t tid;                   /* 0: all threads */
    uint32_t tid_pid;               /* the process of tid */
    char tid_name[64];              /* its name, for the header */
    char text[UI_FILTER_MAX];       /* "": no text filter */
};

/* A request from a view to open a file in the Source view. */
struct source_request {
    int pending;
    char file[4096];
    char function[256];
    int line;
    int native;             /* a C function (--native): no Python source */
};

/* What the header shows from the model, read at each draw. */
struct ui_summary {
    size_t nprocs;                  /* processes seen */
    uint32_t pid;                   /* the process the memory numbers are of */
    int have_rss;                   /* rss is known (from the counters) */
    uint64_t rss;
    int have_delta;                 /* rss_delta: its change over the window */
    int64_t rss_delta;
    /* With several processes: the CPU use over the range and the threads
     * of the processes shown (the filter's, else all), which the session's
     * own reading of the first process does not say. */
    int have_cpu;
    double cpu_percent;
    uint32_t threads;
    /* Some thread of pid held a GIL in the range: on a free-threaded build,
     * one turned back on (PYTHON_GIL=1, or an extension that needs it). */
    int gil_held;
};

struct ui_ctx {
    struct session *session;
    const struct screen *scr;
    struct ui_query q;
    struct source_request open_source;
    enum view_id back_to;           /* where Esc in Source returns */
    int switch_to;                  /* a view asks to show another; -1: none */
    char status[512];               /* the status line; set through ui_status */
    enum ui_role status_role;
    uint64_t status_until_ns;
    struct ui_summary sum;
};

/* Set the status line (shown for a few seconds). */
void ui_status(struct ui_ctx *u, enum ui_role role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct view;

struct view_ops {
    /* Query the model (taking the session's lock) and keep the rows. */
    void (*query)(struct view *v, struct ui_ctx *u);
    /* Draw into rows y..y+h-1 of the screen. */
    void (*draw)(struct view *v, struct ui_ctx *u, int y, int h);
    /* Handle a (UI_* flags) or decline it (0). */
    int (*action)(struct view *v, struct ui_ctx *u, enum ui_action a);
    void (*free)(struct view *v);
};

struct view {
    const struct view_ops *ops;
    const char *name;               /* as the tab bar shows it */
    unsigned scope;                 /* its key bindings' scope */
};

struct view *view_functions_new(void);
struct view *view_threads_new(void);
struct view *view_tasks_new(void);
struct view *view_tree_new(void);
struct view *view_source_new(void);
struct view *view_memory_new(void);

/* The Functions view's selected function, for opening the Source view
 * without Enter: 1 and *req filled, or 0 when nothing is selected. */
int view_functions_selected(struct view *v, struct source_request *req);
/* Show file in the Source view, with the line selected. */
void view_source_open(struct view *v, struct ui_ctx *u, const struct source_request *req);
/* Whether the Source view has a file. */
int view_source_has_file(const struct view *v);

/* ---- helpers the views share (view.c) ---------------------------------- */

void ui_filter(const struct ui_query *q, struct model_filter *f);
/* The whole time of the query's range and weight, for the process and
 * thread filters when there are: the denominator of every share. Under
 * the lock. */
uint64_t ui_total(const struct model *m, const struct ui_query *q);
/* The time range a view of counters covers: (t1 - window, t1] for the
 * window, else everything up to t1, the latest sample's time. Under the
 * lock. */
void ui_counter_range(const struct model *m, const struct ui_query *q, uint64_t *t0,
                      uint64_t *t1);
/* Read the header's numbers (takes the session's lock). */
void ui_summary_read(struct ui_ctx *u);
/* The next process filter after the current one: all, then each process
 * in order of appearance, then all again. Returns the pid (0: all) and
 * its command in cmd. */
uint32_t ui_next_process(struct ui_ctx *u, char *cmd, size_t cap);
/* The role of a share: hot, warm or normal. */
enum ui_role ui_share_role(uint64_t part, uint64_t whole);
/* Navigation and sorting on a view's table: UI_DRAW when handled; resort
 * is called after a sort change. */
int ui_table_action(struct table *t, enum ui_action a, void (*resort)(struct view *),
                    struct view *v);
/* The row of samples with no Python frame (MODEL_FRAME_NONE). */
#define UI_NO_FRAME_NAME "<no Python frame>"
/* A frame's function name: UI_NO_FRAME_NAME for MODEL_FRAME_NONE, "?"
 * for a frame not in the dictionary. */
const char *ui_frame_function(const struct stack_table *dict, uint32_t frame);
/* "file:line" of a frame ("-" for MODEL_FRAME_NONE). */
void ui_frame_location(const struct stack_table *dict, uint32_t frame, int use_firstline,
                       char *buf, size_t cap);
/* A case-sensitive comparison of two dictionary strings. */
int ui_strcmp(const struct stack_table *dict, uint32_t a, uint32_t b);

#endif
