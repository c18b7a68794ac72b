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

struct folded_line {
    size_t off;     /* into the text buffer, which moves while it grows */
    const char *s;  /* set once the text is complete */
    uint64_t us;
};

static int line_cmp(const void *a, const void *b)
{
    const struct folded_line *x = a, *y = b;
    return strcmp(x->s, y->s);
}

int export_write_folded(struct export_out *o, struct export_prep *p)
{
    const struct export_input *in = p->in;
    struct export_map by_node;
    uint64_t *ns = NULL;
    uint32_t *rows = NULL, n = 0;   /* a row of each merged path */
    struct folded_line *lines = NULL;
    uint32_t *path = NULL;
    struct strbuf text, labels;
    size_t *label_off = NULL;
    int rc = -ENOMEM;

    export_map_init(&by_node);
    strbuf_init(&text);
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
        uint64_t us = p->mode == EXPORT_MEMORY ? ns[i] : (ns[i] + 500) / 1000;
        if (us == 0)
            continue;
        uint32_t depth = export_path(p, &in->rows[rows[i]], path);
        lines[nlines].off = text.len;
        lines[nlines].us = us;
        for (uint32_t d = 0; d < depth; d++) {
            if (d)
                strbuf_putc(&text, ';');
            strbuf_append(&text, labels.data + label_off[path[d]],
                          label_off[path[d] + 1] - label_off[path[d]]);
        }
        strbuf_putc(&text, '\0');
        nlines++;
    }
    if (text.oom)
        goto out;

    for (uint32_t i = 0; i < nlines; i++)
        lines[i].s = text.data + lines[i].off;
    qsort(lines, nlines, sizeof *lines, line_cmp);
    for (uint32_t i = 0; i < nlines; i++) {
        strbuf_puts(&o->sb, lines[i].s);
        strbuf_putc(&o->sb, ' ');
        export_put_u64(&o->sb, lines[i].us);
        strbuf_putc(&o->sb, '\n');
        export_out_maybe_flush(o);
    }
    rc = 0;
out:
    free(ns);
    free(rows);
    free(lines);
    free(path);
    free(label_off);
    strbuf_release(&text);
    strbuf_release(&labels);
    export_map_release(&by_node);
    return rc;
}
