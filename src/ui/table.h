/* The table widget every list view uses: columns laid out to the width,
 * a title row, a selected row kept in sight, and a sort column. The view
 * owns the rows; the table asks it for each visible cell. */
#ifndef PYTOP_UI_TABLE_H
#define PYTOP_UI_TABLE_H

#include <stddef.h>

#include "ui/format.h"
#include "ui/keys.h"
#include "ui/screen.h"

struct table_column {
    const char *title;
    struct col_spec spec;
    int right;              /* right-aligned (numbers) */
    int keep_tail;          /* cut at the start (paths, whose end says most) */
    int desc;               /* sorts descending first (numbers) */
};

struct table {
    const struct table_column *cols;
    int ncols;
    int sortable;
    size_t nrows;
    size_t sel, top;        /* the selected row, the first row shown */
    int sort_col, sort_desc;
    int page;               /* data rows shown at the last draw */
    int slack;              /* room the flex columns keep before optional columns
                             * (spec.drop > 0) show; the sort column always shows */
    unsigned hidden;        /* bit (1 << col): not shown at all (set by the view) */
};

/* A cell's text (width columns are shown) and role; the selected row's
 * look wins over the role. */
typedef void (*table_cell_fn)(void *ctx, size_t row, int col, int width, char *buf, size_t cap,
                              enum ui_role *role);

void table_init(struct table *t, const struct table_column *cols, int ncols, int sort_col,
                int sortable);
/* The row count changed: keep the selection in range. */
void table_set_rows(struct table *t, size_t n);
/* Select row, keeping it where it was on screen when possible. */
void table_select(struct table *t, size_t row);
/* Up, Down, PgUp, PgDn, Home, End: 1 when a was one of them. */
int table_navigate(struct table *t, enum ui_action a);
/* Sort by the next (dir > 0) or previous column (hidden ones skipped), or
 * reverse the order (dir 0). Returns 0 when the table is not sortable. */
int table_sort_step(struct table *t, int dir);
/* Sort by col, in its usual direction. */
void table_sort_by(struct table *t, int col);
/* Which columns a draw at this width shows: their indexes into *shown
 * (at most TABLE_MAX_COLS) and widths. Returns how many. */
#define TABLE_MAX_COLS 16
int table_layout(const struct table *t, int width, int *shown, int *widths);
/* Draw the title row at y and data rows below it, h rows in all, across
 * the screen; empty is shown when there are no rows. */
void table_draw(struct table *t, const struct screen *scr, int y, int h, table_cell_fn cell,
                void *ctx, const char *empty);

#endif
