/* One sample of one process: the walk, held reads (--native,
 * --blocking), each thread's times and stack, handed to the sink. */
#include "config.h"

#include "sampler/sampler_internal.h"

#include "core/error.h"
#include "proc/process.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- one round ------------------------------------------------------------------------------ */

static void count_pauses(struct sampler *s, uint64_t total);

/* --native: each thread's C stack, with its Python frames read again
 * while it is held (outside the dictionary lock). A thread that cannot be
 * unwound keeps the Python frames of the walk. Returns 0, 1 when asked to
 * stop meanwhile, or -ENOMEM. */
static int unwind_threads(struct sampler *s, struct proc_track *p)
{
    if (s->ps.nthreads > s->cap_merged) {
        struct merged_stack *m = realloc(s->merged, s->ps.nthreads * sizeof *m);
        if (!m)
            return -ENOMEM;
        for (size_t i = s->cap_merged; i < s->ps.nthreads; i++)
            merged_stack_init(&m[i]);
        s->merged = m;
        s->cap_merged = s->ps.nthreads;
    }
    native_stacks_begin_sample(p->native);
    uint64_t missing = 0, denied = 0, mismatch = 0, switching = 0, total = 0;
    uint64_t paused = native_stacks_paused_ns(p->native);
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        /* Asked to stop: hold no more threads (this sample is dropped). */
        if (atomic_load(&s->stop))
            return 1;
        int rc = native_stacks_thread_of(p->native, &p->target->walker, &s->ps, i, &s->merged[i]);
        if (rc == -ENOMEM)
            return -ENOMEM;
        /* Before 3.15 only the C stack says who waits for the GIL. */
        if (s->merged[i].in_take_gil && !(s->out[i].flags & SAMPLE_GIL))
            s->out[i].flags |= SAMPLE_GIL_WAIT | SAMPLE_GIL_KNOWN;
        missing += rc != 0;
        denied += rc == -EPERM;
        mismatch += rc == -PT_ERR_NATIVE_MISMATCH;
        switching += rc == -PT_ERR_TORN;
        uint64_t now = native_stacks_paused_ns(p->native);
        /* Held even when its C frames did not match the Python ones. */
        s->pauses[i] = rc == 0 || rc == -PT_ERR_NATIVE_MISMATCH ? now - paused : 0;
        total += s->pauses[i];
        paused = now;
    }
    /* A stop request cut the last hold short: drop the sample too. */
    if (atomic_load(&s->stop))
        return 1;
    pthread_mutex_lock(&s->stats_lock);
    s->stats.native_threads += s->ps.nthreads;
    s->stats.native_missing += missing;
    s->stats.native_denied += denied;
    s->stats.native_mismatch += mismatch;
    s->stats.native_switching += switching;
    /* Held or not, as --blocking counts: the C frames are what is missing. */
    s->stats.unheld += missing - mismatch;   /* a mismatch was still held */
    s->stats.unheld_denied += denied;
    s->stats.unheld_switching += switching;
    count_pauses(s, total);
    pthread_mutex_unlock(&s->stats_lock);
    return 0;
}

/* Pauses of the threads held in this sample (s->pauses, 0: not held) and
 * the sample's (threads held one after the other: their sum; together:
 * first interrupt to last detach). With stats_lock held. */
static void count_pauses(struct sampler *s, uint64_t total)
{
    uint64_t held = 0;
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        if (s->pauses[i]) {
            hist_add(&s->stats.pause_thread, s->pauses[i]);
            held++;
        }
    }
    s->stats.held += held;
    if (held)
        hist_add(&s->stats.pause_sample, total);
}

/* --blocking without --native: each thread's frames read while it is
 * held, so they are of one moment. A thread that cannot be held (gone,
 * not allowed, too slow to stop), or caught mid frame switch in every
 * hold, is read as it runs and counted. Returns 0, 1 when asked to stop (no
 * thread is held after that and the sample is dropped), or -ENOMEM. */
static int hold_threads(struct sampler *s, struct proc_track *p)
{
    uint64_t unheld = 0, denied = 0, switching = 0, span;
    if (atomic_load(&s->stop))
        return 1;
    if (native_hold_read_all(p->hold, &p->target->walker, &s->ps, s->hold_results, s->pauses,
                             &span) != 0)
        return -ENOMEM;
    if (atomic_load(&s->stop))
        return 1;
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        int rc = s->hold_results[i];
        if (rc)
            s->pauses[i] = 0;
        unheld += rc != 0;
        denied += rc == -EPERM;
        switching += rc == -PT_ERR_TORN;
    }
    pthread_mutex_lock(&s->stats_lock);
    s->stats.unheld += unheld;
    s->stats.unheld_denied += denied;
    s->stats.unheld_switching += switching;
    count_pauses(s, span);
    pthread_mutex_unlock(&s->stats_lock);
    return 0;
}

/* What a thread's stack in s is (enum stack_kind). */
static enum stack_kind thread_kind(const struct py_sample *s, const struct py_thread *t)
{
    if (t->error == -PT_ERR_TORN)
        return STACK_TORN;
    if (t->error == -PT_ERR_TRUNCATED)
        return STACK_CUT;
    if (t->error)
        return STACK_UNREADABLE;
    for (size_t k = 0; k < t->nframes; k++)
        if (s->frames[t->first_frame + k].code)
            return STACK_WHOLE;
    return STACK_NO_PYTHON;
}

/* 1 when the thread's stack in s keeps a <N frames elided> marker. */
static int thread_elided(const struct py_sample *s, const struct py_thread *t)
{
    return t->nframes > PY_KEEP_INNER && s->frames[t->first_frame + PY_KEEP_INNER].elided;
}

/* With LAZY_WALK_MIN_THREADS threads or more, a sample lists the threads
 * first and reads the frames only of those that ran since the previous
 * sample: a thread that has not run cannot have changed its Python stack.
 * With 1,000 threads mostly waiting that is one thread-state read and one
 * schedstat read per waiting thread, no frame reads and no interning.
 * Below it, one walk reads everything (listing first costs a read more).
 *
 * The frames of the threads that ran (s->still[i] == 0), each read as
 * py_walk would have. A thread whose read fails is marked with its error
 * and gets a "[truncated]" stack, as a walk cut short does. */
static void read_moved_threads(struct sampler *s, struct proc_track *p)
{
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        if (s->still[i])
            continue;
        int rc = py_walk_thread_again(&p->target->walker, &s->ps, i);
        if (rc && !s->ps.threads[i].error)
            s->ps.threads[i].error = rc;
    }
}

/* --async: the process's tasks, read right after its stacks (a running
 * task is found by its coroutine's frame on a thread's stack). Sets each
 * thread's running task (the innermost, should loops nest) and returns
 * how many waiting tasks to sample as entries of their own (wall mode). */
static size_t read_tasks(struct sampler *s, struct proc_track *p)
{
    if (s->ps.nthreads > p->cap_task_on) {
        const struct py_aio_task **t = realloc(p->task_on, s->ps.nthreads * sizeof *t);
        if (!t)
            return 0;
        p->task_on = t;
        p->cap_task_on = s->ps.nthreads;
    }
    for (size_t i = 0; i < s->ps.nthreads; i++)
        p->task_on[i] = NULL;
    if (py_aio_read(p->aio, &p->target->walker, &s->ps, &p->tasks) != 0) {
        p->tasks.ntasks = 0;
        return 0;
    }
    size_t waiting = 0;
    for (size_t k = 0; k < p->tasks.ntasks; k++) {
        const struct py_aio_task *t = &p->tasks.tasks[k];
        if (!t->running) {
            waiting++;
            continue;
        }
        if (t->thread < 0 || (size_t)t->thread >= s->ps.nthreads || s->still[t->thread])
            continue;
        const struct py_aio_task **on = &p->task_on[t->thread];
        if (!*on || t->depth < (*on)->depth)
            *on = t;
    }
    if (!s->cfg.async_waiting)
        return 0;
    /* Room for them after the threads and their carried entries. */
    size_t need = 2 * s->ps.nthreads + waiting;
    if (need > s->len_out) {
        struct sample_thread *o = realloc(s->out, need * sizeof *o);
        if (!o)
            return 0;
        s->out = o;
        s->len_out = need;
    }
    return waiting;
}

/* A waiting task's stand-in tid: from its address, above any real tid. */
static uint32_t task_tid(uint64_t addr)
{
    uint64_t h = (addr >> 4) * 0x9E3779B97F4A7C15ULL;
    return SAMPLE_TASK_TID_BASE | (uint32_t)(h >> 35);
}

/* Each waiting task as an entry of its own after nout: wall time only,
 * its await chain under "<task NAME>". With the dictionary lock held. */
static size_t add_waiting_tasks(struct sampler *s, struct proc_track *p, size_t nout,
                                uint64_t now)
{
    /* The time since the process's previous sample, as a thread's wall
     * time is: a late sample covers more. */
    uint64_t wall = p->tasks_at_ns && now > p->tasks_at_ns ? now - p->tasks_at_ns : s->period_ns;
    p->tasks_at_ns = now;
    for (size_t k = 0; k < p->tasks.ntasks && nout < s->len_out; k++) {
        const struct py_aio_task *t = &p->tasks.tasks[k];
        if (t->running)
            continue;
        struct sample_thread *o = &s->out[nout++];
        memset(o, 0, sizeof *o);
        o->tid = task_tid(t->addr);
        o->flags = SAMPLE_TASK | (t->error ? SAMPLE_PARTIAL : 0);
        o->wall_ns = wall;
        if (stack_table_string(s->dict, t->name, strlen(t->name), &o->name) != 0)
            o->name = 0;
        o->stack = intern_chain(s, p, &p->tasks, t);
    }
    return nout;
}

/* One sample of one process. Returns 0, 1 when the sink asked to stop, or
 * a negative error (-ESRCH: the process is gone). */
int sample_process(struct sampler *s, struct proc_track *p, uint64_t now, uint64_t t,
                   sampler_sink_fn sink, void *ctx)
{
    /* With --native or --blocking each thread's frames are read while it
     * is held. */
    int lazy = p->lazy_walk && !p->native && !p->hold;
    p->target->walker.threads_only = p->native != NULL || p->hold != NULL || lazy;
    /* A thread still torn after immediate re-reads was mostly taken off
     * its CPU mid-change: give it 200 us (measured: halves what stays torn
     * on a loaded machine; about 1 % of samples). A held read makes one
     * walk, without it (walker.held): a held thread cannot move. The lazy
     * walk's re-reads (py_walk_thread_again) go through the same proof. */
    p->target->walker.torn_pause_ns = 200000;
    int rc = py_walk(&p->target->walker, &s->ps);
    p->target->walker.threads_only = 0;
    if (rc) {
        if (rc == -ESRCH || proc_is_dead(p->target->pid) != 0)
            return -ESRCH;
        p->failures++;
        pthread_mutex_lock(&s->stats_lock);
        s->stats.errors++;
        pthread_mutex_unlock(&s->stats_lock);
        return 0;
    }
    p->failures = 0;
    /* Room for a carried entry per thread (see carry_cpu). */
    if (2 * s->ps.nthreads > s->cap_out) {
        size_t len = 2 * s->ps.nthreads > s->len_out ? 2 * s->ps.nthreads : s->len_out;
        struct sample_thread *o = realloc(s->out, len * sizeof *o);
        if (o) {
            s->out = o;
            s->len_out = len;
        }
        size_t *k = o ? realloc(s->track_of, 2 * s->ps.nthreads * sizeof *k) : NULL;
        if (k)
            s->track_of = k;
        uint64_t *d = k ? realloc(s->pauses, 2 * s->ps.nthreads * sizeof *d) : NULL;
        if (d)
            s->pauses = d;
        int *hr = d ? realloc(s->hold_results, 2 * s->ps.nthreads * sizeof *hr) : NULL;
        if (hr)
            s->hold_results = hr;
        unsigned char *st = hr ? realloc(s->still, 2 * s->ps.nthreads) : NULL;
        if (!st)
            return -ENOMEM;
        s->still = st;
        s->cap_out = 2 * s->ps.nthreads;
    }
    uint64_t partial = 0;
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        const struct py_thread *pt = &s->ps.threads[i];
        struct sample_thread *o = &s->out[i];
        memset(o, 0, sizeof *o);
        o->tid = (uint32_t)pt->tid;
        int running = pt->gil;
        o->wall_ns = s->period_ns;
        struct thread_track *tr = pt->tid > 0 ? track_find(p, pt->tid, 1) : NULL;
        /* An index, not a pointer: later threads may grow the array. */
        s->track_of[i] = tr ? (size_t)(tr - p->tracks) + 1 : 0;
        s->still[i] = 0;
        if (tr) {
            int still;
            tr->round = s->round;
            /* Its innermost frame moved: it ran Python since the last
             * sample (frames not read yet, or unproven: no evidence). */
            uint64_t lcode = 0, lpos = 0;
            if (pt->nframes && !pt->error && s->ps.frames[pt->first_frame].code) {
                lcode = s->ps.frames[pt->first_frame].code_addr;
                lpos = (uint64_t)s->ps.frames[pt->first_frame].pos;
            }
            int moved = lcode && tr->leaf_code && (lcode != tr->leaf_code || lpos != tr->leaf_pos);
            /* Holding the GIL, or (3.13+, where free-threaded builds have
             * no GIL to hold) attached to the interpreter: on a CPU, as
             * far as the thread state tells, with no system call. */
            int attached = pt->gil || pt->attached > 0;
            tr->leaf_code = lcode;
            tr->leaf_pos = lpos;
            int on_cpu;
            track_update(s, p, tr, now, attached || moved, &o->cpu_ns, &o->wall_ns, &running,
                         &still, &on_cpu);
            s->still[i] = lazy && still && !attached && tr->have_stack && tr->tstate == pt->tstate;
            tr->tstate = pt->tstate;
            o->name = tr->name;
            /* CPU time used since the last sample by a thread that is not
             * on a CPU now was spent elsewhere: see carry_cpu. Its context
             * switches tell; else holding the GIL (or attached) does. */
            tr->on_cpu = on_cpu >= 0 ? on_cpu : attached ? 1 : o->cpu_ns ? -1 : 0;
        }
        o->flags = (running ? SAMPLE_RUNNING : 0) | (pt->gil ? SAMPLE_GIL : 0) |
                   (pt->gil_wait >= 0 ? SAMPLE_GIL_KNOWN : 0) |
                   (pt->gil_wait > 0 ? SAMPLE_GIL_WAIT : 0);
    }
    if (lazy)
        read_moved_threads(s, p);
    p->lazy_walk = s->ps.nthreads >= LAZY_WALK_MIN_THREADS;
    /* After the threads' states were read: holding a sleeping thread
     * wakes it for a moment. */
    if (p->native) {
        int u = unwind_threads(s, p);
        if (u != 0)
            return u;
    }
    if (p->hold) {
        int u = hold_threads(s, p);
        if (u != 0)
            return u;
    }
    /* Counted from the stacks kept, after any held re-read: once a thread
     * sample however often it was read. */
    uint64_t kinds[STACK_KINDS] = { 0 }, elided = 0;
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        /* A thread that has not run keeps its last stack, and with it that
         * stack's kind and flags: it is counted as what it shows. */
        struct thread_track *tr = s->track_of[i] ? &p->tracks[s->track_of[i] - 1] : NULL;
        enum stack_kind k;
        int el;
        if (s->still[i]) {
            k = (enum stack_kind)tr->kind;
            el = tr->elided;
        } else {
            k = thread_kind(&s->ps, &s->ps.threads[i]);
            el = thread_elided(&s->ps, &s->ps.threads[i]);
            if (tr) {
                tr->kind = k;
                tr->elided = el;
            }
        }
        kinds[k]++;
        elided += el != 0;
        if (k == STACK_TORN || k == STACK_CUT || k == STACK_UNREADABLE) {
            s->out[i].flags |= SAMPLE_PARTIAL | (k == STACK_TORN ? SAMPLE_TORN : 0) |
                               (k == STACK_CUT ? SAMPLE_CUT : 0);
            partial++;
        }
    }
    size_t waiting = p->aio ? read_tasks(s, p) : 0;
    sweep_tracks(p, s->round);
    credit_memory(p, s->out, s->ps.nthreads, now);
    const struct counters *counters = read_counters(s, p, t);
    refresh_names(s, p, now);

    if (s->cfg.dict_lock)
        pthread_mutex_lock(s->cfg.dict_lock);
    size_t nout = s->ps.nthreads;
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        /* Names may have just been (re)read. */
        struct thread_track *tr = s->track_of[i] ? &p->tracks[s->track_of[i] - 1] : NULL;
        s->out[i].name = tr ? tr->name : 0;
        if (s->still[i]) {
            s->out[i].stack = tr->stack;   /* it has not run: see read_moved_threads */
        } else {
            const struct py_aio_task *task = p->aio && !p->native ? p->task_on[i] : NULL;
            s->out[i].stack = task ? intern_task_stack(s, p, &s->ps.threads[i], task)
                                   : intern_stack(s, p, &s->ps.threads[i],
                                                  p->native ? &s->merged[i] : NULL);
            if (tr) {
                tr->stack = s->out[i].stack;
                tr->have_stack = 1;
            }
            /* After the thread's own stack is kept: a thread that has not
             * run since shows that stack, not a collection. */
            if (s->ps.threads[i].gc)
                intern_gc(s, &s->out[i]);
        }
        if (tr)
            nout += carry_cpu(tr, &s->out[i], &s->out[nout]);
    }
    if (waiting)
        nout = add_waiting_tasks(s, p, nout, now);
    struct sample smp = {
        .time_ns = t,
        .pid = (uint32_t)p->target->pid,
        .nthreads = (uint32_t)nout,
        .threads = s->out,
        .process = p->announce ? &p->info : NULL,
        .counters = counters,
    };
    p->announce = 0;
    int stop = sink ? sink(ctx, s->dict, &smp) : 0;
    if (s->cfg.dict_lock)
        pthread_mutex_unlock(s->cfg.dict_lock);

    pthread_mutex_lock(&s->stats_lock);
    s->stats.partial += partial;
    for (int k = 0; k < STACK_KINDS; k++)
        s->stats.stacks[k] += kinds[k];
    s->stats.elided += elided;
    s->stats.dict_full += s->dict_full;
    s->stats.cpu_switches += s->clock_tally.cpu_switches;
    s->stats.cpu_schedstat += s->clock_tally.cpu_schedstat;
    s->stats.switch_restarts += s->clock_tally.switch_restarts;
    s->stats.switch_busy += s->clock_tally.switch_busy;
    pthread_mutex_unlock(&s->stats_lock);
    memset(&s->clock_tally, 0, sizeof s->clock_tally);
    s->dict_full = 0;
    return stop ? 1 : 0;
}
