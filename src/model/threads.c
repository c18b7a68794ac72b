#include "config.h"

#include "model/model_internal.h"

#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- threads ------------------------------------------------------------ */

int threads_reserve(struct model *m, size_t extra)
{
    struct thread *t = vec_grow(m->threads, &m->threads_cap, m->nthreads + extra, sizeof *t, 16);
    if (!t)
        return -ENOMEM;
    m->threads = t;
    return u64map_reserve(&m->thread_index, extra);
}

/* Needs a prior threads_reserve. */
struct thread *thread_get(struct model *m, uint32_t tid)
{
    uint32_t i = u64map_get(&m->thread_index, tid);
    if (i != IDX_NONE)
        return &m->threads[i];
    struct thread *t = &m->threads[m->nthreads];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    t->slot = IDX_NONE;
    u64map_put(&m->thread_index, tid, (uint32_t)m->nthreads);
    m->nthreads++;
    return t;
}

int slots_reserve(struct model *m, size_t extra)
{
    struct slot *v = vec_grow(m->slots, &m->slots_cap, m->nslots + extra, sizeof *v, 16);
    if (!v)
        return -ENOMEM;
    m->slots = v;
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
    uint32_t i = u64map_get(&m->proc_index, pid);
    return i == IDX_NONE ? NULL : &m->procs[i];
}

int procs_reserve(struct model *m, size_t extra)
{
    struct process *p = vec_grow(m->procs, &m->procs_cap, m->nprocs + extra, sizeof *p, 4);
    if (!p)
        return -ENOMEM;
    m->procs = p;
    return u64map_reserve(&m->proc_index, extra);
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
    u64map_put(&m->proc_index, pid, (uint32_t)m->nprocs);
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
    u64map_release(&m->proc_index);
    m->nhistories = 0;
    m->holder_tid = 0;
}
