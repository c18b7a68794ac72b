#include "config.h"

#include "session/session_live.h"

#include "session/dict_budget.h"

#include "model/phases.h"
#include "proc/info.h"
#include "proc/process.h"
#include "proc/tasks.h"
#include "sampler/sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_SEC 1000000000ULL
/* Counters are read this often (in sample time), and CPU% is measured
 * over at least a second. */
#define POINT_EVERY_NS (250ULL * 1000000ULL)
#define CPU_SPAN_NS NS_PER_SEC
/* The queue between the sampler and the UI holds this much sampling
 * (within these bounds): the UI drains it at least every 200 ms, so a
 * query would have to stall the view for seconds before samples are
 * dropped (counted and shown, never silent). */
#define QUEUE_SPAN_NS (2ULL * NS_PER_SEC)
#define QUEUE_MIN_SLOTS 1024u
#define QUEUE_MAX_SLOTS (1u << 18)

/* A sample as handed over: copies of what the sink was lent. */
struct queued_sample {
    struct sample smp;
    struct sample_thread *threads;   /* owned; grown by the sampler thread */
    size_t cap;
    struct process_info process;
    struct counters counters;
};

/* A ring with one producer (the sampler thread) and one consumer (the UI
 * thread): the sampler never waits for the UI's lock, so a slow query
 * delays the view, never sampling. A slot between tail and head belongs
 * to the consumer, the others to the producer; each index is published
 * with release order after the slots it covers. */
struct sample_queue {
    struct queued_sample *slots;
    size_t mask;
    _Atomic uint64_t head, tail;
    _Atomic uint64_t dropped;      /* samples the full queue refused */
};

struct live_session {
    struct session base;
    struct py_target *target;       /* borrowed */
    const struct session_child *child;   /* borrowed; NULL when attached */
    int blocking;                   /* --blocking */
    /* Launched: start-up and shutdown named (the sampler thread's). */
    struct phase_labels phases;
    int have_phases;
    struct stack_table *owned_dict;
    struct sampler *sampler;
    pthread_t thread;
    int thread_started;
    struct sample_queue queue;
    /* Test hook (PYTOP_TEST_UI_DELAY_MS): the UI holds the lock this long
     * per tick, as a slow query would. */
    uint64_t ui_delay_ns;

    /* Written by the sampler thread under info_lock (never base.lock:
     * the UI holds that for whole queries). */
    pthread_mutex_t info_lock;
    uint64_t next_point_ns;
    uint64_t cpu_ref_time_ns, cpu_ref_ns;
    int have_cpu_ref;
    int have_cpu, have_memory;
    double cpu_percent;
    uint64_t rss;
    uint32_t threads;
    int done, ended, execd, exit_status, error;
};

/* Process counters, on the sampler thread, at most every POINT_EVERY_NS:
 * cheap enough (two small /proc reads) not to disturb the sampling. */
static void read_counters(struct live_session *ls, uint64_t t)
{
    pid_t pid = ls->target->pid;
    uint64_t peak;
    if (proc_memory(pid, &ls->rss, &peak) == 0)
        ls->have_memory = 1;
    struct proc_usage u;
    if (proc_usage_read(pid, &u) != 0)
        return;
    ls->threads = u.threads;
    if (!ls->have_cpu_ref) {
        ls->have_cpu_ref = 1;
        ls->cpu_ref_time_ns = t;
        ls->cpu_ref_ns = u.cpu_ns;
    } else if (t - ls->cpu_ref_time_ns >= CPU_SPAN_NS) {
        uint64_t used = u.cpu_ns > ls->cpu_ref_ns ? u.cpu_ns - ls->cpu_ref_ns : 0;
        ls->cpu_percent = 100.0 * (double)used / (double)(t - ls->cpu_ref_time_ns);
        ls->have_cpu = 1;
        ls->cpu_ref_time_ns = t;
        ls->cpu_ref_ns = u.cpu_ns;
    }
}

static int queue_init(struct sample_queue *q, double rate_hz)
{
    double want = rate_hz * (double)QUEUE_SPAN_NS / (double)NS_PER_SEC;
    size_t n = QUEUE_MIN_SLOTS;
    while (n < QUEUE_MAX_SLOTS && (double)n < want)
        n <<= 1;
    q->slots = calloc(n, sizeof *q->slots);
    if (!q->slots)
        return -ENOMEM;
    q->mask = n - 1;
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    atomic_init(&q->dropped, 0);
    return 0;
}

static void queue_release(struct sample_queue *q)
{
    if (!q->slots)
        return;
    for (size_t i = 0; i <= q->mask; i++)
        free(q->slots[i].threads);
    free(q->slots);
    q->slots = NULL;
}

/* Sampler thread: copy s into the next free slot; a full queue (or no
 * memory for the copy) drops it and counts it. */
static void queue_push(struct sample_queue *q, const struct sample *s)
{
    uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (head - tail > q->mask) {
        atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
        return;
    }
    struct queued_sample *slot = &q->slots[head & q->mask];
    if (s->nthreads > slot->cap) {
        struct sample_thread *t = realloc(slot->threads, s->nthreads * sizeof *t);
        if (!t) {
            atomic_fetch_add_explicit(&q->dropped, 1, memory_order_relaxed);
            return;
        }
        slot->threads = t;
        slot->cap = s->nthreads;
    }
    if (s->nthreads)
        memcpy(slot->threads, s->threads, s->nthreads * sizeof *s->threads);
    slot->smp = *s;
    slot->smp.threads = slot->threads;
    if (s->process) {
        slot->process = *s->process;
        slot->smp.process = &slot->process;
    }
    if (s->counters) {
        slot->counters = *s->counters;
        slot->smp.counters = &slot->counters;
    }
    atomic_store_explicit(&q->head, head + 1, memory_order_release);
}

/* UI thread, under base.lock: feed the model every queued sample, in the
 * order taken, so the model is what it would be fed directly. */
static void queue_drain(struct session *s, struct sample_queue *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    for (; tail != head; tail++) {
        /* A sample the model cannot take (out of memory) is lost to the
         * view only; sampling goes on. */
        (void)session_model_add(s, s->model, &q->slots[tail & q->mask].smp);
        /* Hand slots back as we go, so a long drain does not fill it. */
        atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    }
}

/* Called by the sampler; the only thread that adds to the dictionary. */
static int live_sink(void *ctx, const struct stack_table *dict, const struct sample *s)
{
    (void)dict;
    struct live_session *ls = ctx;
    struct sample labelled;
    if (ls->have_phases) {
        phase_labels_apply(&ls->phases, ls->owned_dict, s, &labelled);
        s = &labelled;
    }
    queue_push(&ls->queue, s);
    if (s->time_ns >= ls->next_point_ns) {
        pthread_mutex_lock(&ls->info_lock);
        read_counters(ls, s->time_ns);
        pthread_mutex_unlock(&ls->info_lock);
        ls->next_point_ns = s->time_ns + POINT_EVERY_NS;
    }
    return 0;
}

static void live_tick(struct session *s, uint64_t mono_ns)
{
    (void)mono_ns;
    struct live_session *ls = (struct live_session *)s;
    pthread_mutex_lock(&s->lock);
    queue_drain(s, &ls->queue);
    if (ls->ui_delay_ns) {
        struct timespec ts = { .tv_sec = (time_t)(ls->ui_delay_ns / NS_PER_SEC),
                               .tv_nsec = (long)(ls->ui_delay_ns % NS_PER_SEC) };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&s->lock);
}

static void *sampler_main(void *arg)
{
    struct live_session *ls = arg;
    int end = sampler_run(ls->sampler, live_sink, ls);
    int status = -1;
    if (end == SAMPLER_TARGET_EXITED && ls->child)
        status = ls->child->reap(ls->child->ctx);
    pthread_mutex_lock(&ls->info_lock);
    ls->done = end == SAMPLER_DURATION;
    ls->ended = end == SAMPLER_TARGET_EXITED;
    ls->execd = end == SAMPLER_TARGET_EXECED;
    ls->exit_status = status;
    ls->error = end < 0 ? end : 0;
    ls->have_cpu = 0;
    pthread_mutex_unlock(&ls->info_lock);
    return NULL;
}

static void live_info(struct session *s, struct session_info *out)
{
    struct live_session *ls = (struct live_session *)s;
    struct sampler_stats st;
    sampler_get_stats(ls->sampler, &st);
    out->elapsed_ns = st.elapsed_ns;
    out->samples = st.samples;
    out->late = st.late;
    out->errors = st.errors + st.partial;
    out->have_stacks = 1;
    memcpy(out->stacks, st.stacks, sizeof out->stacks);
    out->achieved_hz = st.achieved_hz;
    out->blocking = ls->blocking;
    out->pause_samples = st.pause_sample.count;
    out->pause_median_ns = hist_quantile(&st.pause_sample, 0.5);
    out->pause_p90_ns = hist_quantile(&st.pause_sample, 0.9);
    out->execs = st.execs;
    out->dict_full = st.dict_full;
    out->dropped = atomic_load_explicit(&ls->queue.dropped, memory_order_relaxed);
    pthread_mutex_lock(&ls->info_lock);
    out->have_cpu = ls->have_cpu;
    out->cpu_percent = ls->cpu_percent;
    out->have_memory = ls->have_memory;
    out->rss_bytes = ls->rss;
    out->threads = ls->threads;
    out->ended = ls->ended;
    out->execd = ls->execd;
    out->exit_status = ls->exit_status;
    out->error = ls->error;
    out->done = ls->done;
    pthread_mutex_unlock(&ls->info_lock);
}

/* The target's own view first: its mount namespace and working
 * directory; then the path as pytop sees it (the target may be gone). */
static int live_open_file(struct session *s, const char *path, int *fd)
{
    struct live_session *ls = (struct live_session *)s;
    int rc = proc_open_target_file(ls->target->pid, path, fd);
    if (rc == 0)
        return 0;
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

static void live_release(struct session *s)
{
    struct live_session *ls = (struct live_session *)s;
    if (ls->thread_started) {
        sampler_stop(ls->sampler);
        pthread_join(ls->thread, NULL);
    }
    sampler_free(ls->sampler);
    queue_release(&ls->queue);
    pthread_mutex_destroy(&ls->info_lock);
    phase_labels_release(&ls->phases);
    model_free(s->model);
    stack_table_free(ls->owned_dict);
}

static const struct session_ops live_ops = {
    .info = live_info,
    .tick = live_tick,
    .open_file = live_open_file,
    .release = live_release,
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

int session_live_new(struct py_target *target, const struct session_child *child,
                     const struct session_options *o, struct session **out)
{
    struct live_session *ls = calloc(1, sizeof *ls);
    if (!ls)
        return -ENOMEM;
    struct session *s = &ls->base;
    session_base_init(s, &live_ops, o);
    ls->target = target;
    ls->child = child;
    ls->blocking = o->blocking;
    ls->exit_status = -1;
    pthread_mutex_init(&ls->info_lock, NULL);
    const char *delay = getenv("PYTOP_TEST_UI_DELAY_MS");
    if (delay && *delay)
        ls->ui_delay_ns = strtoull(delay, NULL, 10) * 1000000ULL;
    s->pid = (uint32_t)target->pid;
    snprintf(s->python, sizeof s->python, "%s", target->version.text);
    if (proc_cmdline(target->pid, s->command, sizeof s->command) != 0)
        s->command[0] = '\0';
    if (child) {
        /* Started by pytop, it is seen from its start-up on. */
        char args[4096];
        size_t len = 0;
        if (proc_cmdline_args(target->pid, args, sizeof args, &len) != 0)
            len = 0;
        phase_labels_init(&ls->phases, (uint32_t)target->pid, args, len);
        ls->have_phases = 1;
    }
    s->start_unix_ns = realtime_ns();
    s->rate_hz = (uint32_t)(o->rate_hz + 0.5);

    int rc = -ENOMEM;
    ls->owned_dict = dict_budget_new();
    if (ls->owned_dict && queue_init(&ls->queue, o->rate_hz) != 0) {
        stack_table_free(ls->owned_dict);
        ls->owned_dict = NULL;
    }
    s->dict = ls->owned_dict;
    if (ls->owned_dict)
        s->model = session_new_model(s, ls->owned_dict);
    if (s->model) {
        /* No dictionary lock: the sampler adds to the dictionary alone;
         * readers need no lock (see core/stacks.h). */
        struct sampler_config sc = SAMPLER_CONFIG_OF(o);
        rc = sampler_new(target, ls->owned_dict, &sc, &ls->sampler);
    }
    if (rc == 0) {
        /* Terminal signals go to the UI thread, which restores the screen. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        rc = -pthread_create(&ls->thread, NULL, sampler_main, ls);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        ls->thread_started = rc == 0;
    }
    if (rc) {
        session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
