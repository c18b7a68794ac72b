#include "config.h"

#include "app/record_cmd.h"

#include "app/export_cmd.h"
#include "session/dict_budget.h"
#include "session/gil_filter.h"
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
#include <unistd.h>

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
    struct gil_filter gil;
    struct sampler *smp;
    int progress;                    /* status is a terminal: one updating line */
    int ended_launched;              /* pytop ended the program it started */
    uint64_t next_progress_ns;
};

/* One line, rewritten in place: how far, how many, how fast. */
static void show_progress(struct record_state *st, uint64_t t)
{
    struct sampler_stats ss;
    sampler_get_stats(st->smp, &ss);
    char of[32] = "";
    if (st->opt->duration_ns)
        snprintf(of, sizeof of, " of %.0f s", (double)st->opt->duration_ns / 1e9);
    fprintf(st->status, "\rpytop: recording %.0f s%s, %llu samples, %.0f Hz of %.0f Hz, "
                        "%llu errors (Ctrl-C ends it)\033[K",
            (double)t / 1e9, of, (unsigned long long)ss.samples, ss.achieved_hz,
            st->opt->rate_hz, (unsigned long long)(ss.errors + ss.partial));
    fflush(st->status);
}

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
    struct sample kept;
    int rc = gil_filter_apply(&st->gil, s, &kept);
    if (rc) {
        st->write_error = rc;
        return 1;
    }
    s = &kept;
    if (st->progress && s->time_ns >= st->next_progress_ns) {
        show_progress(st, s->time_ns);
        st->next_progress_ns = s->time_ns + 250000000ULL;
    }
    rc = rec_writer_sample(st->writer, dict, s);
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

/* A pause as "41.3 us" or "1.20 ms". */
static const char *fmt_pause(char *buf, size_t cap, uint64_t ns)
{
    if (ns < 1000000)
        snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
    else
        snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
    return buf;
}

/* --blocking: how long the target was kept from running. */
static void print_pauses(FILE *status, const struct sampler_stats *ss)
{
    char a[32], b[32], c[32], d[32], e[32];
    const struct hist *ps = &ss->pause_sample, *pt = &ss->pause_thread;
    if (ps->count)
        fprintf(status, "pytop: --blocking: threads held %s per sample (median; p90 %s, max %s), "
                "each thread %s (median; p90 %s)\n",
                fmt_pause(a, sizeof a, hist_quantile(ps, 0.5)),
                fmt_pause(b, sizeof b, hist_quantile(ps, 0.9)), fmt_pause(c, sizeof c, ps->max),
                fmt_pause(d, sizeof d, hist_quantile(pt, 0.5)),
                fmt_pause(e, sizeof e, hist_quantile(pt, 0.9)));
    if (ss->unheld)
        fprintf(status, "pytop: --blocking: %llu of %llu thread stacks were read without holding "
                "the thread (%llu not allowed; %llu caught mid frame switch in every hold; the "
                "others exited or did not stop in time)\n",
                (unsigned long long)ss->unheld, (unsigned long long)(ss->unheld + ss->held),
                (unsigned long long)ss->unheld_denied, (unsigned long long)ss->unheld_switching);
}

/* Where the threads' CPU time came from: their context-switch records, or
 * schedstat (asked for, not available, or while a clock could not tell). */
static void print_cpu_source(FILE *status, const struct sampler_stats *ss, int schedstat)
{
    uint64_t all = ss->cpu_switches + ss->cpu_schedstat;
    if (!all)
        return;
    if (schedstat) {
        fprintf(status, "pytop: CPU time: from schedstat (--schedstat), a read per thread per "
                "sample\n");
    } else if (ss->switch_error) {
        fprintf(status, "pytop: CPU time: from schedstat, a read per thread per sample: "
                "context-switch records (perf events) are not available here (%s); to have "
                "them, run pytop as root or lower kernel.perf_event_paranoid to 2, and in a "
                "container allow perf_event_open in its seccomp profile\n",
                pt_strerror(ss->switch_error));
    } else {
        fprintf(status, "pytop: CPU time: from context-switch records for %.2f %% of thread "
                "samples, schedstat for the rest (%llu; %llu restarts after lost records; "
                "%llu threads switching over %d times a second left to schedstat, to spare "
                "them the records' cost)\n",
                100.0 * (double)ss->cpu_switches / (double)all,
                (unsigned long long)ss->cpu_schedstat, (unsigned long long)ss->switch_restarts,
                (unsigned long long)ss->switch_busy, SWITCHES_PER_SEC_MAX);
    }
}

int record_run(struct py_target *target, struct launch *launched,
               const struct record_options *o, FILE *status, int *ended_launched)
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

    struct stack_table *dict = dict_budget_new();
    if (!dict)
        return -ENOMEM;
    st.gil.on = o->gil;
    int rc = o->fd >= 0 ? rec_writer_open_fd(o->fd, &meta, &st.writer)
                        : rec_writer_open(o->path, &meta, &st.writer);
    if (rc) {
        if (o->fd >= 0)
            close(o->fd);
        stack_table_free(dict);
        return rc;
    }
    if (o->snapshot_every_ns) {
        struct model_config mc = { .window_ns = o->snapshot_every_ns,
                                   .retention_ns = o->snapshot_every_ns };
        st.snap_model = model_new(&mc, dict);
    }

    struct sampler_config sc = SAMPLER_CONFIG_OF(o);
    struct sampler *smp;
    rc = sampler_new(target, dict, &sc, &smp);
    if (rc) {
        rec_writer_close(st.writer, NULL);
        model_free(st.snap_model);
        stack_table_free(dict);
        return rc;
    }

    /* SIGINT, SIGTERM and SIGHUP (the terminal or session gone) end the
     * recording cleanly: the summary is written and the file is whole. */
    static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };
    enum { NSTOP = sizeof stop_signals / sizeof *stop_signals };
    struct sigaction sa, old[NSTOP];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    signal_target = smp;
    for (int i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &sa, &old[i]);
    st.smp = smp;
    const char *term = getenv("TERM");
    st.progress = isatty(fileno(status)) && !(term && strcmp(term, "dumb") == 0);

    int end = sampler_run(smp, record_sink, &st);

    /* The handlers stay until the summary is written: a second signal
     * meanwhile (while a launched program is being ended, say) only asks
     * the stopped sampler to stop again. */
    if (st.progress)
        fprintf(status, "\r\033[K");

    /* A launched program goes on only as long as pytop does. */
    if (launched && end != SAMPLER_TARGET_EXITED && !launch_exited(launched)) {
        fprintf(status, "pytop: %s: ending the program pytop started (pid %d) with SIGINT, "
                        "then SIGTERM and SIGKILL 2 s apart\n",
                end == SAMPLER_DURATION ? "the --duration is over" : "recording stopped",
                (int)launched->pid);
        st.ended_launched = 1;
    }
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
    if (end == SAMPLER_TARGET_EXECED) {
        char cmd[256];
        sampler_exec_command(smp, cmd, sizeof cmd);
        fprintf(status, "pytop: process %d exec'd a program that is not Python (%s); "
                        "the recording ends there\n",
                (int)target->pid, cmd[0] ? cmd : "command unknown");
    }
    if (ss.execs)
        fprintf(status, "pytop: process %d exec'd a new Python %u time(s); its samples go on "
                        "in the same recording, each image with its own process record\n",
                (int)target->pid, ss.execs);
    if (ss.dict_full)
        fprintf(status, "pytop: %llu thread stacks were cut short: the stack dictionary reached "
                        "its bound (docs/performance.md, Memory budget)\n",
                (unsigned long long)ss.dict_full);
    if (ss.samples >= 10 && ss.achieved_hz < 0.9 * o->rate_hz) {
        double per_sample_us = (double)ss.busy_ns / 1e3 / (double)ss.samples;
        double period_us = 1e6 / o->rate_hz;
        if (per_sample_us > 0.5 * period_us)
            fprintf(status, "pytop: warning: only %.0f %% of the %.0f Hz asked: each sample took "
                            "%.0f us of pytop's CPU, most of the %.0f us between samples (many "
                            "threads or deep stacks%s; %llu instants skipped); ask for a lower "
                            "--rate\n",
                    100.0 * ss.achieved_hz / o->rate_hz, o->rate_hz, per_sample_us, period_us,
                    o->native ? ", and --native unwinds each thread" : "",
                    (unsigned long long)ss.skipped);
        else
            fprintf(status, "pytop: warning: only %.0f %% of the %.0f Hz asked: pytop's sampler "
                            "did not get a CPU in time (%llu samples late, %llu skipped): the "
                            "machine is busy; free a CPU or ask for a lower --rate\n",
                    100.0 * ss.achieved_hz / o->rate_hz, o->rate_hz,
                    (unsigned long long)ss.late, (unsigned long long)ss.skipped);
    }
    print_stack_kinds(status, ss.stacks, ss.retries, ss.elided);
    print_cpu_source(status, &ss, o->schedstat);
    if (o->subprocesses)
        fprintf(status, "pytop: %u process%s sampled\n", ss.processes_seen,
                ss.processes_seen == 1 ? "" : "es");
    if (o->native && ss.native_missing) {
        /* Why, by cause; such stacks end in "[no C frames]". */
        uint64_t other = ss.native_missing - ss.native_denied - ss.native_mismatch -
                         ss.native_switching;
        const char *sep = " ";
        fprintf(status, "pytop: --native: %llu of %llu thread stacks have no C frames (their "
                "leaf is [no C frames]):", (unsigned long long)ss.native_missing,
                (unsigned long long)ss.native_threads);
        if (ss.native_denied) {
            fprintf(status, "%s%llu not allowed: the thread is traced by another process, or "
                    "pytop may not ptrace it", sep, (unsigned long long)ss.native_denied);
            sep = "; ";
        }
        if (ss.native_mismatch) {
            fprintf(status, "%s%llu whose C stack's eval-loop calls did not match the Python "
                    "frames", sep, (unsigned long long)ss.native_mismatch);
            sep = "; ";
        }
        if (ss.native_switching) {
            fprintf(status, "%s%llu caught mid frame switch in every hold (their Python frames "
                    "read as the thread ran)", sep, (unsigned long long)ss.native_switching);
            sep = "; ";
        }
        if (other)
            fprintf(status, "%s%llu where the thread exited or could not be stopped in time", sep,
                    (unsigned long long)other);
        fputc('\n', status);
    }
    if (o->blocking)
        print_pauses(status, &ss);
    if (st.snapshots || st.snapshot_failures)
        fprintf(status, "pytop: %u snapshots written to %s%s\n", st.snapshots, o->snapshot_dir,
                st.snapshot_failures ? " (some failed, see above)" : "");

    /* Only now: a signal while the summary was written must not cut it. */
    for (int i = 0; i < NSTOP; i++)
        sigaction(stop_signals[i], &old[i], NULL);
    signal_target = NULL;
    sampler_free(smp);
    model_free(st.snap_model);
    stack_table_free(dict);
    gil_filter_free(&st.gil);
    if (ended_launched)
        *ended_launched = st.ended_launched;
    return rc;
}
