/* The timeline formats: samples in the order they were taken, each thread
 * on its own track.
 *
 * gecko: the Firefox Profiler's Gecko profile JSON (documented in the
 * profiler's docs-developer/gecko-profile-format.md; the profiler upgrades
 * it to its processed format on load). One thread per (process, thread),
 * its samples at the recording's own times (ms since meta.startTime), each
 * with its thread's CPU time since its previous sample (threadCPUDelta, in
 * ns) so the profiler draws the CPU graph. A CPU time carried to a thread
 * that is off the CPU now (see SAMPLE_CARRY) is a sample of the stack it
 * was carried to, at the same time. The cyclic collector's runs are
 * interval markers "GC" on the thread that ran them: consecutive samples
 * whose leaf is the sampler's "<GC>" frame, from the first one's start
 * (its time less its wall time) to the last one's time.
 *
 * chrometrace: Chrome's trace event JSON (the Trace Event Format), as
 * py-spy writes it, for Perfetto and chrome://tracing. Each thread's
 * samples cover [time - wall, time]; a function that stays on a thread's
 * stack (at the same depth, under the same callers) over consecutive
 * samples is one complete ("X") event over their union. In cpu mode only
 * the samples where the thread was running are drawn, in wall mode all. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "record/export_internal.h"
#include "record/export_writers.h"

struct tl_ref {
    uint32_t pid;
    uint32_t tid;
    size_t idx;
};

static int tl_ref_cmp(const void *a, const void *b)
{
    const struct tl_ref *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Rows grouped by (pid, tid), each group in time order. */
static struct tl_ref *tl_refs(const struct export_input *in)
{
    struct tl_ref *refs = calloc(in->nrows ? in->nrows : 1, sizeof *refs);
    if (!refs)
        return NULL;
    for (size_t r = 0; r < in->nrows; r++) {
        refs[r].pid = in->rows[r].pid;
        refs[r].tid = in->rows[r].tid;
        refs[r].idx = r;
    }
    qsort(refs, in->nrows, sizeof *refs, tl_ref_cmp);
    return refs;
}

static void put_thread_name(struct strbuf *sb, const struct export_input *in, uint32_t pid,
                            uint32_t tid)
{
    const char *tname = export_thread_name(in, tid);
    struct strbuf name;
    strbuf_init(&name);
    if (tname)
        strbuf_printf(&name, "%s (tid %u)", tname, (unsigned)tid);
    else if (tid == pid)
        strbuf_printf(&name, "MainThread (tid %u)", (unsigned)tid);
    else
        strbuf_printf(&name, "tid %u", (unsigned)tid);
    json_put_string(sb, strbuf_str(&name));
    if (name.oom)
        sb->oom = 1;
    strbuf_release(&name);
}

/* Milliseconds with microsecond decimals, from ns. */
static void put_ms(struct strbuf *sb, uint64_t ns)
{
    strbuf_printf(sb, "%llu.%06llu", (unsigned long long)(ns / 1000000),
                  (unsigned long long)(ns % 1000000));
}

/* Microseconds with ns decimals, from ns. */
static void put_us(struct strbuf *sb, uint64_t ns)
{
    strbuf_printf(sb, "%llu.%03llu", (unsigned long long)(ns / 1000),
                  (unsigned long long)(ns % 1000));
}

/* ---- gecko ------------------------------------------------------------------ */

/* One Gecko profile being written; the tables are per thread. */
struct gecko {
    struct export_out *o;
    struct export_prep *p;
    struct tl_ref *refs;
    uint32_t *path;
    uint32_t *local;            /* per frame: its index in this thread's frames + 1 */
    uint32_t *lframes;          /* this thread's frames */
    uint32_t nlocal;
    uint32_t *sprefix, *sframe; /* this thread's stack table */
    uint32_t nstacks, scap;
    struct export_map stacks;   /* (prefix + 1, local frame) -> stack */
    uint32_t *row_stack;        /* per row: its stack */
    uint8_t *row_gc;            /* per row: its leaf is "<GC>" */
    struct strbuf labels;
    size_t *label_off;
};

static void put_meta(struct strbuf *sb, const struct export_prep *p)
{
    const struct export_input *in = p->in;
    strbuf_puts(sb, "{\"meta\":{\"version\":24,\"interval\":");
    strbuf_printf(sb, "%.6f", in->rate_hz ? 1000.0 / in->rate_hz : 10.0);
    strbuf_puts(sb, ",\"startTime\":");
    put_ms(sb, in->start_unix_ns);
    strbuf_puts(sb, ",\"shutdownTime\":null,\"processType\":0,\"product\":");
    struct strbuf name;
    strbuf_init(&name);
    strbuf_printf(&name, "pytop %s time", export_mode_title(p->mode));
    if (in->command && in->command[0])
        strbuf_printf(&name, " of %s", in->command);
    json_put_string(sb, strbuf_str(&name));
    if (name.oom)
        sb->oom = 1;
    strbuf_release(&name);
    strbuf_puts(sb, ",\"stackwalk\":0,\"debug\":false,\"gcpoison\":0,\"asyncstack\":0,"
                    "\"abi\":\"\",\"misc\":\"\",\"oscpu\":\"\",\"platform\":\"Linux\","
                    "\"toolkit\":\"\",\"appBuildID\":\"\",\"sourceURL\":\"\","
                    "\"physicalCPUs\":0,\"logicalCPUs\":0,"
                    "\"categories\":[{\"name\":\"Python\",\"color\":\"yellow\","
                    "\"subcategories\":[\"Other\"]},{\"name\":\"Idle\",\"color\":\"transparent\","
                    "\"subcategories\":[\"Other\"]}],\"markerSchema\":[],"
                    "\"sampleUnits\":{\"time\":\"ms\",\"eventDelay\":\"ms\","
                    "\"threadCPUDelta\":\"ns\"}},\n\"libs\":[],\"pausedRanges\":[],"
                    "\"processes\":[],\n\"threads\":[");
}

/* The stack (prefix, local frame f), added when new; UINT32_MAX when out
 * of memory. */
static uint32_t gecko_stack(struct gecko *g, uint32_t prefix, uint32_t f)
{
    uint32_t id;
    int added;
    if (export_map_get_or_add(&g->stacks, (uint64_t)prefix + 1, f, g->nstacks, &id, &added) != 0)
        return UINT32_MAX;
    if (!added)
        return id;
    if (g->nstacks == g->scap) {
        uint32_t cap = g->scap ? g->scap * 2 : 256;
        uint32_t *np = realloc(g->sprefix, (size_t)cap * sizeof *np);
        if (!np)
            return UINT32_MAX;
        g->sprefix = np;
        uint32_t *nf = realloc(g->sframe, (size_t)cap * sizeof *nf);
        if (!nf)
            return UINT32_MAX;
        g->sframe = nf;
        g->scap = cap;
    }
    g->sprefix[g->nstacks] = prefix;
    g->sframe[g->nstacks] = f;
    return g->nstacks++;
}

/* A path whose leaf is the sampler's "<GC>" frame: the collector ran. */
static int gc_leaf(const struct export_prep *p, const uint32_t *path, uint32_t n)
{
    if (n == 0)
        return 0;
    const struct export_func *fn = &p->funcs[p->frames[path[n - 1]].func];
    return fn->name && strcmp(fn->name, "<GC>") == 0 && (!fn->file || !fn->file[0]);
}

/* This thread's (refs[i..end)) frames, stacks and each row's stack. */
static int thread_tables(struct gecko *g, size_t i, size_t end)
{
    const struct export_prep *p = g->p;
    g->nlocal = g->nstacks = 0;
    export_map_release(&g->stacks);
    export_map_init(&g->stacks);
    for (size_t j = i; j < end; j++) {
        uint32_t n = export_path(p, &p->in->rows[g->refs[j].idx], g->path);
        uint32_t prefix = UINT32_MAX;
        for (uint32_t d = 0; d < n; d++) {
            uint32_t f = g->path[d];
            if (!g->local[f]) {
                g->lframes[g->nlocal] = f;
                g->local[f] = ++g->nlocal;
            }
            prefix = gecko_stack(g, prefix, g->local[f] - 1);
            if (prefix == UINT32_MAX)
                return -ENOMEM;
        }
        g->row_stack[g->refs[j].idx] = prefix;
        g->row_gc[g->refs[j].idx] = (uint8_t)gc_leaf(p, g->path, n);
    }
    return 0;
}

/* The thread's GC markers (refs[i..end), in time order); the marker's
 * name is the string after the frame labels. */
static void put_gc_markers(struct gecko *g, size_t i, size_t end)
{
    const struct export_input *in = g->p->in;
    struct strbuf *sb = &g->o->sb;
    int first = 1;
    for (size_t j = i; j < end;) {
        const struct stack_weight *row = &in->rows[g->refs[j].idx];
        if (!g->row_gc[g->refs[j].idx] || row->samples == 0) {
            j++;
            continue;
        }
        uint64_t t0 = in->row_time_ns[g->refs[j].idx];
        uint64_t start = t0 > row->wall_ns ? t0 - row->wall_ns : 0, stop = t0;
        size_t k = j + 1;
        /* Carried CPU time (no sample) at the same moment does not end a run. */
        for (; k < end; k++) {
            const struct stack_weight *r = &in->rows[g->refs[k].idx];
            if (r->samples == 0)
                continue;
            if (!g->row_gc[g->refs[k].idx])
                break;
            stop = in->row_time_ns[g->refs[k].idx];
        }
        strbuf_printf(sb, "%s[%u,", first ? "" : ",", (unsigned)g->nlocal);
        put_ms(sb, start);
        strbuf_putc(sb, ',');
        put_ms(sb, stop);
        strbuf_puts(sb, ",1,0,null]");
        first = 0;
        j = k;
    }
}

static void put_thread_head(struct gecko *g, uint32_t pid, uint32_t tid, size_t i, size_t end,
                            int first)
{
    size_t first_row = g->refs[i].idx;
    const struct export_input *in = g->p->in;
    struct strbuf *sb = &g->o->sb;
    strbuf_puts(sb, first ? "\n{" : ",\n{");
    strbuf_puts(sb, "\"name\":");
    put_thread_name(sb, in, pid, tid);
    strbuf_printf(sb, ",\"processType\":\"default\",\"processName\":");
    struct strbuf pn;
    strbuf_init(&pn);
    export_put_process_label(&pn, in, pid);
    json_put_string(sb, strbuf_str(&pn));
    if (pn.oom)
        sb->oom = 1;
    strbuf_release(&pn);
    strbuf_printf(sb, ",\"pid\":%u,\"tid\":%u,\"registerTime\":", (unsigned)pid, (unsigned)tid);
    put_ms(sb, in->row_time_ns[first_row]);
    strbuf_puts(sb, ",\"unregisterTime\":null,"
                    "\"markers\":{\"schema\":{\"name\":0,\"startTime\":1,\"endTime\":2,"
                    "\"phase\":3,\"category\":4,\"data\":5},\"data\":[");
    put_gc_markers(g, i, end);
    strbuf_puts(sb, "]},\n");
}

static void put_samples(struct gecko *g, size_t i, size_t end)
{
    const struct export_input *in = g->p->in;
    struct strbuf *sb = &g->o->sb;
    strbuf_puts(sb, "\"samples\":{\"schema\":{\"stack\":0,\"time\":1,\"eventDelay\":2,"
                    "\"threadCPUDelta\":3},\"data\":[");
    for (size_t j = i; j < end; j++) {
        size_t r = g->refs[j].idx;
        strbuf_puts(sb, j > i ? ",[" : "[");
        export_put_u64(sb, g->row_stack[r]);
        strbuf_putc(sb, ',');
        put_ms(sb, in->row_time_ns[r]);
        strbuf_puts(sb, ",0,");
        /* In memory mode the profile's weight is not time: the CPU graph
         * still shows CPU. */
        export_put_u64(sb, in->rows[r].cpu_ns);
        strbuf_putc(sb, ']');
        export_out_maybe_flush(g->o);
    }
    strbuf_puts(sb, "]},\n\"stackTable\":{\"schema\":{\"prefix\":0,\"frame\":1},\"data\":[");
    for (uint32_t s = 0; s < g->nstacks; s++) {
        strbuf_puts(sb, s ? ",[" : "[");
        if (g->sprefix[s] == UINT32_MAX)
            strbuf_puts(sb, "null");
        else
            export_put_u64(sb, g->sprefix[s]);
        strbuf_putc(sb, ',');
        export_put_u64(sb, g->sframe[s]);
        strbuf_putc(sb, ']');
        export_out_maybe_flush(g->o);
    }
}

/* The frame table and its strings (the frames' labels, in frame order). */
static void put_frames(struct gecko *g)
{
    const struct export_prep *p = g->p;
    struct strbuf *sb = &g->o->sb;
    strbuf_puts(sb, "]},\n\"frameTable\":{\"schema\":{\"location\":0,\"relevantForJS\":1,"
                    "\"innerWindowID\":2,\"implementation\":3,\"line\":4,\"column\":5,"
                    "\"category\":6,\"subcategory\":7},\"data\":[");
    for (uint32_t k = 0; k < g->nlocal; k++) {
        strbuf_printf(sb, "%s[%u,false,0,null,", k ? "," : "", (unsigned)k);
        uint32_t f = g->lframes[k];
        if (p->frames[f].line >= 0)
            export_put_i64(sb, p->frames[f].line);
        else
            strbuf_puts(sb, "null");
        strbuf_puts(sb, ",null,0,0]");
    }
    strbuf_puts(sb, "]},\n\"stringTable\":[");
    for (uint32_t k = 0; k < g->nlocal; k++) {
        uint32_t f = g->lframes[k];
        struct strbuf one;
        strbuf_init(&one);
        strbuf_append(&one, g->labels.data + g->label_off[f], g->label_off[f + 1] - g->label_off[f]);
        if (k)
            strbuf_putc(sb, ',');
        json_put_string(sb, strbuf_str(&one));
        if (one.oom)
            sb->oom = 1;
        strbuf_release(&one);
        g->local[f] = 0;   /* ready for the next thread */
        export_out_maybe_flush(g->o);
    }
    /* The GC markers' name. */
    strbuf_puts(sb, g->nlocal ? ",\"GC\"]}" : "\"GC\"]}");
}

static void gecko_release(struct gecko *g)
{
    free(g->refs);
    free(g->path);
    free(g->local);
    free(g->lframes);
    free(g->sprefix);
    free(g->sframe);
    free(g->row_stack);
    free(g->row_gc);
    free(g->label_off);
    strbuf_release(&g->labels);
    export_map_release(&g->stacks);
}

int export_write_gecko(struct export_out *o, struct export_prep *p)
{
    const struct export_input *in = p->in;
    uint32_t nf = p->nframes ? p->nframes : 1;
    struct gecko g = { .o = o, .p = p };
    export_map_init(&g.stacks);
    strbuf_init(&g.labels);
    g.refs = tl_refs(in);
    g.path = malloc(p->max_depth * sizeof *g.path);
    g.local = calloc(nf, sizeof *g.local);
    g.lframes = malloc(nf * sizeof *g.lframes);
    g.row_stack = malloc((in->nrows ? in->nrows : 1) * sizeof *g.row_stack);
    g.row_gc = calloc(in->nrows ? in->nrows : 1, 1);
    int rc = -ENOMEM;
    if (g.refs && g.path && g.local && g.lframes && g.row_stack && g.row_gc &&
        export_frame_labels(p, &g.labels, &g.label_off) == 0)
        rc = 0;
    if (rc == 0)
        put_meta(&o->sb, p);
    for (size_t i = 0, end, nthreads = 0; rc == 0 && i < in->nrows; i = end, nthreads++) {
        uint32_t pid = g.refs[i].pid, tid = g.refs[i].tid;
        for (end = i; end < in->nrows && g.refs[end].pid == pid && g.refs[end].tid == tid;)
            end++;
        rc = thread_tables(&g, i, end);
        if (rc != 0)
            break;
        put_thread_head(&g, pid, tid, i, end, nthreads == 0);
        put_samples(&g, i, end);
        put_frames(&g);
    }
    if (rc == 0)
        strbuf_puts(&o->sb, "]}\n");
    gecko_release(&g);
    return rc;
}

/* ---- chrometrace -------------------------------------------------------------- */

struct open_frame {
    uint32_t frame;
    uint64_t start_ns;
};

static void put_event(struct export_out *o, const struct export_prep *p, int *first,
                      uint32_t pid, uint32_t tid, const struct open_frame *f, uint64_t end_ns)
{
    struct strbuf *sb = &o->sb;
    const struct export_frame *fr = &p->frames[f->frame];
    const struct export_func *fn = &p->funcs[fr->func];
    strbuf_puts(sb, *first ? "\n{\"ph\":\"X\",\"name\":" : ",\n{\"ph\":\"X\",\"name\":");
    *first = 0;
    json_put_string(sb, fn->name);
    strbuf_puts(sb, ",\"cat\":\"python\",\"ts\":");
    put_us(sb, f->start_ns);
    strbuf_puts(sb, ",\"dur\":");
    put_us(sb, end_ns - f->start_ns);
    strbuf_printf(sb, ",\"pid\":%u,\"tid\":%u,\"args\":{\"file\":", (unsigned)pid,
                  (unsigned)tid);
    json_put_string(sb, fn->file);
    strbuf_printf(sb, ",\"line\":%d}}", (int)fr->line);
    export_out_maybe_flush(o);
}

static int chrome_drawn(const struct export_prep *p, const struct stack_weight *row)
{
    if (row->samples == 0)      /* carried CPU time: not a moment of the thread */
        return 0;
    return p->mode == EXPORT_WALL || row->running > 0;
}

struct chrome {
    struct export_out *o;
    const struct export_prep *p;
    uint32_t *path;
    struct open_frame *open;    /* the frames open on this thread, root first */
    int first;                  /* no event written yet */
};

/* The process's name when it starts here, and the thread's. */
static void put_names(struct chrome *c, uint32_t pid, uint32_t tid, int new_process)
{
    const struct export_input *in = c->p->in;
    struct strbuf *sb = &c->o->sb;
    if (new_process) {
        strbuf_printf(sb, "%s\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,"
                          "\"tid\":%u,\"args\":{\"name\":", c->first ? "" : ",",
                      (unsigned)pid, (unsigned)pid);
        struct strbuf pn;
        strbuf_init(&pn);
        export_put_process_label(&pn, in, pid);
        json_put_string(sb, strbuf_str(&pn));
        strbuf_release(&pn);
        strbuf_puts(sb, "}}");
        c->first = 0;
    }
    strbuf_printf(sb, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,"
                      "\"args\":{\"name\":", (unsigned)pid, (unsigned)tid);
    put_thread_name(sb, in, pid, tid);
    strbuf_puts(sb, "}}");
}

/* One thread's samples refs[i..end) as complete events: a frame stays
 * open while the same function sits at the same depth under the same
 * callers in consecutive drawn samples. */
static void put_thread_events(struct chrome *c, const struct tl_ref *refs, size_t i, size_t end)
{
    const struct export_prep *p = c->p;
    uint32_t pid = refs[i].pid, tid = refs[i].tid, nopen = 0;
    uint64_t prev_end = 0;
    int contiguous = 0;     /* the previous sample of this thread was drawn */
    for (size_t j = i; j < end; j++) {
        const struct stack_weight *row = &p->in->rows[refs[j].idx];
        if (row->samples == 0)
            continue;
        uint64_t t = p->in->row_time_ns[refs[j].idx];
        if (!chrome_drawn(p, row)) {
            for (; nopen; nopen--)
                put_event(c->o, p, &c->first, pid, tid, &c->open[nopen - 1], prev_end);
            contiguous = 0;
            continue;
        }
        uint64_t start = contiguous ? prev_end : t - (row->wall_ns < t ? row->wall_ns : t);
        if (start > t)
            start = t;
        uint32_t n = export_path(p, row, c->path);
        uint32_t keep = 0;
        while (contiguous && keep < nopen && keep < n &&
               p->frames[c->open[keep].frame].func == p->frames[c->path[keep]].func)
            keep++;
        for (; nopen > keep; nopen--)
            put_event(c->o, p, &c->first, pid, tid, &c->open[nopen - 1], prev_end);
        for (uint32_t d = keep; d < n; d++) {
            c->open[d].frame = c->path[d];
            c->open[d].start_ns = start;
        }
        nopen = n;
        prev_end = t;
        contiguous = 1;
    }
    for (; nopen; nopen--)
        put_event(c->o, p, &c->first, pid, tid, &c->open[nopen - 1], prev_end);
}

int export_write_chrometrace(struct export_out *o, struct export_prep *p)
{
    const struct export_input *in = p->in;
    struct strbuf *sb = &o->sb;
    struct tl_ref *refs = tl_refs(in);
    struct chrome c = { o, p, malloc(p->max_depth * sizeof *c.path),
                        malloc(p->max_depth * sizeof *c.open), 1 };
    if (!refs || !c.path || !c.open) {
        free(refs);
        free(c.path);
        free(c.open);
        return -ENOMEM;
    }
    strbuf_puts(sb, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"exporter\":");
    json_put_string(sb, "pytop " PACKAGE_VERSION);
    strbuf_printf(sb, ",\"weight\":\"%s\"", export_mode_title(p->mode));
    if (in->command && in->command[0]) {
        strbuf_puts(sb, ",\"command\":");
        json_put_string(sb, in->command);
    }
    strbuf_puts(sb, "},\n\"traceEvents\":[");
    for (size_t i = 0, end; i < in->nrows; i = end) {
        for (end = i; end < in->nrows && refs[end].pid == refs[i].pid && refs[end].tid == refs[i].tid;)
            end++;
        put_names(&c, refs[i].pid, refs[i].tid, i == 0 || refs[i].pid != refs[i - 1].pid);
        put_thread_events(&c, refs, i, end);
    }
    strbuf_puts(sb, "]}\n");
    free(refs);
    free(c.path);
    free(c.open);
    return 0;
}
