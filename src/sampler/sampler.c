/* The sampler's life cycle and its loop: a round of samples at each
 * instant (the instants are schedule.c's), and the sleeps between. */
#include "config.h"

#include "sampler/sampler_internal.h"

#include "core/error.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
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
    schedule_init(&s->schedule, s->period_ns, now_ns(CLOCK_MONOTONIC) | 1);
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

/* ---- one round ------------------------------------------------------------------------------ */

#define EXEC_CHECK_EVERY_NS NS_PER_SEC          /* look for an exec this often anyway */

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

/* A wait shorter than this is not slept but spent reading the clock (the
 * vDSO: no system call). It is a normal thread's timer slack, by which the
 * kernel may stretch any sleep; and a sleep this short costs about as much
 * as it waits (the call, the timer, two context switches): sleeping such
 * gaps held pytop to 56-59 kHz at 100 kHz asked with a core of its own
 * (SCHED_FIFO), spinning them to 92-96 kHz. Only rates above about 10 kHz
 * leave gaps this short often; at 1 kHz and below the sampler never spins
 * (docs/performance.md, "Achieved rates"). */
#define SPIN_BELOW_NS (50 * 1000ULL)

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
        if (left < SPIN_BELOW_NS) {
            /* Bounded by the deadline; the stop flag is looked at each turn. */
            while (!atomic_load(&s->stop) && now_ns(CLOCK_MONOTONIC) < deadline)
                ;
            return;
        }
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

/* How often the sampler's own CPU time is brought up to date while it runs. */
#define BUSY_EVERY_NS NS_PER_SEC

int sampler_run(struct sampler *s, sampler_sink_fn sink, void *ctx)
{
    const uint64_t period = s->period_ns;
    const uint64_t start = now_ns(CLOCK_MONOTONIC);
    const uint64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t instant = start;   /* the first sample is taken at once */
    uint64_t busy_read = start;
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

        uint64_t after = now_ns(CLOCK_MONOTONIC);
        uint64_t skipped;
        instant = schedule_next(&s->schedule, instant, after, &skipped);
        /* The thread's CPU clock is a system call, not a vDSO read: take
         * it about once a second only (and at the end). */
        uint64_t busy = 0;
        if (after - busy_read >= BUSY_EVERY_NS) {
            busy_read = after;
            busy = now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start;
        }
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
