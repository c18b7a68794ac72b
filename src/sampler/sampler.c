#include "config.h"

#include "sampler/sampler.h"

#include "core/error.h"
#include "proc/tasks.h"
#include "python/thread_names.h"
#include "python/walk.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC 1000000000ULL

/* What the sampler remembers about one OS thread between samples. */
struct thread_track {
    pid_t tid;                   /* 0: free slot */
    struct proc_task_cpu cpu;
    struct proc_task_stat stat;
    uint64_t last_run_ns;        /* its schedstat CPU time at the last sample */
    uint64_t last_wall_ns;       /* the sampler's clock at its last sample */
    uint64_t round;              /* the last sampling round that saw it */
    uint32_t name;               /* string id of its Python name */
    int running;
};

/* (code object serial, line) -> frame id, so a frame seen before costs one
 * hash probe instead of hashing its strings again. */
struct frame_slot {
    uint64_t serial;             /* 0: empty */
    int32_t line;
    uint32_t frame;
};

struct sampler {
    struct py_target *target;
    struct stack_table *dict;
    struct sampler_config cfg;
    uint64_t period_ns;
    atomic_int stop;
    uint64_t rng;

    struct thread_track *tracks;
    size_t ntracks, cap_tracks;
    uint64_t round;
    uint64_t names_at_ns;        /* when names were last read; 0: never */
    int names_dirty;             /* a new thread appeared */

    struct frame_slot *frames;
    size_t cap_frames, nframes;
    uint32_t truncated_frame;    /* "[truncated]" root marker */
    int have_truncated_frame;

    struct py_sample ps;
    struct sample_thread *out;
    size_t cap_out;

    pthread_mutex_t stats_lock;
    struct sampler_stats stats;
};

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap jitter, no libc state shared with anyone. */
static double rand_unit(struct sampler *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
}

int sampler_new(struct py_target *target, struct stack_table *dict,
                const struct sampler_config *cfg, struct sampler **out)
{
    struct sampler *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->target = target;
    s->dict = dict;
    s->cfg = *cfg;
    if (s->cfg.rate_hz <= 0)
        s->cfg.rate_hz = 100;
    if (s->cfg.jitter < 0 || s->cfg.jitter > 0.5)
        s->cfg.jitter = 0.05;
    if (s->cfg.names_refresh_ns == 0)
        s->cfg.names_refresh_ns = NS_PER_SEC;
    s->period_ns = (uint64_t)((double)NS_PER_SEC / s->cfg.rate_hz);
    if (s->period_ns == 0)
        s->period_ns = 1;
    s->rng = now_ns(CLOCK_MONOTONIC) | 1;
    s->cap_frames = 4096;
    s->frames = calloc(s->cap_frames, sizeof *s->frames);
    pthread_mutex_init(&s->stats_lock, NULL);
    py_sample_init(&s->ps);
    if (!s->frames) {
        sampler_free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

static void track_close(struct thread_track *t)
{
    proc_task_cpu_close(&t->cpu);
    proc_task_stat_close(&t->stat);
    t->tid = 0;
}

void sampler_free(struct sampler *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ntracks; i++)
        if (s->tracks[i].tid)
            track_close(&s->tracks[i]);
    free(s->tracks);
    free(s->frames);
    free(s->out);
    py_sample_release(&s->ps);
    pthread_mutex_destroy(&s->stats_lock);
    free(s);
}

void sampler_stop(struct sampler *s)
{
    atomic_store(&s->stop, 1);
}

void sampler_get_stats(struct sampler *s, struct sampler_stats *out)
{
    pthread_mutex_lock(&s->stats_lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->stats_lock);
}

static struct thread_track *track_find(struct sampler *s, pid_t tid, int create)
{
    struct thread_track *free_slot = NULL;
    for (size_t i = 0; i < s->ntracks; i++) {
        if (s->tracks[i].tid == tid)
            return &s->tracks[i];
        if (!s->tracks[i].tid && !free_slot)
            free_slot = &s->tracks[i];
    }
    if (!create)
        return NULL;
    if (!free_slot) {
        if (s->ntracks == s->cap_tracks) {
            size_t cap = s->cap_tracks ? s->cap_tracks * 2 : 16;
            struct thread_track *t = realloc(s->tracks, cap * sizeof *t);
            if (!t)
                return NULL;
            s->tracks = t;
            s->cap_tracks = cap;
        }
        free_slot = &s->tracks[s->ntracks++];
    }
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->tid = tid;
    free_slot->cpu.fd = -1;
    free_slot->stat.fd = -1;
    proc_task_cpu_open(s->target->pid, tid, &free_slot->cpu);
    proc_task_stat_open(s->target->pid, tid, &free_slot->stat);
    s->names_dirty = 1;
    return free_slot;
}

/* CPU time since the thread's last sample, and whether it ran. Reading
 * the state from stat costs three schedstat reads, so it is done only
 * when the CPU time did not move and the thread was running before (the
 * kernel updates a running task's time only at ticks). */
static void track_update(struct sampler *s, struct thread_track *t, uint64_t now,
                         uint64_t *cpu_ns, uint64_t *wall_ns, int *running)
{
    uint64_t run = t->last_run_ns;
    int fresh = t->last_wall_ns == 0;
    int have_run = proc_task_cpu_read(&t->cpu, &run) == 0;
    *cpu_ns = (!fresh && have_run && run > t->last_run_ns) ? run - t->last_run_ns : 0;
    *wall_ns = fresh ? s->period_ns : now - t->last_wall_ns;
    if (*cpu_ns > *wall_ns && !fresh)
        *cpu_ns = *wall_ns;   /* schedstat catches up at ticks; never exceed wall */
    int ran = *cpu_ns > 0;
    if (!ran && (fresh || t->running)) {
        char st;
        ran = proc_task_stat_read(&t->stat, &st, NULL) == 0 && st == 'R';
    }
    if (have_run)
        t->last_run_ns = run;
    t->last_wall_ns = now;
    t->running = ran;
    *running = ran;
}

static void sweep_tracks(struct sampler *s)
{
    for (size_t i = 0; i < s->ntracks; i++)
        if (s->tracks[i].tid && s->tracks[i].round != s->round)
            track_close(&s->tracks[i]);
}

static size_t frame_slot_of(uint64_t serial, int32_t line, size_t cap)
{
    uint64_t h = serial * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uint32_t)line * 0xC2B2AE3D27D4EB4FULL;
    return (size_t)(h ^ (h >> 31)) & (cap - 1);
}

static int frame_map_grow(struct sampler *s)
{
    size_t cap = s->cap_frames * 2;
    struct frame_slot *n = calloc(cap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i < s->cap_frames; i++) {
        struct frame_slot *o = &s->frames[i];
        if (!o->serial)
            continue;
        size_t j = frame_slot_of(o->serial, o->line, cap);
        while (n[j].serial)
            j = (j + 1) & (cap - 1);
        n[j] = *o;
    }
    free(s->frames);
    s->frames = n;
    s->cap_frames = cap;
    return 0;
}

static int intern_named_frame(struct sampler *s, const char *function, const char *file,
                              int line, int firstline, uint32_t *id)
{
    struct stack_frame f;
    int rc = stack_table_string(s->dict, function, strlen(function), &f.function);
    if (rc == 0)
        rc = stack_table_string(s->dict, file, strlen(file), &f.file);
    if (rc)
        return rc;
    f.line = line;
    f.firstline = firstline;
    return stack_table_frame(s->dict, &f, id);
}

static int frame_id(struct sampler *s, const struct py_frame *pf, uint32_t *id)
{
    const struct py_code_info *ci = pf->code;
    size_t i = frame_slot_of(ci->serial, pf->line, s->cap_frames);
    for (;;) {
        struct frame_slot *slot = &s->frames[i];
        if (!slot->serial)
            break;
        if (slot->serial == ci->serial && slot->line == pf->line) {
            *id = slot->frame;
            return 0;
        }
        i = (i + 1) & (s->cap_frames - 1);
    }
    int rc = intern_named_frame(s, ci->name, ci->filename, pf->line, ci->firstlineno, id);
    if (rc)
        return rc;
    if ((s->nframes + 1) * 2 > s->cap_frames) {
        if (frame_map_grow(s) != 0)
            return 0;   /* still correct, just not remembered */
        i = frame_slot_of(ci->serial, pf->line, s->cap_frames);
        while (s->frames[i].serial)
            i = (i + 1) & (s->cap_frames - 1);
    }
    s->frames[i].serial = ci->serial;
    s->frames[i].line = pf->line;
    s->frames[i].frame = *id;
    s->nframes++;
    return 0;
}

/* The leaf node of a thread's stack, root first. A stack cut short gets a
 * "[truncated]" root so its frames are not mistaken for top-level calls. */
static uint32_t intern_stack(struct sampler *s, const struct py_thread *t)
{
    /* No frames anywhere in this sample (an interpreter still starting)
     * means no frame array at all: do not index it. */
    const struct py_frame *frames = t->nframes ? &s->ps.frames[t->first_frame] : NULL;
    uint32_t node = 0;
    if (t->error) {
        if (!s->have_truncated_frame &&
            intern_named_frame(s, "[truncated]", "", -1, 0, &s->truncated_frame) == 0)
            s->have_truncated_frame = 1;
        if (s->have_truncated_frame &&
            stack_table_node(s->dict, 0, s->truncated_frame, &node) != 0)
            return 0;
    }
    for (size_t k = t->nframes; k-- > 0;) {
        if (!frames[k].code)
            continue;
        uint32_t fid, child;
        if (frame_id(s, &frames[k], &fid) != 0 || stack_table_node(s->dict, node, fid, &child) != 0)
            break;   /* dictionary full: keep the path so far */
        node = child;
    }
    return node;
}

/* Re-read thread names when a thread appeared, and now and then, since
 * threads can be renamed. Remote reads happen before the lock is taken. */
static void refresh_names(struct sampler *s, uint64_t now)
{
    if (!s->names_dirty && s->names_at_ns && now - s->names_at_ns < s->cfg.names_refresh_ns)
        return;
    s->names_dirty = 0;
    s->names_at_ns = now;
    size_t n = s->ps.nthreads;
    uint64_t *idents = malloc((n ? n : 1) * sizeof *idents);
    char (*names)[PY_THREAD_NAME_MAX] = malloc((n ? n : 1) * sizeof *names);
    if (idents && names) {
        for (size_t i = 0; i < n; i++)
            idents[i] = s->ps.threads[i].thread_id;
        py_thread_names(&s->target->walker, py_walker_first_interp(&s->target->walker), idents,
                        n, names);
        if (s->cfg.dict_lock)
            pthread_mutex_lock(s->cfg.dict_lock);
        for (size_t i = 0; i < n; i++) {
            struct thread_track *t = track_find(s, s->ps.threads[i].tid, 0);
            const char *name = names[i];
            if (!name[0] && s->ps.threads[i].tid == s->target->pid)
                name = "MainThread";
            if (t && name[0])
                stack_table_string(s->dict, name, strlen(name), &t->name);
        }
        if (s->cfg.dict_lock)
            pthread_mutex_unlock(s->cfg.dict_lock);
    }
    free(idents);
    free(names);
}

/* One sample. Returns 0, 1 when the sink asked to stop, or a negative
 * error (-ESRCH: the target is gone). */
static int take_sample(struct sampler *s, uint64_t start_ns, sampler_sink_fn sink, void *ctx)
{
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    int rc = py_walk(&s->target->walker, &s->ps);
    if (rc) {
        if (rc == -ESRCH || proc_is_dead(s->target->pid) != 0)
            return -ESRCH;
        pthread_mutex_lock(&s->stats_lock);
        s->stats.errors++;
        pthread_mutex_unlock(&s->stats_lock);
        return 0;
    }
    s->round++;
    if (s->ps.nthreads > s->cap_out) {
        struct sample_thread *o = realloc(s->out, s->ps.nthreads * sizeof *o);
        if (!o)
            return -ENOMEM;
        s->out = o;
        s->cap_out = s->ps.nthreads;
    }
    uint64_t partial = 0;
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        const struct py_thread *pt = &s->ps.threads[i];
        struct sample_thread *o = &s->out[i];
        memset(o, 0, sizeof *o);
        o->tid = (uint32_t)pt->tid;
        int running = pt->gil;
        o->wall_ns = s->period_ns;
        struct thread_track *t = pt->tid > 0 ? track_find(s, pt->tid, 1) : NULL;
        if (t) {
            t->round = s->round;
            track_update(s, t, now, &o->cpu_ns, &o->wall_ns, &running);
        }
        o->flags = (running ? SAMPLE_RUNNING : 0) | (pt->gil ? SAMPLE_GIL : 0) |
                   (pt->error ? SAMPLE_PARTIAL : 0);
        partial += pt->error != 0;
    }
    sweep_tracks(s);
    refresh_names(s, now);

    if (s->cfg.dict_lock)
        pthread_mutex_lock(s->cfg.dict_lock);
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        struct thread_track *t = s->out[i].tid ? track_find(s, (pid_t)s->out[i].tid, 0) : NULL;
        s->out[i].name = t ? t->name : 0;
        s->out[i].stack = intern_stack(s, &s->ps.threads[i]);
    }
    struct sample smp = {
        .time_ns = now - start_ns,
        .pid = (uint32_t)s->target->pid,
        .nthreads = (uint32_t)s->ps.nthreads,
        .threads = s->out,
    };
    int stop = sink ? sink(ctx, s->dict, &smp) : 0;
    if (s->cfg.dict_lock)
        pthread_mutex_unlock(s->cfg.dict_lock);

    pthread_mutex_lock(&s->stats_lock);
    s->stats.samples++;
    s->stats.partial += partial;
    s->stats.remote_reads = s->target->live.base.reads;
    pthread_mutex_unlock(&s->stats_lock);
    return stop ? 1 : 0;
}

static void sleep_until(struct sampler *s, uint64_t deadline)
{
    struct timespec ts = { .tv_sec = (time_t)(deadline / NS_PER_SEC),
                           .tv_nsec = (long)(deadline % NS_PER_SEC) };
    while (!atomic_load(&s->stop) &&
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

int sampler_run(struct sampler *s, sampler_sink_fn sink, void *ctx)
{
    const uint64_t period = s->period_ns;
    const uint64_t start = now_ns(CLOCK_MONOTONIC);
    const uint64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t k = 0;
    int result = SAMPLER_STOPPED;

    for (;;) {
        if (atomic_load(&s->stop))
            break;
        double j = (rand_unit(s) * 2 - 1) * s->cfg.jitter * (double)period;
        uint64_t deadline = start + k * period;
        if (k > 0)
            deadline = (uint64_t)((double)deadline + j);
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now < deadline) {
            sleep_until(s, deadline);
            if (atomic_load(&s->stop))
                break;
            now = now_ns(CLOCK_MONOTONIC);
        }
        if (s->cfg.duration_ns && now - start >= s->cfg.duration_ns) {
            result = SAMPLER_DURATION;
            break;
        }
        if (now > deadline && now - deadline > period / 2) {
            pthread_mutex_lock(&s->stats_lock);
            s->stats.late++;
            pthread_mutex_unlock(&s->stats_lock);
        }
        int rc = take_sample(s, start, sink, ctx);
        if (rc == -ESRCH) {
            result = SAMPLER_TARGET_EXITED;
            break;
        }
        if (rc < 0) {
            result = rc;
            break;
        }
        if (rc == 1)
            break;

        k++;
        /* More than a period behind: skip the missed deadlines. */
        uint64_t after = now_ns(CLOCK_MONOTONIC);
        if (after > start + (k + 1) * period) {
            uint64_t next = (after - start) / period + 1;
            pthread_mutex_lock(&s->stats_lock);
            s->stats.skipped += next - k;
            pthread_mutex_unlock(&s->stats_lock);
            k = next;
        }
        pthread_mutex_lock(&s->stats_lock);
        s->stats.elapsed_ns = after - start;
        s->stats.busy_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
        s->stats.achieved_hz = s->stats.elapsed_ns
            ? (double)s->stats.samples * 1e9 / (double)s->stats.elapsed_ns : 0;
        pthread_mutex_unlock(&s->stats_lock);
    }
    pthread_mutex_lock(&s->stats_lock);
    s->stats.elapsed_ns = now_ns(CLOCK_MONOTONIC) - start;
    s->stats.busy_ns = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
    s->stats.achieved_hz = s->stats.elapsed_ns
        ? (double)s->stats.samples * 1e9 / (double)s->stats.elapsed_ns : 0;
    pthread_mutex_unlock(&s->stats_lock);
    return result;
}
