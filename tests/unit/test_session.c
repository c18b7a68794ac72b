/* The session layer on its own (libpytop-session.a, no UI, no target): a
 * replay session over a recording written here. The model at position T
 * holds exactly the samples with time <= T, going forward or back, and the
 * clock moves by the ticks' elapsed time and stops at the end, which shows
 * how the recorded run ended. */
#include "unit.h"

#include "core/error.h"
#include "core/stacks.h"
#include "model/model.h"
#include "record/recording.h"
#include "session/session.h"
#include "session/session_impl.h"
#include "session/session_replay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC 1000000000ull
#define MS 1000000ull
#define NSAMPLES 50

static char tmpdir[] = "/tmp/pytop-test-session-XXXXXX";
static char rec_path[256];

static uint32_t frame_of(struct stack_table *t, const char *fn, int line)
{
    static const char file[] = "/srv/replayed.py";
    struct stack_frame fr = { 0 };
    uint32_t id = 0;
    if (stack_table_string(t, fn, strlen(fn), &fr.function) != 0 ||
        stack_table_string(t, file, strlen(file), &fr.file) != 0)
        abort();
    fr.line = line;
    fr.firstline = line;
    if (stack_table_frame(t, &fr, &id) != 0)
        abort();
    return id;
}

/* NSAMPLES samples, one every 100 ms from 100 ms: the first half in
 * first(), the second in second(), 100 ms of CPU each; the target exited
 * with status 3. */
static int write_recording(void)
{
    struct stack_table *t = stack_table_new();
    if (!t)
        return -ENOMEM;
    uint32_t a = 0, b = 0;
    if (stack_table_node(t, 0, frame_of(t, "first", 10), &a) != 0 ||
        stack_table_node(t, 0, frame_of(t, "second", 20), &b) != 0)
        abort();
    struct recording_meta meta = { .pid = 777, .rate_hz = 10 };
    snprintf(meta.python, sizeof meta.python, "3.11.9");
    snprintf(meta.command, sizeof meta.command, "python3 replayed.py");
    struct rec_writer *w;
    int rc = rec_writer_open(rec_path, &meta, &w);
    for (int i = 0; rc == 0 && i < NSAMPLES; i++) {
        struct sample_thread th = { .tid = 777, .stack = i < NSAMPLES / 2 ? a : b,
                                    .flags = SAMPLE_RUNNING, .cpu_ns = 100 * MS,
                                    .wall_ns = 100 * MS };
        struct sample s = { .time_ns = (uint64_t)(i + 1) * 100 * MS, .pid = 777,
                            .nthreads = 1, .threads = &th };
        rc = rec_writer_sample(w, t, &s);
    }
    struct recording_summary sum = { .samples = NSAMPLES, .duration_ns = 5 * SEC,
                                     .target_exited = 1, .exit_status = 3 };
    if (rc == 0)
        rc = rec_writer_close(w, &sum);
    stack_table_free(t);
    return rc;
}

/* The samples the session's model holds, and its CPU time of function fn. */
static uint64_t model_samples(struct session *s, const char *fn, uint64_t *fn_cpu)
{
    struct model_totals tot;
    struct model_function_row *rows = NULL;
    size_t n = 0;
    *fn_cpu = 0;
    session_lock(s);
    const struct model *m = session_model(s);
    const struct stack_table *dict = session_dict(s);
    model_totals(m, MODEL_TOTAL, MODEL_CPU, &tot);
    if (model_functions(m, MODEL_TOTAL, MODEL_CPU, NULL, 0, &rows, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            const struct stack_frame *f = stack_table_get_frame(dict, rows[i].frame);
            if (f && strcmp(stack_table_str(dict, f->function), fn) == 0)
                *fn_cpu += rows[i].own_ns;
        }
    }
    session_unlock(s);
    free(rows);
    return tot.samples;
}

static void test_replay_positions(void)
{
    struct session_options o = { .window_ns = 10 * SEC, .speed = 1.0 };
    struct session *s = NULL;
    CHECK_INT(session_replay_open(rec_path, &o, &s), 0, "session_replay_open on a recording");
    if (!s)
        return;
    struct session_info info;
    session_info(s, &info);
    CHECK_INT(info.replay, 1, "a replay says so (the UI shows its controls)");
    CHECK_INT(info.pid, 777, "the recorded pid");
    CHECK_STR(info.command, "python3 replayed.py", "the recorded command");
    CHECK_STR(info.python, "3.11.9", "the recorded version");
    CHECK_INT(info.length_ns, NSAMPLES * 100 * MS, "its length: the last sample's time");
    CHECK_INT(info.elapsed_ns, 0, "the clock starts at 0");
    CHECK_INT(info.playing, 1, "playing");
    CHECK_INT(info.ended, 0, "not at the end yet");

    uint64_t cpu;
    CHECK_INT(model_samples(s, "first", &cpu), 0, "position 0: no sample yet");
    CHECK_INT(session_seek(s, 2500 * MS), 0, "seek 2.5 s forward");
    CHECK_INT(model_samples(s, "first", &cpu), 25, "2.5 s: the 25 samples up to it");
    CHECK_INT(cpu, 25 * 100 * MS, "all of them in first()");
    model_samples(s, "second", &cpu);
    CHECK_INT(cpu, 0, "none in second() yet");

    CHECK_INT(session_seek(s, 60 * SEC), 0, "seek past the end");
    session_info(s, &info);
    CHECK_INT(info.elapsed_ns, NSAMPLES * 100 * MS, "the clock stops at the end");
    CHECK_INT(model_samples(s, "second", &cpu), NSAMPLES, "every sample at the end");
    CHECK_INT(cpu, 25 * 100 * MS, "second() has its 25");
    CHECK_INT(info.ended, 1, "at the end, the target's exit shows");
    CHECK_INT(info.exit_status, 3, "with its status");

    /* Back: a fresh model fed from the start, the same as going forward. */
    CHECK_INT(session_seek(s, -4 * (int64_t)SEC), 0, "seek 4 s back");
    session_info(s, &info);
    CHECK_INT(info.elapsed_ns, 1 * SEC, "at 1 s");
    CHECK_INT(model_samples(s, "first", &cpu), 10, "1 s: the 10 samples up to it");
    CHECK_INT(cpu, 10 * 100 * MS, "in first()");
    CHECK_INT(info.ended, 0, "no longer at the end");

    /* The clock: ticks move it by the time between them, at the speed. */
    session_set_playing(s, 1);
    uint64_t t0 = 1000 * SEC;
    session_tick(s, t0);
    session_tick(s, t0 + 1500 * MS);
    session_info(s, &info);
    CHECK_INT(info.elapsed_ns, 2500 * MS, "1.5 s of ticks move the clock 1.5 s");
    CHECK_INT(model_samples(s, "first", &cpu), 25, "and feed the samples up to it");
    session_set_playing(s, 0);
    session_tick(s, t0 + 5 * SEC);
    session_tick(s, t0 + 9 * SEC);
    session_info(s, &info);
    CHECK_INT(info.elapsed_ns, 2500 * MS, "paused, ticks do not move it");
    CHECK_INT(info.playing, 0, "paused");
    session_free(s);
}

static void test_replay_not_a_recording(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/not-a-recording", tmpdir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("this is not a pytop recording\n", f);
        fclose(f);
    }
    struct session_options o = { .window_ns = 10 * SEC };
    struct session *s = NULL;
    CHECK_INT(session_replay_open(path, &o, &s), -PT_ERR_FORMAT, "a text file is refused");
    CHECK(s == NULL, "and no session is made");
    snprintf(path, sizeof path, "%s/missing", tmpdir);
    CHECK_INT(session_replay_open(path, &o, &s), -ENOENT, "a missing file: -ENOENT");
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        printf("Bail out! cannot make a temporary directory\n");
        return 1;
    }
    snprintf(rec_path, sizeof rec_path, "%s/replayed.pytop", tmpdir);
    int rc = write_recording();
    CHECK_INT(rc, 0, "write a recording of 50 samples");
    if (rc == 0)
        UNIT_RUN(test_replay_positions);
    UNIT_RUN(test_replay_not_a_recording);
    char path[300];
    snprintf(path, sizeof path, "%s/not-a-recording", tmpdir);
    unlink(path);
    unlink(rec_path);
    rmdir(tmpdir);
    return unit_done();
}
