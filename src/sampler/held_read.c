#include "config.h"

#include "sampler/held_read.h"

#include "core/error.h"
#include "proc/tasks.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

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
 * point). Waits until it is not runnable (it went on to wait: a moment it
 * can be read at) or its CPU time moved, LET_RUN_MIN_NS at least and
 * LET_RUN_MAX_NS at most. The kernel adds a running thread's CPU time up
 * at its ticks and switches only, so a thread that ran may not show it:
 * the next hold is made either way, and NATIVE_HOLD_TRIES bounds them. */
#define LET_RUN_MIN_NS 100000ull
#define LET_RUN_MAX_NS 1000000ull
#define LET_RUN_STEP_NS 50000ull

static void let_run(pid_t tid)
{
    char state;
    if (proc_task_state(tid, tid, &state) != 0 || state != 'R')
        return;
    struct proc_task_cpu c;
    uint64_t before, now;
    if (proc_task_cpu_open(tid, tid, &c) != 0)
        return;
    if (proc_task_cpu_read(&c, &before) == 0) {
        struct timespec pause = { 0, (long)LET_RUN_STEP_NS };
        for (uint64_t waited = 0; waited < LET_RUN_MAX_NS; waited += LET_RUN_STEP_NS) {
            nanosleep(&pause, NULL);
            if (waited + LET_RUN_STEP_NS >= LET_RUN_MIN_NS &&
                (proc_task_cpu_read(&c, &now) != 0 || now != before))
                break;
        }
    }
    proc_task_cpu_close(&c);
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

/* 1 when rc says the thread was held (its C frames read), whatever the
 * merge made of them. */
static int held_ok(int rc)
{
    return rc == 0 || rc == -PT_ERR_NATIVE_MISMATCH;
}

int native_stacks_thread_of(struct native_stacks *ns, struct py_walker *w, struct py_sample *s,
                            size_t index, struct merged_stack *out)
{
    const struct py_thread *t = &s->threads[index];
    const struct py_frame *frames = t->nframes ? &s->frames[t->first_frame] : NULL;
    struct rewalk r = { w, s, index, 0 };
    int rc = 0, cut = 1;
    for (int tries = 0; tries < NATIVE_HOLD_TRIES; tries++) {
        r.ok = 0;
        rc = native_stacks_thread(ns, t->tid, frames, t->nframes, rewalk, &r, out);
        if (!held_ok(rc))
            break;
        /* A failed read while held is as cut as a stack ending mid-switch. */
        cut = !r.ok || py_thread_cut(w, s, index);
        /* C frames that did not match whole Python ones were most often
         * caught between a call of the eval loop and its frame's push:
         * worth one more hold (not more: a build whose C stacks never
         * match would pay them on every thread). */
        int again = cut || (rc == -PT_ERR_NATIVE_MISMATCH && tries == 0);
        if (!again || tries + 1 == NATIVE_HOLD_TRIES)
            break;
        let_run(t->tid);
        w->retries++;   /* read again, as the walker counts its own re-reads */
    }
    if (rc == -ENOMEM || (held_ok(rc) && !cut))
        return rc;
    /* Not held, or caught mid frame switch in every hold: C frames and
     * Python frames of one moment are not to be had. The Python frames
     * are read as the thread runs (with the walker's own re-reads), alone. */
    if (held_ok(rc))
        rc = -PT_ERR_TORN;
    const struct py_frame *py;
    size_t npy;
    if (rewalk_as(&r, &py, &npy, 0) != 0)
        npy = s->threads[index].nframes;   /* as the last read left them */
    if (merged_stack_python_only(out, npy) != 0)
        return -ENOMEM;
    out->error = rc;
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
        if (rc == 0 && py_thread_cut(w, s, index))
            rc = -PT_ERR_TORN;
        /* A hold that failed (gone, denied, too slow to stop) fails again. */
        int hold_failed = rc != 0 && pause == 0;
        if (rc == 0 || hold_failed || tries + 1 == NATIVE_HOLD_TRIES)
            break;
        let_run(s->threads[index].tid);
        w->retries++;
    }
    /* A thread it fails for keeps its error; one caught mid frame switch
     * in every hold is read as it runs, with the walker's own re-reads. */
    if (rc != 0)
        (void)read_again(&r, index, 0);
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
        int cut = results[i] == 0 ? py_thread_cut(w, s, i)
                                  : pauses[i] != 0 && results[i] != -ENOMEM;
        if (cut) {
            /* Caught mid frame switch (or its read failed while held):
             * once more on its own, after it ran. */
            uint64_t pause;
            let_run(s->threads[i].tid);
            w->retries++;
            results[i] = native_hold_read(h, w, s, i, &pause);
            pauses[i] += pause;
        } else if (results[i] != 0) {
            (void)read_again(&r, i, 0);   /* a thread it fails for keeps its error */
        }
    }
    return 0;
}
