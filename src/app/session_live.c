#include "config.h"

#include "app/session_live.h"

#include "app/dict_budget.h"

#include "model/phases.h"
#include "proc/process.h"
#include "proc/tasks.h"
#include "sampler/sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

struct live_session {
    struct session base;
    struct py_target *target;       /* borrowed */
    struct launch *launched;        /* borrowed; NULL when attached */
    int blocking;                   /* --blocking */
    /* Launched: start-up and shutdown named (the sampler thread's). */
    struct phase_labels phases;
    int have_phases;
    struct stack_table *owned_dict;
    struct sampler *sampler;
    pthread_t thread;
    int thread_started;

    /* Written by the sampler thread under base.lock. */
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

/* Called by the sampler with base.lock held. */
static int live_sink(void *ctx, const struct stack_table *dict, const struct sample *s)
{
    (void)dict;
    struct live_session *ls = ctx;
    struct sample labelled;
    if (ls->have_phases) {
        /* The dictionary is ours, and its lock is held. */
        phase_labels_apply(&ls->phases, ls->owned_dict, s, &labelled);
        s = &labelled;
    }
    /* A sample the model cannot take (out of memory) is lost to the view
     * only; sampling goes on. */
    (void)session_model_add(&ls->base, ls->base.model, s);
    if (s->time_ns >= ls->next_point_ns) {
        read_counters(ls, s->time_ns);
        ls->next_point_ns = s->time_ns + POINT_EVERY_NS;
    }
    return 0;
}

static void *sampler_main(void *arg)
{
    struct live_session *ls = arg;
    int end = sampler_run(ls->sampler, live_sink, ls);
    int status = -1;
    if (end == SAMPLER_TARGET_EXITED && ls->launched) {
        /* It is a zombie or gone already: this does not wait. */
        launch_finish(ls->launched, 0);
        status = launch_exit_code(ls->launched);
    }
    pthread_mutex_lock(&ls->base.lock);
    ls->done = end == SAMPLER_DURATION;
    ls->ended = end == SAMPLER_TARGET_EXITED;
    ls->execd = end == SAMPLER_TARGET_EXECED;
    ls->exit_status = status;
    ls->error = end < 0 ? end : 0;
    ls->have_cpu = 0;
    pthread_mutex_unlock(&ls->base.lock);
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
    pthread_mutex_lock(&s->lock);
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
    pthread_mutex_unlock(&s->lock);
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
    phase_labels_release(&ls->phases);
    model_free(s->model);
    stack_table_free(ls->owned_dict);
}

static const struct session_ops live_ops = {
    .info = live_info,
    .open_file = live_open_file,
    .release = live_release,
};

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

int session_live_new(struct py_target *target, struct launch *launched,
                     const struct session_options *o, struct session **out)
{
    struct live_session *ls = calloc(1, sizeof *ls);
    if (!ls)
        return -ENOMEM;
    struct session *s = &ls->base;
    session_base_init(s, &live_ops, o);
    ls->target = target;
    ls->launched = launched;
    ls->blocking = o->blocking;
    ls->exit_status = -1;
    s->pid = (uint32_t)target->pid;
    snprintf(s->python, sizeof s->python, "%s", target->version.text);
    if (proc_cmdline(target->pid, s->command, sizeof s->command) != 0)
        s->command[0] = '\0';
    if (launched) {
        /* Started by pytop, it is seen from its start-up on. */
        char path[64], args[4096];
        size_t len = 0;
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)target->pid);
        if (proc_read_file(path, args, sizeof args, &len) != 0)
            len = 0;
        phase_labels_init(&ls->phases, (uint32_t)target->pid, args, len);
        ls->have_phases = 1;
    }
    s->start_unix_ns = realtime_ns();
    s->rate_hz = (uint32_t)(o->rate_hz + 0.5);

    int rc = -ENOMEM;
    ls->owned_dict = app_dict_new();
    s->dict = ls->owned_dict;
    if (ls->owned_dict)
        s->model = session_new_model(s, ls->owned_dict);
    if (s->model) {
        struct sampler_config sc = {
            .rate_hz = o->rate_hz,
            .duration_ns = o->duration_ns,
            .dict_lock = &s->lock,
            .native = o->native,
            .native_all = o->native_all,
            .blocking = o->blocking,
            .subprocesses = o->subprocesses,
            .layout_source = o->layout_source,
        };
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
