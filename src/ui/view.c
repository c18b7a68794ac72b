#include "config.h"

#include "ui/view.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ui_filter(const struct ui_query *q, struct model_filter *f)
{
    f->tid = q->tid;
    f->text = q->text[0] ? q->text : NULL;
}

uint64_t ui_total(const struct model *m, const struct ui_query *q)
{
    if (q->tid == 0) {
        struct model_totals t;
        model_totals(m, q->range, q->weight, &t);
        return q->weight == MODEL_CPU ? t.cpu_ns : t.wall_ns;
    }
    struct model_thread_row *rows;
    size_t n;
    uint64_t total = 0;
    if (model_threads(m, q->range, &rows, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i].tid == q->tid)
            total = q->weight == MODEL_CPU ? rows[i].cpu_ns : rows[i].wall_ns;
    free(rows);
    return total;
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

void ui_frame_location(const struct stack_table *dict, uint32_t frame, int use_firstline,
                       char *buf, size_t cap)
{
    const struct stack_frame *f = stack_table_get_frame(dict, frame);
    if (!f) {
        snprintf(buf, cap, "?");
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
