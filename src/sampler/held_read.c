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
