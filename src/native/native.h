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
 * use out either way; -ENOMEM. The thread is never left stopped.
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

#endif
