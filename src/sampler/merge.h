/* Merging a thread's native (C) frames with its Python frames.
 *
 * Each call of the interpreter's eval loop on the C stack ran one group
 * of Python frames: up to 3.10 exactly one frame, from 3.11 every frame
 * up to and including the next entry frame (struct py_frame.entry). The
 * merge replaces the n-th eval-loop frame, counted from the innermost,
 * with the n-th group, so C frames of extension modules land between the
 * Python frame that called them and the Python frames they called back.
 *
 * By default the interpreter's other C frames are folded away, as are
 * the C runtime's frames outside the outermost eval loop (process and
 * thread start-up); keep_all keeps every frame, eval loops included.
 * When the number of eval loops and groups differ (the Python stack was
 * read at a slightly different moment than the C stack), the result is
 * the Python frames and the native frames outside the outermost eval
 * loop: less detail, never a wrong order.
 *
 * It lives in sampler/, the one layer that sees both native/ (which knows
 * nothing of Python) and python/ (which knows nothing of C stacks). */
#ifndef PYTOP_SAMPLER_MERGE_H
#define PYTOP_SAMPLER_MERGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "native/native.h"
#include "python/walk.h"

/* One frame of a merged stack, innermost first: a Python frame (py >= 0,
 * an index into the thread's frames) or a native one (py < 0). */
struct merged_frame {
    int32_t py;
    const char *function;      /* native only; borrowed from the symbolizer */
    const char *file;
};

struct merged_stack {
    struct merged_frame *frames;
    size_t n, cap;
    int mismatch;              /* the counts differed: the fallback was used */
    int error;                 /* 0, or why the C frames are missing (negative error) */
    /* Its C stack was in take_gil, inside the innermost eval loop: the
     * thread waited for the GIL (0: not seen, which says nothing where
     * take_gil was inlined into its callers). */
    int in_take_gil;
};

void merged_stack_init(struct merged_stack *m);
void merged_stack_release(struct merged_stack *m);

/* Python frames only, as the stack is without --native. */
int merged_stack_python_only(struct merged_stack *m, size_t npy);

/* Merge native (innermost first, nnat) with the thread's Python frames
 * py (innermost first, npy) into m (reset first). Returns 0 or -ENOMEM. */
int native_merge(const struct native_frame *native, size_t nnat, const struct py_frame *py,
                 size_t npy, int keep_all, struct merged_stack *m);

/* Unwind thread tid (native_stacks_unwind) and merge its C frames with
 * py (its Python frames, innermost first) into out. Returns 0; or, when
 * the thread could not be unwound, the error (-ESRCH gone, -EPERM not
 * allowed or already traced, -ETIMEDOUT) with out holding the Python
 * frames alone, so the caller can use out either way;
 * -PT_ERR_NATIVE_MISMATCH when the C frames could not be placed among the
 * Python ones (out: the Python frames, then the C frames outside every
 * eval loop); -ENOMEM. out->error is the same error (0 on success). The
 * thread is never left stopped.
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

#endif
