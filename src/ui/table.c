#include "config.h"

#include "ui/table.h"

#include <stdio.h>
#include <string.h>

void table_init(struct table *t, const struct table_column *cols, int ncols, int sort_col,
                int sortable)
{
    memset(t, 0, sizeof *t);
    t->cols = cols;
    t->ncols = ncols < TABLE_MAX_COLS ? ncols : TABLE_MAX_COLS;
    t->sortable = sortable;
    t->sort_col = sort_col;
    t->sort_desc = cols[sort_col].desc;
    t->page = 0;            /* known at the first draw */
}

static void keep_in_sight(struct table *t)
{
    if (t->page <= 0) {
        /* Not drawn yet: the page is not known, so do not scroll down. */
        if (t->sel < t->top)
            t->top = t->sel;
        return;
    }
    size_t page = (size_t)t->page;
    if (t->sel < t->top)
        t->top = t->sel;
    else if (t->sel >= t->top + page)
        t->top = t->sel - page + 1;
    /* No blank rows below the end while rows above are hidden. */
    if (t->nrows > page && t->top > t->nrows - page)
        t->top = t->nrows - page;
    if (t->nrows <= page)
        t->top = 0;
}

void table_set_rows(struct table *t, size_t n)
{
    t->nrows = n;
    if (n == 0)
        t->sel = 0;
    else if (t->sel >= n)
        t->sel = n - 1;
    keep_in_sight(t);
}

void table_select(struct table *t, size_t row)
{
    if (t->nrows == 0)
        return;
    if (row >= t->nrows)
        row = t->nrows - 1;
    size_t offset = t->sel >= t->top ? t->sel - t->top : 0;
    t->sel = row;
    t->top = row >= offset ? row - offset : 0;
    keep_in_sight(t);
}

int table_navigate(struct table *t, enum ui_action a)
{
    size_t page = t->page > 1 ? (size_t)t->page - 1 : 1;
    switch (a) {
    case ACT_UP:
        if (t->sel > 0)
            t->sel--;
        break;
    case ACT_DOWN:
        if (t->sel + 1 < t->nrows)
            t->sel++;
        break;
    case ACT_PAGE_UP:
        t->sel = t->sel > page ? t->sel - page : 0;
        t->top = t->top > page ? t->top - page : 0;
        break;
    case ACT_PAGE_DOWN:
        t->sel = t->sel + page < t->nrows ? t->sel + page : (t->nrows ? t->nrows - 1 : 0);
        t->top += page;
        break;
    case ACT_HOME:
        t->sel = 0;
        break;
    case ACT_END:
        t->sel = t->nrows ? t->nrows - 1 : 0;
        break;
    default:
        return 0;
    }
    keep_in_sight(t);
    return 1;
}

int table_sort_step(struct table *t, int dir)
{
    if (!t->sortable)
        return 0;
    if (dir == 0) {
        t->sort_desc = !t->sort_desc;
        return 1;
    }
    int c = t->sort_col;
    for (int i = 0; i < t->ncols; i++) {
        c = (c + (dir > 0 ? 1 : t->ncols - 1)) % t->ncols;
        if (!(t->hidden & (1u << c)))
            break;
    }
    t->sort_col = c;
    t->sort_desc = t->cols[t->sort_col].desc;
    return 1;
}

void table_sort_by(struct table *t, int col)
{
    if (col < 0 || col >= t->ncols)
        return;
    t->sort_col = col;
    t->sort_desc = t->cols[col].desc;
}

int table_layout(const struct table *t, int width, int *shown, int *widths)
{
    struct col_spec specs[TABLE_MAX_COLS];
    for (int i = 0; i < t->ncols; i++)
        specs[i] = t->cols[i].spec;
    return layout_optional(specs, t->ncols, width, 1, t->slack, t->hidden,
                           t->sortable ? t->sort_col : -1, shown, widths);
}

void table_draw(struct table *t, const struct screen *scr, int y, int h, table_cell_fn cell,
                void *ctx, const char *empty)
{
    if (h <= 0)
        return;
    int idx[TABLE_MAX_COLS], widths[TABLE_MAX_COLS];
    int shown = table_layout(t, scr->cols, idx, widths);

    /* Title row; the sort column marked by its look and an arrow. */
    screen_fill(scr, y, 0, scr->cols, ROLE_TITLE);
    int x = 0;
    for (int j = 0; j < shown; j++) {
        int i = idx[j];
        char title[64];
        const char *arrow = "";
        if (t->sortable && i == t->sort_col)
            arrow = scr->utf8 ? (t->sort_desc ? "\xe2\x96\xbc" : "\xe2\x96\xb2")
                              : (t->sort_desc ? "v" : "^");
        if (t->cols[i].right)
            snprintf(title, sizeof title, "%s%s", arrow, t->cols[i].title);
        else
            snprintf(title, sizeof title, "%s%s", t->cols[i].title, arrow);
        enum ui_role role = t->sortable && i == t->sort_col ? ROLE_TITLE_SORTED : ROLE_TITLE;
        screen_cell(scr, y, x, widths[j], title, role, t->cols[i].right, 0);
        x += widths[j] + 1;
    }

    t->page = h - 1 > 0 ? h - 1 : 1;
    keep_in_sight(t);
    if (t->nrows == 0) {
        if (empty && h > 1)
            screen_put(scr, y + 1, 1, scr->cols - 1, empty, ROLE_DIM, 0);
        return;
    }
    for (int r = 1; r < h; r++) {
        size_t row = t->top + (size_t)(r - 1);
        if (row >= t->nrows)
            break;
        int selected = row == t->sel;
        if (selected)
            screen_fill(scr, y + r, 0, scr->cols, ROLE_SELECTED);
        x = 0;
        for (int j = 0; j < shown; j++) {
            int i = idx[j];
            char buf[1024];
            enum ui_role role = ROLE_NORMAL;
            buf[0] = '\0';
            cell(ctx, row, i, widths[j], buf, sizeof buf, &role);
            screen_cell(scr, y + r, x, widths[j], buf, selected ? ROLE_SELECTED : role,
                        t->cols[i].right, t->cols[i].keep_tail);
            x += widths[j] + 1;
        }
    }
}
