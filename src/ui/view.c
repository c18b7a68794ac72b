#include "config.h"

#include "ui/view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ui_filter(const struct ui_query *q, struct model_filter *f)
{
    f->pid = q->pid;
    f->tid = q->tid;
    f->text = q->text[0] ? q->text : NULL;
}

uint64_t ui_total(const struct model *m, const struct ui_query *q)
{
    if (q->tid == 0 && q->pid == 0) {
        struct model_totals t;
        model_totals(m, q->range, q->weight, &t);
        return q->weight == MODEL_CPU ? t.cpu_ns : t.wall_ns;
    }
    struct model_thread_row *rows;
    size_t n;
    uint64_t total = 0;
    if (model_threads(m, q->range, &rows, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (q->tid ? rows[i].tid != q->tid : rows[i].pid != q->pid)
            continue;
        if (q->pid && rows[i].pid != q->pid)
            continue;
        total += q->weight == MODEL_CPU ? rows[i].cpu_ns : rows[i].wall_ns;
    }
    free(rows);
    return total;
}

void ui_counter_range(const struct model *m, const struct ui_query *q, uint64_t *t0,
                      uint64_t *t1)
{
    struct model_totals t;
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &t);
    *t1 = t.last_ns;
    *t0 = 0;
    if (q->range == MODEL_WINDOW && t.last_ns > q->window_ns)
        *t0 = t.last_ns - q->window_ns;
}

void ui_summary_read(struct ui_ctx *u)
{
    struct ui_summary sum;
    memset(&sum, 0, sizeof sum);
    struct model_process_row *procs = NULL;
    struct model_counter_point *pts = NULL;
    size_t nprocs = 0, n = 0;
    uint64_t t0, t1;
    struct model_totals tot;
    session_lock(u->session);
    const struct model *m = session_model(u->session);
    if (model_processes(m, u->q.range, &procs, &nprocs) != 0)
        nprocs = 0;
    model_totals(m, u->q.range, MODEL_CPU, &tot);
    ui_counter_range(m, &u->q, &t0, &t1);
    if (model_counters(m, u->q.pid, t0, &pts, &n) != 0)
        n = 0;
    sum.pid = u->q.pid ? u->q.pid : (nprocs ? procs[0].info.pid : 0);
    struct model_gil gil;
    model_gil(m, u->q.range, sum.pid, &gil);
    sum.gil_held = gil.held > 0;
    session_unlock(u->session);
    sum.nprocs = nprocs;
    uint64_t span = u->q.range == MODEL_WINDOW ? tot.last_ns - tot.window_start_ns
                                               : tot.last_ns - tot.first_ns;
    if (nprocs > 1 && span > 0) {
        /* A process not sampled for a second has exited: its threads are
         * not counted. */
        uint64_t cpu = 0;
        for (size_t i = 0; i < nprocs; i++) {
            if (u->q.pid && procs[i].info.pid != u->q.pid)
                continue;
            cpu += procs[i].cpu_ns;
            if (procs[i].last_ns + 1000000000ULL >= tot.last_ns)
                sum.threads += procs[i].threads;
        }
        sum.have_cpu = 1;
        sum.cpu_percent = 100.0 * (double)cpu / (double)span;
    }
    /* The latest RSS, and its change since the first point of the range. */
    int have_first = 0;
    uint64_t first = 0;
    for (size_t i = 0; i < n; i++) {
        if (!counters_has(&pts[i].c, CTR_RSS))
            continue;
        if (!have_first) {
            have_first = 1;
            first = pts[i].c.value[CTR_RSS];
        }
        sum.have_rss = 1;
        sum.rss = pts[i].c.value[CTR_RSS];
    }
    if (sum.have_rss) {
        sum.have_delta = 1;
        sum.rss_delta = sum.rss >= first ? (int64_t)(sum.rss - first)
                                         : -(int64_t)(first - sum.rss);
    }
    free(procs);
    free(pts);
    u->sum = sum;
}

uint32_t ui_next_process(struct ui_ctx *u, char *cmd, size_t cap)
{
    struct model_process_row *procs = NULL;
    size_t n = 0;
    session_lock(u->session);
    int rc = model_processes(session_model(u->session), MODEL_TOTAL, &procs, &n);
    session_unlock(u->session);
    if (cap)
        cmd[0] = '\0';
    if (rc != 0 || n == 0)
        return 0;
    size_t next = 0;        /* all -> the first */
    if (u->q.pid) {
        next = n;           /* not found (or the last): all */
        for (size_t i = 0; i < n; i++)
            if (procs[i].info.pid == u->q.pid)
                next = i + 1;
    }
    uint32_t pid = 0;
    if (next < n) {
        pid = procs[next].info.pid;
        snprintf(cmd, cap, "%s", procs[next].info.command);
    }
    free(procs);
    return pid;
}

enum ui_role ui_share_role(uint64_t part, uint64_t whole)
{
    if (whole == 0 || part == 0)
        return ROLE_NORMAL;
    double share = (double)part / (double)whole;
    if (share >= 0.20)
        return ROLE_HOT;
    if (share >= 0.05)
        return ROLE_WARM;
    return ROLE_NORMAL;
}

int ui_table_action(struct table *t, enum ui_action a, void (*resort)(struct view *),
                    struct view *v)
{
    if (table_navigate(t, a))
        return UI_DRAW;
    int dir;
    switch (a) {
    case ACT_SORT_NEXT: dir = 1; break;
    case ACT_SORT_PREV: dir = -1; break;
    case ACT_SORT_INVERT: dir = 0; break;
    default: return 0;
    }
    if (!table_sort_step(t, dir))
        return 0;
    if (resort)
        resort(v);
    return UI_DRAW;
}

const char *ui_frame_function(const struct stack_table *dict, uint32_t frame)
{
    if (frame == MODEL_FRAME_NONE)
        return UI_NO_FRAME_NAME;
    const struct stack_frame *f = stack_table_get_frame(dict, frame);
    return f ? stack_table_str(dict, f->function) : "?";
}

void ui_frame_location(const struct stack_table *dict, uint32_t frame, int use_firstline,
                       char *buf, size_t cap)
{
    const struct stack_frame *f = stack_table_get_frame(dict, frame);
    if (!f) {
        snprintf(buf, cap, frame == MODEL_FRAME_NONE ? "-" : "?");
        return;
    }
    const char *file = stack_table_str(dict, f->file);
    int line = use_firstline ? f->firstline : f->line;
    if (!file[0])
        snprintf(buf, cap, "-");
    else if (line > 0)
        snprintf(buf, cap, "%s:%d", file, line);
    else
        snprintf(buf, cap, "%s", file);
}

int ui_strcmp(const struct stack_table *dict, uint32_t a, uint32_t b)
{
    if (a == b)
        return 0;
    return strcmp(stack_table_str(dict, a), stack_table_str(dict, b));
}

void ui_status(struct ui_ctx *u, enum ui_role role, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->status, sizeof u->status, fmt, ap);
    va_end(ap);
    u->status_role = role;
    u->status_until_ns = 0;     /* the loop sets the expiry */
}
