/* Unwinding one thread's C stack in another process with libunwind.
 *
 * A thread is held (native/hold.h: seized, interrupted, never sent
 * SIGSTOP, detached on every path) only while its registers and the live
 * part of its stack are copied; the unwind works on the copy after the
 * thread is let go.
 *
 * Memory is read with process_vm_readv through a small page cache (stack
 * pages for one unwind, code and unwind-table pages across unwinds), and
 * each object's .eh_frame_hdr table, found by the symbolizer, is searched
 * by libunwind's DWARF code; libunwind caches the register rules it
 * derives per address across samples. */
#ifndef PYTOP_NATIVE_UNWIND_H
#define PYTOP_NATIVE_UNWIND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "native/symbolize.h"

#define NATIVE_MAX_FRAMES 256

struct native_unwinder;   /* opaque */

struct native_unwind_stats {
    unsigned long unwinds;        /* threads unwound */
    unsigned long gone;           /* threads that exited before they could be held */
    unsigned long denied;         /* seize refused (EPERM: not allowed, or already traced) */
    unsigned long timeouts;       /* threads that did not stop in time */
    unsigned long truncated;      /* stacks cut at NATIVE_MAX_FRAMES */
    unsigned long page_reads;     /* process_vm_readv calls */
    uint64_t stop_wait_ns;        /* total time from the interrupt to the stop */
    uint64_t held_ns;             /* total time threads were stopped (stop to detach) */
};

/* syms is borrowed and must outlive the unwinder. Returns 0,
 * -EOPNOTSUPP on an architecture pytop cannot unwind, -ENOMEM. */
int native_unwinder_new(pid_t pid, struct native_symbols *syms, struct native_unwinder **out);
/* Frees, after one last bounded wait for a thread that did not stop in
 * time (so it is detached, not left traced). NULL is fine. */
void native_unwinder_free(struct native_unwinder *u);

/* Hold thread tid of the target, unwind it and let it go. ips receives
 * the instruction addresses, innermost first (at most cap), and sps, when
 * not NULL, each frame's stack pointer; returns 0 and
 * *n, or -ESRCH (the thread or process is gone), -EPERM (not allowed, or
 * already traced by someone else), -ETIMEDOUT (it did not stop in time),
 * -ECANCELED (a stop request, see native_unwinder_set_cancel),
 * -PT_ERR_BAD_DATA (no frame could be read). The thread is never left
 * held or traced. held, when not NULL, is called with ctx while the
 * thread is stopped, after its registers and stack were copied (to read
 * its Python frames of the same moment); keep it short. */
typedef void (*native_held_fn)(void *ctx);
int native_unwind_thread(struct native_unwinder *u, pid_t tid, uint64_t *ips, uint64_t *sps,
                         size_t cap, size_t *n, native_held_fn held, void *ctx);

/* A stop request that cuts a wait for a thread to stop short and holds no
 * further thread (-ECANCELED); see thread_hold_set_cancel. NULL: none. */
void native_unwinder_set_cancel(struct native_unwinder *u, const atomic_int *cancel);

void native_unwinder_stats(const struct native_unwinder *u, struct native_unwind_stats *out);

#endif
