#include "config.h"

#include "core/sample.h"
#include "ui/format.h"
#include "ui/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* asyncio tasks (--async) over the range: every stack rooted in a
 * "<task NAME>" frame is that task's, whether a thread ran it or it was
 * sampled waiting (SAMPLE_TASK). Each task's CPU time as a share of all
 * the CPU time in the range, its wall time as a share of the range's
 * elapsed time, whether it runs or waits in the latest sample, and what a
 * waiting one awaits (the innermost frame of its await chain). Enter
 * shows only the selected task's stacks in every view (the text filter
 * set to its root), again all. */

enum { COL_PID, COL_NAME, COL_STATE, COL_CPU, COL_WALL, COL_SAMPLES, COL_AWAITS, NCOLS };

static const struct table_column columns[NCOLS] = {
    [COL_PID] = { "PID", { 7, 7, 0, 0 }, 1, 0, 0 },
    [COL_NAME] = { "TASK", { 8, 24, 1, 0 }, 0, 0, 0 },
    [COL_STATE] = { "STATE", { 7, 7, 0, 0 }, 0, 0, 0 },
    [COL_CPU] = { "CPU%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_WALL] = { "WALL%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_SAMPLES] = { "SAMPLES", { 7, 8, 0, 0 }, 1, 0, 1 },
    [COL_AWAITS] = { "AWAITS", { 10, 60, 4, 0 }, 0, 0, 0 },
};

enum task_state { TASK_DONE, TASK_WAITING, TASK_RUNNING };
static const char *const state_names[] = { "done", "waiting", "running" };

struct task_row {
    uint32_t pid;
    uint32_t root;               /* the "<task NAME>" frame */
    uint64_t samples, cpu_ns, wall_ns;
    enum task_state state;
    uint32_t awaits;             /* waiting: the innermost frame of its chain; 0: none */
};

struct tasks_view {
    struct view base;
    struct table table;
    struct task_row *rows;
    size_t nrows, cap_rows;
    const struct stack_table *dict;
    uint64_t total_cpu, elapsed;
    uint32_t sel_root;
    int have_data;
};

#define TASK_PREFIX "<task "

/* The root frame of a stack, when it is a task's; else 0 (and *ok 0). */
static uint32_t task_root(const struct stack_table *dict, uint32_t node, int *ok)
{
    *ok = 0;
    const struct stack_node *n = node ? stack_table_get_node(dict, node) : NULL;
    /* Depth bounds the walk up: a node's parent is always shallower. */
    for (uint32_t guard = 0; n && n->depth > 1 && guard < 1u << 20; guard++)
        n = stack_table_get_node(dict, n->parent);
    if (!n || n->depth != 1)
        return 0;
    const struct stack_frame *f = stack_table_get_frame(dict, n->frame);
    const char *name = f ? stack_table_str(dict, f->function) : NULL;
    if (!name || strncmp(name, TASK_PREFIX, sizeof TASK_PREFIX - 1) != 0)
        return 0;
    *ok = 1;
    return n->frame;
}

/* "NAME" of "<task NAME>". */
static void task_name(const struct tasks_view *tv, uint32_t root, char *buf, size_t cap)
{
    const struct stack_frame *f = stack_table_get_frame(tv->dict, root);
    const char *s = f ? stack_table_str(tv->dict, f->function) : "";
    size_t len = strlen(s);
    if (len > sizeof TASK_PREFIX && s[len - 1] == '>')
        snprintf(buf, cap, "%.*s", (int)(len - sizeof TASK_PREFIX), s + sizeof TASK_PREFIX - 1);
    else
        snprintf(buf, cap, "%s", s);
}

static struct task_row *row_for(struct tasks_view *tv, uint32_t pid, uint32_t root)
{
    for (size_t i = 0; i < tv->nrows; i++)
        if (tv->rows[i].root == root && tv->rows[i].pid == pid)
            return &tv->rows[i];
    if (tv->nrows == tv->cap_rows) {
        size_t cap = tv->cap_rows ? tv->cap_rows * 2 : 32;
        struct task_row *r = realloc(tv->rows, cap * sizeof *r);
        if (!r)
            return NULL;
        tv->rows = r;
        tv->cap_rows = cap;
    }
    struct task_row *r = &tv->rows[tv->nrows++];
    memset(r, 0, sizeof *r);
    r->pid = pid;
    r->root = root;
    return r;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int compare_rows(const void *pa, const void *pb, void *ctx)
{
    const struct tasks_view *tv = ctx;
    const struct task_row *a = pa, *b = pb;
    int c = 0;
    char x[256], y[256];
    switch (tv->table.sort_col) {
    case COL_PID: c = cmp_u64(a->pid, b->pid); break;
    case COL_NAME:
        task_name(tv, a->root, x, sizeof x);
        task_name(tv, b->root, y, sizeof y);
        c = strcmp(x, y);
        break;
    case COL_AWAITS:
        /* By what is awaited; rows awaiting nothing first. */
        c = strcmp(a->awaits ? ui_frame_function(tv->dict, a->awaits) : "",
                   b->awaits ? ui_frame_function(tv->dict, b->awaits) : "");
        break;
    case COL_STATE: c = (int)a->state - (int)b->state; break;
    case COL_CPU: c = cmp_u64(a->cpu_ns, b->cpu_ns); break;
    case COL_WALL: c = cmp_u64(a->wall_ns, b->wall_ns); break;
    case COL_SAMPLES: c = cmp_u64(a->samples, b->samples); break;
    }
    if (tv->table.sort_desc)
        c = -c;
    if (!c)
        c = cmp_u64(a->root, b->root);
    return c;
}

static void sort_rows(struct view *v)
{
    struct tasks_view *tv = (struct tasks_view *)v;
    if (tv->nrows > 1)
        qsort_r(tv->rows, tv->nrows, sizeof *tv->rows, compare_rows, tv);
    for (size_t i = 0; i < tv->nrows && tv->table.sel > 0; i++)
        if (tv->rows[i].root == tv->sel_root)
            table_select(&tv->table, i);
    if (tv->table.sel < tv->nrows)
        tv->sel_root = tv->rows[tv->table.sel].root;
}

static void tasks_query(struct view *v, struct ui_ctx *u)
{
    struct tasks_view *tv = (struct tasks_view *)v;
    struct stack_weight *stacks = NULL;
    struct model_thread_row *threads = NULL;
    size_t nstacks = 0, nthreads = 0;
    struct model_totals tot;
    struct model_filter f;
    ui_filter(&u->q, &f);
    session_lock(u->session);
    const struct model *m = session_model(u->session);
    tv->dict = session_dict(u->session);
    int rc = model_stacks(m, u->q.range, &f, &stacks, &nstacks);
    if (rc == 0)
        rc = model_threads_filtered(m, u->q.range, &f, &threads, &nthreads);
    model_totals(m, u->q.range, MODEL_CPU, &tot);
    /* Rows read under the lock: the dictionary grows meanwhile. */
    tv->nrows = 0;
    uint64_t cpu = 0;
    for (size_t i = 0; rc == 0 && i < nstacks; i++) {
        cpu += stacks[i].cpu_ns;
        int ok;
        uint32_t root = task_root(tv->dict, stacks[i].stack, &ok);
        struct task_row *r = ok ? row_for(tv, stacks[i].pid, root) : NULL;
        if (!r)
            continue;
        r->samples += stacks[i].samples;
        r->cpu_ns += stacks[i].cpu_ns;
        r->wall_ns += stacks[i].wall_ns;
    }
    /* What each does in the latest sample. */
    for (size_t i = 0; rc == 0 && i < nthreads; i++) {
        const struct model_thread_row *t = &threads[i];
        int ok;
        uint32_t root = task_root(tv->dict, t->last_stack, &ok);
        if (!ok || t->last_seen_ns < tot.last_ns)
            continue;
        struct task_row *r = row_for(tv, t->pid, root);
        if (!r)
            continue;
        if (t->last_flags & SAMPLE_TASK) {
            if (r->state != TASK_RUNNING) {
                const struct stack_node *n = stack_table_get_node(tv->dict, t->last_stack);
                r->state = TASK_WAITING;
                r->awaits = n && n->depth > 1 ? n->frame : 0;
            }
        } else {
            r->state = TASK_RUNNING;
            r->awaits = 0;
        }
    }
    session_unlock(u->session);
    free(stacks);
    free(threads);
    tv->total_cpu = cpu;
    uint64_t start = u->q.range == MODEL_TOTAL ? tot.first_ns : tot.window_start_ns;
    tv->elapsed = tot.last_ns > start ? tot.last_ns - start : 0;
    tv->have_data = rc == 0;
    table_set_rows(&tv->table, tv->nrows);
    sort_rows(v);
}

static void tasks_cell(void *ctx, size_t row, int col, int width, char *buf, size_t cap,
                       enum ui_role *role)
{
    (void)width;
    struct tasks_view *tv = ctx;
    const struct task_row *r = &tv->rows[row];
    if (r->state != TASK_RUNNING)
        *role = ROLE_DIM;
    switch (col) {
    case COL_PID:
        snprintf(buf, cap, "%u", r->pid);
        break;
    case COL_NAME:
        task_name(tv, r->root, buf, cap);
        break;
    case COL_STATE:
        snprintf(buf, cap, "%s", state_names[r->state]);
        break;
    case COL_CPU:
        fmt_percent(buf, cap, r->cpu_ns, tv->total_cpu);
        *role = ui_share_role(r->cpu_ns, tv->total_cpu);
        break;
    case COL_WALL:
        /* A task sampled waiting all along: about 100 %. */
        fmt_percent(buf, cap, r->wall_ns < tv->elapsed ? r->wall_ns : tv->elapsed, tv->elapsed);
        break;
    case COL_SAMPLES:
        fmt_count(buf, cap, r->samples);
        break;
    case COL_AWAITS:
        if (r->state == TASK_WAITING && r->awaits) {
            const struct stack_frame *f = stack_table_get_frame(tv->dict, r->awaits);
            const char *file = f ? stack_table_str(tv->dict, f->file) : NULL;
            char loc[512];
            ui_frame_location(tv->dict, r->awaits, 0, loc, sizeof loc);
            /* "<awaits task OTHER>" has no place in a file. */
            if (!file || !*file)
                snprintf(buf, cap, "%s", ui_frame_function(tv->dict, r->awaits));
            else
                snprintf(buf, cap, "%s (%s)", ui_frame_function(tv->dict, r->awaits), loc);
        } else {
            snprintf(buf, cap, "-");
        }
        break;
    }
}

static void tasks_draw(struct view *v, struct ui_ctx *u, int y, int h)
{
    struct tasks_view *tv = (struct tasks_view *)v;
    (void)u;
    table_draw(&tv->table, u->scr, y, h, tasks_cell, tv,
               "no asyncio task sampled in this range (pytop --async reads them, 3.11+)");
}

static int tasks_action(struct view *v, struct ui_ctx *u, enum ui_action a)
{
    struct tasks_view *tv = (struct tasks_view *)v;
    if (a == ACT_SELECT_TASK) {
        if (tv->table.sel >= tv->nrows)
            return 0;
        const struct stack_frame *f = stack_table_get_frame(tv->dict, tv->rows[tv->table.sel].root);
        const char *root = f ? stack_table_str(tv->dict, f->function) : NULL;
        if (!root)
            return 0;
        if (strcmp(u->q.text, root) == 0) {
            u->q.text[0] = '\0';
            ui_status(u, ROLE_STATUS, "showing all tasks and threads");
        } else {
            snprintf(u->q.text, sizeof u->q.text, "%s", root);
            ui_status(u, ROLE_STATUS, "showing %s only (Enter on it again: all)", root);
        }
        return UI_QUERY;
    }
    int r = ui_table_action(&tv->table, a, sort_rows, v);
    if (tv->table.sel < tv->nrows)
        tv->sel_root = tv->rows[tv->table.sel].root;
    return r;
}

static void tasks_free(struct view *v)
{
    struct tasks_view *tv = (struct tasks_view *)v;
    free(tv->rows);
    free(tv);
}

static const struct view_ops tasks_ops = {
    .query = tasks_query,
    .draw = tasks_draw,
    .action = tasks_action,
    .free = tasks_free,
};

struct view *view_tasks_new(void)
{
    struct tasks_view *tv = calloc(1, sizeof *tv);
    if (!tv)
        return NULL;
    tv->base.ops = &tasks_ops;
    tv->base.name = "Tasks";
    tv->base.scope = SCOPE_TASKS;
    table_init(&tv->table, columns, NCOLS, COL_CPU, 1);
    tv->table.hidden = 1u << COL_PID;
    return &tv->base;
}
