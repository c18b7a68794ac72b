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
 * loop: less detail, never a wrong order. */
#ifndef PYTOP_NATIVE_MERGE_H
#define PYTOP_NATIVE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "python/walk.h"

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

#endif
