#include "config.h"

#include "core/sample.h"
#include "ui/format.h"
#include "ui/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Threads seen over the range: their process (when there are several),
 * state, how their time splits (on a CPU, holding the GIL, waiting for
 * it, idle), memory growth, what each runs now; above them, who held the
 * GIL. Threads leave the list once they have no sample in the range. */

enum {
    COL_PID, COL_TID, COL_NAME, COL_STATE, COL_CPU, COL_GIL, COL_WAIT, COL_IDLE, COL_GROW,
    COL_SAMPLES, COL_NOW, NCOLS
};

static const struct table_column columns[NCOLS] = {
    [COL_PID] = { "PID", { 7, 7, 0, 0 }, 1, 0, 0 },
    [COL_TID] = { "TID", { 8, 8, 0, 0 }, 1, 0, 0 },
    [COL_NAME] = { "NAME", { 8, 16, 1, 0 }, 0, 0, 0 },
    [COL_STATE] = { "STATE", { 7, 7, 0, 0 }, 0, 0, 0 },
    [COL_CPU] = { "CPU%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_GIL] = { "GIL%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_WAIT] = { "WAIT%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_IDLE] = { "IDLE%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_GROW] = { "+MEM", { 8, 9, 0, 1 }, 1, 0, 1 },
    [COL_SAMPLES] = { "SAMPLES", { 7, 8, 0, 0 }, 1, 0, 1 },
    [COL_NOW] = { "NOW", { 10, 60, 4, 0 }, 0, 0, 0 },
};

/* NOW keeps this much over its minimum before +MEM shows. */
#define SLACK 12

enum thread_state { STATE_IDLE, STATE_RUNNING, STATE_EXITED };
static const char *const state_names[] = { "idle", "running", "exited" };

struct threads_view {
    struct view base;
    struct table table;
    struct model_thread_row *rows;
    size_t nrows;
    uint64_t last_ns;               /* the latest sample's time */
    const struct stack_table *dict;
    uint32_t sel_tid;
    uint32_t filter_tid;            /* the loop's thread filter, for the marker */
    int have_data;
    size_t nprocs;                  /* processes seen: a PID column when over 1 */
    /* The GIL line: of the filtered process, else (several processes)
     * the selected thread's, else all. */
    uint32_t gil_pid;
    struct model_gil gil;
    char holder[96];                /* the holder's name and tid, "" for none */
    /* Free-threaded processes (no GIL: their GIL column reads n/a). */
    uint32_t ft_pids[16];
    size_t nft;
    /* Processes whose interpreter tells GIL waiting (3.15+ with a GIL);
     * the others' WAIT% reads n/a. */
    uint32_t wait_pids[16];
    size_t nwait;
    int all_ft;                     /* every process seen is free-threaded */
};

static int is_free_threaded(const struct threads_view *tv, uint32_t pid)
{
    for (size_t i = 0; i < tv->nft; i++)
        if (tv->ft_pids[i] == pid)
            return 1;
    return 0;
}

static int tells_wait(const struct threads_view *tv, uint32_t pid)
{
    for (size_t i = 0; i < tv->nwait; i++)
        if (tv->wait_pids[i] == pid)
            return 1;
    return 0;
}

/* 3.15 and later builds with a GIL say which thread waits for it. */
static int python_tells_gil_wait(const char *python)
{
    int major = 0, minor = 0;
    if (python_free_threaded(python) || sscanf(python, "%d.%d", &major, &minor) != 2)
        return 0;
    return major > 3 || (major == 3 && minor >= 15);
}

static enum thread_state state_of(const struct threads_view *tv, const struct model_thread_row *r)
{
    if (r->last_seen_ns < tv->last_ns)
        return STATE_EXITED;        /* not in the latest sample */
    return (r->last_flags & SAMPLE_RUNNING) ? STATE_RUNNING : STATE_IDLE;
}

/* Shares in thousandths, for sorting and showing alike. */
static uint64_t cpu_share(const struct model_thread_row *r)
{
    return r->wall_ns ? r->cpu_ns * 1000 / r->wall_ns : 0;
}

static uint64_t gil_share(const struct model_thread_row *r)
{
    return r->samples ? r->gil * 1000 / r->samples : 0;
}

static uint64_t wait_share(const struct model_thread_row *r)
{
    return r->samples ? r->gil_wait * 1000 / r->samples : 0;
}

/* Samples in which the OS thread was neither running nor runnable. */
static uint64_t idle_share(const struct model_thread_row *r)
{
    return r->samples && r->running <= r->samples ? (r->samples - r->running) * 1000 / r->samples
                                                  : 0;
}

static const char *name_of(const struct threads_view *tv, const struct model_thread_row *r)
{
    return r->name ? stack_table_str(tv->dict, r->name) : "";
}

/* The innermost frame of the thread's latest stack, or 0. */
static uint32_t leaf_frame(const struct threads_view *tv, const struct model_thread_row *r,
                           int *ok)
{
    const struct stack_node *n = r->last_stack ? stack_table_get_node(tv->dict, r->last_stack)
                                               : NULL;
    *ok = n != NULL;
    return n ? n->frame : 0;
}

static void now_text(const struct threads_view *tv, const struct model_thread_row *r, char *buf,
                     size_t cap)
{
    int ok;
    uint32_t frame = leaf_frame(tv, r, &ok);
    const struct stack_frame *f = ok ? stack_table_get_frame(tv->dict, frame) : NULL;
    if (!f) {
        /* Its latest sample had no Python frame (node 0): say so. */
        snprintf(buf, cap, "%s", r->last_stack == 0 && r->samples ? UI_NO_FRAME_NAME : "-");
        return;
    }
    char loc[512];
    ui_frame_location(tv->dict, frame, 0, loc, sizeof loc);
    snprintf(buf, cap, "%s (%s)", stack_table_str(tv->dict, f->function), loc);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int compare_rows(const void *pa, const void *pb, void *ctx)
{
    const struct threads_view *tv = ctx;
    const struct model_thread_row *a = pa, *b = pb;
    int c = 0;
    switch (tv->table.sort_col) {
    case COL_PID: c = cmp_u64(a->pid, b->pid); break;
    case COL_TID: c = cmp_u64(a->tid, b->tid); break;
    case COL_NAME: c = strcmp(name_of(tv, a), name_of(tv, b)); break;
    case COL_STATE: c = (int)state_of(tv, b) - (int)state_of(tv, a); break;
    case COL_CPU: c = cmp_u64(cpu_share(a), cpu_share(b)); break;
    case COL_GIL: c = cmp_u64(gil_share(a), gil_share(b)); break;
    case COL_WAIT: c = cmp_u64(wait_share(a), wait_share(b)); break;
    case COL_IDLE: c = cmp_u64(idle_share(a), idle_share(b)); break;
    case COL_SAMPLES: c = cmp_u64(a->samples, b->samples); break;
    case COL_GROW: c = cmp_u64(a->mem_grow, b->mem_grow); break;
    case COL_NOW: {
        char x[1024], y[1024];
        now_text(tv, a, x, sizeof x);
        now_text(tv, b, y, sizeof y);
        c = strcmp(x, y);
        break;
    }
    }
    if (tv->table.sort_desc)
        c = -c;
    if (!c)
        c = cmp_u64(a->tid, b->tid);
    return c;
}

static void sort_rows(struct view *v)
{
    struct threads_view *tv = (struct threads_view *)v;
    if (tv->nrows > 1)
        qsort_r(tv->rows, tv->nrows, sizeof *tv->rows, compare_rows, tv);
    /* Follow the selected thread, unless the selection is at the top. */
    for (size_t i = 0; i < tv->nrows && tv->table.sel > 0; i++)
        if (tv->rows[i].tid == tv->sel_tid)
            table_select(&tv->table, i);
    if (tv->table.sel < tv->nrows)
        tv->sel_tid = tv->rows[tv->table.sel].tid;
}

/* The GIL's process for the summary line. */
static uint32_t gil_process(const struct threads_view *tv, const struct ui_query *q)
{
    if (q->pid)
        return q->pid;
    if (tv->nprocs > 1 && tv->table.sel < tv->nrows)
        return tv->rows[tv->table.sel].pid;
    return 0;
}

static void read_gil(struct threads_view *tv, struct ui_ctx *u)
{
    tv->gil_pid = gil_process(tv, &u->q);
    session_lock(u->session);
    model_gil(session_model(u->session), u->q.range, tv->gil_pid, &tv->gil);
    session_unlock(u->session);
    tv->holder[0] = '\0';
    if (!tv->gil.holder_tid)
        return;
    snprintf(tv->holder, sizeof tv->holder, "%u", tv->gil.holder_tid);
    for (size_t i = 0; i < tv->nrows; i++) {
        const struct model_thread_row *r = &tv->rows[i];
        if (r->tid == tv->gil.holder_tid && r->name)
            snprintf(tv->holder, sizeof tv->holder, "%s (%u)", name_of(tv, r), r->tid);
    }
}

static void threads_query(struct view *v, struct ui_ctx *u)
{
    struct threads_view *tv = (struct threads_view *)v;
    struct model_thread_row *rows = NULL;
    struct model_process_row *procs = NULL;
    size_t n = 0, nprocs = 0;
    struct model_totals tot;
    session_lock(u->session);
    const struct model *m = session_model(u->session);
    tv->dict = session_dict(u->session);
    int rc = model_threads(m, u->q.range, &rows, &n);
    model_totals(m, u->q.range, u->q.weight, &tot);
    if (model_processes(m, MODEL_TOTAL, &procs, &nprocs) != 0)
        nprocs = 0;
    session_unlock(u->session);
    tv->nft = 0;
    tv->nwait = 0;
    tv->all_ft = nprocs > 0;
    for (size_t i = 0; i < nprocs; i++) {
        if (python_tells_gil_wait(procs[i].info.python) &&
            tv->nwait < sizeof tv->wait_pids / sizeof tv->wait_pids[0])
            tv->wait_pids[tv->nwait++] = procs[i].info.pid;
        if (!python_free_threaded(procs[i].info.python))
            tv->all_ft = 0;
        else if (tv->nft < sizeof tv->ft_pids / sizeof tv->ft_pids[0])
            tv->ft_pids[tv->nft++] = procs[i].info.pid;
    }
    free(procs);
    if (rc != 0)
        return;
    /* The process filter: only its threads; waiting asyncio tasks
     * (--async) are not threads: the Tasks view lists them. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((!u->q.pid || rows[i].pid == u->q.pid) && !(rows[i].last_flags & SAMPLE_TASK))
            rows[k++] = rows[i];
    n = k;
    free(tv->rows);
    tv->rows = rows;
    tv->nrows = n;
    tv->last_ns = tot.last_ns;
    tv->filter_tid = u->q.tid;
    tv->have_data = 1;
    tv->nprocs = nprocs;
    if (nprocs > 1)
        tv->table.hidden &= ~(1u << COL_PID);
    else
        tv->table.hidden |= 1u << COL_PID;
    table_set_rows(&tv->table, n);
    sort_rows(v);
    read_gil(tv, u);
}

static void threads_cell(void *ctx, size_t row, int col, int width, char *buf, size_t cap,
                         enum ui_role *role)
{
    (void)width;
    struct threads_view *tv = ctx;
    const struct model_thread_row *r = &tv->rows[row];
    enum thread_state st = state_of(tv, r);
    if (st != STATE_RUNNING)
        *role = ROLE_DIM;
    switch (col) {
    case COL_PID:
        snprintf(buf, cap, "%u", r->pid);
        break;
    case COL_TID:
        /* The thread the other views show only, marked. */
        snprintf(buf, cap, "%s%u", r->tid == tv->filter_tid ? "*" : "", r->tid);
        if (r->tid == tv->filter_tid)
            *role = ROLE_HOT;
        break;
    case COL_NAME:
        snprintf(buf, cap, "%s", r->name ? name_of(tv, r) : "?");
        break;
    case COL_STATE:
        snprintf(buf, cap, "%s", state_names[st]);
        break;
    case COL_CPU:
        fmt_percent(buf, cap, r->cpu_ns, r->wall_ns);
        *role = ui_share_role(r->cpu_ns, r->wall_ns);
        break;
    case COL_GIL:
        if (is_free_threaded(tv, r->pid) && tv->gil.held == 0) {
            snprintf(buf, cap, "n/a");
            *role = ROLE_DIM;
            break;
        }
        fmt_percent(buf, cap, r->gil, r->samples);
        *role = ui_share_role(r->gil, r->samples);
        break;
    case COL_WAIT:
        /* Before 3.15 the interpreter does not say who waits; only a C
         * stack in take_gil (--native) does, and nothing says who does
         * not: a share then only where waiting was seen. */
        if (!tells_wait(tv, r->pid) && r->gil_wait == 0) {
            snprintf(buf, cap, "n/a");
            *role = ROLE_DIM;
            break;
        }
        fmt_percent(buf, cap, r->gil_wait, r->samples);
        *role = ui_share_role(r->gil_wait, r->samples);
        break;
    case COL_IDLE:
        fmt_percent(buf, cap, r->samples - (r->running <= r->samples ? r->running : r->samples),
                    r->samples);
        break;
    case COL_SAMPLES:
        fmt_count(buf, cap, r->samples);
        break;
    case COL_GROW:
        if (r->mem_grow)
            fmt_bytes(buf, cap, r->mem_grow);
        else
            snprintf(buf, cap, "-");
        break;
    case COL_NOW:
        now_text(tv, r, buf, cap);
        break;
    }
}

/* "GIL: held 74.0% of samples, none 26.0%; holder now: worker-1 (4242)" */
static void gil_line(const struct threads_view *tv, const struct screen *scr, int y)
{
    char buf[256], held[16], none[16], who[64];
    /* No single holder to show: every thread may run Python at once
     * (unless the GIL was turned back on, and then some thread held it). */
    if ((tv->gil_pid ? is_free_threaded(tv, tv->gil_pid) : tv->all_ft) && tv->gil.held == 0) {
        if (tv->gil_pid && tv->nprocs > 1)
            snprintf(buf, sizeof buf, "GIL (process %u): none, free-threaded: no GIL",
                     tv->gil_pid);
        else
            snprintf(buf, sizeof buf, "GIL: none, free-threaded: no GIL");
        screen_put(scr, y, 1, scr->cols - 1, buf, ROLE_HEADER, 0);
        return;
    }
    if (tv->gil.samples == 0) {
        screen_put(scr, y, 1, scr->cols - 1, "GIL: no samples in this range yet", ROLE_DIM, 0);
        return;
    }
    fmt_percent(held, sizeof held, tv->gil.held, tv->gil.samples);
    fmt_percent(none, sizeof none, tv->gil.none, tv->gil.samples);
    who[0] = '\0';
    if (tv->gil_pid && tv->nprocs > 1)
        snprintf(who, sizeof who, " (process %u)", tv->gil_pid);
    snprintf(buf, sizeof buf, "GIL%s: held %s%% of samples, none %s%%; holder now: %s", who, held,
             none, tv->holder[0] ? tv->holder : "none");
    int x = 1;
    x += screen_put(scr, y, x, scr->cols - x, buf, ROLE_HEADER, 0);
}

static void threads_draw(struct view *v, struct ui_ctx *u, int y, int h)
{
    struct threads_view *tv = (struct threads_view *)v;
    tv->filter_tid = u->q.tid;
    if (h >= 4) {
        gil_line(tv, u->scr, y);
        y++;
        h--;
    }
    table_draw(&tv->table, u->scr, y, h, threads_cell, tv, "no thread sampled in this range yet");
}

static int threads_action(struct view *v, struct ui_ctx *u, enum ui_action a)
{
    struct threads_view *tv = (struct threads_view *)v;
    if (a == ACT_SELECT_THREAD) {
        if (tv->table.sel >= tv->nrows)
            return 0;
        const struct model_thread_row *r = &tv->rows[tv->table.sel];
        if (u->q.tid == r->tid) {
            u->q.tid = 0;
            u->q.tid_name[0] = '\0';
            ui_status(u, ROLE_STATUS, "showing all threads");
        } else {
            u->q.tid = r->tid;
            u->q.tid_pid = r->pid;
            snprintf(u->q.tid_name, sizeof u->q.tid_name, "%s", r->name ? name_of(tv, r) : "");
            ui_status(u, ROLE_STATUS, "showing thread %u%s%s%s only (Enter on it again: all)",
                      r->tid, u->q.tid_name[0] ? " (" : "", u->q.tid_name,
                      u->q.tid_name[0] ? ")" : "");
        }
        return UI_QUERY;
    }
    int r = ui_table_action(&tv->table, a, sort_rows, v);
    if (tv->table.sel < tv->nrows)
        tv->sel_tid = tv->rows[tv->table.sel].tid;
    /* Another process's thread selected: its GIL line. */
    if (r && gil_process(tv, &u->q) != tv->gil_pid)
        read_gil(tv, u);
    return r;
}

static void threads_free(struct view *v)
{
    struct threads_view *tv = (struct threads_view *)v;
    free(tv->rows);
    free(tv);
}

static const struct view_ops threads_ops = {
    .query = threads_query,
    .draw = threads_draw,
    .action = threads_action,
    .free = threads_free,
};

struct view *view_threads_new(void)
{
    struct threads_view *tv = calloc(1, sizeof *tv);
    if (!tv)
        return NULL;
    tv->base.ops = &threads_ops;
    tv->base.name = "Threads";
    tv->base.scope = SCOPE_THREADS;
    table_init(&tv->table, columns, NCOLS, COL_CPU, 1);
    tv->table.slack = SLACK;
    tv->table.hidden = 1u << COL_PID;
    return &tv->base;
}
