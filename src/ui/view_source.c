#include "config.h"

#include "core/error.h"
#include "ui/format.h"
#include "ui/view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A source file with each line's share beside it, like an annotated
 * listing. The file is read once when opened, as the target sees it;
 * the shares follow the model at every refresh. When the file cannot be
 * read, the lines that have samples are still listed, without text. */

enum { COL_OWN_PCT, COL_TOTAL_PCT, COL_LINE, COL_TEXT, NCOLS };

static const struct table_column columns[NCOLS] = {
    [COL_OWN_PCT] = { "OWN%", { 6, 6, 0, 0 }, 1, 0, 1 },
    [COL_TOTAL_PCT] = { "TOTAL%", { 7, 7, 0, 0 }, 1, 0, 1 },
    [COL_LINE] = { "LINE", { 6, 6, 0, 0 }, 1, 0, 0 },
    [COL_TEXT] = { "SOURCE", { 10, 80, 1, 0 }, 0, 0, 0 },
};

#define TAB_WIDTH 8

struct line_share {
    uint64_t own, total;
};

struct source_view {
    struct view base;
    struct table table;
    int have_file;
    char file[4096];
    char function[256];
    int target_line;
    int center;                     /* put the target line in sight at the next draw */
    char *text;                     /* the file, lines NUL-terminated in place */
    char **lines;
    size_t nlines;
    char error[4800];               /* why there is no text */
    struct line_share *shares;      /* by line number */
    size_t nshares;
    uint32_t *sampled;              /* without text: the lines that have samples */
    size_t nsampled;
    uint64_t total;
};

static void drop_text(struct source_view *sv)
{
    free(sv->text);
    free(sv->lines);
    sv->text = NULL;
    sv->lines = NULL;
    sv->nlines = 0;
}

static int split_lines(struct source_view *sv, char *text, size_t len)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    sv->lines = malloc(n * sizeof *sv->lines);
    if (!sv->lines)
        return -ENOMEM;
    sv->text = text;
    sv->nlines = 0;
    char *p = text;
    for (;;) {
        char *nl = strchr(p, '\n');
        sv->lines[sv->nlines++] = p;
        if (!nl)
            break;
        *nl = '\0';
        if (nl > p && nl[-1] == '\r')
            nl[-1] = '\0';
        p = nl + 1;
    }
    /* A final newline does not start another line. */
    if (sv->nlines > 1 && sv->lines[sv->nlines - 1][0] == '\0' && len > 0 && text[len - 1] == '\n')
        sv->nlines--;
    return 0;
}

int view_source_has_file(const struct view *v)
{
    return ((const struct source_view *)v)->have_file;
}

void view_source_open(struct view *v, struct ui_ctx *u, const struct source_request *req)
{
    struct source_view *sv = (struct source_view *)v;
    drop_text(sv);
    sv->error[0] = '\0';
    sv->have_file = 1;
    snprintf(sv->file, sizeof sv->file, "%s", req->file);
    snprintf(sv->function, sizeof sv->function, "%s", req->function);
    sv->target_line = req->line;
    sv->center = 1;
    sv->nshares = 0;
    sv->nsampled = 0;
    if (req->native) {
        snprintf(sv->error, sizeof sv->error,
                 "%s is a native (C) function in %s: there is no Python source to show",
                 sv->function, sv->file);
        return;
    }
    if (!sv->file[0] || sv->file[0] == '<') {
        /* "<string>", "<frozen importlib._bootstrap>": no file behind it. */
        snprintf(sv->error, sizeof sv->error,
                 "no source file for %s: the code was compiled from a string or is frozen",
                 sv->file[0] ? sv->file : "this function");
        return;
    }
    char *text;
    size_t len;
    int rc = session_read_source(u->session, sv->file, &text, &len);
    if (rc == 0 && split_lines(sv, text, len) != 0) {
        free(text);
        rc = -ENOMEM;
    }
    if (rc)
        snprintf(sv->error, sizeof sv->error,
                 "cannot read %s: %s (tried as the target sees it, then as pytop does)",
                 sv->file, pt_strerror(rc));
}

static void source_query(struct view *v, struct ui_ctx *u)
{
    struct source_view *sv = (struct source_view *)v;
    if (!sv->have_file)
        return;
    struct model_filter f;
    ui_filter(&u->q, &f);
    struct model_function_row *rows = NULL;
    size_t n = 0;
    session_lock(u->session);
    const struct model *m = session_model(u->session);
    const struct stack_table *dict = session_dict(u->session);
    int rc = model_functions(m, u->q.range, u->q.weight, &f, 1, &rows, &n);
    sv->total = ui_total(m, &u->q);
    session_unlock(u->session);
    if (rc != 0)
        return;
    /* Shares by line number; lines of this file only. */
    size_t maxline = sv->nlines;
    for (size_t i = 0; i < n; i++) {
        const struct stack_frame *fr = stack_table_get_frame(dict, rows[i].frame);
        if (fr && fr->line > 0 && strcmp(stack_table_str(dict, fr->file), sv->file) == 0 &&
            (size_t)fr->line > maxline)
            maxline = (size_t)fr->line;
    }
    struct line_share *shares = calloc(maxline + 1, sizeof *shares);
    if (!shares) {
        free(rows);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct stack_frame *fr = stack_table_get_frame(dict, rows[i].frame);
        if (!fr || fr->line <= 0 || strcmp(stack_table_str(dict, fr->file), sv->file) != 0)
            continue;
        shares[fr->line].own += rows[i].own_ns;
        shares[fr->line].total += rows[i].total_ns;
    }
    free(rows);
    free(sv->shares);
    sv->shares = shares;
    sv->nshares = maxline + 1;
    if (!sv->text) {
        /* No text: list the lines that have samples. */
        free(sv->sampled);
        sv->sampled = malloc(sv->nshares * sizeof *sv->sampled);
        sv->nsampled = 0;
        for (size_t l = 1; sv->sampled && l < sv->nshares; l++)
            if (shares[l].total || shares[l].own)
                sv->sampled[sv->nsampled++] = (uint32_t)l;
        table_set_rows(&sv->table, sv->nsampled);
    } else {
        table_set_rows(&sv->table, sv->nlines);
    }
}

static size_t line_of_row(const struct source_view *sv, size_t row)
{
    if (sv->text)
        return row + 1;
    return row < sv->nsampled ? sv->sampled[row] : 0;
}

/* Tabs to spaces, so columns line up as in an editor. */
static void expand_tabs(const char *s, char *buf, size_t cap)
{
    size_t o = 0, col = 0;
    for (; *s && o + 1 < cap; s++) {
        if (*s == '\t') {
            do {
                buf[o++] = ' ';
                col++;
            } while (col % TAB_WIDTH && o + 1 < cap);
        } else {
            buf[o++] = *s;
            /* Continuation bytes of UTF-8 take no column. */
            if (((unsigned char)*s & 0xC0) != 0x80)
                col++;
        }
    }
    buf[o] = '\0';
}

static void source_cell(void *ctx, size_t row, int col, int width, char *buf, size_t cap,
                        enum ui_role *role)
{
    (void)width;
    struct source_view *sv = ctx;
    size_t line = line_of_row(sv, row);
    struct line_share sh = { 0, 0 };
    if (line < sv->nshares)
        sh = sv->shares[line];
    uint64_t total = sh.total < sv->total ? sh.total : sv->total;
    switch (col) {
    case COL_OWN_PCT:
        if (sh.own) {
            fmt_percent(buf, cap, sh.own, sv->total);
            *role = ui_share_role(sh.own, sv->total);
        }
        break;
    case COL_TOTAL_PCT:
        if (total) {
            fmt_percent(buf, cap, total, sv->total);
            *role = ui_share_role(total, sv->total);
        }
        break;
    case COL_LINE:
        snprintf(buf, cap, "%zu", line);
        *role = (int)line == sv->target_line ? ROLE_HOT : ROLE_DIM;
        break;
    case COL_TEXT:
        if (sv->text && line >= 1 && line <= sv->nlines)
            expand_tabs(sv->lines[line - 1], buf, cap);
        else
            snprintf(buf, cap, "(no text)");
        break;
    }
}

static void source_draw(struct view *v, struct ui_ctx *u, int y, int h)
{
    struct source_view *sv = (struct source_view *)v;
    const struct screen *scr = u->scr;
    if (!sv->have_file) {
        screen_put(scr, y, 1, scr->cols - 1,
                   "no file open: select a function in the Functions view (1) and press Enter",
                   ROLE_DIM, 0);
        return;
    }
    char caption[4600];
    snprintf(caption, sizeof caption, "%s  %s%s", sv->file, sv->function[0] ? "in " : "",
             sv->function);
    int x = screen_put(scr, y, 0, scr->cols, "Source: ", ROLE_HEADER, 0);
    x += screen_put(scr, y, x, scr->cols - x - 16, caption, ROLE_VALUE, 1);
    screen_put(scr, y, x, scr->cols - x, "  (Esc: back)", ROLE_DIM, 0);
    y++;
    h--;
    if (sv->error[0] && h > 0) {
        screen_put(scr, y, 0, scr->cols, sv->error, ROLE_ALERT, 0);
        y++;
        h--;
    }
    if (sv->center && h > 2) {
        /* The target line a third of the way down. */
        size_t page = (size_t)(h - 1);
        size_t row = 0;
        for (size_t r = 0; r < sv->table.nrows; r++)
            if ((int)line_of_row(sv, r) == sv->target_line)
                row = r;
        sv->table.sel = row;
        sv->table.top = row > page / 3 ? row - page / 3 : 0;
        sv->center = 0;
    }
    table_draw(&sv->table, scr, y, h, source_cell, sv,
               sv->text ? "the file is empty" : "no line of this file has samples in this range");
}

static int source_action(struct view *v, struct ui_ctx *u, enum ui_action a)
{
    struct source_view *sv = (struct source_view *)v;
    if (a == ACT_BACK) {
        u->switch_to = (int)u->back_to;
        return UI_QUERY;
    }
    return ui_table_action(&sv->table, a, NULL, v);
}

static void source_free(struct view *v)
{
    struct source_view *sv = (struct source_view *)v;
    drop_text(sv);
    free(sv->shares);
    free(sv->sampled);
    free(sv);
}

static const struct view_ops source_ops = {
    .query = source_query,
    .draw = source_draw,
    .action = source_action,
    .free = source_free,
};

struct view *view_source_new(void)
{
    struct source_view *sv = calloc(1, sizeof *sv);
    if (!sv)
        return NULL;
    sv->base.ops = &source_ops;
    sv->base.name = "Source";
    sv->base.scope = SCOPE_SOURCE;
    table_init(&sv->table, columns, NCOLS, COL_LINE, 0);
    return &sv->base;
}
