#include "config.h"

#include "app/record_cmd.h"

#include "app/export_cmd.h"
#include "core/error.h"
#include "model/model.h"
#include "proc/tasks.h"
#include "record/recording.h"
#include "sampler/sampler.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The sampler a signal should stop (one recording per process). */
static struct sampler *volatile signal_target;

static void on_stop_signal(int sig)
{
    (void)sig;
    struct sampler *s = signal_target;
    if (s)
        sampler_stop(s);
}

struct record_state {
    struct rec_writer *writer;
    int write_error;
    const struct record_options *opt;
    struct model *snap_model;        /* only with snapshots */
    uint64_t next_snapshot_ns;
    struct export_context ctx;
    FILE *status;
    unsigned snapshots, snapshot_failures;
};

static void write_snapshot(struct record_state *st, const struct stack_table *dict)
{
    char path[4096];
    int rc = snapshot_path(path, sizeof path, st->opt->snapshot_dir, st->ctx.pid,
                           st->opt->snapshot_format);
    if (rc == 0)
        rc = export_model_to_file(path, st->snap_model, dict, MODEL_WINDOW, NULL,
                                  st->opt->snapshot_format, st->opt->snapshot_mode, &st->ctx);
    if (rc == 0) {
        st->snapshots++;
    } else {
        /* Report once per failure, keep recording: the recording matters more. */
        st->snapshot_failures++;
        fprintf(st->status, "pytop: snapshot into %s failed: %s (recording goes on)\n",
                st->opt->snapshot_dir, pt_strerror(rc));
    }
}

static int record_sink(void *ctx, const struct stack_table *dict, const struct sample *s)
{
    struct record_state *st = ctx;
    int rc = rec_writer_sample(st->writer, dict, s);
    if (rc) {
        st->write_error = rc;
        return 1;   /* nothing is worth sampling if it cannot be kept */
    }
    if (st->snap_model) {
        if (st->next_snapshot_ns == 0)
            st->next_snapshot_ns = s->time_ns + st->opt->snapshot_every_ns;
        if (s->time_ns >= st->next_snapshot_ns) {
            write_snapshot(st, dict);
            st->next_snapshot_ns += st->opt->snapshot_every_ns;
            if (st->next_snapshot_ns <= s->time_ns)
                st->next_snapshot_ns = s->time_ns + st->opt->snapshot_every_ns;
        }
        model_add(st->snap_model, s);
    }
    return 0;
}

/* The thread stacks of the run by kind: how many were whole, and why the
 * others were not. */
static void print_stack_kinds(FILE *out, const uint64_t *k, uint64_t retries, uint64_t elided)
{
    uint64_t total = 0;
    for (int i = 0; i < STACK_KINDS; i++)
        total += k[i];
    if (total == 0)
        return;
    fprintf(out,
            "pytop: thread stacks: %.2f %% good (%llu of %llu whole); %llu torn, %llu cut at a "
            "bound, %llu unreadable, %llu without a Python frame; %llu read again, %llu with "
            "frames elided\n",
            100.0 * (double)k[STACK_WHOLE] / (double)total, (unsigned long long)k[STACK_WHOLE],
            (unsigned long long)total, (unsigned long long)k[STACK_TORN],
            (unsigned long long)k[STACK_CUT], (unsigned long long)k[STACK_UNREADABLE],
            (unsigned long long)k[STACK_NO_PYTHON], (unsigned long long)retries,
            (unsigned long long)elided);
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int record_run(struct py_target *target, struct launch *launched,
               const struct record_options *o, FILE *status)
{
    struct recording_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.pid = (uint32_t)target->pid;
    snprintf(meta.python, sizeof meta.python, "%s", target->version.text);
    if (proc_cmdline(target->pid, meta.command, sizeof meta.command) != 0)
        meta.command[0] = '\0';
    meta.start_unix_ns = realtime_ns();
    meta.rate_hz = (uint32_t)(o->rate_hz + 0.5);

    struct record_state st;
    memset(&st, 0, sizeof st);
    st.opt = o;
    st.status = status;
    st.ctx.pid = meta.pid;
    st.ctx.python = meta.python;
    st.ctx.command = meta.command;
    st.ctx.start_unix_ns = meta.start_unix_ns;
    st.ctx.rate_hz = meta.rate_hz;

    struct stack_table *dict = stack_table_new();
    if (!dict)
        return -ENOMEM;
    int rc = rec_writer_open(o->path, &meta, &st.writer);
    if (rc) {
        stack_table_free(dict);
        return rc;
    }
    if (o->snapshot_every_ns) {
        struct model_config mc = { .window_ns = o->snapshot_every_ns,
                                   .retention_ns = o->snapshot_every_ns };
        st.snap_model = model_new(&mc, dict);
    }

    struct sampler_config sc = {
        .rate_hz = o->rate_hz,
        .duration_ns = o->duration_ns,
        .native = o->native,
        .native_all = o->native_all,
        .subprocesses = o->subprocesses,
        .layout_source = o->layout_source,
    };
    struct sampler *smp;
    rc = sampler_new(target, dict, &sc, &smp);
    if (rc) {
        rec_writer_close(st.writer, NULL);
        model_free(st.snap_model);
        stack_table_free(dict);
        return rc;
    }

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    signal_target = smp;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    int end = sampler_run(smp, record_sink, &st);

    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    signal_target = NULL;

    /* A launched program goes on only as long as pytop does. */
    if (launched)
        launch_finish(launched, end != SAMPLER_TARGET_EXITED);

    struct sampler_stats ss;
    sampler_get_stats(smp, &ss);
    struct recording_summary sum = {
        .samples = ss.samples,
        .late = ss.late,
        .errors = ss.errors + ss.partial,
        .duration_ns = ss.elapsed_ns,
        .target_exited = end == SAMPLER_TARGET_EXITED,
        .exit_status = launched ? launch_exit_code(launched) : -1,
        .have_stacks = 1,
        .retries = ss.retries,
    };
    memcpy(sum.stacks, ss.stacks, sizeof sum.stacks);
    int close_rc = rec_writer_close(st.writer, &sum);
    if (st.write_error)
        rc = st.write_error;
    else if (close_rc)
        rc = close_rc;
    else if (end < 0)
        rc = end;

    fprintf(status,
            "pytop: %s %llu samples in %.1f s (%.1f Hz achieved of %.0f Hz; %llu late, "
            "%llu errors; %.1f us of sampler CPU per sample) into %s%s\n",
            rc ? "recording failed after" : "recorded",
            (unsigned long long)ss.samples, (double)ss.elapsed_ns / 1e9, ss.achieved_hz,
            o->rate_hz, (unsigned long long)ss.late,
            (unsigned long long)(ss.errors + ss.partial),
            ss.samples ? (double)ss.busy_ns / 1e3 / (double)ss.samples : 0.0, o->path,
            end == SAMPLER_TARGET_EXITED ? "; the target exited" : "");
    print_stack_kinds(status, ss.stacks, ss.retries, ss.elided);
    if (o->subprocesses)
        fprintf(status, "pytop: %u process%s sampled\n", ss.processes_seen,
                ss.processes_seen == 1 ? "" : "es");
    if (o->native && ss.native_denied)
        fprintf(status, "pytop: --native: %llu of %llu thread stacks have no C frames (%llu not "
                "allowed: the thread is traced by another process, or pytop may not ptrace it)\n",
                (unsigned long long)ss.native_missing, (unsigned long long)ss.native_threads,
                (unsigned long long)ss.native_denied);
    else if (o->native && ss.native_missing)
        fprintf(status, "pytop: --native: %llu of %llu thread stacks have no C frames (the "
                "thread exited or could not be stopped in time)\n",
                (unsigned long long)ss.native_missing, (unsigned long long)ss.native_threads);
    if (st.snapshots || st.snapshot_failures)
        fprintf(status, "pytop: %u snapshots written to %s%s\n", st.snapshots, o->snapshot_dir,
                st.snapshot_failures ? " (some failed, see above)" : "");

    sampler_free(smp);
    model_free(st.snap_model);
    stack_table_free(dict);
    return rc;
}
