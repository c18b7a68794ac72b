/* The processes and threads being sampled: their records, each thread's
 * CPU time since its last sample, and thread names. */
#include "config.h"

#include "sampler/sampler_internal.h"

#include "core/vec.h"
#include "proc/memstat.h"
#include "proc/process.h"
#include "python/thread_names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- processes ------------------------------------------------------------------------------ */

/* Closes t's context-switch clock (if open), and its count in p. */
static void clock_close(struct proc_track *p, struct thread_track *t)
{
    if (t->clock.switches.fd >= 0 && p->switch_clocks)
        p->switch_clocks--;
    switch_clock_close(&t->clock);
}

static void track_close(struct proc_track *p, struct thread_track *t)
{
    clock_close(p, t);
    proc_task_cpu_close(&t->cpu);
    proc_task_stat_close(&t->stat);
    t->tid = 0;
}

void proc_track_free(struct proc_track *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ntracks; i++)
        if (p->tracks[i].tid)
            track_close(p, &p->tracks[i]);
    free(p->tracks);
    free(p->frames);
    if (p->have_mem)
        proc_memstat_close(&p->mem);
    if (p->have_heap)
        py_heap_release(&p->heap);
    native_stacks_free(p->native);
    thread_hold_free(p->hold);
    if (p->aio)
        py_aio_reader_release(p->aio);
    free(p->aio);
    py_aio_tasks_release(&p->tasks);
    free(p->task_on);
    if (p->owned)
        py_target_free(p->target);
    free(p);
}

/* Start sampling target (owned: pytop attached to it and frees it). */
int proc_track_add(struct sampler *s, struct py_target *target, int owned, pid_t ppid,
                   struct proc_track **out)
{
    struct proc_track **n = vec_grow(s->procs, &s->cap_procs, s->nprocs + 1, sizeof *n, 4);
    if (!n)
        return -ENOMEM;
    s->procs = n;
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
    if (s->cfg.async) {
        /* A version without readable tasks: the first process refuses
         * (say so once, at start); a descendant is sampled without. */
        p->aio = malloc(sizeof *p->aio);
        int arc = p->aio ? py_aio_reader_init(p->aio, target->version.major, target->version.minor,
                                              target->walker.layout.free_threaded, target->pid,
                                              target->binary)
                         : -ENOMEM;
        if (arc) {
            free(p->aio);
            p->aio = NULL;
            if (s->nprocs == 0 || arc == -ENOMEM) {
                proc_track_free(p);
                return arc;
            }
        }
    }
    s->procs[s->nprocs++] = p;
    s->procs_seen++;
    if (out)
        *out = p;
    return 0;
}

void proc_track_remove(struct sampler *s, size_t i)
{
    /* Its walker's counters outlive it in the run's totals. */
    s->gone_retries += s->procs[i]->target->walker.retries;
    proc_track_free(s->procs[i]);
    memmove(&s->procs[i], &s->procs[i + 1], (s->nprocs - i - 1) * sizeof *s->procs);
    s->nprocs--;
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

struct thread_track *track_find(struct proc_track *p, pid_t tid, int create)
{
    struct thread_track *found = track_lookup(p, tid);
    if (found || !create)
        return found;
    struct thread_track *free_slot = NULL;
    for (size_t i = 0; i < p->ntracks && !free_slot; i++)
        if (!p->tracks[i].tid)
            free_slot = &p->tracks[i];
    if (!free_slot) {
        struct thread_track *t = vec_grow(p->tracks, &p->cap_tracks, p->ntracks + 1, sizeof *t, 16);
        if (!t)
            return NULL;
        p->tracks = t;
        free_slot = &p->tracks[p->ntracks++];
    }
    memset(free_slot, 0, sizeof *free_slot);
    free_slot->tid = tid;
    free_slot->cpu.fd = -1;
    free_slot->stat.fd = -1;
    free_slot->clock.switches.fd = -1;
    free_slot->clock.probe.fd = -1;
    proc_task_cpu_open(p->target->pid, tid, &free_slot->cpu);
    proc_task_stat_open(p->target->pid, tid, &free_slot->stat);
    p->names_dirty = 1;
    return free_slot;
}

/* Opens t's context-switch clock, unless asked not to, at the cap, or
 * perf events proved not to be there or not allowed. */
static void clock_open(struct sampler *s, struct proc_track *p, struct thread_track *t,
                       uint64_t now)
{
    t->clock_tried = 1;
    if (s->cfg.schedstat || s->switch_off)
        return;
    size_t open = 0;
    for (size_t i = 0; i < s->nprocs; i++)
        open += s->procs[i]->switch_clocks;
    if (open >= SWITCH_CLOCKS_MAX)
        return;
    uint64_t run, slices;
    if (proc_task_cpu_read_slices(&t->cpu, &run, &slices) != 0)
        return;   /* no base to count from */
    int rc = switch_clock_open(&t->clock, p->target->pid, t->tid, now);
    if (rc == -EACCES || rc == -EPERM || rc == -ENOSYS || rc == -ENOENT || rc == -EINVAL ||
        rc == -EOPNOTSUPP) {
        s->switch_off = 1;   /* the same for every thread: stop asking */
        pthread_mutex_lock(&s->stats_lock);
        s->stats.switch_error = rc;
        pthread_mutex_unlock(&s->stats_lock);
    }
    if (rc)
        return;
    t->clock_base_run = run;
    t->clock_base_slices = slices;
    p->switch_clocks++;
}

/* A thread that switches too often: schedstat from now on (it moves at
 * every switch, so it is exact for such a thread anyway). */
static void clock_give_up(struct sampler *s, struct proc_track *p, struct thread_track *t)
{
    clock_close(p, t);
    s->clock_tally.switch_busy++;
}

/* Closes t's clock when it switched in more than SWITCHES_PER_SEC_MAX
 * times a second over the last second (slices: its count now). */
static void watch_switch_rate(struct sampler *s, struct proc_track *p, struct thread_track *t,
                              uint64_t now, uint64_t slices)
{
    if (!t->clock_window_ns || slices < t->clock_window_slices) {
        t->clock_window_ns = now;
        t->clock_window_slices = slices;
        return;
    }
    uint64_t span = now - t->clock_window_ns;
    if (span < NS_PER_SEC)
        return;
    uint64_t ins = slices - t->clock_window_slices;
    t->clock_window_ns = now;
    t->clock_window_slices = slices;
    if (ins <= SWITCHES_PER_SEC_MAX * (span / 1000000u) / 1000u)
        return;
    clock_give_up(s, p, t);
}

/* schedstat adds a running thread's time up only at its scheduler ticks
 * (every 4 ms at 250 Hz) and when it leaves a CPU, so between two samples
 * closer than that its count stands still, then jumps by a tick. A sample
 * is never credited more CPU than wall time; what a jump brings beyond
 * that is owed, and paid into the thread's next samples as their wall time
 * allows. Dropping it (as once done) kept 28 % of a spinning thread's CPU
 * at 1 kHz, 8 % at 5 kHz. The debt is bounded: a tick is at most 10 ms,
 * a tickless CPU's residual tick 1 s. */
#define CPU_OWED_MAX_NS (2 * NS_PER_SEC)

static void credit_owed_cpu(struct thread_track *t, uint64_t *cpu_ns, uint64_t wall_ns, int fresh)
{
    if (fresh) {
        t->cpu_owed_ns = 0;
        return;
    }
    uint64_t cpu = *cpu_ns + t->cpu_owed_ns;
    if (cpu > wall_ns) {
        uint64_t owed = cpu - wall_ns;
        t->cpu_owed_ns = owed < CPU_OWED_MAX_NS ? owed : CPU_OWED_MAX_NS;
        cpu = wall_ns;
    } else {
        t->cpu_owed_ns = 0;
    }
    *cpu_ns = cpu;
}

/* CPU time since the thread's last sample, and whether it ran. From its
 * context-switch clock when that can tell: exact, no system call, and
 * whether it is on a CPU or waiting for one is known. Else from schedstat,
 * which the kernel updates for a running task only at ticks: when it did
 * not move for a thread running before, seen_running (it holds the GIL or
 * is attached, or its innermost Python frame moved: read with the stack,
 * no system call) or its schedstat counts (in R then and nothing moved)
 * say it still runs; else its state is read from stat, one pread more. */
void track_update(struct sampler *s, struct proc_track *p, struct thread_track *t, uint64_t now,
                  int seen_running, uint64_t *cpu_ns, uint64_t *wall_ns, int *running,
                  int *still, int *on_cpu)
{
    uint64_t run = t->last_run_ns, slices = 0;
    int fresh = t->last_wall_ns == 0;
    int on = 0, queued = 0, exact = 0, restart = 0;
    if (!t->clock_tried)
        clock_open(s, p, t, now);
    if (t->clock.switches.fd >= 0) {
        uint64_t crun, ins;
        if (switch_clock_read(&t->clock, now, &crun, &on, &queued, &ins) == 0) {
            run = t->clock_base_run + crun;
            slices = t->clock_base_slices + ins;
            exact = 1;
        } else {
            restart = t->clock.state.lost;
        }
    }
    if (exact)
        watch_switch_rate(s, p, t, now, slices);
    int have_run = exact || proc_task_cpu_read_slices(&t->cpu, &run, &slices) == 0;
    if (restart && !fresh && now - t->last_wall_ns < NS_PER_SEC) {
        /* The ring (680 switches) filled in under a second: it
         * switches too often for its records to be worth their cost. */
        clock_give_up(s, p, t);
    } else if (restart && have_run) {
        /* Records were lost: counted again from here, from schedstat's. */
        switch_clock_restart(&t->clock, now);
        t->clock_base_run = run;
        t->clock_base_slices = slices;
    }
    /* Not on a CPU at the last sample, and neither its CPU time nor the
     * times it was put on one moved since: it has not run, so its Python
     * stack is the one read then (see sample_process). */
    *still = !fresh && have_run && !t->running && (slices != 0 || exact) &&
             slices == t->last_slices && run == t->last_run_ns && !(exact && on);
    /* In state R at the last sample, and neither count moved: in R still.
     * It cannot have left the CPU (that adds its time) nor got on one
     * (that counts), and it cannot block without running. */
    int runnable = exact ? on || queued
                         : !fresh && have_run && t->runnable && slices != 0 &&
                               slices == t->last_slices && run == t->last_run_ns;
    if (have_run)
        t->last_slices = slices;
    *cpu_ns = (!fresh && have_run && run > t->last_run_ns) ? run - t->last_run_ns : 0;
    *wall_ns = fresh ? s->period_ns : now - t->last_wall_ns;
    credit_owed_cpu(t, cpu_ns, *wall_ns, fresh);
    int ran = *cpu_ns > 0 || (exact && on);
    if (!ran && !exact && (fresh || t->running)) {
        char st;
        if (seen_running || runnable) {
            ran = 1;
        } else {
            ran = proc_task_stat_read(&t->stat, &st, NULL) == 0 && st == 'R';
            runnable = ran;
        }
    }
    t->runnable = runnable;
    if (have_run)
        t->last_run_ns = run;
    t->last_wall_ns = now;
    t->running = ran;
    *running = ran;
    *on_cpu = exact ? runnable : -1;
    if (exact)
        s->clock_tally.cpu_switches++;
    else
        s->clock_tally.cpu_schedstat++;
    s->clock_tally.switch_restarts += (uint64_t)(restart && t->clock.switches.fd >= 0);
}

void sweep_tracks(struct proc_track *p, uint64_t round)
{
    for (size_t i = 0; i < p->ntracks; i++)
        if (p->tracks[i].tid && p->tracks[i].round != round)
            track_close(p, &p->tracks[i]);
}

/* ---- names ---------------------------------------------------------------------------------- */

/* Re-read thread names when a thread appeared, and now and then, since
 * threads can be renamed. Remote reads happen before the lock is taken. */
/* Reading the names costs about a read per thread: with many threads, a
 * target that keeps starting new ones has them read at most this often. */
#define NAMES_DIRTY_MIN_NS (NS_PER_SEC / 20)

void refresh_names(struct sampler *s, struct proc_track *p, uint64_t now)
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
