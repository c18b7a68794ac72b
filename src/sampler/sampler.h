/* The sampling loop: reads every Python thread's stack at a steady rate
 * and hands each result, interned into a stack_table, to a sink.
 *
 * Sampling instants are random: each is the previous instant plus a gap
 * drawn uniformly between half a period and one and a half, so the rate
 * is the one asked for and sampling cannot lock onto the target's own
 * periodic work (docs/model.md says why this scheme). A sample that
 * starts more than half a period after its instant is counted as late;
 * when the sampler falls more than a period behind it skips the instants
 * it missed rather than bursting. Each thread's CPU time comes from its
 * schedstat and its wall time from the sampler's clock, so one run can be
 * weighed by CPU or by wall time afterwards.
 *
 * CPU time: a thread not on a CPU at the sample (it ran a burst since the
 * previous one, then went back to waiting) did not use its CPU time where
 * it waits now: that time goes to the stack it had when last seen on a
 * CPU, as an extra SAMPLE_CARRY entry, so bursts between waits are
 * credited where they run. Its wall time stays where it is.
 *
 * Memory: the process's resident size is read at every sample and its
 * change since the previous sample is credited to the threads that ran
 * meanwhile (by their CPU time; else the GIL holder, else the running
 * threads), growth and release apart. Fuller memory and heap counters are
 * read every counters_every_ns and attached to that sample.
 *
 * With subprocesses, the target's descendants are looked for every
 * children_every_ns and every Python one among them is sampled too: each
 * round delivers one sample per process, all with the same time.
 *
 * The target is never stopped, except with native or blocking: each
 * thread is then held (native/hold.h) while its frames are read (and,
 * with native, its C stack copied), one thread at a time, and how long
 * it was kept from running is measured per thread and per sample. */
#ifndef PYTOP_SAMPLER_SAMPLER_H
#define PYTOP_SAMPLER_SAMPLER_H

#include <pthread.h>
#include <stdint.h>

#include "core/hist.h"
#include "core/sample.h"
#include "core/stacks.h"
#include "python/discover.h"

struct sampler_config {
    double rate_hz;              /* samples per second; default 100 */
    uint64_t duration_ns;        /* stop after this much time; 0: no limit */
    pthread_mutex_t *dict_lock;  /* held while interning and calling the sink; may be NULL */
    uint64_t names_refresh_ns;   /* how often thread names are re-read; default 1 s */
    uint64_t counters_every_ns;  /* memory and heap counters this often; default 250 ms */
    int native;                  /* merge native (C) frames into the stacks */
    int native_all;              /* and keep the interpreter's own C frames */
    int blocking;                /* hold each thread while its frames are read */
    int subprocesses;            /* follow the target's descendants */
    uint64_t children_every_ns;  /* look for new descendants this often; default 50 ms */
    enum py_layout_source layout_source;   /* for descendants */
    /* --async: a stack running an asyncio task is rooted in "<task NAME>";
     * with async_waiting (wall time) each waiting task is sampled too, as
     * an entry of its own (SAMPLE_TASK) under its "<task NAME>" root. */
    int async;
    int async_waiting;
    int schedstat;               /* CPU time from schedstat only, no context-switch clocks */
};

/* The sampler_config of a command's options (o: a pointer to a struct with
 * rate_hz, duration_ns, native, native_all, blocking, subprocesses,
 * layout_source, async and schedstat, as the live view's and record's
 * have): no
 * dictionary lock, and with --async the waiting tasks sampled too (they
 * carry wall time only: a CPU view or export weighs them 0). */
#define SAMPLER_CONFIG_OF(o)                 \
    {                                        \
        .rate_hz = (o)->rate_hz,             \
        .duration_ns = (o)->duration_ns,     \
        .native = (o)->native,               \
        .native_all = (o)->native_all,       \
        .blocking = (o)->blocking,           \
        .subprocesses = (o)->subprocesses,   \
        .layout_source = (o)->layout_source, \
        .async = (o)->async,                 \
        .async_waiting = (o)->async,         \
        .schedstat = (o)->schedstat,         \
    }

/* A thread switching in more often than this (over a second) has its
 * context-switch clock closed and its schedstat read instead: each switch
 * record costs it about half a microsecond in the kernel, so this bounds
 * what the records take from a thread to about 0.05 % of its time. */
#define SWITCHES_PER_SEC_MAX 1000

struct sampler_stats {
    uint64_t samples;            /* samples delivered */
    uint64_t late;               /* samples that started > half a period after their instant */
    uint64_t skipped;            /* instants skipped after falling a period behind */
    uint64_t errors;             /* walks that failed as a whole */
    uint64_t partial;            /* thread stacks that could not be read to the end */
    uint64_t stacks[STACK_KINDS]; /* thread samples by enum stack_kind */
    uint64_t retries;            /* threads read again in a sample: a walk not proven whole */
    uint64_t elided;             /* stacks deeper than PY_MAX_DEPTH, kept with both ends */
    uint64_t elapsed_ns;         /* since the first sample */
    uint64_t busy_ns;            /* the sampler thread's own CPU time */
    double achieved_hz;          /* samples / elapsed */
    uint64_t remote_reads;       /* process_vm_readv calls */
    uint32_t processes;          /* processes being sampled now */
    uint32_t processes_seen;     /* processes sampled at some point */
    uint32_t execs;              /* times the target exec'd a new Python, followed */
    uint64_t dict_full;          /* thread stacks cut short: the dictionary was full */
    uint64_t native_threads;     /* --native: thread stacks it tried to unwind */
    uint64_t native_missing;     /* of which left with Python frames only */
    uint64_t native_denied;      /* of which not allowed (no ptrace permission, or traced) */
    uint64_t native_mismatch;    /* of which C frames not placeable among the Python ones */
    uint64_t native_switching;   /* of which caught mid frame switch in every hold */
    /* Threads held while read (blocking or native): */
    uint64_t held;               /* thread reads made while the thread was held */
    uint64_t unheld;             /* blocking: reads made without (gone, denied, too slow to stop) */
    uint64_t unheld_denied;      /* of which not allowed (no ptrace permission, or traced) */
    uint64_t unheld_switching;   /* of which caught mid frame switch in every hold */
    /* Where each thread sample's CPU time came from: */
    uint64_t cpu_switches;       /* the thread's context-switch records (no system call) */
    uint64_t cpu_schedstat;      /* its schedstat (a pread), the clock not open or not sure */
    uint64_t switch_restarts;    /* clocks that lost records and started over */
    uint64_t switch_busy;        /* threads left to schedstat: they switch too often */
    int switch_error;            /* why clocks could not be opened (-errno), 0: they were */
    struct hist pause_sample;    /* per process sample: total time its threads were held */
    struct hist pause_thread;    /* per thread read: time the thread was held */
};

enum sampler_end {
    SAMPLER_STOPPED,             /* sampler_stop() or the sink asked */
    SAMPLER_DURATION,            /* the duration ran out */
    SAMPLER_TARGET_EXITED,
    SAMPLER_TARGET_EXECED,       /* the target exec'd a program that is not Python */
};

/* Called once per sample with dict_lock held (if any). A non-zero return
 * stops the sampler. The sample and its threads are valid for the call. */
typedef int (*sampler_sink_fn)(void *ctx, const struct stack_table *dict,
                               const struct sample *s);

struct sampler;

/* target and dict are borrowed and must outlive the sampler. */
int sampler_new(struct py_target *target, struct stack_table *dict,
                const struct sampler_config *cfg, struct sampler **out);
void sampler_free(struct sampler *s);   /* NULL is fine */

/* Sample until stopped, the duration runs out or the target exits.
 * Returns the reason (>= 0) or a negative error. Run it on its own thread
 * when something else (a UI) must go on meanwhile. */
int sampler_run(struct sampler *s, sampler_sink_fn sink, void *ctx);

/* Ask sampler_run to return soon. Async-signal-safe. */
void sampler_stop(struct sampler *s);

/* After SAMPLER_TARGET_EXECED: the command line the target exec'd ("" if
 * unknown), NUL-terminated in buf. */
void sampler_exec_command(struct sampler *s, char *buf, size_t cap);

/* A consistent copy of the counters, from any thread. */
void sampler_get_stats(struct sampler *s, struct sampler_stats *out);

#endif
