/* Where a sample's memory change and CPU time are credited, and the
 * fuller counters read now and then. */
#include "config.h"

#include "sampler/sampler_internal.h"

#include "proc/memstat.h"
#include "python/heap.h"

#include <string.h>

/* ---- memory --------------------------------------------------------------------------------- */

/* Credit the change of resident size since the last credited sample to
 * the threads that ran meanwhile, in proportion to their CPU time; with
 * no CPU time seen, to the GIL holder, else the running threads, else the
 * main thread. A sample without threads credits nothing: the change waits
 * for the next one. */
enum credit_rule { CREDIT_CPU, CREDIT_GIL, CREDIT_RUNNING, CREDIT_MAIN, CREDIT_FIRST };

/* Thread i's share of a memory change under a rule: its CPU time, or 1
 * when it holds the GIL, ran, is the main thread, or is the first. */
static uint64_t credit_weight(enum credit_rule rule, const struct sample_thread *out, size_t i,
                              uint32_t pid)
{
    switch (rule) {
    case CREDIT_CPU: return out[i].cpu_ns;
    case CREDIT_GIL: return (out[i].flags & SAMPLE_GIL) != 0;
    case CREDIT_RUNNING: return (out[i].flags & SAMPLE_RUNNING) != 0;
    case CREDIT_MAIN: return out[i].tid == pid;
    case CREDIT_FIRST: return i == 0;
    }
    return 0;
}

/* statm is read at most this often, not every sample: a change is
 * credited at the first sample MEM_EVERY_NS after the previous read, to
 * the threads running then. The instants are random, so where memory
 * grows is still sampled without bias, at a 10 ms grain. While the
 * resident size does not move, the wait doubles at each read up to
 * MEM_QUIET_NS (0.0125 pread per sample at 1 kHz); the first change
 * brings it back to MEM_EVERY_NS. */
#define MEM_EVERY_NS (10ULL * 1000000ULL)
#define MEM_QUIET_NS (80ULL * 1000000ULL)

void credit_memory(struct proc_track *p, struct sample_thread *out, size_t n, uint64_t now)
{
    uint64_t rss;
    if (!p->have_mem || n == 0)
        return;
    if (p->rss_every_ns < MEM_EVERY_NS)
        p->rss_every_ns = MEM_EVERY_NS;
    if (p->have_rss && now - p->rss_read_ns < p->rss_every_ns)
        return;
    if (proc_memstat_rss(&p->mem, &rss) != 0)
        return;
    p->rss_read_ns = now;
    if (!p->have_rss) {
        p->have_rss = 1;
        p->last_rss = rss;
        return;
    }
    uint64_t grow = rss > p->last_rss ? rss - p->last_rss : 0;
    uint64_t release = rss < p->last_rss ? p->last_rss - rss : 0;
    p->last_rss = rss;
    if (!grow && !release) {
        p->rss_every_ns = p->rss_every_ns * 2 < MEM_QUIET_NS ? p->rss_every_ns * 2 : MEM_QUIET_NS;
        return;
    }
    p->rss_every_ns = MEM_EVERY_NS;

    /* The first rule that gives anyone a share (the last always does). */
    enum credit_rule rule = CREDIT_CPU;
    uint64_t total = 0;
    for (;; rule = (enum credit_rule)(rule + 1)) {
        for (size_t i = 0; i < n; i++)
            total += credit_weight(rule, out, i, p->info.pid);
        if (total || rule == CREDIT_FIRST)
            break;
    }
    /* Shares rounded down; what rounding leaves goes to the biggest share. */
    uint64_t given_grow = 0, given_release = 0;
    size_t biggest = 0;
    uint64_t biggest_w = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = credit_weight(rule, out, i, p->info.pid);
        if (!w)
            continue;
        uint64_t g = (uint64_t)((unsigned __int128)grow * w / total);
        uint64_t r = (uint64_t)((unsigned __int128)release * w / total);
        out[i].mem_grow += g;
        out[i].mem_release += r;
        given_grow += g;
        given_release += r;
        if (w > biggest_w) {
            biggest_w = w;
            biggest = i;
        }
    }
    out[biggest].mem_grow += grow - given_grow;
    out[biggest].mem_release += release - given_release;
}

/* The fuller counters, every counters_every_ns: NULL when not due. */
const struct counters *read_counters(struct sampler *s, struct proc_track *p, uint64_t t)
{
    if (t < p->next_counters_ns)
        return NULL;
    p->next_counters_ns = t + s->cfg.counters_every_ns;
    memset(&p->counters, 0, sizeof p->counters);
    if (p->have_mem)
        proc_memstat_read(&p->mem, &p->counters);
    if (p->have_heap)
        py_heap_read(&p->heap, &p->target->live.base, &p->counters);
    return p->counters.valid ? &p->counters : NULL;
}

/* A thread that used CPU time since its last sample but is not on a CPU
 * now (it ran a burst, then went back to waiting) did not spend that time
 * where it waits: its CPU time, and the memory credited with it, go to
 * the stack it had when last seen on a CPU, as a carried entry
 * (SAMPLE_CARRY: not a sample of its own), and the sample keeps its wall
 * time where it is now. So bursts between waits are found where they
 * run, as often as they are caught running. Returns the entries added
 * at carry (0 or 1). */
size_t carry_cpu(struct thread_track *tr, struct sample_thread *o,
                 struct sample_thread *carry)
{
    /* Whether it is on a CPU now matters only when its stack is not the
     * one it last had there: only then is stat read (one pread). */
    if (tr->on_cpu < 0) {
        char st;
        if (tr->cpu_stack && tr->cpu_stack == o->stack) {
            tr->on_cpu = 1;
        } else {
            tr->on_cpu = proc_task_stat_read(&tr->stat, &st, NULL) == 0 && st == 'R';
            tr->runnable = tr->on_cpu;   /* for the next sample: see track_update */
        }
    }
    if (tr->on_cpu) {
        tr->cpu_stack = o->stack;
        return 0;
    }
    if (!o->cpu_ns || !tr->cpu_stack || tr->cpu_stack == o->stack)
        return 0;
    memset(carry, 0, sizeof *carry);
    carry->tid = o->tid;
    carry->name = o->name;
    carry->stack = tr->cpu_stack;
    carry->flags = SAMPLE_CARRY;
    carry->cpu_ns = o->cpu_ns;
    carry->mem_grow = o->mem_grow;
    carry->mem_release = o->mem_release;
    o->cpu_ns = 0;
    o->mem_grow = 0;
    o->mem_release = 0;
    return 1;
}
