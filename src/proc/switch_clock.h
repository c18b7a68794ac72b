/* A thread's CPU time, and whether it is on a CPU, told by the kernel's
 * context-switch records (perf_event_open with context_switch) in a ring
 * shared with pytop: read with no system call, where schedstat costs a
 * pread per thread per sample. Exact to the switch, where schedstat
 * adds a running thread's time up only at its ticks.
 *
 * Each record carries a CLOCK_MONOTONIC time. A thread on a CPU since the
 * last switch-in has run since then; one switched out has not run since.
 * The time on a CPU before the first record is told by that record (a
 * switch-out: it was on a CPU from the start; a switch-in: it was off)
 * or, for a thread that ran all along and never switched, by a sample
 * a task clock (opened until then only: it costs the thread a timer at
 * every switch) writes after SWITCH_SAMPLE_NS of its CPU time. Until one
 * of them comes the state is not known and the caller reads schedstat
 * instead; so it does after records were lost. */
#ifndef PYTOP_PROC_SWITCH_CLOCK_H
#define PYTOP_PROC_SWITCH_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CPU time between two periodic samples of a thread that keeps running. */
#define SWITCH_SAMPLE_NS 10000000ull

/* What a thread's records have told, from the moment the clock opened. */
struct switch_state {
    uint64_t open_ns;            /* when records began (CLOCK_MONOTONIC) */
    int on;                      /* on a CPU: 1, off: 0, not known yet: -1 */
    int queued;                  /* off, but runnable (switched out preempted) */
    uint64_t since_ns;           /* on: since when */
    uint64_t run_ns;             /* time on a CPU in the intervals closed since open_ns */
    uint64_t ins;                /* times put on a CPU since open_ns */
    int seen_record;             /* a record came since open_ns */
    uint64_t last_ns;            /* the latest record's time (open_ns before one) */
    int lost;                    /* records were lost or malformed: not to be trusted */
};

/* A fresh state at open_ns: off_known is 1 when the thread was seen not
 * runnable after the records began (then, until a record says otherwise,
 * it has been off all along), 0 when it may have been running. */
void switch_state_init(struct switch_state *st, uint64_t open_ns, int off_known);

/* Applies the records in [tail, head) of a ring's data area (size bytes,
 * a power of two; positions count bytes from its start, modulo size).
 * Malformed, lost or out-of-order records (one dated before open_ns, or
 * before the one before) set st->lost, and the rest is skipped.
 * Returns the position read up to: head. */
uint64_t switch_records_apply(struct switch_state *st, const uint8_t *data, size_t size,
                              uint64_t tail, uint64_t head);

/* What st says at now: *run_ns its CPU time since open_ns, *on whether it
 * is on a CPU, *queued whether it is runnable off one, *ins the times it
 * was put on one. Returns 0, or -EAGAIN when the state is not known (or
 * lost). */
int switch_state_read(const struct switch_state *st, uint64_t now_ns, uint64_t *run_ns, int *on,
                      int *queued, uint64_t *ins);

/* A perf event and its ring, mapped. */
struct switch_ring {
    int fd;                      /* -1: closed */
    void *map;
    size_t map_len, pages;
};

/* One thread's clock: the event writing its switches, and while what it
 * did before its first switch is not known, the probe (a task clock
 * writing a sample every SWITCH_SAMPLE_NS of its CPU time). */
struct switch_clock {
    struct switch_ring switches;
    struct switch_ring probe;
    pid_t tid;
    struct switch_state state;
};

/* Opens the clock of thread tid (of any process pytop may trace) at
 * now_ns. Returns 0; -EACCES or -EPERM (perf events not allowed here:
 * perf_event_paranoid, a seccomp filter), -ENOSYS or -ENOENT (no perf
 * events in this kernel), -ESRCH (gone), -EMFILE or -ENOMEM (out of
 * descriptors or locked memory), or another -errno; then it holds nothing
 * open. */
int switch_clock_open(struct switch_clock *c, pid_t pid, pid_t tid, uint64_t now_ns);

/* Reads the new records and tells as switch_state_read. */
int switch_clock_read(struct switch_clock *c, uint64_t now_ns, uint64_t *run_ns, int *on,
                      int *queued, uint64_t *ins);

/* After records were lost: from now_ns on, as if just opened (not known
 * until a record comes; the probe opened again). */
void switch_clock_restart(struct switch_clock *c, uint64_t now_ns);

void switch_clock_close(struct switch_clock *c);   /* idempotent */

#endif
