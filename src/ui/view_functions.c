#include "config.h"

#include "ui/format.h"
#include "ui/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Functions (or lines) with their own and total time over the range, and
 * the resident memory growth and release credited to them while they ran
 * their own code (a sample's RSS change goes to the stacks running). */

enum {
    COL_OWN_PCT, COL_DIFF, COL_TOTAL_PCT, COL_OWN_S, COL_TOTAL_S, COL_GROW, COL_RELEASE,
    COL_FUNCTION, COL_FILE, NCOLS
};

/* Narrow, the memory columns go first, then the seconds; the sort column
 * always stays. FUNCTION and FILE:LINE keep SLACK columns over their
 * minimums before optional columns show (80 columns: the time columns). */
#define SLACK 24

static const struct table_column columns[NCOLS] = {
    [COL_OWN_PCT] = { "OWN%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_DIFF] = { "DIFF%", { 7, 7, 0, 0 }, 1, 0, 1 },
    [COL_TOTAL_PCT] = { "TOTAL%", { 7, 7, 0, 0 }, 1, 0, 1 },
    [COL_OWN_S] = { "OWN(s)", { 7, 7, 0, 3 }, 1, 0, 1 },
    [COL_TOTAL_S] = { "TOTAL(s)", { 9, 9, 0, 4 }, 1, 0, 1 },
    [COL_GROW] = { "+MEM", { 8, 9, 0, 2 }, 1, 0, 1 },
    [COL_RELEASE] = { "-MEM", { 8, 9, 0, 1 }, 1, 0, 1 },
    [COL_FUNCTION] = { "FUNCTION", { 10, 28, 2, 0 }, 0, 0, 0 },
    [COL_FILE] = { "FILE:LINE", { 10, 30, 3, 0 }, 0, 1, 0 },
};

/* A function's identity across refreshes (frame ids of equal functions
 * may differ: the row's frame is the lowest one seen). */
struct fn_key {
    uint32_t function, file;
    int32_t firstline, line;
    int valid;
};

/* A function's total share when the baseline was taken. */
struct base_row {
    struct fn_key key;
    double share;
};

struct functions_view {
    struct view base;
    struct table table;
    struct model_function_row *rows;
    size_t nrows;
    uint64_t total;
    uint64_t grow, release;          /* over the rows: the memory columns' whole */
    const struct stack_table *dict;
    int by_line;
    int have_data;
    /* The selected row's identity, kept as it changes: the dictionary of
     * the previous rows may be gone by the next refresh (a replay that
     * went back rebuilds it, with the same ids). */
    struct fn_key sel;
    /* The baseline (key b): the total shares of the rows shown then,
     * sorted by key; DIFF% shows each row's total share now minus then
     * (total, so a caller's change shows, not only the leaf's). */
    struct base_row *baseline;
    size_t nbase;
    int have_base;
};

static struct fn_key key_of(const struct functions_view *fv, size_t i)
{
    struct fn_key k = { 0, 0, 0, 0, 0 };
    if (i >= fv->nrows)
        return k;
    if (fv->rows[i].frame == MODEL_FRAME_NONE) {
        /* No dictionary string is UINT32_MAX: a key of its own. */
        k.function = k.file = MODEL_FRAME_NONE;
        k.valid = 1;
        return k;
    }
    const struct stack_frame *f = stack_table_get_frame(fv->dict, fv->rows[i].frame);
    if (!f)
        return k;
    k.function = f->function;
    k.file = f->file;
    k.firstline = f->firstline;
    k.line = fv->by_line ? f->line : 0;
    k.valid = 1;
    return k;
}

static int key_equal(const struct fn_key *a, const struct fn_key *b)
{
    return a->valid && b->valid && a->function == b->function && a->file == b->file &&
           a->firstline == b->firstline && a->line == b->line;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static int key_cmp(const struct fn_key *a, const struct fn_key *b)
{
    if (a->function != b->function)
        return a->function < b->function ? -1 : 1;
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    if (a->firstline != b->firstline)
        return a->firstline < b->firstline ? -1 : 1;
    return (a->line > b->line) - (a->line < b->line);
}

static int base_cmp(const void *a, const void *b)
{
    return key_cmp(&((const struct base_row *)a)->key, &((const struct base_row *)b)->key);
}

static double share_of(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

/* Row r's total share now minus at the baseline (0 there when absent). */
static double row_diff(const struct functions_view *fv, const struct model_function_row *r)
{
    size_t i = (size_t)(r - fv->rows);
    struct base_row want = { .key = key_of(fv, i) };
    const struct base_row *b = fv->nbase
        ? bsearch(&want, fv->baseline, fv->nbase, sizeof *fv->baseline, base_cmp) : NULL;
    return share_of(r->total_ns, fv->total) - (b ? b->share : 0.0);
}

/* Take the rows shown as the baseline. 0, or -1 when out of memory. */
static int take_baseline(struct functions_view *fv)
{
    struct base_row *b = malloc((fv->nrows ? fv->nrows : 1) * sizeof *b);
    if (!b)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < fv->nrows; i++) {
        b[n].key = key_of(fv, i);
        if (!b[n].key.valid)
            continue;
        b[n].share = share_of(fv->rows[i].total_ns, fv->total);
        n++;
    }
    qsort(b, n, sizeof *b, base_cmp);
    free(fv->baseline);
    fv->baseline = b;
    fv->nbase = n;
    fv->have_base = 1;
    fv->table.hidden &= ~(1u << COL_DIFF);
    return 0;
}

static void drop_baseline(struct functions_view *fv)
{
    free(fv->baseline);
    fv->baseline = NULL;
    fv->nbase = 0;
    fv->have_base = 0;
    fv->table.hidden |= 1u << COL_DIFF;
    if (fv->table.sort_col == COL_DIFF)
        table_sort_by(&fv->table, COL_OWN_PCT);
}

static int compare_rows(const void *pa, const void *pb, void *ctx)
{
    const struct functions_view *fv = ctx;
    const struct model_function_row *a = pa, *b = pb;
    /* The row without a frame (MODEL_FRAME_NONE) sorts by its name, with
     * no file. */
    static const struct stack_frame none = { 0, 0, -1, 0 };
    const struct stack_frame *fa = stack_table_get_frame(fv->dict, a->frame);
    const struct stack_frame *fb = stack_table_get_frame(fv->dict, b->frame);
    fa = fa ? fa : &none;
    fb = fb ? fb : &none;
    const char *na = ui_frame_function(fv->dict, a->frame);
    const char *nb = ui_frame_function(fv->dict, b->frame);
    int c = 0;
    switch (fv->table.sort_col) {
    case COL_OWN_PCT:
    case COL_OWN_S:
        c = cmp_u64(a->own_ns, b->own_ns);
        break;
    case COL_TOTAL_PCT:
    case COL_TOTAL_S:
        c = cmp_u64(a->total_ns, b->total_ns);
        break;
    case COL_DIFF: {
        double da = row_diff(fv, a), db = row_diff(fv, b);
        c = (da > db) - (da < db);
        break;
    }
    case COL_GROW:
        c = cmp_u64(a->own_grow, b->own_grow);
        break;
    case COL_RELEASE:
        c = cmp_u64(a->own_release, b->own_release);
        break;
    case COL_FUNCTION:
        c = strcmp(na, nb);
        break;
    case COL_FILE:
        c = ui_strcmp(fv->dict, fa->file, fb->file);
        if (!c)
            c = fv->by_line ? (fa->line > fb->line) - (fa->line < fb->line)
                            : (fa->firstline > fb->firstline) - (fa->firstline < fb->firstline);
        break;
    }
    if (fv->table.sort_desc)
        c = -c;
    /* Ties in a fixed order, so equal rows do not swap between refreshes. */
    if (!c)
        c = cmp_u64(b->total_ns, a->total_ns);
    if (!c)
        c = strcmp(na, nb);
    if (!c)
        c = (a->frame > b->frame) - (a->frame < b->frame);
    return c;
}

/* Sort, and select the row that was selected; at the top row the
 * selection stays there, as in top, rather than chase a function down. */
static void sort_rows(struct view *v)
{
    struct functions_view *fv = (struct functions_view *)v;
    if (fv->nrows > 1)
        qsort_r(fv->rows, fv->nrows, sizeof *fv->rows, compare_rows, fv);
    for (size_t i = 0; i < fv->nrows && fv->table.sel > 0; i++) {
        struct fn_key k = key_of(fv, i);
        if (key_equal(&k, &fv->sel)) {
            table_select(&fv->table, i);
            break;
        }
    }
    fv->sel = key_of(fv, fv->table.sel);
}

static void functions_query(struct view *v, struct ui_ctx *u)
{
    struct functions_view *fv = (struct functions_view *)v;
    struct model_filter f;
    ui_filter(&u->q, &f);
    struct model_function_row *rows = NULL;
    size_t n = 0;
    session_lock(u->session);
    const struct model *m = session_model(u->session);
    fv->dict = session_dict(u->session);
    int rc = model_functions(m, u->q.range, u->q.weight, &f, fv->by_line, &rows, &n);
    fv->total = ui_total(m, &u->q);
    session_unlock(u->session);
    if (rc != 0)
        return;     /* keep showing the previous rows */
    free(fv->rows);
    fv->rows = rows;
    fv->nrows = n;
    fv->have_data = 1;
    /* Own amounts add up to the whole: each sample's change is credited
     * once, to its innermost function. */
    fv->grow = fv->release = 0;
    for (size_t i = 0; i < n; i++) {
        fv->grow += rows[i].own_grow;
        fv->release += rows[i].own_release;
    }
    table_set_rows(&fv->table, n);
    sort_rows(v);
}

static void functions_cell(void *ctx, size_t row, int col, int width, char *buf, size_t cap,
                           enum ui_role *role)
{
    (void)width;
    struct functions_view *fv = ctx;
    const struct model_function_row *r = &fv->rows[row];
    switch (col) {
    case COL_OWN_PCT:
        fmt_percent(buf, cap, r->own_ns, fv->total);
        *role = ui_share_role(r->own_ns, fv->total);
        break;
    case COL_TOTAL_PCT:
        fmt_percent(buf, cap, r->total_ns, fv->total);
        *role = ui_share_role(r->total_ns, fv->total);
        break;
    case COL_DIFF: {
        /* Percentage points, signed; within a twentieth of a point: "=". */
        double d = row_diff(fv, r) * 100.0;
        if (d > -0.05 && d < 0.05) {
            snprintf(buf, cap, "=");
            *role = ROLE_DIM;
        } else {
            snprintf(buf, cap, "%+.1f", d);
            *role = d >= 5.0 ? ROLE_HOT : d >= 1.0 ? ROLE_WARM : ROLE_NORMAL;
        }
        break;
    }
    case COL_OWN_S:
        fmt_seconds(buf, cap, r->own_ns);
        break;
    case COL_TOTAL_S:
        fmt_seconds(buf, cap, r->total_ns);
        break;
    case COL_GROW:
    case COL_RELEASE: {
        uint64_t b = col == COL_GROW ? r->own_grow : r->own_release;
        if (b == 0) {
            snprintf(buf, cap, "-");
            *role = ROLE_DIM;
        } else {
            fmt_bytes(buf, cap, b);
            *role = ui_share_role(b, col == COL_GROW ? fv->grow : fv->release);
        }
        break;
    }
    case COL_FUNCTION:
        snprintf(buf, cap, "%s", ui_frame_function(fv->dict, r->frame));
        break;
    case COL_FILE:
        ui_frame_location(fv->dict, r->frame, !fv->by_line, buf, cap);
        *role = ROLE_DIM;
        break;
    }
}

static void functions_draw(struct view *v, struct ui_ctx *u, int y, int h)
{
    struct functions_view *fv = (struct functions_view *)v;
    char empty[UI_FILTER_MAX + 64];
    if (!fv->have_data || (fv->nrows == 0 && !u->q.text[0] && !u->q.tid))
        snprintf(empty, sizeof empty, "no samples in this range yet");
    else
        snprintf(empty, sizeof empty, "no function matches the filters");
    table_draw(&fv->table, u->scr, y, h, functions_cell, fv, empty);
}

int view_functions_selected(struct view *v, struct source_request *req)
{
    struct functions_view *fv = (struct functions_view *)v;
    if (fv->nrows == 0 || fv->table.sel >= fv->nrows)
        return 0;
    const struct stack_frame *f = stack_table_get_frame(fv->dict, fv->rows[fv->table.sel].frame);
    if (!f)
        return 0;
    snprintf(req->file, sizeof req->file, "%s", stack_table_str(fv->dict, f->file));
    snprintf(req->function, sizeof req->function, "%s", stack_table_str(fv->dict, f->function));
    req->native = stack_frame_is_native(f);
    req->line = req->native ? -1 : fv->by_line ? f->line : f->firstline;
    req->pending = 1;
    return 1;
}

static int functions_action(struct view *v, struct ui_ctx *u, enum ui_action a)
{
    struct functions_view *fv = (struct functions_view *)v;
    switch (a) {
    case ACT_BASELINE:
        if (fv->have_base) {
            drop_baseline(fv);
            ui_status(u, ROLE_STATUS, "baseline dropped");
        } else if (!fv->have_data) {
            ui_status(u, ROLE_STATUS, "no samples yet to take as the baseline");
        } else if (take_baseline(fv) != 0) {
            ui_status(u, ROLE_ALERT, "baseline: out of memory");
        } else {
            ui_status(u, ROLE_STATUS, "baseline taken (%zu functions): DIFF%% is TOTAL%% now "
                                      "minus then; b again drops it", fv->nbase);
        }
        sort_rows(v);
        return UI_DRAW;
    case ACT_LINES:
        if (fv->have_base)      /* its rows were functions or lines, not the other */
            drop_baseline(fv);
        fv->by_line = !fv->by_line;
        fv->sel.line = 0;   /* keep the function selected; its lines differ */
        fv->sel.valid = 0;
        ui_status(u, ROLE_STATUS, fv->by_line ? "one row per line" : "one row per function");
        return UI_QUERY;
    case ACT_SORT_MEMORY:
        /* m: by memory growth; again: back to own time. */
        if (fv->table.sort_col == COL_GROW && fv->table.sort_desc) {
            table_sort_by(&fv->table, COL_OWN_PCT);
            ui_status(u, ROLE_STATUS, "sorted by own time");
        } else {
            table_sort_by(&fv->table, COL_GROW);
            ui_status(u, ROLE_STATUS, "sorted by memory growth (+MEM: RSS growth while each "
                                      "function ran its own code); m again: own time");
        }
        table_select(&fv->table, 0);
        sort_rows(v);
        return UI_DRAW;
    case ACT_OPEN_SOURCE:
        if (!view_functions_selected(v, &u->open_source))
            ui_status(u, ROLE_STATUS,
                      fv->table.sel < fv->nrows && fv->rows[fv->table.sel].frame == MODEL_FRAME_NONE
                          ? "no source: these samples had no Python frame (C code only, or the "
                            "interpreter starting or ending)"
                          : "no function selected");
        return UI_DRAW;
    default: {
        int r = ui_table_action(&fv->table, a, sort_rows, v);
        fv->sel = key_of(fv, fv->table.sel);
        return r;
    }
    }
}

static void functions_free(struct view *v)
{
    struct functions_view *fv = (struct functions_view *)v;
    free(fv->rows);
    free(fv->baseline);
    free(fv);
}

static const struct view_ops functions_ops = {
    .query = functions_query,
    .draw = functions_draw,
    .action = functions_action,
    .free = functions_free,
};

struct view *view_functions_new(void)
{
    struct functions_view *fv = calloc(1, sizeof *fv);
    if (!fv)
        return NULL;
    fv->base.ops = &functions_ops;
    fv->base.name = "Functions";
    fv->base.scope = SCOPE_FUNCTIONS;
    table_init(&fv->table, columns, NCOLS, COL_OWN_PCT, 1);
    fv->table.slack = SLACK;
    fv->table.hidden = 1u << COL_DIFF;     /* until a baseline is taken */
    return &fv->base;
}
