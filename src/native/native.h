/* Native frames for one target process: unwinding and symbols behind one
 * call per thread. The merge with the thread's Python frames is the
 * sampler's (sampler/merge.h), which sees both: native/ knows nothing of
 * Python but the eval loop's symbol name.
 *
 * Per sample: native_stacks_begin_sample(), then native_stacks_unwind()
 * for each thread. Frame names belong to the symbol cache and stay valid
 * until the next native_stacks_begin_sample() or native_stacks_free(). */
#ifndef PYTOP_NATIVE_NATIVE_H
#define PYTOP_NATIVE_NATIVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "native/hold.h"

struct native_stacks;   /* opaque */

enum native_frame_kind {
    NATIVE_FRAME_OTHER,        /* extension modules, libraries: kept */
    NATIVE_FRAME_INTERP,       /* the interpreter's own code: folded */
    NATIVE_FRAME_EVAL,         /* a call of the eval loop: replaced by Python frames */
    NATIVE_FRAME_RUNTIME,      /* libc, libpthread, the loader: folded outside Python */
};

struct native_frame {
    enum native_frame_kind kind;
    const char *function;      /* borrowed; "[unknown]" when there is no symbol */
    const char *file;          /* borrowed; the object's path */
};

struct native_stats {
    unsigned long threads;       /* native_stacks_unwind calls */
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

/* Unwind thread tid and name its frames. held, when not NULL, is called
 * with ctx while the thread is stopped (to read its Python frames at the
 * same moment). On 0, *frames (n of them, innermost first) and *sps (each
 * frame's stack pointer) belong to ns until its next call; the caller may
 * change the frames' kinds (sampler/merge.c marks the eval-loop calls it
 * finds by their shims). Returns 0, or -ESRCH (gone), -EPERM (not allowed
 * or already traced), -ETIMEDOUT, -ECANCELED, -ENOMEM. The thread is never
 * left stopped. */
int native_stacks_unwind(struct native_stacks *ns, pid_t tid, void (*held)(void *ctx), void *ctx,
                         struct native_frame **frames, const uint64_t **sps, size_t *n);

/* Whether the interpreter's own frames are kept (keep_all of _new). */
int native_stacks_keep_all(const struct native_stacks *ns);
/* Count a thread whose C frames could not be placed among its Python
 * frames (the merge, in sampler/, finds it). */
void native_stacks_count_mismatch(struct native_stacks *ns);

void native_stacks_stats(const struct native_stacks *ns, struct native_stats *out);

/* Total time threads were kept from running so far, interrupt to detach
 * (stop_wait_ns + held_ns): its change over a call is that call's pause. */
uint64_t native_stacks_paused_ns(const struct native_stacks *ns);

#endif
