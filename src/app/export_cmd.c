#include "config.h"

#include "app/export_cmd.h"

#include "session/gil_filter.h"
#include "core/error.h"
#include "record/recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What is at path, for messages: "a directory", "a FIFO", ... */
static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

int export_check_output(const char *path, const char *input)
{
    struct stat st, in;
    if (!path || strcmp(path, "-") == 0)
        return 0;
    if (lstat(path, &st) == 0) {
        if (S_ISLNK(st.st_mode)) {
            fprintf(stderr, "pytop: %s is a symbolic link: pytop does not write through or "
                            "replace links; give the file it points to, or another name\n", path);
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "pytop: %s is %s: pytop writes only regular files (leave out -o "
                            "to write on stdout)\n", path, file_kind(st.st_mode));
            return -1;
        }
        if (input && stat(input, &in) == 0 && in.st_dev == st.st_dev && in.st_ino == st.st_ino) {
            fprintf(stderr, "pytop: %s is the recording being read: give -o another name\n",
                    path);
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "pytop: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* A new file: its directory must exist and take it. */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) {
        fprintf(stderr, "pytop: cannot write %s: the name is too long\n", path);
        return -1;
    } else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "pytop: cannot write %s: there is no directory %s\n", path, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        fprintf(stderr, "pytop: cannot write %s: directory %s is not writable (%s)\n", path,
                dir, strerror(errno));
        return -1;
    }
    return 0;
}

static const char *weight_words(enum export_mode mode)
{
    switch (mode) {
    case EXPORT_WALL: return "wall time";
    case EXPORT_MEMORY: return "memory growth";
    default: return "CPU time";
    }
}

/* A baseline recording, read whole. */
struct baseline {
    struct rec_reader *rd;
    struct model *m;
    struct export_parts ip;
    struct export_input in;
};

static void baseline_free(struct baseline *b)
{
    export_parts_free(&b->ip);
    model_free(b->m);
    rec_reader_close(b->rd);
}

/* 0, or 1 after a line on stderr. */
static int baseline_load(const struct export_request *rq, struct baseline *b)
{
    memset(b, 0, sizeof *b);
    int rc = rec_reader_open(rq->baseline, &b->rd);
    if (rc) {
        fprintf(stderr, "pytop: cannot read the baseline %s: %s\n", rq->baseline,
                rc == -PT_ERR_FORMAT ? "not a pytop recording" : pt_strerror(rc));
        return 1;
    }
    struct model_config cfg = { .window_ns = 1000000000ULL, .retention_ns = 1000000000ULL };
    b->m = model_new(&cfg, rec_reader_dict(b->rd));
    if (!b->m) {
        fprintf(stderr, "pytop: reading the baseline %s: out of memory\n", rq->baseline);
        return 1;
    }
    struct gil_filter gil = { .on = rq->gil };
    struct sample s, kept;
    uint64_t n = 0;
    while ((rc = rec_reader_next(b->rd, &s)) == 1) {
        n++;
        rc = gil_filter_apply(&gil, &s, &kept);
        if (rc == 0)
            rc = model_add(b->m, &kept);
        if (rc)
            break;
    }
    gil_filter_free(&gil);
    if (rc == -ENOMEM) {
        fprintf(stderr, "pytop: reading the baseline %s: out of memory\n", rq->baseline);
        return 1;
    }
    if (rc < 0 && n == 0) {
        fprintf(stderr, "pytop: the baseline %s is damaged before its first sample: nothing "
                        "to compare with\n", rq->baseline);
        return 1;
    }
    if (rc < 0)
        fprintf(stderr, "pytop: note: the baseline %s is damaged after %llu samples: the "
                        "comparison uses those\n", rq->baseline, (unsigned long long)n);
    const struct recording_meta *meta = rec_reader_meta(b->rd);
    struct export_context ctx = {
        .pid = meta->pid,
        .python = meta->python,
        .command = meta->command,
        .start_unix_ns = meta->start_unix_ns,
        .rate_hz = meta->rate_hz,
    };
    rc = export_model_input(b->m, rec_reader_dict(b->rd), MODEL_TOTAL, NULL, rq->mode, &ctx, &b->ip,
                     &b->in);
    if (rc) {
        fprintf(stderr, "pytop: reading the baseline %s: %s\n", rq->baseline, pt_strerror(rc));
        return 1;
    }
    return 0;
}

int export_cmd_run(const struct export_request *rq)
{
    const char *rec = rq->recording;
    struct rec_reader *rd;
    if (export_check_output(rq->out_path, rec) != 0)
        return 1;
    int rc = rec_reader_open(rec, &rd);
    if (rc == -PT_ERR_FORMAT) {
        fprintf(stderr, "pytop: %s is not a pytop recording (or was written by a newer pytop)\n",
                rec);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "pytop: cannot read %s: %s\n", rec, pt_strerror(rc));
        return 1;
    }
    /* Only the since-start totals matter here: keep the window small. */
    struct model_config cfg = { .window_ns = 1000000000ULL, .retention_ns = 1000000000ULL };
    struct model *m = model_new(&cfg, rec_reader_dict(rd));
    struct gil_filter gil = { .on = rq->gil };
    if (!m) {
        rec_reader_close(rd);
        fprintf(stderr, "pytop: exporting %s: out of memory\n", rec);
        return 1;
    }
    struct export_timeline tl = { 0 }, *tlp = export_format_is_timeline(rq->fmt) ? &tl : NULL;
    struct sample s, kept;
    uint64_t nsamples = 0, last_ns = 0;
    while ((rc = rec_reader_next(rd, &s)) == 1) {
        nsamples++;
        last_ns = s.time_ns;
        rc = gil_filter_apply(&gil, &s, &kept);
        if (rc == 0)
            rc = model_add(m, &kept);
        if (rc == 0 && tlp)
            rc = export_timeline_add(tlp, &kept);
        if (rc)
            break;
    }
    int damaged = 0;
    if (rc == -PT_ERR_FORMAT || (rc < 0 && rc != -ENOMEM)) {
        /* The header was good: what came before the damage is a profile. */
        if (nsamples == 0) {
            fprintf(stderr, "pytop: %s is a pytop recording damaged before its first sample "
                            "(%s): nothing to export\n", rec,
                    rc == -PT_ERR_FORMAT ? "a record does not read back" : pt_strerror(rc));
            model_free(m);
            rec_reader_close(rd);
            gil_filter_free(&gil);
            export_timeline_free(&tl);
            return 1;
        }
        damaged = 1;
        rc = 0;
    }
    if (rc) {
        fprintf(stderr, "pytop: exporting %s failed: %s\n", rec, pt_strerror(rc));
    } else if (rq->mode == EXPORT_MEMORY) {
        /* An empty profile with no word would look like a failed export. */
        struct model_totals tot;
        model_totals(m, MODEL_TOTAL, MODEL_MEM_GROW, &tot);
        if (tot.samples && !tot.mem_grow)
            fprintf(stderr, "pytop: %s holds no memory growth (a recording of format 1.0, "
                            "from before pytop recorded memory, holds none): the profile is "
                            "empty\n", rec);
    }
    int status = rc ? 1 : 0;
    struct baseline base;
    int have_base = 0;
    if (rc == 0 && rq->baseline) {
        if (baseline_load(rq, &base) != 0) {
            baseline_free(&base);
            status = 1;
            rc = -EINVAL;
        } else {
            have_base = 1;
        }
    }
    if (rc == 0) {
        const struct recording_meta *meta = rec_reader_meta(rd);
        struct export_context ctx = {
            .pid = meta->pid,
            .python = meta->python,
            .command = meta->command,
            .start_unix_ns = meta->start_unix_ns,
            .rate_hz = meta->rate_hz,
        };
        const char *out = rq->out_path;
        if (!out || strcmp(out, "-") == 0) {
            rc = export_model_write(stdout, m, rec_reader_dict(rd), MODEL_TOTAL, NULL, rq->fmt,
                                 rq->mode, &ctx, tlp, have_base ? &base.in : NULL);
            if (rc == 0 && fflush(stdout) != 0)
                rc = -errno;
            out = "stdout";
        } else {
            rc = export_model_to_file_ex(out, m, rec_reader_dict(rd), MODEL_TOTAL, NULL, rq->fmt,
                                   rq->mode, &ctx, tlp, have_base ? &base.in : NULL);
        }
        if (rc == -EEXIST)
            fprintf(stderr, "pytop: writing %s failed: something other than a regular file "
                            "took its place meanwhile\n", out);
        else if (rc)
            fprintf(stderr, "pytop: writing %s failed: %s\n", out, pt_strerror(rc));
        status = rc ? 1 : 0;
    }
    if (status == 0 && damaged) {
        fprintf(stderr, "pytop: %s is damaged after %llu samples (%.1f s in): the %s profile "
                        "(%s) holds those; the rest of the file could not be read\n", rec,
                (unsigned long long)nsamples, (double)last_ns / 1e9,
                export_format_name(rq->fmt), weight_words(rq->mode));
        status = 3;
    } else if (status == 0 && (rec_reader_truncated(rd) || !rec_reader_summary(rd, NULL))) {
        fprintf(stderr, "pytop: note: %s ends early, without its closing summary (the "
                        "recorder was killed, or the disk filled): the profile holds its %llu samples, "
                        "%.1f s\n", rec, (unsigned long long)nsamples, (double)last_ns / 1e9);
    }
    if (have_base)
        baseline_free(&base);
    export_timeline_free(&tl);
    model_free(m);
    rec_reader_close(rd);
    gil_filter_free(&gil);
    return status;
}
