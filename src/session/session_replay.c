#include "config.h"

#include "session/session_replay.h"

#include "record/recording.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The model at position T is exactly the model fed the samples with
 * time_ns <= T, in file order: going forward feeds more, going back
 * replays the file from its start into a fresh model. Samples carry their
 * own times, so the result does not depend on when the UI ticks. */
struct replay_session {
    struct session base;
    char *path;
    struct rec_reader *reader;          /* the one feeding the model */
    struct recording_summary summary;
    int has_summary, truncated;
    uint64_t length_ns;                 /* the last sample's time */
    double speed;
    int playing;
    uint64_t pos_ns;
    uint64_t last_tick_ns;              /* monotonic time of the last tick; 0: none */
    /* The first sample past the position, read ahead. */
    int have_pending, at_end;
    struct sample pending;
    struct process_info pending_process;    /* its attachments, copied: the */
    struct counters pending_counters;       /* reader's go with its next call */
    struct sample_thread *pending_threads;
    size_t cap_pending;
    uint32_t last_nthreads;
    int error;                          /* a read error stopped the replay */
};

static int keep_pending(struct replay_session *rs, const struct sample *s)
{
    if (s->nthreads > rs->cap_pending) {
        struct sample_thread *t = realloc(rs->pending_threads, s->nthreads * sizeof *t);
        if (!t)
            return -ENOMEM;
        rs->pending_threads = t;
        rs->cap_pending = s->nthreads;
    }
    if (s->nthreads)
        memcpy(rs->pending_threads, s->threads, s->nthreads * sizeof *s->threads);
    rs->pending = *s;
    rs->pending.threads = rs->pending_threads;
    if (s->process) {
        rs->pending_process = *s->process;
        rs->pending.process = &rs->pending_process;
    }
    if (s->counters) {
        rs->pending_counters = *s->counters;
        rs->pending.counters = &rs->pending_counters;
    }
    rs->have_pending = 1;
    return 0;
}

/* Feed every sample up to time t. */
static void feed_to(struct replay_session *rs, struct model *m, uint64_t t)
{
    if (rs->have_pending) {
        if (rs->pending.time_ns > t)
            return;
        session_model_add(&rs->base, m, &rs->pending);
        rs->last_nthreads = rs->pending.nthreads;
        rs->have_pending = 0;
    }
    while (!rs->at_end && !rs->error) {
        struct sample s;
        int rc = rec_reader_next(rs->reader, &s);
        if (rc <= 0) {
            /* The end, or damage the first pass found too (truncated). */
            rs->at_end = 1;
            rs->error = rc == -ENOMEM ? rc : 0;
            break;
        }
        if (s.time_ns > t) {
            rs->error = keep_pending(rs, &s);
            break;
        }
        session_model_add(&rs->base, m, &s);
        rs->last_nthreads = s.nthreads;
    }
}

/* A fresh reader and model at time t, swapped in under the lock. */
static int rebuild_at(struct replay_session *rs, uint64_t t)
{
    struct rec_reader *rd;
    int rc = rec_reader_open(rs->path, &rd);
    if (rc)
        return rc;
    struct model *m = session_new_model(&rs->base, rec_reader_dict(rd));
    if (!m) {
        rec_reader_close(rd);
        return -ENOMEM;
    }
    struct rec_reader *old_reader = rs->reader;
    struct model *old_model = rs->base.model;
    session_lock(&rs->base);
    rs->reader = rd;
    rs->have_pending = rs->at_end = 0;
    rs->error = 0;
    rs->last_nthreads = 0;
    feed_to(rs, m, t);
    rs->base.model = m;
    rs->base.dict = rec_reader_dict(rd);
    rs->pos_ns = t;
    session_unlock(&rs->base);
    model_free(old_model);
    rec_reader_close(old_reader);
    return 0;
}

static void replay_tick(struct session *s, uint64_t mono_ns)
{
    struct replay_session *rs = (struct replay_session *)s;
    if (!rs->playing) {
        rs->last_tick_ns = 0;
        return;
    }
    if (rs->last_tick_ns && mono_ns > rs->last_tick_ns) {
        double step = (double)(mono_ns - rs->last_tick_ns) * rs->speed;
        uint64_t pos = rs->pos_ns + (uint64_t)step;
        if (pos >= rs->length_ns) {
            pos = rs->length_ns;
            rs->playing = 0;    /* stop at the end, like a player */
        }
        session_lock(s);
        feed_to(rs, s->model, pos);
        rs->pos_ns = pos;
        session_unlock(s);
    }
    rs->last_tick_ns = mono_ns;
}

static void replay_set_playing(struct session *s, int playing)
{
    struct replay_session *rs = (struct replay_session *)s;
    /* Play at the end starts over. */
    if (playing && !rs->playing && rs->pos_ns >= rs->length_ns && rs->length_ns > 0)
        rebuild_at(rs, 0);
    rs->playing = playing;
    rs->last_tick_ns = 0;
}

static int replay_seek(struct session *s, int64_t delta_ns)
{
    struct replay_session *rs = (struct replay_session *)s;
    uint64_t t;
    if (delta_ns < 0)
        t = (uint64_t)-delta_ns >= rs->pos_ns ? 0 : rs->pos_ns - (uint64_t)-delta_ns;
    else
        t = rs->length_ns - rs->pos_ns <= (uint64_t)delta_ns ? rs->length_ns
                                                              : rs->pos_ns + (uint64_t)delta_ns;
    if (t < rs->pos_ns)
        return rebuild_at(rs, t);
    session_lock(s);
    feed_to(rs, s->model, t);
    rs->pos_ns = t;
    session_unlock(s);
    return 0;
}

/* Samples as the recorder counted them: one per round, which with
 * --subprocesses holds a sample of each process. The target (the first
 * process) is in every round while it lives. */
static uint64_t first_process_samples(const struct model *m, uint64_t all)
{
    struct model_process_row *rows = NULL;
    size_t n = 0;
    uint64_t samples = all;
    if (model_processes(m, MODEL_TOTAL, &rows, &n) == 0 && n > 1)
        samples = rows[0].samples;
    free(rows);
    return samples;
}

static void replay_info(struct session *s, struct session_info *out)
{
    struct replay_session *rs = (struct replay_session *)s;
    out->replay = 1;
    out->elapsed_ns = rs->pos_ns;
    out->length_ns = rs->length_ns;
    out->playing = rs->playing;
    out->speed = rs->speed;
    out->truncated = rs->truncated;
    if (rs->has_summary) {
        out->late = rs->summary.late;
        out->errors = rs->summary.errors;
        out->have_stacks = rs->summary.have_stacks;
        memcpy(out->stacks, rs->summary.stacks, sizeof out->stacks);
    }
    struct model_totals tot;
    uint64_t rounds;
    session_lock(s);
    model_totals(s->model, MODEL_WINDOW, MODEL_CPU, &tot);
    rounds = first_process_samples(s->model, tot.samples);
    session_unlock(s);
    out->samples = rounds;
    if (rs->pos_ns > 0)
        out->achieved_hz = (double)rounds * 1e9 / (double)rs->pos_ns;
    /* Only the Python threads' CPU time is recorded: their sum over the
     * window stands for the process's. */
    if (tot.window_samples && tot.last_ns > tot.window_start_ns) {
        out->have_cpu = 1;
        out->cpu_percent = 100.0 * (double)tot.cpu_ns / (double)(tot.last_ns - tot.window_start_ns);
    }
    out->threads = rs->last_nthreads;
    out->ended = rs->has_summary && rs->summary.target_exited && rs->pos_ns >= rs->length_ns;
    if (out->ended)
        out->exit_status = rs->summary.exit_status;
    out->error = rs->error;
}

static void replay_release(struct session *s)
{
    struct replay_session *rs = (struct replay_session *)s;
    model_free(s->model);
    rec_reader_close(rs->reader);
    free(rs->pending_threads);
    free(rs->path);
}

static const struct session_ops replay_ops = {
    .info = replay_info,
    .tick = replay_tick,
    .set_playing = replay_set_playing,
    .seek = replay_seek,
    .release = replay_release,
};

/* One pass over the file: is it a recording, how long, how it ended. */
static int scan(struct replay_session *rs)
{
    struct rec_reader *rd;
    int rc = rec_reader_open(rs->path, &rd);
    if (rc)
        return rc;
    const struct recording_meta *meta = rec_reader_meta(rd);
    struct session *s = &rs->base;
    s->pid = meta->pid;
    snprintf(s->python, sizeof s->python, "%s", meta->python);
    snprintf(s->command, sizeof s->command, "%s", meta->command);
    s->start_unix_ns = meta->start_unix_ns;
    s->rate_hz = meta->rate_hz;
    struct sample smp;
    uint64_t count = 0;
    while ((rc = rec_reader_next(rd, &smp)) == 1) {
        rs->length_ns = smp.time_ns > rs->length_ns ? smp.time_ns : rs->length_ns;
        count++;
    }
    rs->has_summary = rec_reader_summary(rd, &rs->summary);
    rs->truncated = rec_reader_truncated(rd);
    rec_reader_close(rd);
    /* A record damaged past some good samples: show those, and say so. */
    if (rc < 0 && count > 0 && rc != -ENOMEM) {
        rs->truncated = 1;
        rc = 0;
    }
    return rc;
}

int session_replay_open(const char *path, const struct session_options *o,
                        struct session **out)
{
    struct replay_session *rs = calloc(1, sizeof *rs);
    if (!rs)
        return -ENOMEM;
    session_base_init(&rs->base, &replay_ops, o);
    rs->speed = o->speed > 0 ? o->speed : 1.0;
    rs->path = strdup(path);
    int rc = rs->path ? scan(rs) : -ENOMEM;
    if (rc == 0)
        rc = rebuild_at(rs, 0);
    if (rc) {
        session_free(&rs->base);
        return rc;
    }
    rs->playing = 1;
    *out = &rs->base;
    return 0;
}
