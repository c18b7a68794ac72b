#include "config.h"

#include "ui/header.h"

#include "core/error.h"
#include "core/sample.h"
#include "ui/format.h"

#include <stdio.h>
#include <string.h>

/* A label and its value at *x on row y, then a gap. */
static void pair(const struct screen *scr, int y, int *x, const char *label, const char *value,
                 enum ui_role value_role)
{
    if (*x >= scr->cols)
        return;
    if (label && *label) {
        *x += screen_put(scr, y, *x, scr->cols - *x, label, ROLE_HEADER, 0);
        *x += screen_put(scr, y, *x, scr->cols - *x, " ", ROLE_NORMAL, 0);
    }
    *x += screen_put(scr, y, *x, scr->cols - *x, value, value_role, 0);
    *x += screen_put(scr, y, *x, scr->cols - *x, "  ", ROLE_NORMAL, 0);
}

static void target_line(const struct screen *scr, int y, const struct session_info *info,
                        const struct ui_summary *sum)
{
    char python[96], pid[32];
    const char *ft = "";
    if (python_free_threaded(info->python))
        ft = sum->gil_held ? " (free-threaded, GIL on)" : " (free-threaded: no GIL)";
    snprintf(python, sizeof python, "Python %s%s", info->python[0] ? info->python : "?", ft);
    snprintf(pid, sizeof pid, "%u", info->pid);
    int pw = text_width(python);
    int x = 0;
    x += screen_put(scr, y, x, scr->cols, "pytop", ROLE_VALUE, 0);
    x += screen_put(scr, y, x, scr->cols - x, "  ", ROLE_NORMAL, 0);
    pair(scr, y, &x, "PID", pid, ROLE_VALUE);
    /* The command takes what the Python version leaves. */
    int room = scr->cols - x - pw - 2;
    if (room > 0)
        screen_put(scr, y, x, room, info->command[0] ? info->command : "?", ROLE_NORMAL, 0);
    if (scr->cols - pw > x)
        screen_put(scr, y, scr->cols - pw, pw, python, ROLE_HEADER, 0);
}

/* The share of thread stacks read whole ("99.96 % good"), and the
 * incomplete ones by kind when there are any. */
static void stacks_pair(const struct screen *scr, int y, int *x, const struct session_info *info)
{
    uint64_t total = 0;
    for (int k = 0; k < STACK_KINDS; k++)
        total += info->stacks[k];
    if (!info->have_stacks || total == 0)
        return;
    char buf[192], t[32], c[32], u[32], n[32];
    uint64_t whole = info->stacks[STACK_WHOLE];
    /* Never round a share with bad stacks up to 100 %. */
    double good = 100.0 * (double)whole / (double)total;
    if (whole < total && good > 99.99)
        good = 99.99;
    snprintf(buf, sizeof buf, "%.2f %% good", good);
    pair(scr, y, x, NULL, buf, whole < total ? ROLE_WARM : ROLE_VALUE);
    if (whole == total)
        return;
    fmt_count(t, sizeof t, info->stacks[STACK_TORN]);
    fmt_count(c, sizeof c, info->stacks[STACK_CUT]);
    fmt_count(u, sizeof u, info->stacks[STACK_UNREADABLE]);
    fmt_count(n, sizeof n, info->stacks[STACK_NO_PYTHON]);
    snprintf(buf, sizeof buf, "torn %s cut %s unreadable %s no-python %s", t, c, u, n);
    pair(scr, y, x, NULL, buf, ROLE_DIM);
}

/* The sampler: time, samples, rate, and what went wrong. */
static void sampling_line(const struct screen *scr, int y, const struct session_info *info)
{
    char buf[128], a[32], b[32];
    int x = 0;
    if (info->replay) {
        fmt_clock(a, sizeof a, info->elapsed_ns);
        fmt_clock(b, sizeof b, info->length_ns);
        snprintf(buf, sizeof buf, "%s / %s", a, b);
        pair(scr, y, &x, "replay", buf, ROLE_VALUE);
        snprintf(buf, sizeof buf, "%s %gx", info->playing ? "playing" : "paused", info->speed);
        pair(scr, y, &x, NULL, buf, info->playing ? ROLE_STATUS : ROLE_ALERT);
    } else {
        fmt_duration(buf, sizeof buf, info->elapsed_ns);
        pair(scr, y, &x, "elapsed", buf, ROLE_VALUE);
    }
    fmt_count(a, sizeof a, info->samples);
    snprintf(buf, sizeof buf, "%s (%.1f/%.0f Hz)", a, info->achieved_hz, info->rate_hz);
    pair(scr, y, &x, "samples", buf, ROLE_VALUE);
    fmt_count(a, sizeof a, info->late);
    pair(scr, y, &x, "late", a, info->late ? ROLE_WARM : ROLE_VALUE);
    fmt_count(a, sizeof a, info->errors);
    pair(scr, y, &x, "errors", a, info->errors ? ROLE_WARM : ROLE_VALUE);
    if (info->dropped) {
        /* The view fell behind sampling: these samples are not in it. */
        fmt_count(a, sizeof a, info->dropped);
        pair(scr, y, &x, "not shown", a, ROLE_WARM);
    }
    if (info->blocking && info->pause_samples) {
        /* --blocking: how long the target's threads were held per sample. */
        fmt_pause(a, sizeof a, info->pause_median_ns);
        fmt_pause(b, sizeof b, info->pause_p90_ns);
        snprintf(buf, sizeof buf, "%s/sample (p90 %s)", a, b);
        pair(scr, y, &x, "paused", buf, ROLE_VALUE);
    }
    stacks_pair(scr, y, &x, info);
    if (info->dict_full) {
        /* Memory is bounded: stacks past the dictionary's bound are cut. */
        fmt_count(a, sizeof a, info->dict_full);
        pair(scr, y, &x, "dict full, stacks cut", a, ROLE_WARM);
    }
    if (info->error) {
        snprintf(buf, sizeof buf, "sampling stopped: %s", pt_strerror(info->error));
        pair(scr, y, &x, NULL, buf, ROLE_ALERT);
    } else if (info->done) {
        pair(scr, y, &x, NULL, "sampling done (--duration)", ROLE_ALERT);
    }
}

/* The process: whether it still runs, its CPU, memory and threads. */
static void process_line(const struct screen *scr, int y, const struct session_info *info,
                         const struct ui_summary *sum)
{
    char buf[128];
    int x = 0;
    if (info->ended) {
        if (info->exit_status >= 0)
            snprintf(buf, sizeof buf, "target exited (status %d)", info->exit_status);
        else
            snprintf(buf, sizeof buf, "target exited");
        pair(scr, y, &x, NULL, buf, ROLE_ALERT);
    } else if (info->execd) {
        pair(scr, y, &x, NULL, "target exec'd a program that is not Python", ROLE_ALERT);
    } else if (info->execs) {
        snprintf(buf, sizeof buf, "followed %u exec(s)", info->execs);
        pair(scr, y, &x, NULL, buf, ROLE_DIM);
    }
    if (sum->have_cpu) {
        snprintf(buf, sizeof buf, "%.1f%%", sum->cpu_percent);
        pair(scr, y, &x, "cpu", buf, ROLE_VALUE);
    } else if (info->have_cpu) {
        snprintf(buf, sizeof buf, "%.1f%%", info->cpu_percent);
        pair(scr, y, &x, "cpu", buf, ROLE_VALUE);
    }
    if (sum->have_rss) {
        /* RSS now, and its change over the window. */
        char d[32];
        fmt_bytes(buf, sizeof buf, sum->rss);
        if (sum->have_delta) {
            fmt_bytes_delta(d, sizeof d, sum->rss_delta);
            size_t len = strlen(buf);
            snprintf(buf + len, sizeof buf - len, " (%s)", d);
        }
        pair(scr, y, &x, "rss", buf, ROLE_VALUE);
    } else if (info->have_memory && (sum->pid == 0 || sum->pid == info->pid)) {
        /* No counters (yet): the session's own reading of the target. */
        fmt_bytes(buf, sizeof buf, info->rss_bytes);
        pair(scr, y, &x, "rss", buf, ROLE_VALUE);
    }
    if (sum->have_cpu ? sum->threads != 0 : info->threads != 0) {
        snprintf(buf, sizeof buf, "%u", sum->have_cpu ? sum->threads : info->threads);
        pair(scr, y, &x, "threads", buf, ROLE_VALUE);
    }
    if (sum->nprocs > 1) {
        snprintf(buf, sizeof buf, "%zu", sum->nprocs);
        pair(scr, y, &x, "processes", buf, ROLE_VALUE);
    }
    if (info->truncated)
        pair(scr, y, &x, NULL, "(the recording was cut short)", ROLE_DIM);
}

static void query_line(const struct screen *scr, int y, const struct ui_query *q, int paused,
                       const struct ui_summary *sum, int gil_only)
{
    char buf[UI_FILTER_MAX + 80];
    int x = 0;
    /* --gil (--mode gil): only samples of threads holding the GIL count. */
    pair(scr, y, &x, NULL,
         q->weight == MODEL_CPU ? (gil_only ? "CPU time, GIL held" : "CPU time")
                                : (gil_only ? "WALL time, GIL held" : "WALL time"),
         ROLE_VALUE);
    fmt_window(buf, sizeof buf, q->range == MODEL_TOTAL ? 0 : q->window_ns);
    pair(scr, y, &x, "window", buf, ROLE_VALUE);
    if (q->pid) {
        snprintf(buf, sizeof buf, "%u", q->pid);
        pair(scr, y, &x, "process", buf, ROLE_WARM);
    } else if (sum->nprocs > 1) {
        pair(scr, y, &x, "process", "all", ROLE_VALUE);
    }
    if (q->tid) {
        snprintf(buf, sizeof buf, "%u%s%s%s", q->tid, q->tid_name[0] ? " (" : "", q->tid_name,
                 q->tid_name[0] ? ")" : "");
        pair(scr, y, &x, "thread", buf, ROLE_WARM);
    } else {
        pair(scr, y, &x, "thread", "all", ROLE_VALUE);
    }
    if (q->text[0]) {
        snprintf(buf, sizeof buf, "'%s'", q->text);
        pair(scr, y, &x, "filter", buf, ROLE_WARM);
    }
    if (paused)
        pair(scr, y, &x, NULL, "PAUSED", ROLE_ALERT);
}

static void tab_line(const struct screen *scr, int y, struct view *const *views, int nviews,
                     int active)
{
    int x = 0;
    for (int i = 0; i < nviews && x < scr->cols; i++) {
        char tab[64];
        snprintf(tab, sizeof tab, " %d %s ", i + 1, views[i]->name);
        x += screen_put(scr, y, x, scr->cols - x, tab, i == active ? ROLE_TAB_ACTIVE : ROLE_TAB, 0);
        x += screen_put(scr, y, x, scr->cols - x, " ", ROLE_NORMAL, 0);
    }
}

void header_draw(const struct screen *scr, const struct session_info *info,
                 const struct ui_query *q, const struct ui_summary *sum, int paused,
                 struct view *const *views, int nviews, int active)
{
    target_line(scr, 0, info, sum);
    sampling_line(scr, 1, info);
    process_line(scr, 2, info, sum);
    query_line(scr, 3, q, paused, sum, info->gil_only);
    tab_line(scr, 4, views, nviews, active);
}
