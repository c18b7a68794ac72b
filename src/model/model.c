#include "config.h"

#include "model/model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW_NS 10000000000ull
#define DEFAULT_RETENTION_NS 300000000000ull

/* ---- lifecycle and feeding ---------------------------------------------- */

struct model *model_new(const struct model_config *cfg, const struct stack_table *dict)
{
    if (!dict)
        return NULL;
    struct model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->dict = dict;
    m->retention_ns = cfg && cfg->retention_ns ? cfg->retention_ns : DEFAULT_RETENTION_NS;
    m->window_ns = cfg && cfg->window_ns ? cfg->window_ns : DEFAULT_WINDOW_NS;
    if (m->window_ns > m->retention_ns)
        m->window_ns = m->retention_ns;
    m->ring_limit = MODEL_RING_MAX;
    entries_init(m);
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    entries_release(m);
    agg_release(&m->total);
    agg_release(&m->window);
    free(m->threads);
    u64map_release(&m->thread_index);
    free(m->slots);
    procs_release(m);
    free(m);
}

void model_reset(struct model *m)
{
    entries_release(m);
    agg_release(&m->total);
    agg_release(&m->window);
    free(m->threads);
    m->threads = NULL;
    m->nthreads = m->threads_cap = 0;
    u64map_release(&m->thread_index);
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->slots_cap = 0;
    procs_release(m);
    memset(&m->total_sum, 0, sizeof m->total_sum);
    memset(&m->window_sum, 0, sizeof m->window_sum);
    m->dropped = m->dropped_ns = 0;
    m->first_ns = m->last_ns = 0;
    m->samples = m->window_samples = 0;
}

/* The process side of a sample: who it is, its counts, GIL holder and
 * counters. Returns whether some thread held the GIL; its index in procs
 * goes to *index. */
static int proc_add(struct model *m, const struct sample *s, uint64_t t, uint32_t *index)
{
    struct process *p = proc_get(m, s->pid);
    *index = (uint32_t)(p - m->procs);
    if (s->process)
        proc_describe(m, s->process);
    uint32_t holder = 0;
    for (uint32_t i = 0; i < s->nthreads; i++) {
        p->total.cpu_ns += s->threads[i].cpu_ns;
        if (!holder && (s->threads[i].flags & SAMPLE_GIL))
            holder = s->threads[i].tid ? s->threads[i].tid : UINT32_MAX;
    }
    if (p->total.samples++ == 0)
        p->first_ns = t;
    p->last_ns = t;
    p->total.held += holder != 0;
    p->threads = s->nthreads;
    /* A holder with tid 0 (unknown) still counts as held. */
    p->holder_tid = holder == UINT32_MAX ? 0 : holder;
    m->holder_tid = p->holder_tid;
    if (s->counters)
        history_add(m, p, t, s->counters);
    return holder != 0;
}

int model_add(struct model *m, const struct sample *s)
{
    if (!m || !s || (s->nthreads && !s->threads))
        return -EINVAL;
    /* Check everything before changing anything, so a refused sample
     * leaves the model as it was. */
    uint32_t nodes = stack_table_node_count(m->dict);
    for (uint32_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].stack >= nodes)
            return -EINVAL;
    size_t n = s->nthreads;
    if (agg_reserve(&m->total, n) || agg_reserve(&m->window, n) || threads_reserve(m, n) ||
        slots_reserve(m, n) || procs_reserve(m, 2))
        return -ENOMEM;

    uint64_t t = s->time_ns;
    if (m->samples == 0)
        m->first_ns = t;
    else if (t < m->last_ns)
        t = m->last_ns;         /* keep the ring in time order */
    m->last_ns = t;
    m->samples++;
    entries_advance(m);
    uint32_t proc;
    uint32_t held = proc_add(m, s, t, &proc) ? ENTRY_HELD : 0;

    if (n == 0) {
        struct rec r = { .who = proc, .bits = ENTRY_FIRST | ENTRY_EMPTY };
        entries_record(m, &r, t);
    }
    for (size_t i = 0; i < n; i++) {
        const struct sample_thread *st = &s->threads[i];
        struct thread *th = thread_get(m, st->tid);
        struct rec r = {
            .cpu_ns = st->cpu_ns,
            .wall_ns = st->wall_ns,
            .mem_grow = st->mem_grow,
            .mem_release = st->mem_release,
            .who = slot_get(m, th, proc),
            .bits = st->stack | (i == 0 ? ENTRY_FIRST | held : 0) |
                    (st->flags & SAMPLE_RUNNING ? ENTRY_RUNNING : 0) |
                    (st->flags & SAMPLE_GIL ? ENTRY_GIL : 0) |
                    (st->flags & SAMPLE_GIL_WAIT ? ENTRY_GIL_WAIT : 0) |
                    (st->flags & SAMPLE_CARRY ? ENTRY_CARRY : 0),
        };
        struct counts c;
        rec_counts(&r, &c);
        agg_add(&m->total, agg_key(st->tid, st->stack), &c);
        counts_add(&m->total_sum, &c);

        counts_add(&th->total, &c);
        th->pid = s->pid;
        if (st->name)
            th->name = st->name;
        if (!(st->flags & SAMPLE_CARRY)) {
            th->last_stack = st->stack;
            th->last_flags = st->flags;
            th->last_seen_ns = t;
        }

        entries_record(m, &r, t);
    }
    agg_maybe_shrink(&m->window);
    return 0;
}

static size_t histories_memory(const struct model *m)
{
    size_t bytes = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        bytes += m->procs[i].hist.cap * sizeof(struct model_counter_point);
    return bytes;
}

static size_t model_memory(const struct model *m)
{
    return sizeof *m +
           ring_memory(&m->entries) + ring_memory(&m->words) +
           m->slots_cap * sizeof *m->slots +
           (m->total.cap + m->window.cap) * sizeof(struct agg) +
           m->threads_cap * sizeof *m->threads +
           u64map_memory(&m->thread_index) +
           m->procs_cap * sizeof *m->procs +
           u64map_memory(&m->proc_index) +
           histories_memory(m);
}

void model_totals(const struct model *m, enum model_range r, enum model_weight w,
                  struct model_totals *out)
{
    (void)w;    /* every weight is reported */
    if (!m || !out)
        return;
    const struct counts *c = r == MODEL_WINDOW ? &m->window_sum : &m->total_sum;
    memset(out, 0, sizeof *out);
    out->first_ns = m->first_ns;
    out->last_ns = m->last_ns;
    out->samples = m->samples;
    out->window_samples = m->window_samples;
    out->window_start_ns = m->last_ns > m->window_ns ? m->last_ns - m->window_ns : 0;
    /* After a drop, the ring no longer holds everything since that entry. */
    if (m->dropped && m->dropped_ns > out->window_start_ns)
        out->window_start_ns = m->dropped_ns;
    out->cpu_ns = c->cpu_ns;
    out->wall_ns = c->wall_ns;
    out->mem_grow = c->mem_grow;
    out->mem_release = c->mem_release;
    out->memory_bytes = model_memory(m);
}
