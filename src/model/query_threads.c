#include "config.h"

#include "model/model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int model_threads(const struct model *m, enum model_range r, struct model_thread_row **rows,
                  size_t *n)
{
    return model_threads_filtered(m, r, NULL, rows, n);
}

int model_threads_filtered(const struct model *m, enum model_range r,
                           const struct model_filter *f, struct model_thread_row **rows,
                           size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct counts *win = NULL;
    if (r == MODEL_WINDOW) {
        /* Window counts come from the window's aggregates. */
        win = calloc(m->nthreads ? m->nthreads : 1, sizeof *win);
        if (!win)
            return -ENOMEM;
        for (size_t i = 0; i < m->window.cap; i++) {
            const struct agg *a = &m->window.slots[i];
            if (!a->c.entries)
                continue;
            uint32_t j = u64map_get(&m->thread_index, (uint32_t)(a->key >> 32));
            if (j != IDX_NONE)
                counts_add(&win[j], &a->c);
        }
    }
    struct model_thread_row *v = calloc(m->nthreads ? m->nthreads : 1, sizeof *v);
    if (!v) {
        free(win);
        return -ENOMEM;
    }
    size_t nv = 0;
    for (size_t i = 0; i < m->nthreads; i++) {
        const struct thread *t = &m->threads[i];
        const struct counts *c = win ? &win[i] : &t->total;
        if (!c->samples)
            continue;           /* not in the window */
        if (f && ((f->pid && t->pid != f->pid) || (f->tid && t->tid != f->tid)))
            continue;
        struct model_thread_row *row = &v[nv++];
        row->pid = t->pid;
        row->tid = t->tid;
        row->name = t->name;
        row->samples = c->samples;
        row->running = c->running;
        row->gil = c->gil;
        row->gil_wait = c->gil_wait;
        row->cpu_ns = c->cpu_ns;
        row->wall_ns = c->wall_ns;
        row->mem_grow = c->mem_grow;
        row->mem_release = c->mem_release;
        row->last_stack = t->last_stack;
        row->last_flags = t->last_flags;
        row->last_seen_ns = t->last_seen_ns;
    }
    free(win);
    *rows = v;
    *n = nv;
    return 0;
}

int model_thread_labels(const struct model *m, struct thread_label **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct thread_label *v = malloc((m->nthreads ? m->nthreads : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < m->nthreads; i++) {
        v[i].pid = m->threads[i].pid;
        v[i].tid = m->threads[i].tid;
        v[i].name = m->threads[i].name;
    }
    *rows = v;
    *n = m->nthreads;
    return 0;
}

/* ---- processes, GIL, counters ------------------------------------------- */

int model_processes(const struct model *m, enum model_range r,
                    struct model_process_row **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct model_process_row *v = calloc(m->nprocs ? m->nprocs : 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct process *p = &m->procs[i];
        const struct pcounts *c = r == MODEL_WINDOW ? &p->window : &p->total;
        v[i].info = p->info;
        v[i].first_ns = p->first_ns;
        v[i].last_ns = p->last_ns;
        v[i].samples = c->samples;
        v[i].cpu_ns = c->cpu_ns;
        v[i].threads = p->threads;
    }
    *rows = v;
    *n = m->nprocs;
    return 0;
}

void model_gil(const struct model *m, enum model_range r, uint32_t pid, struct model_gil *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct process *p = &m->procs[i];
        if (pid && p->info.pid != pid)
            continue;
        const struct pcounts *c = r == MODEL_WINDOW ? &p->window : &p->total;
        out->samples += c->samples;
        out->held += c->held;
        if (pid)
            out->holder_tid = p->holder_tid;
    }
    out->none = out->samples - out->held;
    if (!pid)
        out->holder_tid = m->holder_tid;
}

int model_counters(const struct model *m, uint32_t pid, uint64_t from_ns,
                   struct model_counter_point **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    const struct process *p = pid ? proc_find(m, pid) : m->nprocs ? &m->procs[0] : NULL;
    const struct model_counter_point *pts = p && p->hist.v ? p->hist.v + p->hist.start : NULL;
    size_t count = pts ? p->hist.n : 0, first = 0;
    while (first < count && pts[first].time_ns < from_ns)
        first++;
    count -= first;
    struct model_counter_point *v = malloc((count ? count : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    if (count)
        memcpy(v, pts + first, count * sizeof *v);
    *rows = v;
    *n = count;
    return 0;
}
