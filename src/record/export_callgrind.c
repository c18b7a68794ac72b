/* The callgrind format (valgrind's "Callgrind Format Specification"), for
 * kcachegrind/qcachegrind and callgrind_annotate.
 *
 * Positions are source lines; two events: first the weight, CpuNs or
 * WallNs (the chosen time in nanoseconds) or MemGrowBytes (bytes of
 * resident memory growth), then Samples (sample count). Several processes each get a root function named
 * "process PID: command". Each function (file, name;
 * the first line is added to the name only when two functions share both)
 * gets its own cost per line where it was the leaf, then its calls: the
 * callee, "calls=<samples> <callee's first line>" and the inclusive cost at
 * the caller's line. Threads are merged.
 *
 * A call's inclusive cost counts a sample only at the outermost call of the
 * callee on that stack; deeper recursive calls carry their sample count in
 * calls= but no cost. So summing the calls into a function gives its
 * inclusive cost with recursion counted once, which is what
 * callgrind_annotate --inclusive=yes and kcachegrind show. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"
#include "record/export_internal.h"
#include "record/export_writers.h"

struct cost {
    uint32_t func;
    int32_t line;
    uint32_t callee;        /* UINT32_MAX for a self cost */
    uint64_t calls;
    uint64_t samples;
    uint64_t ns;
};

static int cost_cmp(const void *a, const void *b)
{
    const struct cost *x = a, *y = b;
    if (x->func != y->func)
        return x->func < y->func ? -1 : 1;
    /* Self costs first, then calls; each by line. */
    int xs = x->callee == UINT32_MAX, ys = y->callee == UINT32_MAX;
    if (xs != ys)
        return xs ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->callee < y->callee ? -1 : x->callee > y->callee;
}

struct costs {
    struct cost *v;
    size_t n, cap;
    struct export_map map;
};

static struct cost *cost_at(struct costs *c, uint32_t func, int32_t line, uint32_t callee)
{
    uint32_t idx;
    int added;
    uint64_t a = ((uint64_t)func << 32) | (uint32_t)line;
    if (export_map_get_or_add(&c->map, a, callee, (uint32_t)c->n, &idx, &added) != 0)
        return NULL;
    if (added) {
        struct cost *nv = vec_grow(c->v, &c->cap, c->n + 1, sizeof *nv, 64);
        if (!nv)
            return NULL;
        c->v = nv;
        memset(&c->v[c->n], 0, sizeof c->v[c->n]);
        c->v[c->n].func = func;
        c->v[c->n].line = line < 0 ? 0 : line;
        c->v[c->n].callee = callee;
        c->n++;
    }
    return &c->v[idx];
}

/* Text on one line: control characters become spaces. */
static void put_line_text(struct strbuf *sb, const char *s)
{
    struct strbuf clean;
    strbuf_init(&clean);
    export_put_utf8(&clean, s);
    for (size_t i = 0; i < clean.len; i++) {
        unsigned char c = (unsigned char)clean.data[i];
        strbuf_putc(sb, c < 0x20 || c == 0x7f ? ' ' : (char)c);
    }
    if (clean.oom)
        sb->oom = 1;
    strbuf_release(&clean);
}

struct names {
    const struct export_prep *p;
    uint32_t *order;        /* function ids sorted by (file, name) */
    uint8_t *ambiguous;     /* per function: another shares file and name */
    uint32_t *file_id;      /* per function: compressed file id, 1-based */
    uint8_t *file_done;     /* per file id: its name was written */
    uint8_t *fn_done;       /* per function: its name was written */
};

static const char *func_file(const struct export_func *f)
{
    return f->file[0] ? f->file : "???";
}

struct func_ref {
    const char *file, *name;
    uint32_t id;
};

static int func_ref_cmp(const void *a, const void *b)
{
    const struct func_ref *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c == 0)
        c = strcmp(x->name, y->name);
    if (c == 0)
        c = x->id < y->id ? -1 : x->id > y->id;
    return c;
}

static int names_init(struct names *nm, const struct export_prep *p)
{
    uint32_t n = p->nfuncs ? p->nfuncs : 1;
    memset(nm, 0, sizeof *nm);
    nm->p = p;
    nm->order = malloc(n * sizeof *nm->order);
    nm->ambiguous = calloc(n, 1);
    nm->file_id = calloc(n, sizeof *nm->file_id);
    nm->file_done = calloc(n + 1, 1);
    nm->fn_done = calloc(n, 1);
    if (!nm->order || !nm->ambiguous || !nm->file_id || !nm->file_done || !nm->fn_done)
        return -ENOMEM;
    struct func_ref *refs = malloc(n * sizeof *refs);
    if (!refs)
        return -ENOMEM;
    for (uint32_t i = 0; i < p->nfuncs; i++) {
        refs[i].file = func_file(&p->funcs[i]);
        refs[i].name = p->funcs[i].name;
        refs[i].id = i;
    }
    qsort(refs, p->nfuncs, sizeof *refs, func_ref_cmp);
    for (uint32_t i = 0; i < p->nfuncs; i++)
        nm->order[i] = refs[i].id;
    free(refs);

    uint32_t files = 0;
    for (uint32_t i = 0; i < p->nfuncs; i++) {
        const struct export_func *f = &p->funcs[nm->order[i]];
        const struct export_func *prev = i ? &p->funcs[nm->order[i - 1]] : NULL;
        int same_file = prev && strcmp(func_file(prev), func_file(f)) == 0;
        if (!same_file)
            files++;
        nm->file_id[nm->order[i]] = files;
        if (same_file && strcmp(prev->name, f->name) == 0)
            nm->ambiguous[nm->order[i]] = nm->ambiguous[nm->order[i - 1]] = 1;
    }
    return 0;
}

static void names_release(struct names *nm)
{
    free(nm->order);
    free(nm->ambiguous);
    free(nm->file_id);
    free(nm->file_done);
    free(nm->fn_done);
}

/* "fl=(3) path" the first time, "fl=(3)" after. */
static void put_file(struct strbuf *sb, struct names *nm, const char *key, uint32_t func)
{
    uint32_t id = nm->file_id[func];
    strbuf_puts(sb, key);
    strbuf_puts(sb, "=(");
    export_put_u64(sb, id);
    strbuf_putc(sb, ')');
    if (!nm->file_done[id]) {
        nm->file_done[id] = 1;
        strbuf_putc(sb, ' ');
        put_line_text(sb, func_file(&nm->p->funcs[func]));
    }
    strbuf_putc(sb, '\n');
}

static void put_fn(struct strbuf *sb, struct names *nm, const char *key, uint32_t func)
{
    strbuf_puts(sb, key);
    strbuf_puts(sb, "=(");
    export_put_u64(sb, (uint64_t)func + 1);
    strbuf_putc(sb, ')');
    if (!nm->fn_done[func]) {
        const struct export_func *f = &nm->p->funcs[func];
        nm->fn_done[func] = 1;
        strbuf_putc(sb, ' ');
        /* An empty name would read as a reference to an unknown id. */
        put_line_text(sb, f->name[0] ? f->name : "???");
        if (nm->ambiguous[func])
            strbuf_printf(sb, ":%d", (int)f->firstline);
    }
    strbuf_putc(sb, '\n');
}

/* ---- costs ------------------------------------------------------------------- */

struct collect {
    struct export_prep *p;
    struct costs *c;
    uint64_t total_samples, total_ns;
};

/* A row's self cost at its leaf's line, and a call cost at each caller's
 * line; inclusive cost once per stack for a recursive callee. */
static int add_row(void *ctx, const struct export_row_path *r)
{
    struct collect *cl = ctx;
    struct export_prep *p = cl->p;
    export_stamp_next(p);
    for (uint32_t i = 0; i < r->n; i++) {
        const struct export_frame *fr = &p->frames[r->path[i]];
        int outermost = export_stamp_first(p, fr->func);
        if (i == 0)
            continue;
        const struct export_frame *caller = &p->frames[r->path[i - 1]];
        struct cost *k = cost_at(cl->c, caller->func, caller->line, fr->func);
        if (!k)
            return -ENOMEM;
        k->calls += r->row->samples;
        if (outermost) {
            k->samples += r->row->samples;
            k->ns += r->weight;
        }
    }
    const struct export_frame *leaf = &p->frames[r->path[r->n - 1]];
    struct cost *k = cost_at(cl->c, leaf->func, leaf->line, UINT32_MAX);
    if (!k)
        return -ENOMEM;
    k->samples += r->row->samples;
    k->ns += r->weight;
    cl->total_samples += r->row->samples;
    cl->total_ns += r->weight;
    return 0;
}

/* Group by function with a counting sort (there can be millions of
 * costs), then sort each group, which is small. */
static int sort_costs(struct costs *c, uint32_t nfuncs)
{
    struct cost *sorted = malloc((c->n ? c->n : 1) * sizeof *sorted);
    size_t *start = calloc((size_t)nfuncs + 1, sizeof *start);
    if (!sorted || !start) {
        free(sorted);
        free(start);
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->n; i++)
        start[c->v[i].func + 1]++;
    for (uint32_t f = 0; f < nfuncs; f++)
        start[f + 1] += start[f];
    for (size_t i = 0; i < c->n; i++)
        sorted[start[c->v[i].func]++] = c->v[i];
    for (uint32_t f = 0; f < nfuncs; f++) {
        size_t from = f ? start[f - 1] : 0;   /* start[f] is now f's end */
        if (start[f] - from > 1)
            qsort(sorted + from, start[f] - from, sizeof *sorted, cost_cmp);
    }
    free(start);
    free(c->v);
    c->v = sorted;
    return 0;
}

/* ---- output -------------------------------------------------------------------- */

static void put_header(struct strbuf *sb, const struct export_prep *p, const struct collect *cl)
{
    const struct export_input *in = p->in;
    const char *event = p->mode == EXPORT_WALL ? "WallNs"
                      : p->mode == EXPORT_MEMORY ? "MemGrowBytes" : "CpuNs";
    strbuf_puts(sb, "# callgrind format\nversion: 1\ncreator: pytop " PACKAGE_VERSION "\n");
    if (in->pid)
        strbuf_printf(sb, "pid: %u\n", (unsigned)in->pid);
    if (in->command && in->command[0]) {
        strbuf_puts(sb, "cmd: ");
        put_line_text(sb, in->command);
        strbuf_putc(sb, '\n');
    }
    if (in->python && in->python[0]) {
        strbuf_puts(sb, "desc: Python: ");
        put_line_text(sb, in->python);
        strbuf_putc(sb, '\n');
    }
    if (in->rate_hz)
        strbuf_printf(sb, "desc: Sampling rate: %u Hz\n", (unsigned)in->rate_hz);
    if (in->duration_ns)
        strbuf_printf(sb, "desc: Duration: %.3f s\n", (double)in->duration_ns / 1e9);
    for (size_t i = 0; i < in->nthreads; i++) {
        const char *tname = export_thread_name(in, in->threads[i].tid);
        strbuf_printf(sb, "desc: Thread: %u ", (unsigned)in->threads[i].tid);
        put_line_text(sb, tname ? tname : "");
        strbuf_putc(sb, '\n');
    }
    /* The weight first: kcachegrind and callgrind_annotate sort by the
     * first event, and a CPU profile sorted by samples puts a sleeping
     * thread on top. */
    strbuf_puts(sb, "positions: line\n");
    if (p->mode == EXPORT_MEMORY)
        strbuf_printf(sb, "event: %s : resident memory growth (bytes)\n", event);
    else
        strbuf_printf(sb, "event: %s : %s time (ns)\n", event, export_mode_title(p->mode));
    strbuf_puts(sb, "event: Samples : Samples\n");
    strbuf_printf(sb, "events: %s Samples\n", event);
    strbuf_printf(sb, "summary: %llu %llu\n\n",
                  (unsigned long long)cl->total_ns, (unsigned long long)cl->total_samples);
}

/* One cost line, after its call line when it is a call. */
static void put_cost(struct strbuf *sb, struct names *nm, const struct cost *k)
{
    if (k->callee != UINT32_MAX) {
        const struct export_func *callee = &nm->p->funcs[k->callee];
        put_file(sb, nm, "cfl", k->callee);
        put_fn(sb, nm, "cfn", k->callee);
        strbuf_puts(sb, "calls=");
        export_put_u64(sb, k->calls);
        strbuf_putc(sb, ' ');
        export_put_i64(sb, callee->firstline > 0 ? callee->firstline : 0);
        strbuf_putc(sb, '\n');
    }
    export_put_i64(sb, k->line);
    strbuf_putc(sb, ' ');
    export_put_u64(sb, k->ns);
    strbuf_putc(sb, ' ');
    export_put_u64(sb, k->samples);
    strbuf_putc(sb, '\n');
}

int export_write_callgrind(struct export_out *o, struct export_prep *p)
{
    struct strbuf *sb = &o->sb;
    struct costs c;
    struct names nm;
    memset(&c, 0, sizeof c);
    export_map_init(&c.map);
    struct collect cl = { p, &c, 0, 0 };
    int rc = names_init(&nm, p);
    if (rc == 0)
        rc = export_walk_rows(p, add_row, &cl);
    if (rc == 0)
        rc = sort_costs(&c, p->nfuncs);
    if (rc == 0) {
        put_header(sb, p, &cl);
        for (size_t i = 0; i < c.n;) {
            uint32_t f = c.v[i].func;
            put_file(sb, &nm, "fl", f);
            put_fn(sb, &nm, "fn", f);
            for (; i < c.n && c.v[i].func == f; i++)
                put_cost(sb, &nm, &c.v[i]);
            strbuf_putc(sb, '\n');
            export_out_maybe_flush(o);
        }
        strbuf_printf(sb, "totals: %llu %llu\n",
                      (unsigned long long)cl.total_ns, (unsigned long long)cl.total_samples);
    }
    free(c.v);
    export_map_release(&c.map);
    names_release(&nm);
    return rc;
}
