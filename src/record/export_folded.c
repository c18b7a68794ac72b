/* Collapsed stacks ("folded"), the input of flamegraph.pl, speedscope,
 * inferno and Pyroscope:
 *
 *     main (app.py:10);a (app.py:20);b (app.py:31) 3000000
 *
 * One line per call path, frames root first joined by ';', then a space and
 * the chosen weight (CPU or wall time) in whole microseconds: these tools
 * want integer counts, and microseconds keep a 1 kHz sampler's samples
 * distinct from zero without making numbers huge. Memory is in bytes.
 * Threads are merged (no thread frame), as the tools above expect one
 * tree; several processes get a "process PID: command" root frame each.
 * Lines are sorted, and paths whose weight rounds to 0 are left out. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record/export_internal.h"
#include "record/export_writers.h"

struct folded_line {
    size_t off;     /* into the text buffer, which moves while it grows */
    const char *s;  /* set once the text is complete */
    uint64_t us;    /* the weight: ns, or bytes */
};

static int line_cmp(const void *a, const void *b)
{
    const struct folded_line *x = a, *y = b;
    return strcmp(x->s, y->s);
}

/* The profile's call paths as sorted lines of text with their weights
 * (ns, or bytes): *lines and *text are the caller's to release. */
static int folded_collect(struct export_prep *p, struct strbuf *text,
                          struct folded_line **out_lines, uint32_t *out_n)
{
    const struct export_input *in = p->in;
    struct export_map by_node;
    uint64_t *ns = NULL;
    uint32_t *rows = NULL, n = 0;   /* a row of each merged path */
    struct folded_line *lines = NULL;
    uint32_t *path = NULL;
    struct strbuf labels;
    size_t *label_off = NULL;
    int rc = -ENOMEM;

    export_map_init(&by_node);
    strbuf_init(&labels);
    ns = calloc(in->nrows ? in->nrows : 1, sizeof *ns);
    rows = calloc(in->nrows ? in->nrows : 1, sizeof *rows);
    path = malloc(p->max_depth * sizeof *path);
    if (!ns || !rows || !path || export_frame_labels(p, &labels, &label_off) != 0)
        goto out;

    /* Merge the threads: one weight per call path (of each process). */
    for (size_t r = 0; r < in->nrows; r++) {
        uint32_t idx;
        int added;
        uint64_t pid = p->process_roots ? in->rows[r].pid : 0;
        if (export_map_get_or_add(&by_node, in->rows[r].stack, pid, n, &idx, &added) != 0)
            goto out;
        if (added)
            rows[n++] = (uint32_t)r;
        ns[idx] += export_row_weight(p, &in->rows[r]);
    }

    lines = calloc(n ? n : 1, sizeof *lines);
    if (!lines)
        goto out;
    uint32_t nlines = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (ns[i] == 0)
            continue;
        uint32_t depth = export_path(p, &in->rows[rows[i]], path);
        lines[nlines].off = text->len;
        lines[nlines].us = ns[i];
        for (uint32_t d = 0; d < depth; d++) {
            if (d)
                strbuf_putc(text, ';');
            strbuf_append(text, labels.data + label_off[path[d]],
                          label_off[path[d] + 1] - label_off[path[d]]);
        }
        strbuf_putc(text, '\0');
        nlines++;
    }
    if (text->oom)
        goto out;
    for (uint32_t i = 0; i < nlines; i++)
        lines[i].s = text->data + lines[i].off;
    /* Rows of one path may come from several dictionary nodes (a table
     * rebuilt by a reader): equal text merges after the sort. */
    qsort(lines, nlines, sizeof *lines, line_cmp);
    uint32_t k = 0;
    for (uint32_t i = 0; i < nlines; i++) {
        if (k && strcmp(lines[k - 1].s, lines[i].s) == 0)
            lines[k - 1].us += lines[i].us;
        else
            lines[k++] = lines[i];
    }
    *out_lines = lines;
    *out_n = k;
    lines = NULL;
    rc = 0;
out:
    free(ns);
    free(rows);
    free(lines);
    free(path);
    free(label_off);
    strbuf_release(&labels);
    export_map_release(&by_node);
    return rc;
}

int export_write_folded(struct export_out *o, struct export_prep *p)
{
    struct strbuf text;
    struct folded_line *lines = NULL;
    uint32_t n = 0;
    strbuf_init(&text);
    int rc = folded_collect(p, &text, &lines, &n);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        uint64_t us = p->mode == EXPORT_MEMORY ? lines[i].us : (lines[i].us + 500) / 1000;
        if (us == 0)
            continue;
        strbuf_puts(&o->sb, lines[i].s);
        strbuf_putc(&o->sb, ' ');
        export_put_u64(&o->sb, us);
        strbuf_putc(&o->sb, '\n');
        export_out_maybe_flush(o);
    }
    free(lines);
    strbuf_release(&text);
    return rc;
}

int export_diff_lines(struct export_prep *p, struct export_prep *base,
                      void (*emit)(void *ctx, const char *path, double old, double new_),
                      void *ctx)
{
    struct strbuf t1, t0;
    struct folded_line *l1 = NULL, *l0 = NULL;
    uint32_t n1 = 0, n0 = 0;
    strbuf_init(&t1);
    strbuf_init(&t0);
    int rc = folded_collect(p, &t1, &l1, &n1);
    if (rc == 0)
        rc = folded_collect(base, &t0, &l0, &n0);
    double d1 = p->in->duration_ns ? (double)p->in->duration_ns : 1e9;
    double d0 = base->in->duration_ns ? (double)base->in->duration_ns : 1e9;
    /* Both lists are sorted: merge them. */
    for (uint32_t i = 0, j = 0; rc == 0 && (i < n1 || j < n0);) {
        int c = i >= n1 ? 1 : j >= n0 ? -1 : strcmp(l1[i].s, l0[j].s);
        if (c == 0) {
            emit(ctx, l1[i].s, (double)l0[j].us / d0, (double)l1[i].us / d1);
            i++, j++;
        } else if (c < 0) {
            emit(ctx, l1[i].s, 0, (double)l1[i].us / d1);
            i++;
        } else {
            emit(ctx, l0[j].s, (double)l0[j].us / d0, 0);
            j++;
        }
    }
    free(l1);
    free(l0);
    strbuf_release(&t1);
    strbuf_release(&t0);
    return rc;
}

static void emit_folded(void *ctx, const char *path, double old, double new_)
{
    struct export_out *o = ctx;
    char buf[96];
    strbuf_puts(&o->sb, path);
    snprintf(buf, sizeof buf, " %.9f %.9f\n", old, new_);
    strbuf_puts(&o->sb, buf);
    export_out_maybe_flush(o);
}

int export_write_folded_diff(struct export_out *o, struct export_prep *p,
                             struct export_prep *base)
{
    return export_diff_lines(p, base, emit_folded, o);
}
