#include "config.h"

#include "sampler/merge.h"

#include "core/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void merged_stack_init(struct merged_stack *m)
{
    memset(m, 0, sizeof *m);
}

void merged_stack_release(struct merged_stack *m)
{
    free(m->frames);
    memset(m, 0, sizeof *m);
}

static int push(struct merged_stack *m, int32_t py, const char *function, const char *file)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct merged_frame *f = realloc(m->frames, cap * sizeof *f);
        if (!f)
            return -ENOMEM;
        m->frames = f;
        m->cap = cap;
    }
    m->frames[m->n++] = (struct merged_frame){ py, function, file };
    return 0;
}

static int push_native(struct merged_stack *m, const struct native_frame *f)
{
    return push(m, -1, f->function, f->file);
}

int merged_stack_python_only(struct merged_stack *m, size_t npy)
{
    m->n = 0;
    m->mismatch = 0;
    m->error = 0;
    m->in_take_gil = 0;
    for (size_t i = 0; i < npy; i++)
        if (push(m, (int32_t)i, NULL, NULL) != 0)
            return -ENOMEM;
    return 0;
}

/* Groups of Python frames, one per eval-loop call: each ends with an
 * entry frame; frames after the last entry (a walk cut short) make one
 * more, incomplete, group. */
static size_t count_groups(const struct py_frame *py, size_t npy)
{
    size_t g = 0;
    for (size_t i = 0; i < npy; i++)
        g += py[i].entry != 0;
    if (npy && !py[npy - 1].entry)
        g++;
    return g;
}

int native_merge(const struct native_frame *native, size_t nnat, const struct py_frame *py,
                 size_t npy, int keep_all, struct merged_stack *m)
{
    m->n = 0;
    m->mismatch = 0;
    m->error = 0;
    m->in_take_gil = 0;
    size_t evals = 0, outer_eval = 0;
    int have_eval = 0;
    /* The GIL is taken by take_gil (3.2+; a suffix when the compiler made
     * a copy: take_gil.lto_priv.0), called from code the innermost eval
     * loop runs: only frames inside it count. */
    for (size_t i = 0; i < nnat && native[i].kind != NATIVE_FRAME_EVAL; i++) {
        const char *f = native[i].function;
        if (f && strncmp(f, "take_gil", 8) == 0 && (f[8] == '\0' || f[8] == '.'))
            m->in_take_gil = 1;
    }
    for (size_t i = 0; i < nnat; i++) {
        if (native[i].kind == NATIVE_FRAME_EVAL) {
            evals++;
            outer_eval = i;
            have_eval = 1;
        }
    }
    size_t groups = count_groups(py, npy);

    if (groups && evals != groups) {
        /* Torn: the Python frames as read, then only what lies outside
         * every eval loop, which did not move. */
        int take_gil = m->in_take_gil;   /* of the C stack, which is whole */
        if (merged_stack_python_only(m, npy) != 0)
            return -ENOMEM;
        m->in_take_gil = take_gil;
        m->mismatch = 1;
        for (size_t i = have_eval ? outer_eval + 1 : nnat; i < nnat; i++) {
            enum native_frame_kind k = native[i].kind;
            if ((keep_all || k == NATIVE_FRAME_OTHER) && push_native(m, &native[i]) != 0)
                return -ENOMEM;
        }
        return 0;
    }

    size_t p = 0;   /* next Python frame */
    for (size_t i = 0; i < nnat; i++) {
        const struct native_frame *f = &native[i];
        int keep;
        switch (f->kind) {
        case NATIVE_FRAME_EVAL:
            /* This call's Python frames: through the next entry frame. */
            while (p < npy) {
                int last = py[p].entry != 0;
                if (push(m, (int32_t)p, NULL, NULL) != 0)
                    return -ENOMEM;
                p++;
                if (last)
                    break;
            }
            keep = keep_all;
            break;
        case NATIVE_FRAME_RUNTIME:
            /* libc inside Python code (a sleep, a read) says what the
             * thread waits for; outside it, it only started the thread. */
            keep = keep_all || (have_eval && i < outer_eval);
            break;
        case NATIVE_FRAME_INTERP:
            keep = keep_all;
            break;
        default:
            keep = 1;
            break;
        }
        if (keep && push_native(m, f) != 0)
            return -ENOMEM;
    }
    return 0;
}

/* The largest C frame an eval loop's shim may sit in. */
#define EVAL_FRAME_MAX (1u << 20)

/* Builds whose eval loop has no symbol (a stripped static binary where
 * LTO made a local copy of _PyEval_EvalFrameDefault, as Debian's are):
 * from 3.12 each call of the eval loop keeps its entry shim frame on its
 * own C stack frame, so the interpreter frame whose stack range holds a
 * shim is that call. Used only when no frame is named as the eval loop. */
static void eval_by_shims(struct native_frame *frames, const uint64_t *sps, size_t n,
                          const struct py_frame *py, size_t npy)
{
    for (size_t i = 0; i < n; i++)
        if (frames[i].kind == NATIVE_FRAME_EVAL)
            return;
    size_t i = 0;
    for (size_t k = 0; k < npy; k++) {
        uint64_t shim = py[k].shim;
        if (!shim)
            continue;
        /* Frame i's locals lie between its stack pointer and its caller's. */
        for (; i < n; i++) {
            uint64_t lo = sps[i];
            uint64_t hi = i + 1 < n ? sps[i + 1] : lo + EVAL_FRAME_MAX;
            if (lo && lo <= shim && shim < hi && hi - lo <= EVAL_FRAME_MAX) {
                if (frames[i].kind == NATIVE_FRAME_INTERP)
                    frames[i].kind = NATIVE_FRAME_EVAL;
                i++;
                break;
            }
        }
    }
}

/* The Python frames read again while the thread is held. */
struct again_call {
    native_again_fn fn;
    void *ctx;
    const struct py_frame *py;
    size_t npy;
};

static void held_again(void *arg)
{
    struct again_call *a = arg;
    const struct py_frame *py;
    size_t npy;
    if (a->fn(a->ctx, &py, &npy) == 0) {
        a->py = py;
        a->npy = npy;
    }
}

int native_stacks_thread(struct native_stacks *ns, pid_t tid, const struct py_frame *py,
                         size_t npy, native_again_fn again, void *ctx,
                         struct merged_stack *out)
{
    struct again_call a = { again, ctx, py, npy };
    struct native_frame *frames = NULL;
    const uint64_t *sps = NULL;
    size_t n = 0;
    int rc = native_stacks_unwind(ns, tid, again ? held_again : NULL, &a, &frames, &sps, &n);
    py = a.py;
    npy = a.npy;
    if (rc) {
        if (merged_stack_python_only(out, npy) != 0)
            return -ENOMEM;
        out->error = rc;
        return rc;
    }
    eval_by_shims(frames, sps, n, py, npy);
    if (native_merge(frames, n, py, npy, native_stacks_keep_all(ns), out) != 0)
        return -ENOMEM;
    if (out->mismatch) {
        /* The C frames could not be placed among the Python ones (no
         * eval-loop frame found per Python call): said, not hidden. */
        native_stacks_count_mismatch(ns);
        out->error = -PT_ERR_NATIVE_MISMATCH;
        return out->error;
    }
    return 0;
}
