/* Native frames for one target process: unwinding, symbols and merging
 * behind one call per thread, for the sampler and --dump.
 *
 * Per sample: native_stacks_begin_sample(), then native_stacks_thread()
 * for each thread whose Python frames were just walked. Names in the
 * merged stacks belong to the symbol cache and stay valid until the next
 * native_stacks_begin_sample() or native_stacks_free(). */
#ifndef PYTOP_NATIVE_NATIVE_H
#define PYTOP_NATIVE_NATIVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "native/hold.h"
#include "native/merge.h"
#include "python/walk.h"

struct native_stacks;   /* opaque */

struct native_stats {
    unsigned long threads;       /* native_stacks_thread calls */
    unsigned long unwinds;       /* threads unwound */
    unsigned long failures;      /* threads left Python-only (gone, denied, timed out) */
    unsigned long denied;        /* of which: not allowed, or traced by someone else */
    unsigned long mismatches;    /* merges that fell back (C and Python stacks torn) */
    unsigned long truncated;     /* C stacks cut at NATIVE_MAX_FRAMES */
    unsigned long remote_reads;  /* process_vm_readv calls for unwinding */
    uint64_t stop_wait_ns;       /* total time threads took to stop once interrupted */
    uint64_t held_ns;            /* total time threads were stopped (stop to detach) */
    unsigned long files;         /* object files read for symbols */
};

/* interp_path is the file holding the interpreter (struct py_target's
 * binary), py_major its major version (2 or 3: which eval-loop function
 * runs Python frames); keep_all keeps the interpreter's own frames.
 * Returns 0, -EOPNOTSUPP (built without libunwind, or not
 * x86-64), -ESRCH, -EACCES, -ENOMEM. */
int native_stacks_new(pid_t pid, const char *interp_path, int py_major, int keep_all,
                      struct native_stacks **out);
void native_stacks_free(struct native_stacks *ns);   /* NULL is fine */

void native_stacks_begin_sample(struct native_stacks *ns);

/* A stop request that cuts a wait for a thread short (see
 * native_unwinder_set_cancel); threads are then left unheld
 * (-ECANCELED). NULL: none. */
void native_stacks_set_cancel(struct native_stacks *ns, const atomic_int *cancel);

/* Unwind thread tid and merge its C frames with py (its Python frames,
 * innermost first) into out. Returns 0; or, when the thread could not be
 * unwound, the error (-ESRCH gone, -EPERM not allowed or already traced,
 * -ETIMEDOUT) with out holding the Python frames alone, so the caller can
 * use out either way; -PT_ERR_NATIVE_MISMATCH when the C frames could not
 * be placed among the Python ones (out: the Python frames, then the C
 * frames outside every eval loop); -ENOMEM. out->error is the same error
 * (0 on success). The thread is never left stopped.
 *
 * again, when not NULL, is called with ctx while the thread is held and
 * may give its Python frames as they are at that moment (returning 0 and
 * new py, npy); they are then merged instead of py, so C and Python
 * frames are of one moment even if the thread moved on since py was
 * read. */
typedef int (*native_again_fn)(void *ctx, const struct py_frame **py, size_t *npy);
int native_stacks_thread(struct native_stacks *ns, pid_t tid, const struct py_frame *py,
                         size_t npy, native_again_fn again, void *ctx,
                         struct merged_stack *out);

/* The call the sampler and --dump make: thread index of s (from w's latest
 * py_walk, which may have listed threads only). Its Python frames are read
 * again while it is held (py_walk_thread_again), so C and Python frames
 * are of one moment; a thread that cannot be held, or whose frames could
 * not be read then, gets them read without holding it, and out holds them
 * alone. Returns as native_stacks_thread. */
int native_stacks_thread_of(struct native_stacks *ns, struct py_walker *w, struct py_sample *s,
                            size_t index, struct merged_stack *out);

void native_stacks_stats(const struct native_stacks *ns, struct native_stats *out);

/* Holds a thread may take to read as whole: CPython switches frames with
 * plain stores the compiler may order either way, so a thread stopped
 * between two of them shows a frame cut from its caller (from 3.11: an
 * outermost frame the eval loop was not entered for) or a pointer not
 * yet set. Such a read is made again in a new hold, once the thread ran. */
#define NATIVE_HOLD_TRIES 3

/* 1 when thread index of s (read by w) looks caught mid-switch: its walk
 * failed (other than at a safety bound), or (3.11+) it ends in a frame
 * the eval loop was not entered for; 0 otherwise. */
int py_thread_cut(const struct py_walker *w, const struct py_sample *s, size_t index);

/* --blocking without --native: hold thread index of s (from w's latest
 * py_walk, which may have listed threads only) and read its Python frames
 * while it is held, again in a new hold while the read is cut (up to
 * NATIVE_HOLD_TRIES holds). A thread that cannot be held is read as it
 * runs, and the hold's error returned (-ESRCH, -EPERM, -ETIMEDOUT; or the
 * read's own); 0 when it was held. *pause_ns gets the time it was held
 * in all (0 when never). */
int native_hold_read(struct thread_hold *h, struct py_walker *w, struct py_sample *s,
                     size_t index, uint64_t *pause_ns);

/* The same for every thread of s, held together (thread_hold_all): their
 * stops overlap, so a sample takes about the slowest stop, not their sum.
 * results[i] and pauses[i] per thread as native_hold_read's, *span_ns
 * from the first interrupt to the last detach. Returns 0 or -ENOMEM. */
int native_hold_read_all(struct thread_hold *h, struct py_walker *w, struct py_sample *s,
                         int *results, uint64_t *pauses, uint64_t *span_ns);

/* Total time threads were kept from running so far, interrupt to detach
 * (stop_wait_ns + held_ns): its change over a call is that call's pause. */
uint64_t native_stacks_paused_ns(const struct native_stacks *ns);

#endif
