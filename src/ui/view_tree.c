#include "config.h"

#include "ui/format.h"
#include "ui/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Call paths as a tree: total and own time of each call, children sorted
 * by the sort column. A call opens by itself while it carries at least a
 * tenth of the time (AUTO_OPEN_PERMILLE), so the hot paths show at once;
 * the user's own expand and collapse win over that. */

#define AUTO_OPEN_PERMILLE 100
#define NO_INDEX UINT32_MAX
/* The rep of the call standing for samples with no Python frame (the
 * root's own time): no trie node has this id. */
#define NO_FRAME_REP (UINT32_MAX - 1)

enum { COL_TOTAL_PCT, COL_OWN_PCT, COL_TOTAL_S, COL_OWN_S, COL_FUNCTION, COL_FILE, NCOLS };

static const struct table_column columns[NCOLS] = {
    [COL_TOTAL_PCT] = { "TOTAL%", { 7, 7, 0, 0 }, 1, 0, 1 },
    [COL_OWN_PCT] = { "OWN%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_TOTAL_S] = { "TOTAL(s)", { 9, 9, 0, 0 }, 1, 0, 1 },
    [COL_OWN_S] = { "OWN(s)", { 7, 7, 0, 0 }, 1, 0, 1 },
    [COL_FUNCTION] = { "CALL", { 16, 40, 3, 0 }, 0, 0, 0 },
    [COL_FILE] = { "FILE:LINE", { 10, 30, 2, 0 }, 0, 1, 0 },
};

struct mark {
    uint32_t node;
    int open;
};

/* A call: the trie's nodes under one caller that run the same function
 * (they differ only by line) merged into one. rep, the lowest trie node
 * merged in, names it across refreshes. */
struct call {
    uint32_t rep;
    uint32_t parent;            /* index of the caller's call; the root is 0 */
    uint32_t function, file;    /* string ids */
    int32_t firstline;
    uint64_t self_ns, total_ns;
};

struct tree_view {
    struct view base;
    struct table table;
    const struct stack_table *dict;
    uint64_t total;
    struct call *calls;             /* calls[0] is the root */
    size_t ncalls;
    uint32_t *first_child, *nchildren, *children;   /* per call; children grouped */
    uint32_t *flat;                 /* the visible calls, in order */
    size_t nflat;
    struct mark *marks;             /* the user's choices, sorted by rep */
    size_t nmarks, cap_marks;
    uint32_t sel_rep;
    int have_data;
    int utf8;                       /* markers as triangles */
};

static int cmp_node(const void *a, const void *b)
{
    const struct model_node_row *x = a, *y = b;
    return (x->node > y->node) - (x->node < y->node);
}

static uint32_t find_row(const struct model_node_row *rows, size_t n, uint32_t node)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rows[mid].node == node)
            return (uint32_t)mid;
        if (rows[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NO_INDEX;
}

static struct mark *find_mark(const struct tree_view *tv, uint32_t rep)
{
    size_t lo = 0, hi = tv->nmarks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (tv->marks[mid].node == rep)
            return &tv->marks[mid];
        if (tv->marks[mid].node < rep)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static void set_mark(struct tree_view *tv, uint32_t rep, int open)
{
    struct mark *m = find_mark(tv, rep);
    if (m) {
        m->open = open;
        return;
    }
    if (tv->nmarks == tv->cap_marks) {
        size_t cap = tv->cap_marks ? tv->cap_marks * 2 : 64;
        struct mark *nm = realloc(tv->marks, cap * sizeof *nm);
        if (!nm)
            return;
        tv->marks = nm;
        tv->cap_marks = cap;
    }
    size_t i = tv->nmarks;
    while (i > 0 && tv->marks[i - 1].node > rep) {
        tv->marks[i] = tv->marks[i - 1];
        i--;
    }
    tv->marks[i] = (struct mark) { rep, open };
    tv->nmarks++;
}

static int is_open(const struct tree_view *tv, uint32_t c)
{
    const struct mark *m = find_mark(tv, tv->calls[c].rep);
    if (m)
        return m->open;
    return tv->total && tv->calls[c].total_ns * 1000 >= tv->total * AUTO_OPEN_PERMILLE;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

static const char *call_name(const struct tree_view *tv, const struct call *c)
{
    return c->rep == NO_FRAME_REP ? UI_NO_FRAME_NAME : stack_table_str(tv->dict, c->function);
}

static int compare_children(const void *pa, const void *pb, void *ctx)
{
    const struct tree_view *tv = ctx;
    const struct call *a = &tv->calls[*(const uint32_t *)pa];
    const struct call *b = &tv->calls[*(const uint32_t *)pb];
    int c = 0;
    switch (tv->table.sort_col) {
    case COL_TOTAL_PCT:
    case COL_TOTAL_S:
        c = cmp_u64(a->total_ns, b->total_ns);
        break;
    case COL_OWN_PCT:
    case COL_OWN_S:
        c = cmp_u64(a->self_ns, b->self_ns);
        break;
    case COL_FUNCTION:
        c = strcmp(call_name(tv, a), call_name(tv, b));
        break;
    case COL_FILE:
        c = ui_strcmp(tv->dict, a->file, b->file);
        if (!c)
            c = (a->firstline > b->firstline) - (a->firstline < b->firstline);
        break;
    }
    if (tv->table.sort_desc)
        c = -c;
    if (!c)
        c = cmp_u64(b->total_ns, a->total_ns);
    if (!c)
        c = (a->rep > b->rep) - (a->rep < b->rep);
    return c;
}

/* Merge the trie's rows into calls: rows sorted by node id come parents
 * first, so each row's caller is settled before it. */
static int build_calls(struct tree_view *tv, struct model_node_row *rows, size_t n)
{
    free(tv->calls);
    tv->ncalls = 0;
    tv->calls = malloc((n + 1) * sizeof *tv->calls);   /* and the no-frame call */
    uint32_t *call_of = malloc((n ? n : 1) * sizeof *call_of);
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    uint32_t *slots = malloc(cap * sizeof *slots);     /* call index + 1; 0 empty */
    if (!tv->calls || !call_of || !slots) {
        free(call_of);
        free(slots);
        return -1;
    }
    memset(slots, 0, cap * sizeof *slots);
    tv->calls[0] = (struct call) { 0, 0, 0, 0, 0, 0, 0 };
    tv->ncalls = 1;
    if (n)
        call_of[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].node == 0) {
            tv->calls[0].self_ns = rows[i].self_ns;
            tv->calls[0].total_ns = rows[i].total_ns;
            call_of[i] = 0;
            continue;
        }
        const struct stack_node *sn = stack_table_get_node(tv->dict, rows[i].node);
        const struct stack_frame *f = sn ? stack_table_get_frame(tv->dict, sn->frame) : NULL;
        uint32_t prow = sn ? find_row(rows, n, sn->parent) : NO_INDEX;
        uint32_t parent = prow == NO_INDEX || prow >= i ? 0 : call_of[prow];
        struct call key = {
            .rep = rows[i].node,
            .parent = parent,
            .function = f ? f->function : 0,
            .file = f ? f->file : 0,
            .firstline = f ? f->firstline : 0,
        };
        uint64_t h = ((uint64_t)parent * 0x9E3779B97F4A7C15ULL) ^
                     ((uint64_t)key.function * 0xC2B2AE3D27D4EB4FULL) ^
                     ((uint64_t)key.file * 0x165667B19E3779F9ULL) ^ (uint32_t)key.firstline;
        size_t j = (size_t)(h ^ (h >> 29)) & (cap - 1);
        uint32_t c = NO_INDEX;
        while (slots[j]) {
            const struct call *o = &tv->calls[slots[j] - 1];
            if (o->parent == parent && o->function == key.function && o->file == key.file &&
                o->firstline == key.firstline) {
                c = slots[j] - 1;
                break;
            }
            j = (j + 1) & (cap - 1);
        }
        if (c == NO_INDEX) {
            c = (uint32_t)tv->ncalls++;
            tv->calls[c] = key;
            slots[j] = c + 1;
        }
        /* Sibling nodes are disjoint subtrees: their times add up. */
        tv->calls[c].self_ns += rows[i].self_ns;
        tv->calls[c].total_ns += rows[i].total_ns;
        call_of[i] = c;
    }
    /* The root's own time is samples with no Python frame: a call of
     * its own, so the roots add up to the whole. */
    if (tv->calls[0].self_ns) {
        tv->calls[tv->ncalls++] = (struct call) {
            .rep = NO_FRAME_REP,
            .self_ns = tv->calls[0].self_ns,
            .total_ns = tv->calls[0].self_ns,
        };
    }
    free(call_of);
    free(slots);
    return 0;
}

/* Children lists per call. */
static int build_children(struct tree_view *tv)
{
    size_t n = tv->ncalls;
    free(tv->first_child);
    free(tv->nchildren);
    free(tv->children);
    tv->first_child = calloc(n, sizeof *tv->first_child);
    tv->nchildren = calloc(n, sizeof *tv->nchildren);
    tv->children = malloc(n * sizeof *tv->children);
    if (!tv->first_child || !tv->nchildren || !tv->children)
        return -1;
    for (size_t i = 1; i < n; i++)
        tv->nchildren[tv->calls[i].parent]++;
    uint32_t at = 0;
    for (size_t i = 0; i < n; i++) {
        tv->first_child[i] = at;
        at += tv->nchildren[i];
        tv->nchildren[i] = 0;
    }
    for (size_t i = 1; i < n; i++) {
        uint32_t p = tv->calls[i].parent;
        tv->children[tv->first_child[p] + tv->nchildren[p]++] = (uint32_t)i;
    }
    return 0;
}

static void sort_children(struct tree_view *tv)
{
    for (size_t i = 0; i < tv->ncalls; i++)
        if (tv->nchildren[i] > 1)
            qsort_r(tv->children + tv->first_child[i], tv->nchildren[i], sizeof *tv->children,
                    compare_children, tv);
}

static uint32_t depth_of(const struct tree_view *tv, uint32_t c)
{
    uint32_t d = 0;
    while (c != 0 && d < tv->ncalls) {
        c = tv->calls[c].parent;
        d++;
    }
    return d;
}

/* Select the call named rep, or its nearest shown caller. */
static void select_rep(struct tree_view *tv, uint32_t rep)
{
    uint32_t c = NO_INDEX;
    for (size_t i = 1; i < tv->ncalls; i++)
        if (tv->calls[i].rep == rep)
            c = (uint32_t)i;
    if (c == NO_INDEX)
        return;
    for (uint32_t hops = 0; c != 0 && hops < tv->ncalls; hops++) {
        for (size_t i = 0; i < tv->nflat; i++) {
            if (tv->flat[i] == c) {
                table_select(&tv->table, i);
                return;
            }
        }
        c = tv->calls[c].parent;
    }
}

/* The visible calls, depth first, through open calls only. */
static void flatten(struct tree_view *tv)
{
    tv->nflat = 0;
    free(tv->flat);
    size_t n = tv->ncalls ? tv->ncalls : 1;
    tv->flat = malloc(n * sizeof *tv->flat);
    uint32_t *stack = malloc(n * sizeof *stack);
    if (!tv->flat || !stack || tv->ncalls == 0) {
        free(stack);
        table_set_rows(&tv->table, 0);
        return;
    }
    size_t sp = 0;
    /* Push children in reverse so the first comes out first. */
    for (uint32_t k = tv->nchildren[0]; k-- > 0;)
        stack[sp++] = tv->children[tv->first_child[0] + k];
    while (sp > 0) {
        uint32_t c = stack[--sp];
        tv->flat[tv->nflat++] = c;
        if (tv->nchildren[c] && is_open(tv, c))
            for (uint32_t k = tv->nchildren[c]; k-- > 0;)
                stack[sp++] = tv->children[tv->first_child[c] + k];
    }
    free(stack);
    table_set_rows(&tv->table, tv->nflat);
    /* Follow the selected call, unless the selection is at the top. */
    if (tv->table.sel > 0)
        select_rep(tv, tv->sel_rep);
    if (tv->table.sel < tv->nflat)
        tv->sel_rep = tv->calls[tv->flat[tv->table.sel]].rep;
}

static void resort(struct view *v)
{
    struct tree_view *tv = (struct tree_view *)v;
    sort_children(tv);
    flatten(tv);
}

static void tree_query(struct view *v, struct ui_ctx *u)
{
    struct tree_view *tv = (struct tree_view *)v;
    struct model_filter f;
    ui_filter(&u->q, &f);
    struct model_node_row *rows = NULL;
    size_t n = 0;
    session_lock(u->session);
    const struct model *m = session_model(u->session);
    tv->dict = session_dict(u->session);
    int rc = model_tree(m, u->q.range, u->q.weight, &f, &rows, &n);
    tv->total = ui_total(m, &u->q);
    session_unlock(u->session);
    if (rc != 0)
        return;
    tv->have_data = 1;
    if (n > 1)
        qsort(rows, n, sizeof *rows, cmp_node);
    int ok = build_calls(tv, rows, n) == 0 && build_children(tv) == 0;
    free(rows);
    if (!ok) {
        tv->ncalls = 0;
        table_set_rows(&tv->table, 0);
        return;
    }
    resort(v);
}

static void tree_cell(void *ctx, size_t row, int col, int width, char *buf, size_t cap,
                      enum ui_role *role)
{
    struct tree_view *tv = ctx;
    uint32_t c = tv->flat[row];
    const struct call *r = &tv->calls[c];
    switch (col) {
    case COL_TOTAL_PCT:
        fmt_percent(buf, cap, r->total_ns, tv->total);
        *role = ui_share_role(r->total_ns, tv->total);
        break;
    case COL_OWN_PCT:
        fmt_percent(buf, cap, r->self_ns, tv->total);
        *role = ui_share_role(r->self_ns, tv->total);
        break;
    case COL_TOTAL_S:
        fmt_seconds(buf, cap, r->total_ns);
        break;
    case COL_OWN_S:
        fmt_seconds(buf, cap, r->self_ns);
        break;
    case COL_FUNCTION: {
        /* Indent by depth, but keep at least half the cell for the name;
         * deeper than that, the depth is shown as a number. */
        int depth = (int)depth_of(tv, c);
        int indent = (depth - 1) * 2;
        char deep[16] = "";
        if (indent > width / 2) {
            snprintf(deep, sizeof deep, "%d:", depth);
            indent = width / 2 - (int)strlen(deep);
        }
        if (indent < 0)
            indent = 0;
        const char *marker;
        if (tv->nchildren[c] == 0)
            marker = "  ";
        else if (is_open(tv, c))
            marker = tv->utf8 ? "\xe2\x96\xbe " : "- ";
        else
            marker = tv->utf8 ? "\xe2\x96\xb8 " : "+ ";
        snprintf(buf, cap, "%*s%s%s%s", indent, "", deep, marker, call_name(tv, r));
        break;
    }
    case COL_FILE: {
        const char *file = stack_table_str(tv->dict, r->file);
        if (r->firstline > 0)
            snprintf(buf, cap, "%s:%d", file, r->firstline);
        else
            snprintf(buf, cap, "%s", file[0] ? file : "-");
        *role = ROLE_DIM;
        break;
    }
    }
}

static void tree_draw(struct view *v, struct ui_ctx *u, int y, int h)
{
    struct tree_view *tv = (struct tree_view *)v;
    tv->utf8 = u->scr->utf8;
    const char *empty = !tv->have_data || (!u->q.text[0] && !u->q.tid)
                            ? "no samples in this range yet"
                            : "no call matches the filters";
    table_draw(&tv->table, u->scr, y, h, tree_cell, tv, empty);
}

static void open_all_below(struct tree_view *tv, uint32_t c)
{
    uint32_t *stack = malloc(tv->ncalls * sizeof *stack);
    if (!stack)
        return;
    size_t sp = 0;
    stack[sp++] = c;
    while (sp > 0) {
        uint32_t i = stack[--sp];
        if (!tv->nchildren[i])
            continue;
        set_mark(tv, tv->calls[i].rep, 1);
        for (uint32_t k = 0; k < tv->nchildren[i]; k++)
            stack[sp++] = tv->children[tv->first_child[i] + k];
    }
    free(stack);
}

static int tree_action(struct view *v, struct ui_ctx *u, enum ui_action a)
{
    (void)u;
    struct tree_view *tv = (struct tree_view *)v;
    size_t sel = tv->table.sel;
    int have = sel < tv->nflat;
    uint32_t c = have ? tv->flat[sel] : 0;
    switch (a) {
    case ACT_TOGGLE:
        if (have && tv->nchildren[c]) {
            set_mark(tv, tv->calls[c].rep, !is_open(tv, c));
            flatten(tv);
        }
        return UI_DRAW;
    case ACT_EXPAND:
        if (!have || !tv->nchildren[c])
            return UI_DRAW;
        if (!is_open(tv, c)) {
            set_mark(tv, tv->calls[c].rep, 1);
            flatten(tv);
        } else {
            table_navigate(&tv->table, ACT_DOWN);   /* to the first callee */
            tv->sel_rep = tv->calls[tv->flat[tv->table.sel]].rep;
        }
        return UI_DRAW;
    case ACT_COLLAPSE:
        if (!have)
            return UI_DRAW;
        if (tv->nchildren[c] && is_open(tv, c)) {
            set_mark(tv, tv->calls[c].rep, 0);
            flatten(tv);
        } else if (tv->calls[c].parent != 0) {
            uint32_t p = tv->calls[c].parent;
            for (size_t i = 0; i < tv->nflat; i++)
                if (tv->flat[i] == p)
                    table_select(&tv->table, i);
            tv->sel_rep = tv->calls[p].rep;
        }
        return UI_DRAW;
    case ACT_EXPAND_ALL:
        if (have) {
            open_all_below(tv, c);
            flatten(tv);
        }
        return UI_DRAW;
    default: {
        int r = ui_table_action(&tv->table, a, resort, v);
        if (tv->table.sel < tv->nflat)
            tv->sel_rep = tv->calls[tv->flat[tv->table.sel]].rep;
        return r;
    }
    }
}

static void tree_free(struct view *v)
{
    struct tree_view *tv = (struct tree_view *)v;
    free(tv->calls);
    free(tv->first_child);
    free(tv->nchildren);
    free(tv->children);
    free(tv->flat);
    free(tv->marks);
    free(tv);
}

static const struct view_ops tree_ops = {
    .query = tree_query,
    .draw = tree_draw,
    .action = tree_action,
    .free = tree_free,
};

struct view *view_tree_new(void)
{
    struct tree_view *tv = calloc(1, sizeof *tv);
    if (!tv)
        return NULL;
    tv->base.ops = &tree_ops;
    tv->base.name = "Call tree";
    tv->base.scope = SCOPE_TREE;
    table_init(&tv->table, columns, NCOLS, COL_TOTAL_PCT, 1);
    return &tv->base;
}
