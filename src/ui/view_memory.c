#include "config.h"

#include "ui/format.h"
#include "ui/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The process's memory counters over the range: a row per counter with a
 * sparkline, and a larger chart of the selected one below. */

enum { COL_NAME, COL_NOW, COL_MIN, COL_MAX, COL_HISTORY, NCOLS };

static const struct table_column columns[NCOLS] = {
    [COL_NAME] = { "COUNTER", { 9, 12, 0 }, 0, 0, 0 },
    [COL_NOW] = { "NOW", { 10, 10, 0 }, 1, 0, 1 },
    [COL_MIN] = { "MIN", { 10, 10, 0 }, 1, 0, 1 },
    [COL_MAX] = { "MAX", { 10, 10, 0 }, 1, 0, 1 },
    [COL_HISTORY] = { "HISTORY", { 10, 200, 1 }, 0, 0, 0 },
};

static const char *const counter_names[SESSION_COUNTERS] = {
    [COUNTER_RSS] = "RSS",
    [COUNTER_PEAK_RSS] = "Peak RSS",
};

/* Eight heights of a cell, from a low bar to a full block. */
static const char *const blocks_utf8[8] = {
    "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
    "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88",
};
static const char blocks_ascii[8] = { '_', '.', ',', '-', '~', '=', '*', '#' };

struct memory_view {
    struct view base;
    struct table table;
    struct session_point *points;
    size_t npoints;
    uint64_t *times, *values;       /* one counter's column, for the sparklines */
    uint64_t t0, t1;                /* the time range shown */
    int have_memory, replay;
    int utf8;
};

static void memory_query(struct view *v, struct ui_ctx *u)
{
    struct memory_view *mv = (struct memory_view *)v;
    struct session_info info;
    session_info(u->session, &info);
    mv->have_memory = info.have_memory;
    mv->replay = info.replay;
    struct session_point *pts = NULL;
    size_t n = 0;
    if (session_points(u->session, 0, &pts, &n) != 0)
        return;
    free(mv->points);
    free(mv->times);
    free(mv->values);
    mv->points = pts;
    mv->npoints = n;
    mv->times = malloc((n ? n : 1) * sizeof *mv->times);
    mv->values = malloc((n ? n : 1) * sizeof *mv->values);
    if (!mv->times || !mv->values)
        mv->npoints = 0;
    for (size_t i = 0; i < mv->npoints; i++)
        mv->times[i] = pts[i].time_ns;
    /* The same range as the other views: the window, or everything. */
    mv->t1 = n ? pts[n - 1].time_ns : 0;
    mv->t0 = n ? pts[0].time_ns : 0;
    if (u->q.range == MODEL_WINDOW && mv->t1 > u->q.window_ns &&
        mv->t1 - u->q.window_ns > mv->t0)
        mv->t0 = mv->t1 - u->q.window_ns;
    table_set_rows(&mv->table, mv->npoints ? SESSION_COUNTERS : 0);
}

/* Fill values with counter c, and its min, max and latest over the range. */
static void counter_stats(struct memory_view *mv, int c, uint64_t *lo, uint64_t *hi,
                          uint64_t *now)
{
    *lo = UINT64_MAX;
    *hi = *now = 0;
    for (size_t i = 0; i < mv->npoints; i++) {
        uint64_t x = mv->points[i].value[c];
        mv->values[i] = x;
        if (mv->times[i] < mv->t0 || mv->times[i] > mv->t1)
            continue;
        *lo = x < *lo ? x : *lo;
        *hi = x > *hi ? x : *hi;
        *now = x;
    }
    if (*lo == UINT64_MAX)
        *lo = 0;
}

static void sparkline(const struct memory_view *mv, int width, char *buf, size_t cap)
{
    int levels[512];
    if (width > 512)
        width = 512;
    spark_levels(mv->times, mv->values, mv->npoints, mv->t0, mv->t1, width, 8, levels, NULL,
                 NULL);
    size_t o = 0;
    for (int i = 0; i < width && o + 4 < cap; i++) {
        if (levels[i] < 0) {
            buf[o++] = ' ';
        } else if (mv->utf8) {
            memcpy(buf + o, blocks_utf8[levels[i]], 3);
            o += 3;
        } else {
            buf[o++] = blocks_ascii[levels[i]];
        }
    }
    buf[o] = '\0';
}

static void memory_cell(void *ctx, size_t row, int col, int width, char *buf, size_t cap,
                        enum ui_role *role)
{
    struct memory_view *mv = ctx;
    uint64_t lo, hi, now;
    counter_stats(mv, (int)row, &lo, &hi, &now);
    switch (col) {
    case COL_NAME: snprintf(buf, cap, "%s", counter_names[row]); break;
    case COL_NOW: fmt_bytes(buf, cap, now); break;
    case COL_MIN: fmt_bytes(buf, cap, lo); break;
    case COL_MAX: fmt_bytes(buf, cap, hi); break;
    case COL_HISTORY:
        sparkline(mv, width, buf, cap);
        *role = ROLE_GRAPH;
        break;
    }
}

/* The selected counter as a bar chart in eighths of a cell, scaled
 * between its lowest and highest value so that changes show. */
static void draw_chart(struct memory_view *mv, const struct screen *scr, int y, int h)
{
    int c = (int)mv->table.sel;
    uint64_t lo, hi, now;
    counter_stats(mv, c, &lo, &hi, &now);
    char label[160], a[32], b[32], span[32];
    fmt_bytes(a, sizeof a, lo);
    fmt_bytes(b, sizeof b, hi);
    fmt_duration(span, sizeof span, mv->t1 - mv->t0);
    snprintf(label, sizeof label, "%s over %s: from %s (bottom) to %s (top); Up/Down choose",
             counter_names[c], span, a, b);
    screen_put(scr, y, 1, scr->cols - 1, label, ROLE_HEADER, 0);
    y++;
    h--;
    int width = scr->cols - 2;
    if (h < 1 || width < 4)
        return;
    int *levels = malloc((size_t)width * sizeof *levels);
    if (!levels)
        return;
    int steps = h * 8;
    spark_levels(mv->times, mv->values, mv->npoints, mv->t0, mv->t1, width, steps + 1, levels,
                 NULL, NULL);
    for (int x = 0; x < width; x++) {
        if (levels[x] < 0)
            continue;
        int eighths = levels[x] ? levels[x] : 1;    /* the lowest still shows */
        for (int r = 0; r < h && eighths > 0; r++) {
            int part = eighths >= 8 ? 8 : eighths;
            eighths -= part;
            char cell[8];
            if (scr->utf8)
                snprintf(cell, sizeof cell, "%s", blocks_utf8[part - 1]);
            else
                snprintf(cell, sizeof cell, "%c", part >= 4 ? '#' : '.');
            screen_put(scr, y + h - 1 - r, 1 + x, 1, cell, ROLE_GRAPH, 0);
        }
    }
    free(levels);
}

static void memory_draw(struct view *v, struct ui_ctx *u, int y, int h)
{
    struct memory_view *mv = (struct memory_view *)v;
    const struct screen *scr = u->scr;
    mv->utf8 = scr->utf8;
    if (!mv->npoints) {
        const char *why = mv->replay
            ? "no memory counters: recordings keep stacks only; watch a live target for memory"
            : "no memory counters yet (they are read from /proc four times a second)";
        table_draw(&mv->table, scr, y, h, memory_cell, mv, why);
        return;
    }
    int table_h = SESSION_COUNTERS + 1;
    if (table_h > h)
        table_h = h;
    table_draw(&mv->table, scr, y, table_h, memory_cell, mv, NULL);
    if (h - table_h >= 4)
        draw_chart(mv, scr, y + table_h + 1, h - table_h - 1);
}

static int memory_action(struct view *v, struct ui_ctx *u, enum ui_action a)
{
    (void)u;
    struct memory_view *mv = (struct memory_view *)v;
    return ui_table_action(&mv->table, a, NULL, v);
}

static void memory_free(struct view *v)
{
    struct memory_view *mv = (struct memory_view *)v;
    free(mv->points);
    free(mv->times);
    free(mv->values);
    free(mv);
}

static const struct view_ops memory_ops = {
    .query = memory_query,
    .draw = memory_draw,
    .action = memory_action,
    .free = memory_free,
};

struct view *view_memory_new(void)
{
    struct memory_view *mv = calloc(1, sizeof *mv);
    if (!mv)
        return NULL;
    mv->base.ops = &memory_ops;
    mv->base.name = "Memory";
    mv->base.scope = SCOPE_MEMORY;
    table_init(&mv->table, columns, NCOLS, COL_NAME, 0);
    return &mv->base;
}
