#include "config.h"

#include "python/walk.h"
#include "python/walk_internal.h"

#include "core/bytes.h"
#include "core/error.h"
#include "proc/tasks.h"
#include "python/linetable.h"

#include <errno.h>
#include <time.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Frames of one sample, all threads together. */
#define SAMPLE_MAX_FRAMES (1u << 20)


/* Bytes of a thread state that cover every field we read. */
/* PyThreadState.state, 3.13+. */
enum { PY_THREAD_DETACHED = 0, PY_THREAD_ATTACHED = 1, PY_THREAD_SUSPENDED = 2 };

static int tstate_span(const struct py_layout *l)
{
    int n = 0;
    n = max_off(n, l->tstate_next, 8);
    n = max_off(n, l->tstate_interp, 8);
    n = max_off(n, l->tstate_frame, 8);
    n = max_off(n, l->tstate_cframe, 8);
    n = max_off(n, l->tstate_current_frame, 8);
    n = max_off(n, l->tstate_thread_id, 8);
    n = max_off(n, l->tstate_native_thread_id, 8);
    n = max_off(n, l->tstate_datastack_chunk, 8);
    n = max_off(n, l->tstate_gil_requested, 4);
    n = max_off(n, l->tstate_base_frame, 8);
    n = max_off(n, l->tstate_state, 4);
    if (l->tstate_recursion_depth > 0)
        n = max_off(n, l->tstate_recursion_depth, 4);
    return n;
}

int walk_frame_span(const struct py_layout *l)
{
    int n = l->frame_size > 0 ? l->frame_size : 0;
    n = max_off(n, l->frame_back, 8);
    n = max_off(n, l->frame_code, 8);
    n = max_off(n, l->frame_lasti, 4);
    n = max_off(n, l->frame_instr, 8);
    n = max_off(n, l->frame_owner, 1);
    n = max_off(n, l->frame_is_entry, 1);
    n = max_off(n, l->frame_tlbc_index, 4);
    if (l->frame_executing > 0)
        n = max_off(n, l->frame_executing, 1);
    if (l->frame_state > 0)
        n = max_off(n, l->frame_state, 1);
    if (l->object_type > 0)
        n = max_off(n, l->object_type, 8);
    return n;
}

void py_sample_init(struct py_sample *s)
{
    memset(s, 0, sizeof *s);
}

void py_sample_release(struct py_sample *s)
{
    free(s->threads);
    free(s->frames);
    memset(s, 0, sizeof *s);
}

static struct py_thread *sample_add_thread(struct py_sample *s)
{
    if (s->nthreads == s->cap_threads) {
        size_t cap = s->cap_threads ? s->cap_threads * 2 : 16;
        struct py_thread *t = realloc(s->threads, cap * sizeof *t);
        if (!t)
            return NULL;
        s->threads = t;
        s->cap_threads = cap;
    }
    struct py_thread *t = &s->threads[s->nthreads++];
    memset(t, 0, sizeof *t);
    t->first_frame = s->nframes;
    return t;
}

static struct py_frame *sample_add_frame(struct py_sample *s, struct py_thread *t)
{
    if (s->nframes >= SAMPLE_MAX_FRAMES)
        return NULL;
    if (s->nframes == s->cap_frames) {
        size_t cap = s->cap_frames ? s->cap_frames * 2 : 256;
        struct py_frame *f = realloc(s->frames, cap * sizeof *f);
        if (!f)
            return NULL;
        s->frames = f;
        s->cap_frames = cap;
    }
    struct py_frame *f = &s->frames[s->nframes++];
    memset(f, 0, sizeof *f);
    f->line = -1;
    t->nframes++;
    return f;
}

#define KEEP_OUTER (PY_MAX_DEPTH - PY_KEEP_INNER - 1)

/* Where walked_frame put Python frame number `walked` (while it is kept). */
size_t walk_last_slot(unsigned long walked)
{
    if (walked < PY_MAX_DEPTH)
        return walked;
    return PY_KEEP_INNER + 1 + (walked - PY_KEEP_INNER - 1) % KEEP_OUTER;
}

/* The slot for the Python frame number `walked` (0 innermost) of thread
 * t, whose frames are the last of s. Past PY_MAX_DEPTH the outermost
 * frames go round a ring after the innermost PY_KEEP_INNER and the slot
 * between them (see finish_elision), so a stack of any depth keeps both
 * ends. NULL when the sample is full. */
struct py_frame *walk_walked_frame(struct py_sample *s, struct py_thread *t,
                                     unsigned long walked)
{
    if (walked < PY_MAX_DEPTH)
        return sample_add_frame(s, t);
    struct py_frame *f = &s->frames[t->first_frame + walk_last_slot(walked)];
    memset(f, 0, sizeof *f);
    f->line = -1;
    return f;
}

static void reverse_frames(struct py_frame *f, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        struct py_frame x = f[i];
        f[i] = f[n - 1 - i];
        f[n - 1 - i] = x;
    }
}

/* After `walked` Python frames: put the ring of outermost frames in order
 * (innermost first) and turn the slot before it into the marker of the
 * frames left out. */
void walk_finish_elision(struct py_sample *s, struct py_thread *t,
                           unsigned long walked)
{
    if (walked <= PY_MAX_DEPTH)
        return;
    struct py_frame *ring = &s->frames[t->first_frame + PY_KEEP_INNER + 1];
    size_t oldest = (walked - PY_KEEP_INNER - 1) % KEEP_OUTER;
    reverse_frames(ring, oldest);
    reverse_frames(ring + oldest, KEEP_OUTER - oldest);
    reverse_frames(ring, KEEP_OUTER);
    struct py_frame *m = &s->frames[t->first_frame + PY_KEEP_INNER];
    memset(m, 0, sizeof *m);
    m->line = -1;
    m->elided = (uint32_t)(walked - PY_MAX_DEPTH + 1);
}

int py_walker_init(struct py_walker *w, struct mem_source *mem, const struct py_layout *layout)
{
    memset(w, 0, sizeof *w);
    w->mem = mem;
    w->layout = *layout;
    pthread_tid_map_init(&w->tids);
    if (tstate_span(layout) > STRUCT_READ_MAX || walk_frame_span(layout) > STRUCT_READ_MAX)
        return -PT_ERR_UNSUPPORTED;
    return py_code_cache_init(&w->codes, 4096);
}

void py_walker_release(struct py_walker *w)
{
    free(w->verify_ci);
    free(w->verify_iov);
    free(w->verify_buf);
    w->verify_ci = NULL;
    w->verify_iov = NULL;
    w->verify_buf = NULL;
    w->verify_cap = 0;
    free(w->chunk_buf);
    w->chunk_buf = NULL;
    py_sample_release(&w->again);
    mem_snap_release(&w->names_snap);
    py_code_cache_release(&w->codes);
    proc_pidns_release(&w->pidns);
}

uint64_t py_walker_first_interp(struct py_walker *w)
{
    uint64_t interp = w->interp_addr;
    if (w->interp_head_ptr && mem_read_u64(w->mem, w->interp_head_ptr, &interp) != 0)
        return 0;
    return interp;
}

/* Which thread state holds the GIL in this interpreter, or 0 if none.
 * gil is the interpreter's ceval.gil pointer (3.12+). The GIL's flag and
 * holder are read together. */
static uint64_t gil_holder(struct py_walker *w, uint64_t gil)
{
    const struct py_layout *l = &w->layout;
    uint64_t holder = 0;
    if (l->free_threaded) {
        /* No GIL unless it was turned back on: then locked and last_holder
         * mean what they mean in a build with one. */
        int32_t enabled = 0;
        if (l->gil_enabled < 0 || !mem_ptr_plausible(gil) ||
            mem_read(w->mem, gil + (uint64_t)l->gil_enabled, &enabled, sizeof enabled) != 0 ||
            enabled == 0)
            return 0;
        w->gil_enabled = 1;
    }
    if (w->tstate_current_ptr) {
        if (mem_read_u64(w->mem, w->tstate_current_ptr, &holder) != 0)
            return 0;
        return holder;
    }
    if (l->interp_ceval_gil >= 0 && l->gil_locked >= 0 && l->gil_last_holder >= 0) {
        int lo = l->gil_locked < l->gil_last_holder ? l->gil_locked : l->gil_last_holder;
        int hi = max_off(max_off(0, l->gil_locked, 4), l->gil_last_holder, 8);
        uint8_t g[64];
        if (!mem_ptr_plausible(gil) || hi - lo > (int)sizeof g ||
            mem_read(w->mem, gil + (uint64_t)lo, g, (size_t)(hi - lo)) != 0 ||
            !bytes_i32(g + (l->gil_locked - lo)))
            return 0;
        return bytes_u64(g + (l->gil_last_holder - lo));
    }
    return 0;
}

/* Worth reading the thread again: the stack moved under the walk. */
static int walk_retryable(int rc)
{
    return rc == -PT_ERR_TORN || rc == -PT_ERR_BAD_DATA || rc == -EFAULT;
}

static int walk_thread(struct py_walker *w, struct py_sample *s, uint64_t interp,
                       uint64_t tstate, uint64_t holder, int collecting, uint64_t *next)
{
    const struct py_layout *l = &w->layout;
    uint8_t ts[STRUCT_READ_MAX];
    size_t ts_len = (size_t)tstate_span(l);
    int rc = mem_read(w->mem, tstate, ts, ts_len);
    if (rc)
        return rc;
    if (l->tstate_interp >= 0 && bytes_u64(ts + l->tstate_interp) != interp)
        return -PT_ERR_BAD_DATA;
    *next = bytes_u64(ts + l->tstate_next);

    struct py_thread *t = sample_add_thread(s);
    if (!t)
        return -ENOMEM;
    t->tstate = tstate;
    t->interp = interp;
    t->thread_id = bytes_u64(ts + l->tstate_thread_id);
    if (l->tstate_native_thread_id >= 0)
        t->tid = (pid_t)bytes_u64(ts + l->tstate_native_thread_id);
    t->gil = holder != 0 && holder == tstate;
    /* A waiting thread may be the last holder still (3.12+ keep
     * last_holder until the next take): holding wins. With the GIL off
     * (free-threaded) nobody waits for it. */
    t->gil_wait = -1;
    if (l->tstate_gil_requested >= 0 && (!l->free_threaded || w->gil_enabled))
        t->gil_wait = !t->gil && bytes_i32(ts + l->tstate_gil_requested) != 0;
    t->attached = -1;
    if (l->tstate_state >= 0) {
        int32_t state = bytes_i32(ts + l->tstate_state);
        if (state >= PY_THREAD_DETACHED && state <= PY_THREAD_SUSPENDED)
            t->attached = state == PY_THREAD_ATTACHED;
    }
    /* The collector runs with the GIL held: the holder runs it. */
    t->gc = collecting && t->gil;

    if (w->threads_only)
        return 0;
    /* Up to 3.10 a first walk served from the snapshot (memsrc.h) does
     * not use up a retry: it read the frame objects as they were at the
     * start of the sample, and a stack that moves fails it often (updown
     * on 3.10: 85 % whole without the extra retry, 93-100 % with it).
     * From 3.11 it does: there one more read
     * of a moving stack gave more wrong stacks passing the proof
     * (fast_frames on 3.14 and 3.15: stacks cut short with no marker). */
    int retries = PY_WALK_RETRIES + (w->layout.tstate_frame >= 0 && w->mem->snap &&
                                     w->mem->snap->active && w->mem->snap->serving);
    for (int attempt = 0;; attempt++) {
        rc = walk_frames(w, s, t, ts);
        /* No frame at all: a thread starting or ending, or one caught
         * between two frames (3.12 can show a stale current frame for a
         * moment): worth one more look, which costs a read or two. */
        int empty = rc == 0 && t->nframes == 0 && attempt == 0;
        if ((!walk_retryable(rc) && !empty) || attempt == retries || w->held)
            break;
        /* Read the thread from its state again, dropping this walk. A
         * thread taken off its CPU in the middle of a change stays torn
         * for immediate re-reads: the last one waits a moment. */
        w->retries++;
        if (attempt == retries - 1 && w->torn_pause_ns) {
            struct timespec d = { (time_t)(w->torn_pause_ns / 1000000000u),
                                  (long)(w->torn_pause_ns % 1000000000u) };
            nanosleep(&d, NULL);
        }
        s->nframes = t->first_frame;
        t->nframes = 0;
        /* Not the bytes of the start of the sample again: the target's
         * as they are now, for the rest of this sample. */
        mem_sample_fresh(w->mem);
        /* A fast generator current when the thread state was read has
         * often yielded (clearing its link back) by the time its frame is
         * read: read the frame a torn walk ended at together with the
         * thread state, so that the two are of one moment. */
        struct mem_iov iov[2] = {
            { tstate, ts, ts_len, 0 },
            { w->hint_addr, w->hint_buf, (size_t)walk_frame_span(l), 0 },
        };
        size_t niov = rc == -PT_ERR_TORN && mem_ptr_plausible(w->hint_addr) &&
                      iov[1].len <= sizeof w->hint_buf ? 2 : 1;
        w->hint_len = 0;
        mem_readv(w->mem, iov, niov);
        if (niov == 2 && iov[1].ok)
            w->hint_len = iov[1].len;
        w->hint_addr = niov == 2 ? w->hint_addr : 0;
        if (!iov[0].ok || (l->tstate_interp >= 0 && bytes_u64(ts + l->tstate_interp) != interp))
            break;   /* the thread is gone: keep the error of the last walk */
    }
    w->hint_addr = 0;
    w->hint_len = 0;
    if (rc == -PT_ERR_TORN)
        w->torn++;
    /* Counted here, not in finish_elision: once a read, not once a try. */
    if (t->nframes > PY_KEEP_INNER && s->frames[t->first_frame + PY_KEEP_INNER].elided)
        w->elided++;
    if (rc) {
        t->error = rc;
        w->thread_errors++;
        /* Mark where the stack was cut, unless the last frame says why. */
        if (t->nframes == 0 || s->frames[s->nframes - 1].error == 0) {
            struct py_frame *f = sample_add_frame(s, t);
            if (f)
                f->error = rc;
        }
        w->frame_errors++;
    }
    return 0;
}

/* Thread ids as /proc numbers them (pytop's PID namespace): 3.11+ record
 * the thread's own id (its namespace's); before, the pthread_t is matched
 * against the tasks' ids in the target's namespace, which are what glibc
 * keeps in its descriptors. A thread no task has (exiting) gets 0. */
static void resolve_tids(struct py_walker *w, struct py_sample *s)
{
    if (w->pid <= 0 || s->nthreads == 0)
        return;
    if (w->pidns.pid != w->pid) {
        proc_pidns_release(&w->pidns);
        proc_pidns_init(&w->pidns, w->pid);
    }
    pid_t *out = malloc(s->nthreads * sizeof *out);
    if (!out)
        return;
    if (w->layout.tstate_native_thread_id >= 0) {
        for (size_t i = 0; i < s->nthreads; i++)
            out[i] = s->threads[i].tid;
        if (proc_pidns_to_host(&w->pidns, out, s->nthreads) == 0)
            for (size_t i = 0; i < s->nthreads; i++)
                s->threads[i].tid = out[i];
        free(out);
        return;
    }
    /* The tasks as last listed first: /proc/PID/task is listed again only
     * when a thread is not among them (a new thread), not every sample. */
    const struct proc_pidns_task *tasks = w->pidns.tasks;
    size_t ntasks = w->pidns.ntasks;
    uint64_t *pts = malloc(s->nthreads * sizeof *pts);
    pid_t *own = NULL;
    int listed = 0;
    for (int pass = 0; pts && pass < 2; pass++) {
        if (ntasks == 0 || pass == 1) {
            if (proc_pidns_tasks(&w->pidns, &tasks, &ntasks) != 0 || ntasks == 0)
                break;
            listed = 1;
        }
        pid_t *grown = realloc(own, ntasks * sizeof *own);
        if (!grown)
            break;
        own = grown;
        for (size_t i = 0; i < ntasks; i++)
            own[i] = tasks[i].own;
        for (size_t i = 0; i < s->nthreads; i++)
            pts[i] = s->threads[i].thread_id;
        size_t found = pthread_tid_resolve(&w->tids, w->mem, pts, s->nthreads, own, ntasks, out);
        if (found == s->nthreads || listed) {
            for (size_t i = 0; i < s->nthreads; i++)
                s->threads[i].tid = out[i] > 0 ? proc_pidns_host_of(&w->pidns, out[i]) : 0;
            break;
        }
    }
    free(own);
    free(pts);
    free(out);
}

static int verify_reserve(struct py_walker *w, size_t n)
{
    if (n <= w->verify_cap)
        return 0;
    size_t cap = w->verify_cap ? w->verify_cap : 64;
    while (cap < n)
        cap *= 2;
    struct py_code_info **ci = realloc(w->verify_ci, cap * sizeof *ci);
    if (ci)
        w->verify_ci = ci;
    struct mem_iov *iov = realloc(w->verify_iov, cap * sizeof *iov);
    if (iov)
        w->verify_iov = iov;
    uint8_t *buf = realloc(w->verify_buf, cap * (size_t)w->layout.code_size);
    if (buf)
        w->verify_buf = buf;
    if (!ci || !iov || !buf)
        return -ENOMEM;
    w->verify_cap = cap;
    return 0;
}

/* Code objects decoded in an earlier walk may have been freed since and
 * their addresses reused by new ones (start-up and exec'd code do this all
 * the time). Check every one this walk used, all in one batched read, and
 * decode again the frames whose object changed. */
static void verify_codes(struct py_walker *w, struct py_sample *s)
{
    const struct py_layout *l = &w->layout;
    uint64_t epoch = w->codes.epoch;
    size_t n = 0;
    for (size_t i = 0; i < s->nframes; i++) {
        struct py_code_info *ci = (struct py_code_info *)s->frames[i].code;
        if (!ci || ci->epoch == epoch || ci->checked == epoch)
            continue;
        if (verify_reserve(w, n + 1) != 0)
            break;
        ci->checked = epoch;
        w->verify_ci[n] = ci;
        w->verify_iov[n].addr = ci->addr;
        w->verify_iov[n].buf = w->verify_buf + n * (size_t)l->code_size;
        w->verify_iov[n].len = (size_t)l->code_size;
        w->verify_iov[n].ok = 0;
        n++;
    }
    if (n == 0)
        return;
    mem_readv(w->mem, w->verify_iov, n);
    size_t stale = 0;
    for (size_t k = 0; k < n; k++) {
        if (w->verify_iov[k].ok &&
            py_code_info_current(w->verify_ci[k], l, w->code_type, w->verify_iov[k].buf))
            continue;
        /* Keep the stale ones at the front of verify_ci. */
        w->verify_ci[stale++] = w->verify_ci[k];
    }
    if (stale == 0)
        return;
    w->stale_codes += stale;
    for (size_t k = 0; k < stale; k++)
        py_code_cache_forget(&w->codes, w->verify_ci[k]->addr);
    for (size_t i = 0; i < s->nframes; i++) {
        struct py_frame *f = &s->frames[i];
        for (size_t k = 0; f->code && k < stale; k++) {
            if (f->code != w->verify_ci[k])
                continue;
            f->code = NULL;
            f->line = -1;
            walk_decode_frame(w, f, f->code_addr, f->use_instr, (uint64_t)f->pos, f->pos);
            break;
        }
    }
}

static int walk_all(struct py_walker *w, struct py_sample *s)
{
    const struct py_layout *l = &w->layout;
    s->nthreads = 0;
    s->nframes = 0;
    py_code_cache_trim(&w->codes);
    w->walks++;
    w->gil_enabled = 0;
    w->gc_collecting = 0;

    /* 2.7-3.8: one collector for the process, its flag read with the
     * interpreter list's head (one system call for both). */
    int collecting_all = 0;
    int32_t coll_all = 0;
    uint64_t interp = w->interp_addr;
    struct mem_iov head[2] = {
        { w->interp_head_ptr, &interp, 8, 0 },
        { w->gc_collecting_ptr, &coll_all, 4, 0 },
    };
    if (w->interp_head_ptr && w->gc_collecting_ptr) {
        mem_readv(w->mem, head, 2);
        collecting_all = head[1].ok && coll_all == 1;
    } else if (w->gc_collecting_ptr) {
        collecting_all = mem_read(w->mem, w->gc_collecting_ptr, &coll_all, 4) == 0 && coll_all == 1;
    }
    if (w->interp_head_ptr && (!w->gc_collecting_ptr || !head[0].ok)) {
        /* Read on its own for the reason when the batch failed (-ESRCH). */
        int rc = mem_read_u64(w->mem, w->interp_head_ptr, &interp);
        if (rc)
            return rc;
    }
    if (interp == 0)
        return -PT_ERR_NO_INTERP;

    struct cycle_guard interp_guard;
    cycle_guard_init(&interp_guard);
    for (unsigned n = 0; interp && n < PY_MAX_INTERPRETERS; n++) {
        if (!mem_ptr_plausible(interp) || cycle_seen(&interp_guard, interp))
            return n == 0 ? -PT_ERR_BAD_DATA : 0;
        /* The interpreter's fields lie far apart (kilobytes on 3.13):
         * fetch them in one batched read. */
        uint64_t tstate = 0, next_interp = 0, gil = 0;
        int32_t coll = 0;
        int per_interp_gc = !w->gc_collecting_ptr && l->interp_gc >= 0 && l->gc_collecting >= 0;
        struct mem_iov iov[4] = {
            { interp + (uint64_t)l->interp_tstate_head, &tstate, 8, 0 },
            { interp + (uint64_t)l->interp_next, &next_interp, 8, 0 },
            { interp + (uint64_t)(per_interp_gc ? l->interp_gc + l->gc_collecting : 0), &coll, 4, 0 },
            { interp + (uint64_t)(l->interp_ceval_gil >= 0 ? l->interp_ceval_gil : 0), &gil, 8, 0 },
        };
        mem_readv(w->mem, iov, l->interp_ceval_gil >= 0 ? 4 : per_interp_gc ? 3 : 2);
        /* Not 0 or 1: not the flag, so not a collection. */
        int collecting = per_interp_gc ? iov[2].ok && coll == 1 : collecting_all;
        if (collecting)
            w->gc_collecting = 1;
        int rc = 0;
        if (!iov[0].ok || !iov[1].ok) {
            /* Read again on its own for the reason (e.g. -ESRCH: gone). */
            rc = mem_read_u64(w->mem, interp + (uint64_t)l->interp_tstate_head, &tstate);
            return n == 0 ? (rc ? rc : -PT_ERR_BAD_DATA) : 0;
        }
        if (l->interp_ceval_gil >= 0 && !iov[3].ok)
            gil = 0;
        uint64_t holder = gil_holder(w, gil);

        struct cycle_guard guard;
        cycle_guard_init(&guard);
        for (unsigned i = 0; tstate && i < PY_MAX_THREADS; i++) {
            if (!mem_ptr_plausible(tstate) || cycle_seen(&guard, tstate))
                break;
            uint64_t next = 0;
            rc = walk_thread(w, s, interp, tstate, holder, collecting, &next);
            if (rc == -ESRCH)
                return rc;
            if (rc) {
                w->thread_errors++;
                break;
            }
            tstate = next;
        }
        interp = next_interp;
    }
    verify_codes(w, s);
    resolve_tids(w, s);
    return 0;
}

int py_walk(struct py_walker *w, struct py_sample *s)
{
    /* With a snapshot attached, the ranges the last walk read come in
     * one batch first, and this walk's reads are served from it. */
    mem_sample_begin(w->mem);
    int rc = walk_all(w, s);
    mem_sample_end(w->mem);
    return rc;
}

int py_walk_thread_again(struct py_walker *w, struct py_sample *s, size_t index)
{
    if (index >= s->nthreads)
        return -EINVAL;
    struct py_thread *t = &s->threads[index];
    struct py_sample *again = &w->again;
    again->nthreads = 0;
    again->nframes = 0;
    uint64_t next;
    int threads_only = w->threads_only;
    w->threads_only = 0;
    int rc = walk_thread(w, again, t->interp, t->tstate, 0, 0, &next);
    w->threads_only = threads_only;
    if (rc)
        return rc;
    if (again->nthreads != 1)
        return -PT_ERR_BAD_DATA;
    verify_codes(w, again);
    const struct py_thread *fresh = &again->threads[0];
    if (s->nframes + fresh->nframes > SAMPLE_MAX_FRAMES)
        return -PT_ERR_TRUNCATED;
    if (s->nframes + fresh->nframes > s->cap_frames) {
        size_t cap = s->cap_frames ? s->cap_frames : 256;
        while (cap < s->nframes + fresh->nframes)
            cap *= 2;
        struct py_frame *f = realloc(s->frames, cap * sizeof *f);
        if (!f)
            return -ENOMEM;
        s->frames = f;
        s->cap_frames = cap;
    }
    if (fresh->nframes)
        memcpy(&s->frames[s->nframes], &again->frames[fresh->first_frame],
               fresh->nframes * sizeof *s->frames);
    t->first_frame = s->nframes;
    t->nframes = fresh->nframes;
    t->error = fresh->error;
    s->nframes += fresh->nframes;
    return 0;
}
