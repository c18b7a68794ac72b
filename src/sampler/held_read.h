/* Reading a thread's Python frames while it is held, alone (--blocking)
 * or with its C frames (--native): the glue between native/ (holding and
 * unwinding threads) and python/ (walking their frames), for the sampler
 * and --dump. A read caught mid frame switch is made again, after the
 * thread ran. */
#ifndef PYTOP_SAMPLER_HELD_READ_H
#define PYTOP_SAMPLER_HELD_READ_H

#include <stddef.h>
#include <stdint.h>

#include "native/hold.h"
#include "native/native.h"
#include "python/walk.h"
#include "sampler/merge.h"

/* The call the sampler and --dump make: thread index of s (from w's latest
 * py_walk, which may have listed threads only). Its Python frames are read
 * again while it is held (py_walk_thread_again), so C and Python frames
 * are of one moment; a read caught mid frame switch is made again in a new
 * hold (up to NATIVE_HOLD_TRIES). A thread that cannot be held, or caught
 * mid-switch in every hold, gets its Python frames read as it runs, and
 * out holds them alone. Returns as native_stacks_thread; -PT_ERR_TORN for
 * a thread caught mid-switch in every hold. */
int native_stacks_thread_of(struct native_stacks *ns, struct py_walker *w, struct py_sample *s,
                            size_t index, struct merged_stack *out);

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
 * while it is held, again in a new hold while the read is cut or failed
 * (up to NATIVE_HOLD_TRIES holds). A thread that cannot be held, or caught
 * mid frame switch in every hold, is read as it runs, and the hold's
 * error returned (-ESRCH, -EPERM, -ETIMEDOUT; -PT_ERR_TORN for the
 * mid-switch one); 0 when its frames were read held. *pause_ns gets the
 * time it was held in all (0 when never). */
int native_hold_read(struct thread_hold *h, struct py_walker *w, struct py_sample *s,
                     size_t index, uint64_t *pause_ns);

/* The same for every thread of s, held together (thread_hold_all): their
 * stops overlap, so a sample takes about the slowest stop, not their sum.
 * results[i] and pauses[i] per thread as native_hold_read's, *span_ns
 * from the first interrupt to the last detach. Returns 0 or -ENOMEM. */
int native_hold_read_all(struct thread_hold *h, struct py_walker *w, struct py_sample *s,
                         int *results, uint64_t *pauses, uint64_t *span_ns);

#endif
