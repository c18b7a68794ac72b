#include "config.h"

#include "ui/format.h"
#include "ui/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One process's memory and heap counters over the range (the process
 * filter's, else the first process): a row per counter in three groups
 * with its value now, its low and high and a sparkline; running totals
 * (faults, collections) as rates. Below, the functions credited with the
 * most resident memory growth and release over the range, and a chart of
 * the selected counter when there is room. Everything comes from the
 * model, so a replay shows the same. */

enum { COL_NAME, COL_NOW, COL_MIN, COL_MAX, COL_HISTORY, NCOLS };

static const struct table_column columns[NCOLS] = {
    [COL_NAME] = { "COUNTER", { 12, 19, 0, 0 }, 0, 0, 0 },
    [COL_NOW] = { "NOW", { 11, 11, 0, 0 }, 1, 0, 1 },
    [COL_MIN] = { "MIN", { 9, 10, 0, 0 }, 1, 0, 1 },
    [COL_MAX] = { "MAX", { 9, 10, 0, 0 }, 1, 0, 1 },
    [COL_HISTORY] = { "HISTORY", { 8, 200, 1, 0 }, 0, 0, 0 },
};

enum kind { KIND_GROUP, KIND_BYTES, KIND_COUNT, KIND_RATE };

struct row_def {
    enum kind kind;
    enum counter_id id;
    const char *label;
};

/* In the order shown; a group title starts each group. */
static const struct row_def rows[] = {
    { KIND_GROUP, 0, "Process" },
    { KIND_BYTES, CTR_RSS, "RSS" },
    { KIND_BYTES, CTR_PEAK_RSS, "peak RSS" },
    { KIND_BYTES, CTR_HEAP, "heap" },
    { KIND_BYTES, CTR_ANON, "anon" },
    { KIND_BYTES, CTR_SWAP, "swap" },
    { KIND_RATE, CTR_MINFLT_TOTAL, "minor faults" },
    { KIND_RATE, CTR_MAJFLT_TOTAL, "major faults" },
    { KIND_GROUP, 0, "Python GC" },
    { KIND_COUNT, CTR_GC_COUNT0, "gen0 count" },
    { KIND_COUNT, CTR_GC_COUNT1, "gen1 count" },
    { KIND_COUNT, CTR_GC_COUNT2, "gen2 count" },
    { KIND_RATE, CTR_GC_COLLECTIONS0_TOTAL, "gen0 collections" },
    { KIND_RATE, CTR_GC_COLLECTIONS1_TOTAL, "gen1 collections" },
    { KIND_RATE, CTR_GC_COLLECTIONS2_TOTAL, "gen2 collections" },
    { KIND_RATE, CTR_GC_COLLECTED_TOTAL, "collected" },
    { KIND_RATE, CTR_GC_UNCOLLECTABLE_TOTAL, "uncollectable" },
    { KIND_GROUP, 0, "pymalloc" },
    { KIND_COUNT, CTR_PYMALLOC_ARENAS, "arenas" },
    { KIND_COUNT, CTR_PYMALLOC_ARENAS_PEAK, "arenas peak" },
    { KIND_BYTES, CTR_PYMALLOC_ARENA_BYTES, "arena bytes" },
    { KIND_COUNT, CTR_PYMALLOC_BLOCKS, "blocks" },
};

#define NROWS (sizeof rows / sizeof *rows)
/* Rates are kept in thousandths per second, so small ones still plot. */
#define RATE_SCALE 1000.0
/* Functions kept for each list under the table. */
#define TOP_MAX 32

/* Eight heights of a cell, from a low bar to a full block. */
static const char *const blocks_utf8[8] = {
    "\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
    "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88",
};
static const char blocks_ascii[8] = { '_', '.', ',', '-', '~', '=', '*', '#' };

/* A counter's series over the points: levels as read, running totals as
 * the rate between each point and the one before. */
struct series {
    uint64_t *values;
    unsigned char *valid;
    int read;                       /* some point in the range has it */
    int have_rate;                  /* running totals: rate over the range */
    double rate;
};

struct top_row {
    uint32_t frame;
    uint64_t bytes;
};

struct memory_view {
    struct view base;
    struct table table;
    /* The counters, oldest first, and their series. */
    uint64_t *times;
    size_t npoints;
    struct series series[COUNTER_COUNT];
    uint64_t t0, t1;                /* the range shown */
    uint32_t pid;                   /* whose counters (0: none known yet) */
    char command[256];
    size_t nprocs;
    int replay;
    int utf8;
    /* The functions with the most growth and release, and the whole. */
    const struct stack_table *dict;
    struct top_row grow[TOP_MAX], release[TOP_MAX];
    size_t ngrow, nrelease;
    uint64_t grow_total, release_total;
    char range_text[32];
};

static void free_series(struct memory_view *mv)
{
    free(mv->times);
    mv->times = NULL;
    for (int c = 0; c < COUNTER_COUNT; c++) {
        free(mv->series[c].values);
        free(mv->series[c].valid);
        mv->series[c].values = NULL;
        mv->series[c].valid = NULL;
    }
    mv->npoints = 0;
}

static int is_total(enum counter_id id)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].kind == KIND_RATE && rows[i].id == id)
            return 1;
    return 0;
}

/* Build every counter's series from the points: 0, or -1 out of memory. */
static int build_series(struct memory_view *mv, const struct model_counter_point *pts, size_t n)
{
    size_t cap = n ? n : 1;
    mv->times = malloc(cap * sizeof *mv->times);
    if (!mv->times)
        return -1;
    for (size_t i = 0; i < n; i++)
        mv->times[i] = pts[i].time_ns;
    for (int c = 0; c < COUNTER_COUNT; c++) {
        struct series *s = &mv->series[c];
        s->values = malloc(cap * sizeof *s->values);
        s->valid = malloc(cap);
        s->read = s->have_rate = 0;
        if (!s->values || !s->valid)
            return -1;
        int total = is_total((enum counter_id)c);
        for (size_t i = 0; i < n; i++) {
            s->valid[i] = (unsigned char)counters_has(&pts[i].c, (enum counter_id)c);
            s->values[i] = pts[i].c.value[c];
            if (s->valid[i] && pts[i].time_ns >= mv->t0 && pts[i].time_ns <= mv->t1)
                s->read = 1;
        }
        s->have_rate = total && total_rate(mv->times, s->values, s->valid, n, mv->t0, mv->t1,
                                           &s->rate);
        for (size_t i = 0; total && i < n; i++) {
            const struct counters *k = &pts[i].c;
            /* The rate since the previous point, when both were read. */
            const struct counters *p = i ? &pts[i - 1].c : NULL;
            if (!p || !s->valid[i] || !counters_has(p, (enum counter_id)c) ||
                pts[i].time_ns <= pts[i - 1].time_ns) {
                s->valid[i] = 0;
                s->values[i] = 0;
                continue;
            }
            uint64_t d = k->value[c] > p->value[c] ? k->value[c] - p->value[c] : 0;
            double rate = (double)d * 1e9 / (double)(pts[i].time_ns - pts[i - 1].time_ns);
            double scaled = rate * RATE_SCALE + 0.5;     /* a wild reading stays in range */
            s->values[i] = scaled < 1.8e19 ? (uint64_t)scaled : UINT64_MAX;
        }
    }
    mv->npoints = n;
    return 0;
}

static int cmp_top(const void *pa, const void *pb)
{
    const struct top_row *a = pa, *b = pb;
    if (a->bytes != b->bytes)
        return a->bytes < b->bytes ? 1 : -1;
    return (a->frame > b->frame) - (a->frame < b->frame);
}

/* The functions with the most own growth (or release), largest first. */
static size_t top_functions(const struct model_function_row *r, size_t n, int release,
                            struct top_row *out, uint64_t *whole)
{
    struct top_row *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    *whole = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = release ? r[i].own_release : r[i].own_grow;
        *whole += b;
        if (b && all)
            all[k++] = (struct top_row){ r[i].frame, b };
    }
    if (!all)
        return 0;
    qsort(all, k, sizeof *all, cmp_top);
    if (k > TOP_MAX)
        k = TOP_MAX;
    memcpy(out, all, k * sizeof *out);
    free(all);
    return k;
}

static void memory_query(struct view *v, struct ui_ctx *u)
{
    struct memory_view *mv = (struct memory_view *)v;
    struct session_info info;
    session_info(u->session, &info);
    mv->replay = info.replay;

    struct model_counter_point *pts = NULL;
    struct model_process_row *procs = NULL;
    struct model_function_row *grow = NULL, *release = NULL;
    size_t n = 0, nprocs = 0, ngrow = 0, nrelease = 0;
    struct model_filter f;
    ui_filter(&u->q, &f);
    session_lock(u->session);
    const struct model *m = session_model(u->session);
    mv->dict = session_dict(u->session);
    ui_counter_range(m, &u->q, &mv->t0, &mv->t1);
    if (model_processes(m, MODEL_TOTAL, &procs, &nprocs) != 0)
        nprocs = 0;
    uint32_t pid = u->q.pid ? u->q.pid : (nprocs ? procs[0].info.pid : 0);
    /* The functions of the process whose counters are shown. */
    if (nprocs > 1)
        f.pid = pid;
    int rc = model_counters(m, pid, mv->t0, &pts, &n);
    if (model_functions(m, u->q.range, MODEL_MEM_GROW, &f, 0, &grow, &ngrow) != 0)
        ngrow = 0;
    if (model_functions(m, u->q.range, MODEL_MEM_RELEASE, &f, 0, &release, &nrelease) != 0)
        nrelease = 0;
    session_unlock(u->session);

    mv->pid = pid;
    mv->nprocs = nprocs;
    mv->command[0] = '\0';
    for (size_t i = 0; i < nprocs; i++)
        if (procs[i].info.pid == pid)
            snprintf(mv->command, sizeof mv->command, "%s", procs[i].info.command);
    free(procs);
    fmt_window(mv->range_text, sizeof mv->range_text,
               u->q.range == MODEL_TOTAL ? 0 : u->q.window_ns);

    mv->ngrow = top_functions(grow, ngrow, 0, mv->grow, &mv->grow_total);
    mv->nrelease = top_functions(release, nrelease, 1, mv->release, &mv->release_total);
    free(grow);
    free(release);

    if (rc == 0) {
        /* Since start: from the first point. The latest point may be
         * newer than the latest sample. */
        if (u->q.range == MODEL_TOTAL && n)
            mv->t0 = pts[0].time_ns;
        if (n && pts[n - 1].time_ns > mv->t1)
            mv->t1 = pts[n - 1].time_ns;
        free_series(mv);
        if (build_series(mv, pts, n) != 0)
            free_series(mv);
    }
    free(pts);
    table_set_rows(&mv->table, mv->npoints ? NROWS : 0);
    /* A group title is not a counter: the one under it. */
    if (mv->npoints && rows[mv->table.sel].kind == KIND_GROUP)
        mv->table.sel++;
}

/* A counter's low, high and latest over the range (rates: of the
 * intervals). Returns 0 when it has no valid point there. */
static int counter_stats(const struct memory_view *mv, enum counter_id c, uint64_t *lo,
                         uint64_t *hi, uint64_t *now)
{
    const struct series *s = &mv->series[c];
    int have = 0;
    *lo = UINT64_MAX;
    *hi = *now = 0;
    for (size_t i = 0; i < mv->npoints; i++) {
        if (!s->valid[i] || mv->times[i] < mv->t0 || mv->times[i] > mv->t1)
            continue;
        uint64_t x = s->values[i];
        *lo = x < *lo ? x : *lo;
        *hi = x > *hi ? x : *hi;
        *now = x;
        have = 1;
    }
    if (!have)
        *lo = 0;
    return have;
}

static void fmt_value(char *buf, size_t cap, enum kind k, uint64_t v)
{
    switch (k) {
    case KIND_BYTES: fmt_bytes(buf, cap, v); break;
    case KIND_COUNT: fmt_count(buf, cap, v); break;
    case KIND_RATE: fmt_rate(buf, cap, (double)v / RATE_SCALE); break;
    case KIND_GROUP: buf[0] = '\0'; break;
    }
}

static void sparkline(const struct memory_view *mv, enum counter_id c, int width, char *buf,
                      size_t cap)
{
    int levels[512];
    if (width > 512)
        width = 512;
    spark_levels(mv->times, mv->series[c].values, mv->series[c].valid, mv->npoints, mv->t0,
                 mv->t1, width, 8, levels, NULL, NULL);
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
    const struct row_def *d = &rows[row];
    if (d->kind == KIND_GROUP) {
        if (col == COL_NAME) {
            snprintf(buf, cap, "%s", d->label);
            *role = ROLE_HEADER;
        }
        return;
    }
    uint64_t lo, hi, now;
    int have = counter_stats(mv, d->id, &lo, &hi, &now);
    if (d->kind == KIND_RATE && !mv->series[d->id].have_rate)
        have = 0;
    switch (col) {
    case COL_NAME:
        snprintf(buf, cap, "  %s", d->label);
        break;
    case COL_NOW:
        if (!mv->series[d->id].read) {
            /* Not on this kernel or Python version: never shown as 0. */
            snprintf(buf, cap, "unavailable");
            *role = ROLE_DIM;
        } else if (!have) {
            snprintf(buf, cap, "-");     /* a rate needs two readings */
            *role = ROLE_DIM;
        } else if (d->kind == KIND_RATE) {
            /* Over the whole range, not the last interval. */
            fmt_rate(buf, cap, mv->series[d->id].rate);
        } else {
            fmt_value(buf, cap, d->kind, now);
        }
        break;
    case COL_MIN:
        if (have)
            fmt_value(buf, cap, d->kind, lo);
        break;
    case COL_MAX:
        if (have)
            fmt_value(buf, cap, d->kind, hi);
        break;
    case COL_HISTORY:
        if (have)
            sparkline(mv, d->id, width, buf, cap);
        *role = ROLE_GRAPH;
        break;
    }
}

/* The selected counter as a bar chart in eighths of a cell, scaled
 * between its lowest and highest value so that changes show. */
static void draw_chart(struct memory_view *mv, const struct screen *scr, int y, int h)
{
    const struct row_def *d = &rows[mv->table.sel];
    if (d->kind == KIND_GROUP)
        return;
    uint64_t lo, hi, now;
    if (!counter_stats(mv, d->id, &lo, &hi, &now))
        return;
    char label[200], a[32], b[32], span[32];
    fmt_value(a, sizeof a, d->kind, lo);
    fmt_value(b, sizeof b, d->kind, hi);
    fmt_duration(span, sizeof span, mv->t1 - mv->t0);
    snprintf(label, sizeof label, "%s over %s: from %s (bottom) to %s (top); Up/Down choose",
             d->label, span, a, b);
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
    spark_levels(mv->times, mv->series[d->id].values, mv->series[d->id].valid, mv->npoints,
                 mv->t0, mv->t1, width, steps + 1, levels, NULL, NULL);
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

/* One list of functions in w columns from x: a title, then
 * "+12.0 MiB  41.2%  function  file:line" rows. */
static void draw_top(const struct memory_view *mv, const struct screen *scr, int y, int x,
                     int w, int h, int release)
{
    const struct top_row *top = release ? mv->release : mv->grow;
    size_t n = release ? mv->nrelease : mv->ngrow;
    uint64_t whole = release ? mv->release_total : mv->grow_total;
    char title[96];
    snprintf(title, sizeof title, "Top memory %s, %s", release ? "release" : "growth",
             mv->range_text);
    screen_cell(scr, y, x, w, title, ROLE_TITLE, 0, 0);
    if (n == 0 && h > 1) {
        screen_put(scr, y + 1, x + 1, w - 1,
                   release ? "no release credited in this range" : "no growth credited in this range",
                   ROLE_DIM, 0);
        return;
    }
    for (int r = 1; r < h && (size_t)(r - 1) < n; r++) {
        const struct top_row *t = &top[r - 1];
        char bytes[32], amount[40], pct[16], loc[512];
        fmt_bytes(bytes, sizeof bytes, t->bytes);
        snprintf(amount, sizeof amount, "%c%s", release ? '-' : '+', bytes);
        fmt_percent(pct, sizeof pct, t->bytes, whole);
        int cx = x;
        screen_cell(scr, y + r, cx, 10, amount, ui_share_role(t->bytes, whole), 1, 0);
        cx += 11;
        char p[20];
        snprintf(p, sizeof p, "%s%%", pct);
        screen_cell(scr, y + r, cx, 6, p, ROLE_NORMAL, 1, 0);
        cx += 7;
        int rest = x + w - cx;
        if (rest <= 0)
            continue;
        const char *fn = ui_frame_function(mv->dict, t->frame);
        cx += screen_put(scr, y + r, cx, rest, fn, ROLE_NORMAL, 0) + 1;
        rest = x + w - cx;
        if (rest > 4) {
            ui_frame_location(mv->dict, t->frame, 1, loc, sizeof loc);
            screen_put(scr, y + r, cx, rest, loc, ROLE_DIM, 1);
        }
    }
}

static void memory_draw(struct view *v, struct ui_ctx *u, int y, int h)
{
    struct memory_view *mv = (struct memory_view *)v;
    const struct screen *scr = u->scr;
    mv->utf8 = scr->utf8;
    if (h <= 0)
        return;
    /* Whose counters. */
    char line[512];
    if (mv->pid)
        snprintf(line, sizeof line, "Memory of process %u%s%s%s", mv->pid,
                 mv->command[0] ? ": " : "", mv->command,
                 mv->nprocs > 1 ? "   (P: another process)" : "");
    else
        snprintf(line, sizeof line, "Memory");
    screen_put(scr, y, 1, scr->cols - 1, line, ROLE_HEADER, 0);
    y++;
    h--;
    if (!mv->npoints) {
        const char *why = mv->replay
            ? "no memory counters in the recording up to here"
            : "no memory counters yet (they are read four times a second)";
        table_draw(&mv->table, scr, y, h, memory_cell, mv, why);
        return;
    }
    /* The table first; then the function lists (a title and some rows);
     * then the chart of the selected counter when there is room. */
    int full = (int)NROWS + 1;
    int lists = 0, table_h = full;
    if (h >= full + 4) {
        lists = h - full - 1;
        if (lists > 11)
            lists = 11;
    } else if (h >= 14) {
        lists = 4;
        table_h = h - lists - 1;
    } else {
        table_h = h;
    }
    if (table_h > h)
        table_h = h;
    table_draw(&mv->table, scr, y, table_h, memory_cell, mv, NULL);
    int ly = y + table_h + 1;
    if (lists > 0) {
        if (scr->cols >= 60) {
            int half = (scr->cols - 1) / 2;
            draw_top(mv, scr, ly, 0, half, lists, 0);
            draw_top(mv, scr, ly, half + 1, scr->cols - half - 1, lists, 1);
        } else {
            draw_top(mv, scr, ly, 0, scr->cols, lists, 0);
        }
        /* Trim the lists to their rows, so the chart gets the rest. */
        size_t most = mv->ngrow > mv->nrelease ? mv->ngrow : mv->nrelease;
        int used = 1 + (int)(most ? most : 1);
        if (used < lists)
            lists = used;
        ly += lists + 1;
    }
    int left = y + h - ly;
    if (left >= 6)
        draw_chart(mv, scr, ly, left);
}

static int memory_action(struct view *v, struct ui_ctx *u, enum ui_action a)
{
    (void)u;
    struct memory_view *mv = (struct memory_view *)v;
    size_t before = mv->table.sel;
    int r = ui_table_action(&mv->table, a, NULL, v);
    /* Group titles are not counters: step over them (the table keeps
     * the selection in sight at the next draw). */
    if (r && mv->table.nrows && rows[mv->table.sel].kind == KIND_GROUP) {
        if (mv->table.sel + 1 < mv->table.nrows && (mv->table.sel >= before || mv->table.sel == 0))
            mv->table.sel++;
        else if (mv->table.sel > 0)
            mv->table.sel--;
    }
    return r;
}

static void memory_free(struct view *v)
{
    struct memory_view *mv = (struct memory_view *)v;
    free_series(mv);
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
    mv->table.sel = 1;      /* RSS, not the group title */
    return &mv->base;
}
