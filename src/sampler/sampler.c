#include "config.h"

#include "sampler/sampler.h"

#include "core/error.h"
#include "native/hold.h"
#include "native/native.h"
#include "proc/children.h"
#include "proc/memstat.h"
#include "proc/process.h"
#include "proc/tasks.h"
#include "python/heap.h"
#include "python/thread_names.h"
#include "python/walk.h"
#include "sampler/held_read.h"
#include "sampler/merge.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

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
    int on_cpu;                  /* on a CPU (or holding the GIL) at this sample */
    uint32_t cpu_stack;          /* its stack when last seen on a CPU; 0: never */
    uint64_t last_slices;        /* times put on a CPU, at the last sample (0: unknown) */
    uint64_t tstate;             /* its thread state's address at the last sample */
    uint32_t stack;              /* its stack at the last sample */
    int have_stack;              /* stack is set (and partial with it) */
    int partial;                 /* that stack was cut short */
    int kind;                    /* that stack's enum stack_kind */
    int elided;                  /* that stack keeps a <N frames elided> marker */
};

/* (code object serial, line) -> frame id, so a frame seen before costs one
 * hash probe instead of hashing its strings again. */
struct frame_slot {
    uint64_t serial;             /* 0: empty */
    int32_t line;
    uint32_t frame;
};

/* One process being sampled: the target, or one of its descendants. */
struct proc_track {
    struct py_target *target;
    int owned;                   /* a descendant pytop attached to (freed here) */
    struct process_info info;
    int announce;                /* attach info to the next sample */

    struct thread_track *tracks;
    size_t ntracks, cap_tracks;
    size_t track_hint;           /* where track_lookup starts */
    uint64_t names_at_ns;        /* when names were last read; 0: never */
    int names_dirty;             /* a new thread appeared */

    /* Code serials are per walker, so the frame map is per process. */
    struct frame_slot *frames;
    size_t cap_frames, nframes;

    uint64_t image;              /* proc_image_id at attach */
    int have_image;

    struct proc_memstat mem;
    int have_mem;
    uint64_t last_rss;           /* resident bytes at the previous credited sample */
    int have_rss;
    uint64_t rss_read_ns;        /* when statm was last read */
    struct py_heap heap;
    int have_heap;
    uint64_t next_counters_ns;
    struct counters counters;

    unsigned failures;           /* walks failed in a row */
    int lazy_walk;               /* many threads: read frames only of threads that ran */

    struct native_stacks *native;   /* --native: C stacks of this process, or NULL */
    struct thread_hold *hold;       /* --blocking without --native, or NULL */
};

/* A descendant seen but not sampled: not Python (yet), or still starting. */
enum candidate_state { CAND_PENDING, CAND_NOT_PYTHON, CAND_SAMPLED };

struct candidate {
    pid_t pid, ppid;
    enum candidate_state state;
    char command[256];           /* when it changes, the process exec'd: look again */
    unsigned attempts;
    uint64_t round;              /* the last discovery that saw it */
};

/* From this many threads on, a sample lists the threads first and reads
 * the frames only of those that ran since the previous sample (see
 * read_moved_threads). */
#define LAZY_WALK_MIN_THREADS 16

/* Bounds on what --subprocesses follows. */
#define SAMPLER_MAX_PROCESSES 256
#define CANDIDATE_MAX_ATTEMPTS 200    /* ~10 s of retries at 50 ms while Python starts */
#define CANDIDATE_NOT_PYTHON_ATTEMPTS 10   /* ~0.5 s: a fresh exec before libpython is mapped */
#define CHILD_MAX_FAILURES 100        /* walks failing in a row: it is not what it was */

struct sampler {
    struct py_target *target;    /* the first process, borrowed */
    struct stack_table *dict;
    struct sampler_config cfg;
    uint64_t period_ns;
    atomic_int stop;
    int wake_fd;                 /* eventfd sampler_stop writes to end a sleep; -1: none */
    uint64_t rng;
    uint64_t round;

    struct proc_track **procs;   /* procs[0] is the target */
    size_t nprocs, cap_procs;
    uint32_t procs_seen;
    unsigned long gone_retries;   /* walker counters of processes removed */

    struct candidate *cands;
    size_t ncands, cap_cands;
    uint64_t children_at_ns;     /* last discovery; 0: never */
    uint64_t discovery_round;

    /* The target exec'd: waiting for the new image's interpreter. */
    int exec_pending;
    uint64_t exec_since_ns, exec_tried_ns, image_at_ns;
    char exec_command[256];

    uint32_t truncated_frame;    /* "[truncated]" root marker */
    int have_truncated_frame;
    uint32_t torn_frame;         /* "<torn>" root marker */
    int have_torn_frame;
    uint32_t full_frame;         /* "[dictionary full]" leaf marker, interned at start */
    uint32_t full_node;          /* the stack of that marker alone */
    int have_full_frame;
    uint64_t dict_full;          /* stacks cut this round, for the stats */

    struct py_sample ps;
    struct sample_thread *out;
    size_t cap_out;
    size_t *track_of;            /* per thread of ps: its track's index + 1, 0: none */
    uint64_t *pauses;            /* per thread of ps: how long it was held, 0: not held */
    int *hold_results;           /* per thread of ps: how its hold went */
    unsigned char *still;        /* per thread of ps: has not run, its last stack holds */
    struct merged_stack *merged;  /* --native: per thread of ps */
    size_t cap_merged;

    pthread_mutex_t stats_lock;
    struct sampler_stats stats;
};

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: cheap random gaps, no libc state shared with anyone. */
static double rand_unit(struct sampler *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
}

/* ---- processes ------------------------------------------------------------------------------ */

static void track_close(struct thread_track *t)
{
    proc_task_cpu_close(&t->cpu);
    proc_task_stat_close(&t->stat);
    t->tid = 0;
}

static void proc_track_free(struct proc_track *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ntracks; i++)
        if (p->tracks[i].tid)
            track_close(&p->tracks[i]);
    free(p->tracks);
    free(p->frames);
    if (p->have_mem)
        proc_memstat_close(&p->mem);
    if (p->have_heap)
        py_heap_release(&p->heap);
    native_stacks_free(p->native);
    thread_hold_free(p->hold);
    if (p->owned)
        py_target_free(p->target);
    free(p);
}

/* Start sampling target (owned: pytop attached to it and frees it). */
static int proc_track_add(struct sampler *s, struct py_target *target, int owned, pid_t ppid,
                          struct proc_track **out)
{
    if (s->nprocs == s->cap_procs) {
        size_t cap = s->cap_procs ? s->cap_procs * 2 : 4;
        struct proc_track **n = realloc(s->procs, cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        s->procs = n;
        s->cap_procs = cap;
    }
    struct proc_track *p = calloc(1, sizeof *p);
    if (p) {
        p->cap_frames = 4096;
        p->frames = calloc(p->cap_frames, sizeof *p->frames);
    }
    if (!p || !p->frames) {
        if (p)
            free(p->frames);
        free(p);
        return -ENOMEM;
    }
    p->target = target;
    p->owned = owned;
    p->info.pid = (uint32_t)target->pid;
    p->info.ppid = (uint32_t)(ppid > 0 ? ppid : 0);
    snprintf(p->info.python, sizeof p->info.python, "%s", target->version.text);
    if (proc_cmdline(target->pid, p->info.command, sizeof p->info.command) != 0)
        p->info.command[0] = '\0';
    p->announce = 1;
    p->have_image = proc_image_id(target->pid, &p->image) == 0;
    p->have_mem = proc_memstat_open(target->pid, &p->mem) == 0;
    p->have_heap = py_heap_locate(target, &p->heap) == 0;
    if (s->cfg.native) {
        int rc = native_stacks_new(target->pid, target->binary, target->version.major,
                                   s->cfg.native_all, &p->native);
        /* Without C frames for the target, --native cannot do what it
         * says; a descendant keeps its Python frames. */
        if (rc && !owned) {
            proc_track_free(p);
            return rc;
        }
        /* A stop request ends a wait for a thread to be held. */
        if (p->native)
            native_stacks_set_cancel(p->native, &s->stop);
    }
    /* --native holds each thread already. */
    if (s->cfg.blocking && !p->native) {
        if (thread_hold_new(target->pid, &p->hold) != 0) {
            proc_track_free(p);
            return -ENOMEM;
        }
        thread_hold_set_cancel(p->hold, &s->stop);
    }
    s->procs[s->nprocs++] = p;
    s->procs_seen++;
    if (out)
        *out = p;
    return 0;
}

static void proc_track_remove(struct sampler *s, size_t i)
{
    /* Its walker's counters outlive it in the run's totals. */
    s->gone_retries += s->procs[i]->target->walker.retries;
    proc_track_free(s->procs[i]);
    memmove(&s->procs[i], &s->procs[i + 1], (s->nprocs - i - 1) * sizeof *s->procs);
    s->nprocs--;
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
    if (s->cfg.names_refresh_ns == 0)
        s->cfg.names_refresh_ns = NS_PER_SEC;
    if (s->cfg.counters_every_ns == 0)
        s->cfg.counters_every_ns = NS_PER_SEC / 4;
    if (s->cfg.children_every_ns == 0)
        s->cfg.children_every_ns = NS_PER_SEC / 20;   /* short-lived children too */
    s->period_ns = (uint64_t)((double)NS_PER_SEC / s->cfg.rate_hz);
    if (s->period_ns == 0)
        s->period_ns = 1;
    s->rng = now_ns(CLOCK_MONOTONIC) | 1;
    s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&s->stats_lock, NULL);
    py_sample_init(&s->ps);
    /* Interned before anything else, so a full dictionary still has it. */
    struct stack_frame full = { .function = 0, .file = 0, .line = -1, .firstline = 0 };
    if (stack_table_string(dict, "[dictionary full]", 17, &full.function) == 0 &&
        stack_table_frame(dict, &full, &s->full_frame) == 0 &&
        stack_table_node(dict, 0, s->full_frame, &s->full_node) == 0)
        s->have_full_frame = 1;
    int rc = proc_track_add(s, target, 0, 0, NULL);
    if (rc) {
        sampler_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void sampler_free(struct sampler *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nprocs; i++)
        proc_track_free(s->procs[i]);
    free(s->procs);
    free(s->cands);
    free(s->out);
    free(s->track_of);
    free(s->pauses);
    free(s->hold_results);
    free(s->still);
    for (size_t i = 0; i < s->cap_merged; i++)
        merged_stack_release(&s->merged[i]);
    free(s->merged);
    py_sample_release(&s->ps);
    pthread_mutex_destroy(&s->stats_lock);
    if (s->wake_fd >= 0)
        close(s->wake_fd);
    free(s);
}

/* From a signal handler or another thread: the flag is looked at between
 * samples and threads, and the eventfd ends a sleep at once (both are
 * async-signal-safe). */
void sampler_stop(struct sampler *s)
{
    atomic_store(&s->stop, 1);
    if (s->wake_fd >= 0) {
        int saved = errno;
        uint64_t one = 1;
        ssize_t w = write(s->wake_fd, &one, sizeof one);
        (void)w;   /* a full counter already wakes the sampler */
        errno = saved;
    }
}

void sampler_exec_command(struct sampler *s, char *buf, size_t cap)
{
    if (cap)
        snprintf(buf, cap, "%s", s->exec_command);
}

void sampler_get_stats(struct sampler *s, struct sampler_stats *out)
{
    pthread_mutex_lock(&s->stats_lock);
    *out = s->stats;
    pthread_mutex_unlock(&s->stats_lock);
}

/* ---- descendants (--subprocesses) ----------------------------------------------------------- */

static struct candidate *candidate_find(struct sampler *s, pid_t pid)
{
    for (size_t i = 0; i < s->ncands; i++)
        if (s->cands[i].pid == pid)
            return &s->cands[i];
    return NULL;
}

static struct candidate *candidate_add(struct sampler *s, pid_t pid, pid_t ppid)
{
    if (s->ncands == s->cap_cands) {
        if (s->cap_cands >= PROC_DESCENDANTS_MAX)
            return NULL;
        size_t cap = s->cap_cands ? s->cap_cands * 2 : 16;
        struct candidate *n = realloc(s->cands, cap * sizeof *n);
        if (!n)
            return NULL;
        s->cands = n;
        s->cap_cands = cap;
    }
    struct candidate *c = &s->cands[s->ncands++];
    memset(c, 0, sizeof *c);
    c->pid = pid;
    c->ppid = ppid;
    c->state = CAND_PENDING;
    return c;
}

static ssize_t proc_index(const struct sampler *s, pid_t pid)
{
    for (size_t i = 0; i < s->nprocs; i++)
        if (s->procs[i]->target->pid == pid)
            return (ssize_t)i;
    return -1;
}

/* Try to sample a descendant: it may not be Python, or not yet. */
static void candidate_try(struct sampler *s, struct candidate *c)
{
    if (s->nprocs >= SAMPLER_MAX_PROCESSES)
        return;
    struct py_target *t;
    int rc = py_target_open(c->pid, s->cfg.layout_source, &t);
    c->attempts++;
    if (rc == 0) {
        if (proc_track_add(s, t, 1, c->ppid, NULL) != 0) {
            py_target_free(t);
            return;
        }
        c->state = CAND_SAMPLED;
        return;
    }
    /* Not Python: right after an exec the dynamic loader has not mapped
     * libpython yet, so look again a few times, then only when its command
     * line changes (another exec). Python not initialised, or caught in
     * the middle of starting: retry a while. */
    unsigned limit = rc == -PT_ERR_NOT_PYTHON ? CANDIDATE_NOT_PYTHON_ATTEMPTS
                                               : CANDIDATE_MAX_ATTEMPTS;
    c->state = c->attempts < limit ? CAND_PENDING : CAND_NOT_PYTHON;
}

static void discover_children(struct sampler *s, uint64_t now)
{
    if (!s->cfg.subprocesses || (s->children_at_ns && now - s->children_at_ns < s->cfg.children_every_ns))
        return;
    s->children_at_ns = now;
    s->discovery_round++;
    pid_t pids[PROC_DESCENDANTS_MAX], parents[PROC_DESCENDANTS_MAX];
    size_t n;
    if (proc_descendants(s->target->pid, pids, parents, PROC_DESCENDANTS_MAX, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct candidate *c = candidate_find(s, pids[i]);
        char command[sizeof c->command];
        if (proc_cmdline(pids[i], command, sizeof command) != 0)
            continue;   /* gone already */
        if (!c) {
            c = candidate_add(s, pids[i], parents[i]);
            if (!c)
                continue;
            memcpy(c->command, command, sizeof command);
        } else if (strcmp(c->command, command) != 0) {
            /* It exec'd: whatever was read of it before no longer holds. */
            memcpy(c->command, command, sizeof command);
            ssize_t k = proc_index(s, c->pid);
            if (k > 0)
                proc_track_remove(s, (size_t)k);
            c->state = CAND_PENDING;
            c->attempts = 0;
        }
        c->round = s->discovery_round;
        if (c->state == CAND_PENDING)
            candidate_try(s, c);
    }
    /* Forget descendants that are gone (pids are reused). */
    for (size_t i = 0; i < s->ncands;) {
        if (s->cands[i].round != s->discovery_round) {
            ssize_t k = proc_index(s, s->cands[i].pid);
            if (k > 0)
                proc_track_remove(s, (size_t)k);
            s->cands[i] = s->cands[--s->ncands];
        } else {
            i++;
        }
    }
}

/* ---- threads -------------------------------------------------------------------------------- */

/* Threads come in the same order at every sample, so the search starts
 * just after the last one found: one comparison per thread in the steady
 * state, instead of a scan (1,000 threads made that a million a sample). */
static struct thread_track *track_lookup(struct proc_track *p, pid_t tid)
{
    size_t n = p->ntracks;
    size_t start = p->track_hint < n ? p->track_hint : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = start + k < n ? start + k : start + k - n;
        if (p->tracks[i].tid == tid) {
            p->track_hint = i + 1;
            return &p->tracks[i];
        }
    }
    return NULL;
}

static struct thread_track *track_find(struct proc_track *p, pid_t tid, int create)
{
    struct thread_track *found = track_lookup(p, tid);
    if (found || !create)
        return found;
    struct thread_track *free_slot = NULL;
    for (size_t i = 0; i < p->ntracks && !free_slot; i++)
        if (!p->tracks[i].tid)
            free_slot = &p->tracks[i];
    if (!free_slot) {
        if (p->ntracks == p->cap_tracks) {
            size_t cap = p->cap_tracks ? p->cap_tracks * 2 : 16;
            struct thread_track *t = realloc(p->tracks, cap * sizeof *t);
            if (!t)
                return NULL;
            p->tracks = t;
            p->cap_tracks = cap;
        }
        free_slot = &p->tracks[p->ntracks++];
    }
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->tid = tid;
    free_slot->cpu.fd = -1;
    free_slot->stat.fd = -1;
    proc_task_cpu_open(p->target->pid, tid, &free_slot->cpu);
    proc_task_stat_open(p->target->pid, tid, &free_slot->stat);
    p->names_dirty = 1;
    return free_slot;
}

/* CPU time since the thread's last sample, and whether it ran. Reading
 * the state from stat costs three schedstat reads, so it is done only
 * when the CPU time did not move and the thread was running before (the
 * kernel updates a running task's time only at ticks). */
static void track_update(struct sampler *s, struct thread_track *t, uint64_t now,
                         uint64_t *cpu_ns, uint64_t *wall_ns, int *running, int *still)
{
    uint64_t run = t->last_run_ns, slices = 0;
    int fresh = t->last_wall_ns == 0;
    int have_run = proc_task_cpu_read_slices(&t->cpu, &run, &slices) == 0;
    /* Not on a CPU at the last sample, and neither its CPU time nor the
     * times it was put on one moved since: it has not run, so its Python
     * stack is the one read then (see sample_process). */
    *still = !fresh && have_run && !t->running && slices != 0 && slices == t->last_slices &&
             run == t->last_run_ns;
    if (have_run)
        t->last_slices = slices;
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
    if (ran)
        *still = 0;
}

static void sweep_tracks(struct proc_track *p, uint64_t round)
{
    for (size_t i = 0; i < p->ntracks; i++)
        if (p->tracks[i].tid && p->tracks[i].round != round)
            track_close(&p->tracks[i]);
}

/* ---- stacks --------------------------------------------------------------------------------- */

static size_t frame_slot_of(uint64_t serial, int32_t line, size_t cap)
{
    uint64_t h = serial * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uint32_t)line * 0xC2B2AE3D27D4EB4FULL;
    return (size_t)(h ^ (h >> 31)) & (cap - 1);
}

/* The (code serial, line) map grows with the distinct code objects seen,
 * which a target that makes functions without end never stops making: at
 * this many slots (32 MiB) it is emptied instead, and fills again from the
 * dictionary (whose ids do not change). */
#define FRAME_MAP_MAX_SLOTS (1u << 21)

static int frame_map_grow(struct proc_track *p)
{
    if (p->cap_frames >= FRAME_MAP_MAX_SLOTS) {
        memset(p->frames, 0, p->cap_frames * sizeof *p->frames);
        p->nframes = 0;
        return 0;
    }
    size_t cap = p->cap_frames * 2;
    struct frame_slot *n = calloc(cap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i < p->cap_frames; i++) {
        struct frame_slot *o = &p->frames[i];
        if (!o->serial)
            continue;
        size_t j = frame_slot_of(o->serial, o->line, cap);
        while (n[j].serial)
            j = (j + 1) & (cap - 1);
        n[j] = *o;
    }
    free(p->frames);
    p->frames = n;
    p->cap_frames = cap;
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

static int frame_id(struct sampler *s, struct proc_track *p, const struct py_frame *pf, uint32_t *id)
{
    const struct py_code_info *ci = pf->code;
    size_t i = frame_slot_of(ci->serial, pf->line, p->cap_frames);
    for (;;) {
        struct frame_slot *slot = &p->frames[i];
        if (!slot->serial)
            break;
        if (slot->serial == ci->serial && slot->line == pf->line) {
            *id = slot->frame;
            return 0;
        }
        i = (i + 1) & (p->cap_frames - 1);
    }
    int rc = intern_named_frame(s, ci->name, ci->filename, pf->line, ci->firstlineno, id);
    if (rc)
        return rc;
    if ((p->nframes + 1) * 2 > p->cap_frames) {
        if (frame_map_grow(p) != 0)
            return 0;   /* still correct, just not remembered */
        i = frame_slot_of(ci->serial, pf->line, p->cap_frames);
        while (p->frames[i].serial)
            i = (i + 1) & (p->cap_frames - 1);
    }
    p->frames[i].serial = ci->serial;
    p->frames[i].line = pf->line;
    p->frames[i].frame = *id;
    p->nframes++;
    return 0;
}

/* The frame id of a marker named `name`, made once and kept in *id. */
static int marker_frame(struct sampler *s, const char *name, uint32_t *id, int *have)
{
    if (!*have && intern_named_frame(s, name, "", -1, 0, id) == 0)
        *have = 1;
    return *have ? 0 : -ENOMEM;
}

/* A Python frame of a walk, or the marker of frames left out of a deep
 * stack; -ENOENT for a frame with nothing to show. */
static int walked_frame_id(struct sampler *s, struct proc_track *p, const struct py_frame *pf,
                           uint32_t *id)
{
    if (pf->elided) {
        char name[48];
        snprintf(name, sizeof name, "<%u frames elided>", pf->elided);
        return intern_named_frame(s, name, "", -1, 0, id);
    }
    if (!pf->code)
        return -ENOENT;
    return frame_id(s, p, pf, id);
}

/* The dictionary reached a bound (or memory ran out) while a stack was
 * interned: the stack keeps the path so far and ends in a "[dictionary
 * full]" frame when there is room for that node, and is counted. */
static uint32_t cut_at_full(struct sampler *s, uint32_t node)
{
    uint32_t child;
    s->dict_full++;
    if (s->have_full_frame && stack_table_node(s->dict, node, s->full_frame, &child) == 0)
        return child;
    /* No room for that node either: the marker alone, made at start, so a
     * cut stack never passes for a shorter complete one. */
    return s->have_full_frame ? s->full_node : node;
}

/* --native: the merged stack's frames, root first; native frames are
 * (symbol, object) with STACK_FRAME_NATIVE. */
static uint32_t intern_merged(struct sampler *s, struct proc_track *p, uint32_t node,
                              const struct py_frame *frames, const struct merged_stack *m)
{
    for (size_t k = m->n; k-- > 0;) {
        const struct merged_frame *mf = &m->frames[k];
        uint32_t fid, child;
        int rc;
        if (mf->py >= 0) {
            rc = walked_frame_id(s, p, &frames[mf->py], &fid);
            if (rc == -ENOENT)
                continue;
        } else {
            rc = intern_named_frame(s, mf->function, mf->file, -1, STACK_FRAME_NATIVE, &fid);
        }
        if (rc != 0 || stack_table_node(s->dict, node, fid, &child) != 0)
            return cut_at_full(s, node);
        node = child;
    }
    /* A stack left without its C frames says so at its leaf, rather than
     * passing for a complete one. */
    uint32_t fid, child;
    if (m->error && intern_named_frame(s, "[no C frames]", "", -1, 0, &fid) == 0 &&
        stack_table_node(s->dict, node, fid, &child) == 0)
        node = child;
    return node;
}

/* The leaf node of a thread's stack, root first. A stack that could not
 * be read whole gets a root marker so its frames are not mistaken for
 * top-level calls: "<torn>" when it changed under every read, else
 * "[truncated]". merged: the thread's native merge, or NULL. */
static uint32_t intern_stack(struct sampler *s, struct proc_track *p, const struct py_thread *t,
                             const struct merged_stack *merged)
{
    /* No frames anywhere in this sample (an interpreter still starting)
     * means no frame array at all: do not index it. */
    const struct py_frame *frames = t->nframes ? &s->ps.frames[t->first_frame] : NULL;
    uint32_t node = 0;
    if (t->error) {
        uint32_t root;
        int rc = t->error == -PT_ERR_TORN
                     ? marker_frame(s, "<torn>", &s->torn_frame, &s->have_torn_frame)
                     : marker_frame(s, "[truncated]", &s->truncated_frame,
                                    &s->have_truncated_frame);
        root = t->error == -PT_ERR_TORN ? s->torn_frame : s->truncated_frame;
        /* Without its root marker a cut stack would pass for a whole one. */
        if (rc != 0 || stack_table_node(s->dict, 0, root, &node) != 0)
            return cut_at_full(s, 0);
    }
    if (merged)
        return intern_merged(s, p, node, frames, merged);
    for (size_t k = t->nframes; k-- > 0;) {
        uint32_t fid, child;
        int rc = walked_frame_id(s, p, &frames[k], &fid);
        if (rc == -ENOENT)
            continue;
        if (rc != 0 || stack_table_node(s->dict, node, fid, &child) != 0)
            return cut_at_full(s, node);
        node = child;
    }
    return node;
}

/* Re-read thread names when a thread appeared, and now and then, since
 * threads can be renamed. Remote reads happen before the lock is taken. */
/* Reading the names costs about a read per thread: with many threads, a
 * target that keeps starting new ones has them read at most this often. */
#define NAMES_DIRTY_MIN_NS (NS_PER_SEC / 20)

static void refresh_names(struct sampler *s, struct proc_track *p, uint64_t now)
{
    uint64_t since = now - p->names_at_ns;
    if (!p->names_dirty && p->names_at_ns && since < s->cfg.names_refresh_ns)
        return;
    if (p->names_at_ns && s->ps.nthreads >= LAZY_WALK_MIN_THREADS && since < NAMES_DIRTY_MIN_NS)
        return;   /* names_dirty stays set */
    p->names_dirty = 0;
    p->names_at_ns = now;
    size_t n = s->ps.nthreads;
    uint64_t *idents = malloc((n ? n : 1) * sizeof *idents);
    char (*names)[PY_THREAD_NAME_MAX] = malloc((n ? n : 1) * sizeof *names);
    if (idents && names) {
        for (size_t i = 0; i < n; i++)
            idents[i] = s->ps.threads[i].thread_id;
        py_thread_names(&p->target->walker, py_walker_first_interp(&p->target->walker), idents,
                        n, names);
        if (s->cfg.dict_lock)
            pthread_mutex_lock(s->cfg.dict_lock);
        for (size_t i = 0; i < n; i++) {
            struct thread_track *t = track_find(p, s->ps.threads[i].tid, 0);
            const char *name = names[i];
            if (!name[0] && s->ps.threads[i].tid == p->target->pid)
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

/* ---- memory --------------------------------------------------------------------------------- */

/* Credit the change of resident size since the last credited sample to
 * the threads that ran meanwhile, in proportion to their CPU time; with
 * no CPU time seen, to the GIL holder, else the running threads, else the
 * main thread. A sample without threads credits nothing: the change waits
 * for the next one. */
enum credit_rule { CREDIT_CPU, CREDIT_GIL, CREDIT_RUNNING, CREDIT_MAIN, CREDIT_FIRST };

/* Thread i's share of a memory change under a rule: its CPU time, or 1
 * when it holds the GIL, ran, is the main thread, or is the first. */
static uint64_t credit_weight(enum credit_rule rule, const struct sample_thread *out, size_t i,
                              uint32_t pid)
{
    switch (rule) {
    case CREDIT_CPU: return out[i].cpu_ns;
    case CREDIT_GIL: return (out[i].flags & SAMPLE_GIL) != 0;
    case CREDIT_RUNNING: return (out[i].flags & SAMPLE_RUNNING) != 0;
    case CREDIT_MAIN: return out[i].tid == pid;
    case CREDIT_FIRST: return i == 0;
    }
    return 0;
}

/* statm is read at most this often, not every sample: a change is
 * credited at the first sample MEM_EVERY_NS after the previous read, to
 * the threads running then. The instants are random, so where memory
 * grows is still sampled without bias, at a 10 ms grain. */
#define MEM_EVERY_NS (10ULL * 1000000ULL)

static void credit_memory(struct proc_track *p, struct sample_thread *out, size_t n, uint64_t now)
{
    uint64_t rss;
    if (!p->have_mem || n == 0)
        return;
    if (p->have_rss && now - p->rss_read_ns < MEM_EVERY_NS)
        return;
    if (proc_memstat_rss(&p->mem, &rss) != 0)
        return;
    p->rss_read_ns = now;
    if (!p->have_rss) {
        p->have_rss = 1;
        p->last_rss = rss;
        return;
    }
    uint64_t grow = rss > p->last_rss ? rss - p->last_rss : 0;
    uint64_t release = rss < p->last_rss ? p->last_rss - rss : 0;
    p->last_rss = rss;
    if (!grow && !release)
        return;

    /* The first rule that gives anyone a share (the last always does). */
    enum credit_rule rule = CREDIT_CPU;
    uint64_t total = 0;
    for (;; rule = (enum credit_rule)(rule + 1)) {
        for (size_t i = 0; i < n; i++)
            total += credit_weight(rule, out, i, p->info.pid);
        if (total || rule == CREDIT_FIRST)
            break;
    }
    /* Shares rounded down; what rounding leaves goes to the biggest share. */
    uint64_t given_grow = 0, given_release = 0;
    size_t biggest = 0;
    uint64_t biggest_w = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = credit_weight(rule, out, i, p->info.pid);
        if (!w)
            continue;
        uint64_t g = (uint64_t)((unsigned __int128)grow * w / total);
        uint64_t r = (uint64_t)((unsigned __int128)release * w / total);
        out[i].mem_grow += g;
        out[i].mem_release += r;
        given_grow += g;
        given_release += r;
        if (w > biggest_w) {
            biggest_w = w;
            biggest = i;
        }
    }
    out[biggest].mem_grow += grow - given_grow;
    out[biggest].mem_release += release - given_release;
}

/* The fuller counters, every counters_every_ns: NULL when not due. */
static const struct counters *read_counters(struct sampler *s, struct proc_track *p, uint64_t t)
{
    if (t < p->next_counters_ns)
        return NULL;
    p->next_counters_ns = t + s->cfg.counters_every_ns;
    memset(&p->counters, 0, sizeof p->counters);
    if (p->have_mem)
        proc_memstat_read(&p->mem, &p->counters);
    if (p->have_heap)
        py_heap_read(&p->heap, &p->target->live.base, &p->counters);
    return p->counters.valid ? &p->counters : NULL;
}

/* A thread that used CPU time since its last sample but is not on a CPU
 * now (it ran a burst, then went back to waiting) did not spend that time
 * where it waits: its CPU time, and the memory credited with it, go to
 * the stack it had when last seen on a CPU, as a carried entry
 * (SAMPLE_CARRY: not a sample of its own), and the sample keeps its wall
 * time where it is now. So bursts between waits are found where they
 * run, as often as they are caught running. Returns the entries added
 * at carry (0 or 1). */
static size_t carry_cpu(struct thread_track *tr, struct sample_thread *o,
                        struct sample_thread *carry)
{
    if (tr->on_cpu) {
        tr->cpu_stack = o->stack;
        return 0;
    }
    if (!o->cpu_ns || !tr->cpu_stack || tr->cpu_stack == o->stack)
        return 0;
    memset(carry, 0, sizeof *carry);
    carry->tid = o->tid;
    carry->name = o->name;
    carry->stack = tr->cpu_stack;
    carry->flags = SAMPLE_CARRY;
    carry->cpu_ns = o->cpu_ns;
    carry->mem_grow = o->mem_grow;
    carry->mem_release = o->mem_release;
    o->cpu_ns = 0;
    o->mem_grow = 0;
    o->mem_release = 0;
    return 1;
}

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
    uint64_t missing = 0, denied = 0, mismatch = 0, total = 0;
    uint64_t paused = native_stacks_paused_ns(p->native);
    for (size_t i = 0; i < s->ps.nthreads; i++) {
        /* Asked to stop: hold no more threads (this sample is dropped). */
        if (atomic_load(&s->stop))
            return 1;
        int rc = native_stacks_thread_of(p->native, &p->target->walker, &s->ps, i, &s->merged[i]);
        if (rc == -ENOMEM)
            return -ENOMEM;
        missing += rc != 0;
        denied += rc == -EPERM;
        mismatch += rc == -PT_ERR_NATIVE_MISMATCH;
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
    /* Held or not, as --blocking counts: the C frames are what is missing. */
    s->stats.unheld += missing - mismatch;   /* a mismatch was still held */
    s->stats.unheld_denied += denied;
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
 * not allowed, too slow to stop), or whose frames could not be read then,
 * is read as it runs and counted. Returns 0, 1 when asked to stop (no
 * thread is held after that and the sample is dropped), or -ENOMEM. */
static int hold_threads(struct sampler *s, struct proc_track *p)
{
    uint64_t unheld = 0, denied = 0, span;
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
    }
    pthread_mutex_lock(&s->stats_lock);
    s->stats.unheld += unheld;
    s->stats.unheld_denied += denied;
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

/* One sample of one process. Returns 0, 1 when the sink asked to stop, or
 * a negative error (-ESRCH: the process is gone). */
static int sample_process(struct sampler *s, struct proc_track *p, uint64_t now, uint64_t t,
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
        struct sample_thread *o = realloc(s->out, 2 * s->ps.nthreads * sizeof *o);
        if (o)
            s->out = o;
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
            track_update(s, tr, now, &o->cpu_ns, &o->wall_ns, &running, &still);
            s->still[i] = lazy && still && !pt->gil && tr->have_stack && tr->tstate == pt->tstate;
            tr->tstate = pt->tstate;
            o->name = tr->name;
            /* CPU time used since the last sample by a thread that is not
             * on a CPU now was spent elsewhere: see carry_cpu. */
            tr->on_cpu = pt->gil;
            if (!tr->on_cpu && o->cpu_ns) {
                char st;
                tr->on_cpu = proc_task_stat_read(&tr->stat, &st, NULL) == 0 && st == 'R';
            }
        }
        o->flags = (running ? SAMPLE_RUNNING : 0) | (pt->gil ? SAMPLE_GIL : 0);
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
            s->out[i].stack = intern_stack(s, p, &s->ps.threads[i],
                                           p->native ? &s->merged[i] : NULL);
            if (tr) {
                tr->stack = s->out[i].stack;
                tr->partial = (s->out[i].flags & SAMPLE_PARTIAL) != 0;
                tr->have_stack = 1;
            }
        }
        if (tr)
            nout += carry_cpu(tr, &s->out[i], &s->out[nout]);
    }
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
    pthread_mutex_unlock(&s->stats_lock);
    s->dict_full = 0;
    return stop ? 1 : 0;
}

/* ---- the target's exec ---------------------------------------------------------------------- */

#define EXEC_CHECK_EVERY_NS NS_PER_SEC          /* look for an exec this often anyway */
#define EXEC_RETRY_EVERY_NS (NS_PER_SEC / 50)   /* attach attempts to the new image */
#define EXEC_NOT_PYTHON_NS (2 * NS_PER_SEC)     /* no interpreter mapped by then: not Python */
#define EXEC_GIVE_UP_NS (10 * NS_PER_SEC)       /* Python, but never initialised */

/* Whether the target runs another program than the one attached to (an
 * exec): its image identity changed while its pid lives on. */
static int target_execd(struct sampler *s, uint64_t now)
{
    struct proc_track *p = s->procs[0];
    s->image_at_ns = now;
    uint64_t id;
    if (!p->have_image || proc_image_id(p->target->pid, &id) != 0 || id == p->image)
        return 0;
    if (proc_cmdline(p->target->pid, s->exec_command, sizeof s->exec_command) != 0)
        s->exec_command[0] = '\0';
    s->exec_pending = 1;
    s->exec_since_ns = now;
    s->exec_tried_ns = 0;
    return 1;
}

/* Attach to the target's new image, the way a descendant's exec is met in
 * discover_children: the new process gets its own process record (same
 * pid, new command) and its samples go on in the same run. Returns 0
 * (attached, or still waiting for its interpreter), -ESRCH (it exited),
 * or -PT_ERR_NOT_PYTHON (it runs something else: the run ends). */
static int follow_exec(struct sampler *s, uint64_t now)
{
    if (s->exec_tried_ns && now - s->exec_tried_ns < EXEC_RETRY_EVERY_NS)
        return 0;
    s->exec_tried_ns = now;
    pid_t pid = s->procs[0]->target->pid;
    struct py_target *t;
    int rc = py_target_open(pid, s->cfg.layout_source, &t);
    if (rc == 0) {
        struct proc_track *np;
        if (proc_track_add(s, t, 1, 0, &np) != 0) {
            py_target_free(t);
            return 0;   /* out of memory now: try again */
        }
        /* The new image takes the target's place, first in procs. */
        s->nprocs--;
        proc_track_free(s->procs[0]);
        s->procs[0] = np;
        s->target = t;
        s->exec_pending = 0;
        pthread_mutex_lock(&s->stats_lock);
        s->stats.execs++;
        pthread_mutex_unlock(&s->stats_lock);
        return 0;
    }
    if (rc == -ESRCH || proc_is_dead(pid) == 1)
        return -ESRCH;
    uint64_t waited = now - s->exec_since_ns;
    if ((rc == -PT_ERR_NOT_PYTHON && waited >= EXEC_NOT_PYTHON_NS) || waited >= EXEC_GIVE_UP_NS) {
        /* It may have exec'd again meanwhile: name what runs now. */
        char cmd[sizeof s->exec_command];
        if (proc_cmdline(pid, cmd, sizeof cmd) == 0)
            memcpy(s->exec_command, cmd, sizeof cmd);
        return -PT_ERR_NOT_PYTHON;
    }
    return 0;
}

/* One round: a sample of every process. Returns 0, 1 when the sink asked
 * to stop, or a negative error (-ESRCH: the target is gone). */
static int take_sample(struct sampler *s, uint64_t start_ns, sampler_sink_fn sink, void *ctx)
{
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    discover_children(s, now);
    s->round++;
    uint64_t t = now - start_ns;
    int result = 0;
    if (!s->exec_pending && now - s->image_at_ns >= EXEC_CHECK_EVERY_NS)
        target_execd(s, now);
    if (s->exec_pending) {
        int rc = follow_exec(s, now);
        if (rc < 0)
            return rc;
    }
    /* While the target's new image starts, its descendants go on. */
    for (size_t i = s->exec_pending ? 1 : 0; i < s->nprocs;) {
        struct proc_track *p = s->procs[i];
        int rc = sample_process(s, p, now, t, sink, ctx);
        if (rc == 1) {
            result = 1;
            break;
        }
        /* The target's walk failing may be an exec: then it is followed. */
        if (i == 0 && (rc < 0 || p->failures) && target_execd(s, now)) {
            i++;
            continue;
        }
        if (rc < 0 && i == 0)
            return rc;   /* the target itself: the run ends */
        /* A descendant that exited, or no longer reads as Python. */
        if (i > 0 && (rc < 0 || p->failures >= CHILD_MAX_FAILURES)) {
            struct candidate *c = candidate_find(s, p->target->pid);
            if (c)
                c->state = CAND_NOT_PYTHON;
            proc_track_remove(s, i);
            continue;
        }
        i++;
    }
    uint64_t reads = 0, retries = s->gone_retries;
    for (size_t i = 0; i < s->nprocs; i++) {
        reads += s->procs[i]->target->live.base.reads;
        retries += s->procs[i]->target->walker.retries;
    }
    pthread_mutex_lock(&s->stats_lock);
    if (!s->exec_pending || s->nprocs > 1)
        s->stats.samples++;   /* not a round that only waited for a new image */
    s->stats.remote_reads = reads;
    s->stats.retries = retries;
    s->stats.processes = (uint32_t)s->nprocs;
    s->stats.processes_seen = s->procs_seen;
    pthread_mutex_unlock(&s->stats_lock);
    return result;
}

/* Sleep until the monotonic deadline, or until sampler_stop: waiting on
 * the eventfd, a stop from another thread (the live view's) or a signal
 * handler ends the sleep at once, whatever the period. */
static void sleep_until(struct sampler *s, uint64_t deadline)
{
    while (!atomic_load(&s->stop)) {
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now >= deadline)
            return;
        uint64_t left = deadline - now;
        struct timespec ts = { .tv_sec = (time_t)(left / NS_PER_SEC),
                               .tv_nsec = (long)(left % NS_PER_SEC) };
        if (s->wake_fd < 0) {
            struct timespec abs = { .tv_sec = (time_t)(deadline / NS_PER_SEC),
                                    .tv_nsec = (long)(deadline % NS_PER_SEC) };
            if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) != EINTR)
                return;
            continue;
        }
        struct pollfd pfd = { .fd = s->wake_fd, .events = POLLIN };
        int r = ppoll(&pfd, 1, &ts, NULL);
        if (r > 0) {
            uint64_t v;
            ssize_t got = read(s->wake_fd, &v, sizeof v);
            (void)got;
        } else if (r < 0 && errno != EINTR) {
            return;
        }
    }
}

/* ---- when to sample ------------------------------------------------------------------------- */

/* The sampling instants are a renewal process: each is the one before
 * plus a gap drawn uniformly from [period/2, 3 period/2). The mean gap is
 * the period, so the rate is the one asked for. One such gap spreads an
 * instant over a whole period, so against work the target repeats with
 * any cycle, the instants' phase becomes uniform within a few samples and
 * stays uniform: the sampler cannot lock onto a period.
 *
 * Each sample is credited the time since the one before, so the gap
 * before a sample must not depend on where the target's cycle is at that
 * sample; here it does not, as the phase before the gap is uniform and
 * independent of the gap. Instants at start + k * period (even jittered a
 * little) keep their phase against a cycle that divides the period; an
 * instant drawn uniformly within each period makes the time credited
 * depend on where in its period it fell (75/25 reads 66/34 to 84/16
 * depending on the target's phase); Poisson instants are unbiased but
 * their more varied gaps double a share's variance. */
static uint64_t schedule_gap(struct sampler *s)
{
    uint64_t gap = s->period_ns / 2 + (uint64_t)(rand_unit(s) * (double)s->period_ns);
    return gap ? gap : 1;
}

/* The instant after `instant`, given that the sample before it ended at
 * `now`. A sampler more than a period behind cannot keep the rate: it
 * skips the instants it missed (counted in skipped, not late) rather than
 * taking them in a burst, and takes the next sample at once, back to
 * back, so that it samples as often as the machine lets it instead of
 * sleeping into the next drawn instant. Less than a period behind, the
 * instant drawn is kept (taken at once when it is past). */
#define SCHEDULE_MAX_DRAWS 4096
static uint64_t schedule_next(struct sampler *s, uint64_t instant, uint64_t now, uint64_t *skipped)
{
    uint64_t next = instant + schedule_gap(s);
    *skipped = 0;
    for (unsigned draws = 0; next + s->period_ns < now; draws++) {
        if (draws == SCHEDULE_MAX_DRAWS) {
            /* Stalled for thousands of periods: count the rest by the mean. */
            *skipped += (now - next) / s->period_ns;
            return now;
        }
        next += schedule_gap(s);
        (*skipped)++;
    }
    return *skipped ? now : next;
}

int sampler_run(struct sampler *s, sampler_sink_fn sink, void *ctx)
{
    const uint64_t period = s->period_ns;
    const uint64_t start = now_ns(CLOCK_MONOTONIC);
    const uint64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t instant = start;   /* the first sample is taken at once */
    uint64_t rounds = 0;
    int result = SAMPLER_STOPPED;

    for (;;) {
        if (atomic_load(&s->stop))
            break;
        uint64_t now = now_ns(CLOCK_MONOTONIC);
        if (now < instant) {
            sleep_until(s, instant);
            if (atomic_load(&s->stop))
                break;
            now = now_ns(CLOCK_MONOTONIC);
        }
        if (s->cfg.duration_ns && now - start >= s->cfg.duration_ns) {
            result = SAMPLER_DURATION;
            break;
        }
        if (now > instant && now - instant > period / 2) {
            pthread_mutex_lock(&s->stats_lock);
            s->stats.late++;
            pthread_mutex_unlock(&s->stats_lock);
        }
        int rc = take_sample(s, start, sink, ctx);
        if (rc == -ESRCH) {
            result = SAMPLER_TARGET_EXITED;
            break;
        }
        if (rc == -PT_ERR_NOT_PYTHON) {
            result = SAMPLER_TARGET_EXECED;
            break;
        }
        if (rc < 0) {
            result = rc;
            break;
        }
        if (rc == 1)
            break;

        rounds++;
        uint64_t after = now_ns(CLOCK_MONOTONIC);
        uint64_t skipped;
        instant = schedule_next(s, instant, after, &skipped);
        /* The thread's CPU clock is a system call, not a vDSO read: take
         * it every 64 rounds only (and at the end). */
        uint64_t busy = (rounds & 63) == 0 ? now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start : 0;
        pthread_mutex_lock(&s->stats_lock);
        s->stats.skipped += skipped;
        s->stats.elapsed_ns = after - start;
        if (busy)
            s->stats.busy_ns = busy;
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
