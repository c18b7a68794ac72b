/* One sample of a target: every thread's stack and time since its last
 * sample. This is what the sampler emits, a recording stores, and the
 * model aggregates; ids refer to a struct stack_table. */
#ifndef PYTOP_CORE_SAMPLE_H
#define PYTOP_CORE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/counters.h"

enum sample_thread_flags {
    SAMPLE_RUNNING = 1u << 0,   /* the OS thread was running or runnable */
    SAMPLE_GIL = 1u << 1,       /* it held the GIL */
    SAMPLE_PARTIAL = 1u << 2,   /* its stack could not be read to the end */
    /* Not a sample of the thread: CPU time (and the memory credited with
     * it) it used since its previous sample, carried to the stack it had
     * when last seen on a CPU, because it is not on one now. Counts no
     * sample, wall time, running or GIL; follows the thread's own entry. */
    SAMPLE_CARRY = 1u << 3,
    /* With SAMPLE_PARTIAL, why (neither: unreadable data): */
    SAMPLE_TORN = 1u << 4,      /* it changed under every read of it */
    SAMPLE_CUT = 1u << 5,       /* a safety bound was reached */
    /* Not an OS thread: an asyncio task waiting (--async in wall mode),
     * its stack the await chain under "<task NAME>". Its tid is a
     * stand-in (SAMPLE_TASK_TID_BASE and up, above any Linux tid), its
     * name the task's; it counts wall time only. */
    SAMPLE_TASK = 1u << 6,
    /* The GIL (recording 1.3): where the interpreter tells waiting apart
     * (3.15's gil_requested) SAMPLE_GIL_KNOWN is set and SAMPLE_GIL_WAIT
     * says whether the thread waited for it; without SAMPLE_GIL_KNOWN a
     * thread not holding it may or may not have been waiting. */
    SAMPLE_GIL_WAIT = 1u << 7,
    SAMPLE_GIL_KNOWN = 1u << 8,
    /* The thread was running the cyclic collector: its stack's leaf is
     * the "<GC>" frame (recording 1.3). */
    SAMPLE_GC = 1u << 9,
};

/* Stand-in tids of waiting tasks start here (Linux tids stay below 2^22). */
#define SAMPLE_TASK_TID_BASE 0x40000000u

/* What a thread's stack in a sample is: whole, or why not. The sampler,
 * the record summary and the live header count thread samples by kind. */
enum stack_kind {
    STACK_WHOLE,                /* read to its outermost frame (deep ones with frames elided) */
    STACK_TORN,                 /* changed under every read: kept under "<torn>" */
    STACK_CUT,                  /* a safety bound was reached: "[truncated]" */
    STACK_UNREADABLE,           /* data that did not read as a stack: "[truncated]" */
    STACK_NO_PYTHON,            /* no Python frame (start-up, shutdown, C threads) */
    STACK_KINDS
};

struct sample_thread {
    uint32_t tid;               /* OS thread id (0 when unknown) */
    uint32_t name;              /* string id of its Python name, 0 when unknown */
    uint32_t stack;             /* leaf node id, 0 for an empty stack */
    uint32_t flags;             /* enum sample_thread_flags */
    uint64_t cpu_ns;            /* CPU time used since this thread's previous sample */
    uint64_t wall_ns;           /* wall time since this thread's previous sample */
    /* The process's resident memory change since its previous sample,
     * credited to the stack(s) that were running (see the sampler):
     * growth and release are kept apart, in bytes. */
    uint64_t mem_grow;
    uint64_t mem_release;
};

/* A process taking part in a run: the target, or (with --subprocesses)
 * one of its descendants. */
struct process_info {
    uint32_t pid;
    uint32_t ppid;              /* its parent; 0 for the run's first process */
    char python[32];            /* version text, "" when not known */
    char command[256];          /* its command line, "" when not known */
};

/* Whether a version text (process_info.python) names a free-threaded
 * build, "3.13.5t" as CPython calls it python3.13t: no GIL to hold. */
static inline int python_free_threaded(const char *python)
{
    size_t n = 0;
    while (python[n])
        n++;
    return n > 1 && python[n - 1] == 't' && python[n - 2] >= '0' && python[n - 2] <= '9';
}

struct sample {
    uint64_t time_ns;           /* since the start of the run */
    uint32_t pid;               /* the process sampled */
    uint32_t nthreads;
    const struct sample_thread *threads;   /* borrowed for the call */
    /* Attachments, borrowed for the call; NULL when absent:
     *  - process: set on a process's first sample (and when its command
     *    or version changes), so consumers learn who pid is;
     *  - counters: the process's memory and heap counters, read at this
     *    sample (a few times a second, not every sample). */
    const struct process_info *process;
    const struct counters *counters;
};

/* Samples aggregated by thread and call path: what exports and the
 * model's queries exchange. */
struct stack_weight {
    uint32_t pid;               /* the process of tid */
    uint32_t tid;
    uint32_t stack;             /* leaf node id */
    uint64_t samples;
    uint64_t running;           /* samples in which the thread was running */
    uint64_t gil;               /* samples in which it held the GIL */
    uint64_t cpu_ns;
    uint64_t wall_ns;
    uint64_t mem_grow;          /* bytes of resident memory growth credited */
    uint64_t mem_release;       /* bytes released */
};

/* A thread's name, for exports and views. */
struct thread_label {
    uint32_t pid;
    uint32_t tid;
    uint32_t name;              /* string id, 0 when unknown */
};

#endif
