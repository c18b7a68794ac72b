#include "config.h"

#include "model/model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- threads ------------------------------------------------------------ */

int threads_reserve(struct model *m, size_t extra)
{
    if (m->nthreads + extra > m->threads_cap) {
        size_t cap = m->threads_cap ? m->threads_cap : 16;
        while (cap < m->nthreads + extra)
            cap *= 2;
        struct thread *t = realloc(m->threads, cap * sizeof *t);
        if (!t)
            return -ENOMEM;
        m->threads = t;
        m->threads_cap = cap;
    }
    return idx_reserve(&m->thread_index, extra);
}

/* Needs a prior threads_reserve. */
struct thread *thread_get(struct model *m, uint32_t tid)
{
    uint32_t i = idx_get(&m->thread_index, tid);
    if (i != IDX_NONE)
        return &m->threads[i];
    struct thread *t = &m->threads[m->nthreads];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    t->slot = IDX_NONE;
    idx_put(&m->thread_index, tid, (uint32_t)m->nthreads);
    m->nthreads++;
    return t;
}

int slots_reserve(struct model *m, size_t extra)
{
    if (m->nslots + extra <= m->slots_cap)
        return 0;
    size_t cap = m->slots_cap ? m->slots_cap : 16;
    while (cap < m->nslots + extra)
        cap *= 2;
    struct slot *v = realloc(m->slots, cap * sizeof *v);
    if (!v)
        return -ENOMEM;
    m->slots = v;
    m->slots_cap = cap;
    return 0;
}

/* The slot of thread th in process proc (an index in procs), made when
 * first needed; needs a prior slots_reserve. A thread's list starts with
 * its newest slot, so this is one step unless its tid was reused. */
uint32_t slot_get(struct model *m, struct thread *th, uint32_t proc)
{
    for (uint32_t i = th->slot; i != IDX_NONE; i = m->slots[i].next)
        if (m->slots[i].proc == proc)
            return i;
    uint32_t i = (uint32_t)m->nslots++;
    m->slots[i] = (struct slot){ th->tid, proc, th->slot };
    th->slot = i;
    return i;
}

/* ---- processes ---------------------------------------------------------- */

struct process *proc_find(const struct model *m, uint32_t pid)
{
    uint32_t i = idx_get(&m->proc_index, pid);
    return i == IDX_NONE ? NULL : &m->procs[i];
}

int procs_reserve(struct model *m, size_t extra)
{
    if (m->nprocs + extra > m->procs_cap) {
        size_t cap = m->procs_cap ? m->procs_cap * 2 : 4;
        while (cap < m->nprocs + extra)
            cap *= 2;
        struct process *p = realloc(m->procs, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        m->procs = p;
        m->procs_cap = cap;
    }
    return idx_reserve(&m->proc_index, extra);
}

/* Needs a prior procs_reserve. A pid first met gets an info with just
 * the pid until a sample describes it. */
struct process *proc_get(struct model *m, uint32_t pid)
{
    struct process *p = proc_find(m, pid);
    if (p)
        return p;
    p = &m->procs[m->nprocs];
    memset(p, 0, sizeof *p);
    p->info.pid = pid;
    idx_put(&m->proc_index, pid, (uint32_t)m->nprocs);
    m->nprocs++;
    return p;
}

void proc_describe(struct model *m, const struct process_info *info)
{
    struct process *p = proc_get(m, info->pid);
    p->info = *info;
    /* Text from outside may lack its terminator. */
    p->info.python[sizeof p->info.python - 1] = '\0';
    p->info.command[sizeof p->info.command - 1] = '\0';
}

void procs_release(struct model *m)
{
    for (size_t i = 0; i < m->nprocs; i++)
        history_release(m, &m->procs[i].hist);
    free(m->procs);
    m->procs = NULL;
    m->nprocs = m->procs_cap = 0;
    idx_release(&m->proc_index);
    m->nhistories = 0;
    m->holder_tid = 0;
}
