#include "config.h"

#include "native/native.h"

#include "core/error.h"
#include "native/symbolize.h"
#include "native/unwind.h"
#include "proc/tasks.h"

#include <errno.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

struct native_stacks {
    struct native_symbols *syms;
    struct native_unwinder *unwinder;
    const char *eval_name;          /* the eval loop's symbol */
    int keep_all;
    uint64_t ips[NATIVE_MAX_FRAMES];
    uint64_t sps[NATIVE_MAX_FRAMES];
    struct native_frame frames[NATIVE_MAX_FRAMES];
    struct native_stats stats;
};

int native_stacks_new(pid_t pid, const char *interp_path, int py_major, int keep_all,
                      struct native_stacks **out)
{
    struct native_stacks *ns = calloc(1, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    /* 2.7 runs each frame in PyEval_EvalFrameEx; 3.x calls
     * _PyEval_EvalFrameDefault (PyEval_EvalFrameEx, where it still exists,
     * only forwards to it). */
    ns->eval_name = py_major == 2 ? "PyEval_EvalFrameEx" : "_PyEval_EvalFrameDefault";
    ns->keep_all = keep_all;
    int rc = native_symbols_new(pid, interp_path, ns->eval_name, &ns->syms);
    if (rc == 0)
        rc = native_unwinder_new(pid, ns->syms, &ns->unwinder);
    if (rc) {
        native_stacks_free(ns);
        return rc;
    }
    *out = ns;
    return 0;
}

void native_stacks_set_cancel(struct native_stacks *ns, const atomic_int *cancel)
{
    native_unwinder_set_cancel(ns->unwinder, cancel);
}

void native_stacks_free(struct native_stacks *ns)
{
    if (!ns)
        return;
    native_unwinder_free(ns->unwinder);
    native_symbols_free(ns->syms);
    free(ns);
}

void native_stacks_begin_sample(struct native_stacks *ns)
{
    native_symbols_begin_sample(ns->syms);
}

/* The eval loop's symbol, or a part the compiler split off it
 * ("_PyEval_EvalFrameDefault.cold"). */
static int is_eval(const char *function, const char *eval)
{
    size_t n = strlen(eval);
    return strncmp(function, eval, n) == 0 && (function[n] == '\0' || function[n] == '.');
}

static void symbolize(struct native_stacks *ns, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct native_frame *f = &ns->frames[i];
        /* A return address may be the first byte after a call that never
         * returns, so look up the call itself. */
        uint64_t ip = i ? ns->ips[i] - 1 : ns->ips[i];
        struct native_object *o = native_symbols_object(ns->syms, ip);
        const char *name = o ? native_symbols_function(ns->syms, o, ip) : NULL;
        f->function = name ? name : "[unknown]";
        f->file = o ? o->path : "";
        f->kind = NATIVE_FRAME_OTHER;
        if (!o)
            continue;
        if (o->kind == NATIVE_OBJ_INTERP)
            f->kind = name && is_eval(name, ns->eval_name) ? NATIVE_FRAME_EVAL
                                                           : NATIVE_FRAME_INTERP;
        else if (o->kind == NATIVE_OBJ_RUNTIME)
            f->kind = NATIVE_FRAME_RUNTIME;
    }
}

/* The largest C frame an eval loop's shim may sit in. */
#define EVAL_FRAME_MAX (1u << 20)

/* Builds whose eval loop has no symbol (a stripped static binary where
 * LTO made a local copy of _PyEval_EvalFrameDefault, as Debian's are):
 * from 3.12 each call of the eval loop keeps its entry shim frame on its
 * own C stack frame, so the interpreter frame whose stack range holds a
 * shim is that call. Used only when no frame is named as the eval loop. */
static void eval_by_shims(struct native_stacks *ns, size_t n, const struct py_frame *py,
                          size_t npy)
{
    for (size_t i = 0; i < n; i++)
        if (ns->frames[i].kind == NATIVE_FRAME_EVAL)
            return;
    size_t i = 0;
    for (size_t k = 0; k < npy; k++) {
        uint64_t shim = py[k].shim;
        if (!shim)
            continue;
        /* Frame i's locals lie between its stack pointer and its caller's. */
        for (; i < n; i++) {
            uint64_t lo = ns->sps[i];
            uint64_t hi = i + 1 < n ? ns->sps[i + 1] : lo + EVAL_FRAME_MAX;
            if (lo && lo <= shim && shim < hi && hi - lo <= EVAL_FRAME_MAX) {
                if (ns->frames[i].kind == NATIVE_FRAME_INTERP)
                    ns->frames[i].kind = NATIVE_FRAME_EVAL;
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
    ns->stats.threads++;
    size_t n = 0;
    struct again_call a = { again, ctx, py, npy };
    int rc = tid > 0 ? native_unwind_thread(ns->unwinder, tid, ns->ips, ns->sps,
                                            NATIVE_MAX_FRAMES, &n, again ? held_again : NULL, &a)
                     : -ESRCH;
    py = a.py;
    npy = a.npy;
    if (rc) {
        ns->stats.failures++;
        if (rc == -EPERM)
            ns->stats.denied++;
        if (merged_stack_python_only(out, npy) != 0)
            return -ENOMEM;
        out->error = rc;
        return rc;
    }
    ns->stats.unwinds++;
    symbolize(ns, n);
    eval_by_shims(ns, n, py, npy);
    if (native_merge(ns->frames, n, py, npy, ns->keep_all, out) != 0)
        return -ENOMEM;
    if (out->mismatch) {
        /* The C frames could not be placed among the Python ones (no
         * eval-loop frame found per Python call): said, not hidden. */
        ns->stats.mismatches++;
        out->error = -PT_ERR_NATIVE_MISMATCH;
        return out->error;
    }
    return 0;
}

/* native_again_fn over a walker's sample. */
struct rewalk {
    struct py_walker *walker;
    struct py_sample *sample;
    size_t index;
    int ok;                      /* the frames were read */
};

/* Thread i read again; held: while it is stopped (one walk: the walker's
 * own re-reads could not see it move; a new hold does instead). */
static int read_again(struct rewalk *r, size_t i, int held)
{
    r->walker->held = held;
    int rc = py_walk_thread_again(r->walker, r->sample, i);
    r->walker->held = 0;
    return rc;
}

static int rewalk_as(struct rewalk *r, const struct py_frame **py, size_t *npy, int held)
{
    int rc = read_again(r, r->index, held);
    if (rc)
        return rc;
    r->ok = 1;
    const struct py_thread *t = &r->sample->threads[r->index];
    *py = t->nframes ? &r->sample->frames[t->first_frame] : NULL;
    *npy = t->nframes;
    return 0;
}

static int rewalk(void *arg, const struct py_frame **py, size_t *npy)
{
    return rewalk_as(arg, py, npy, 1);
}

/* Before holding a thread again: let it run on (on a busy machine it may
 * not have run since it was let go, and would be caught at the same
 * point). Returns 1 when holding it again may read something else: it
 * is not runnable (it went on to wait: a moment it can be read at), or
 * its CPU time moved within LET_RUN_MAX_NS; 0 when it did not run. */
#define LET_RUN_MAX_NS 2000000ull

static int let_run(pid_t tid)
{
    char state;
    if (proc_task_state(tid, tid, &state) != 0)
        return 0;
    if (state != 'R')
        return 1;
    struct proc_task_cpu c;
    uint64_t before, now;
    int ran = 0;
    if (proc_task_cpu_open(tid, tid, &c) != 0)
        return 0;
    if (proc_task_cpu_read(&c, &before) == 0) {
        struct timespec pause = { 0, 50000 };
        for (uint64_t waited = 0; waited < LET_RUN_MAX_NS && !ran; waited += 50000) {
            nanosleep(&pause, NULL);
            ran = proc_task_cpu_read(&c, &now) == 0 && now != before;
        }
    }
    proc_task_cpu_close(&c);
    return ran;
}

int py_thread_cut(const struct py_walker *w, const struct py_sample *s, size_t index)
{
    const struct py_thread *t = &s->threads[index];
    /* A pointer read mid-switch (3.11's new cframe before its
     * current_frame is set) fails the walk; a safety bound is no moment's. */
    if (t->error)
        return t->error != -PT_ERR_TRUNCATED;
    int v311 = w->layout.frame_is_entry >= 0 || w->layout.frame_owner >= 0;
    if (!v311 || t->nframes == 0)
        return 0;
    return !s->frames[t->first_frame + t->nframes - 1].entry;
}

int native_stacks_thread_of(struct native_stacks *ns, struct py_walker *w, struct py_sample *s,
                            size_t index, struct merged_stack *out)
{
    const struct py_thread *t = &s->threads[index];
    const struct py_frame *frames = t->nframes ? &s->frames[t->first_frame] : NULL;
    struct rewalk r = { w, s, index, 0 };
    int rc = 0;
    for (int tries = 0; tries < NATIVE_HOLD_TRIES; tries++) {
        r.ok = 0;
        rc = native_stacks_thread(ns, t->tid, frames, t->nframes, rewalk, &r, out);
        if (rc != 0 || !r.ok || !py_thread_cut(w, s, index) ||
            tries + 1 == NATIVE_HOLD_TRIES || !let_run(t->tid))
            break;
        w->retries++;   /* read again, as the walker counts its own re-reads */
    }
    if (rc == -ENOMEM || r.ok)
        return rc;
    const struct py_frame *py;
    size_t npy;
    if (rewalk_as(&r, &py, &npy, 0) == 0) {
        if (merged_stack_python_only(out, npy) != 0)
            return -ENOMEM;
        out->error = rc;
    }
    return rc;
}

static int read_held(void *arg)
{
    struct rewalk *r = arg;
    return read_again(r, r->index, 1);
}

int native_hold_read(struct thread_hold *h, struct py_walker *w, struct py_sample *s,
                     size_t index, uint64_t *pause_ns)
{
    struct rewalk r = { w, s, index, 0 };
    *pause_ns = 0;
    int rc = 0;
    for (int tries = 0; tries < NATIVE_HOLD_TRIES; tries++) {
        uint64_t pause;
        rc = thread_hold_run(h, s->threads[index].tid, read_held, &r, &pause);
        *pause_ns += pause;
        if (rc != 0 || !py_thread_cut(w, s, index) ||
            tries + 1 == NATIVE_HOLD_TRIES || !let_run(s->threads[index].tid))
            break;
        w->retries++;
    }
    if (rc != 0)
        (void)read_again(&r, index, 0);   /* a thread it fails for keeps its error */
    return rc;
}

static int read_each(void *arg, size_t i)
{
    struct rewalk *r = arg;
    return read_again(r, i, 1);
}

int native_hold_read_all(struct thread_hold *h, struct py_walker *w, struct py_sample *s,
                         int *results, uint64_t *pauses, uint64_t *span_ns)
{
    pid_t *tids = malloc((s->nthreads ? s->nthreads : 1) * sizeof *tids);
    if (!tids)
        return -ENOMEM;
    for (size_t i = 0; i < s->nthreads; i++)
        tids[i] = s->threads[i].tid;
    struct rewalk r = { w, s, 0, 0 };
    int rc = thread_hold_all(h, tids, s->nthreads, read_each, &r, results, pauses, span_ns);
    free(tids);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->nthreads; i++) {
        if (results[i] == 0 && py_thread_cut(w, s, i)) {
            /* Caught mid frame switch: once more on its own, after it ran. */
            uint64_t pause;
            if (!let_run(s->threads[i].tid))
                continue;
            w->retries++;
            results[i] = native_hold_read(h, w, s, i, &pause);
            pauses[i] += pause;
        } else if (results[i] != 0) {
            (void)read_again(&r, i, 0);   /* a thread it fails for keeps its error */
        }
    }
    return 0;
}

void native_stacks_stats(const struct native_stacks *ns, struct native_stats *out)
{
    struct native_unwind_stats u;
    native_unwinder_stats(ns->unwinder, &u);
    unsigned long listings;
    *out = ns->stats;
    out->truncated = u.truncated;
    out->remote_reads = u.page_reads;
    out->held_ns = u.held_ns;
    out->stop_wait_ns = u.stop_wait_ns;
    native_symbols_counts(ns->syms, &listings, &out->files);
}

uint64_t native_stacks_paused_ns(const struct native_stacks *ns)
{
    struct native_unwind_stats u;
    native_unwinder_stats(ns->unwinder, &u);
    return u.stop_wait_ns + u.held_ns;
}
