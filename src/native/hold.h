/* Holding one thread of another process still for a moment, with ptrace:
 * the hold --native unwinds C stacks in and --blocking reads Python
 * frames in.
 *
 * A thread is seized (PTRACE_SEIZE, never PTRACE_ATTACH), interrupted
 * (PTRACE_INTERRUPT), waited for with a time bound, given to the caller's
 * function and detached at once, on every path. A seized thread is never
 * sent SIGSTOP, so if pytop dies at any moment the kernel detaches it and
 * it runs on; a thread that does not stop in time keeps its interrupt
 * pending and is detached as soon as it reports the stop.
 *
 * Only a task of the target process (/proc/PID/task/TID) is ever held:
 * an id misread, or one of another PID namespace, never stops an
 * unrelated process. A stop request (thread_hold_set_cancel) ends a wait
 * within WAIT_SLICE_NS (20 ms) and holds no further thread. */
#ifndef PYTOP_NATIVE_HOLD_H
#define PYTOP_NATIVE_HOLD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct thread_hold;   /* opaque */

struct thread_hold_stats {
    unsigned long holds;          /* threads held */
    unsigned long gone;           /* threads that exited before they could be held, or
                                     are not tasks of the target */
    unsigned long denied;         /* seize refused (EPERM: not allowed, or already traced) */
    unsigned long timeouts;       /* threads that did not stop in time */
    uint64_t stop_wait_ns;        /* total time from the interrupt to the stop */
    uint64_t held_ns;             /* total time threads were stopped (stop to detach) */
};

/* A hold for the threads of process pid. 0 or -ENOMEM. */
int thread_hold_new(pid_t pid, struct thread_hold **out);
/* Frees, after one last wait, 0.2 s for all of them together, for the
 * threads that did not stop in time (so they are detached, not left
 * traced; the kernel detaches any left when pytop exits). NULL is fine. */
void thread_hold_free(struct thread_hold *h);

/* Called while the thread is stopped; keep it short. Its return is
 * thread_hold_run's. */
typedef int (*thread_held_fn)(void *ctx);

/* Hold thread tid, call fn(ctx) and let the thread go. Returns fn's
 * result, or -ESRCH (the thread or process is gone, or tid is not one of
 * its tasks), -EPERM (not allowed, or already traced by someone else),
 * -ETIMEDOUT (it did not stop in time), -ECANCELED (a stop request),
 * without calling fn. *pause_ns (when not NULL) gets how
 * long the thread was kept from running, from the interrupt to the
 * detach (an upper bound: it may still run a little after the
 * interrupt); 0 when fn was not called. */
int thread_hold_run(struct thread_hold *h, pid_t tid, thread_held_fn fn, void *ctx,
                    uint64_t *pause_ns);

/* Hold threads tids[0..n) together: all are interrupted first, so their
 * stops overlap, then each in turn, once stopped, is given to fn(ctx, i)
 * and let go at once (a thread stopped before its turn waits for the
 * calls before it). results[i] gets fn's result or the hold's error as
 * thread_hold_run's, pauses[i] its pause as thread_hold_run's (0 when
 * not held), *span_ns the time from the first interrupt to the last
 * detach (0 when none was held). One bound covers all the stops. After
 * a stop request, every thread not yet given to fn is let go unread
 * (-ECANCELED). Returns 0 or -ENOMEM (nothing held then). */
typedef int (*thread_held_each_fn)(void *ctx, size_t i);
int thread_hold_all(struct thread_hold *h, const pid_t *tids, size_t n, thread_held_each_fn fn,
                    void *ctx, int *results, uint64_t *pauses, uint64_t *span_ns);

/* A flag owned by the caller (the sampler's stop request, set from a
 * signal handler or another thread). While it is set no thread is held
 * (-ECANCELED), and a wait for a thread to stop ends within a slice: the
 * thread is let go unread, at once or, if it has not stopped yet, when it
 * reports (as one that did not stop in time, but not counted as a
 * timeout). NULL: none. */
void thread_hold_set_cancel(struct thread_hold *h, const atomic_int *cancel);

void thread_hold_stats(const struct thread_hold *h, struct thread_hold_stats *out);

#endif
