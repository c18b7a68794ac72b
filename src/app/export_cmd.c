#include "config.h"

#include "app/export_cmd.h"

#include "app/gil_filter.h"
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

static enum model_weight model_weight_of(enum export_mode mode)
{
    switch (mode) {
    case EXPORT_WALL: return MODEL_WALL;
    case EXPORT_MEMORY: return MODEL_MEM_GROW;
    default: return MODEL_CPU;
    }
}

/* The processes the model saw, as the exporters take them. */
static int process_list(const struct model *m, enum model_range r, struct process_info **out,
                        size_t *n)
{
    struct model_process_row *rows = NULL;
    size_t nrows = 0;
    int rc = model_processes(m, r, &rows, &nrows);
    if (rc)
        return rc;
    struct process_info *v = malloc((nrows ? nrows : 1) * sizeof *v);
    if (!v) {
        free(rows);
        return -ENOMEM;
    }
    for (size_t i = 0; i < nrows; i++)
        v[i] = rows[i].info;
    free(rows);
    *out = v;
    *n = nrows;
    return 0;
}

/* A recording's samples one row per thread entry, in order, for the
 * timeline formats. */
struct timeline {
    struct stack_weight *rows;
    uint64_t *time_ns;
    size_t n, cap;
};

static int timeline_add(struct timeline *tl, const struct sample *s)
{
    for (uint32_t i = 0; i < s->nthreads; i++) {
        if (tl->n == tl->cap) {
            size_t cap = tl->cap ? tl->cap * 2 : 4096;
            struct stack_weight *r = realloc(tl->rows, cap * sizeof *r);
            if (!r)
                return -ENOMEM;
            tl->rows = r;
            uint64_t *t = realloc(tl->time_ns, cap * sizeof *t);
            if (!t)
                return -ENOMEM;
            tl->time_ns = t;
            tl->cap = cap;
        }
        const struct sample_thread *th = &s->threads[i];
        int carry = (th->flags & SAMPLE_CARRY) != 0;
        tl->rows[tl->n] = (struct stack_weight){
            .pid = s->pid,
            .tid = th->tid,
            .stack = th->stack,
            .samples = carry ? 0 : 1,
            .running = !carry && (th->flags & SAMPLE_RUNNING),
            .gil = !carry && (th->flags & SAMPLE_GIL),
            .cpu_ns = th->cpu_ns,
            .wall_ns = carry ? 0 : th->wall_ns,
            .mem_grow = th->mem_grow,
            .mem_release = th->mem_release,
        };
        tl->time_ns[tl->n] = s->time_ns;
        tl->n++;
    }
    return 0;
}

static void timeline_free(struct timeline *tl)
{
    free(tl->rows);
    free(tl->time_ns);
}

/* The rows and labels behind an export_input. */
struct input_parts {
    struct stack_weight *rows;
    struct thread_label *labels;
    struct process_info *procs;
    size_t nrows, nlabels, nprocs;
};

static void input_parts_free(struct input_parts *ip)
{
    free(ip->rows);
    free(ip->labels);
    free(ip->procs);
}

static int build_input(const struct model *m, const struct stack_table *dict, enum model_range r,
                       const struct model_filter *filter, enum export_mode mode,
                       const struct export_context *ctx, struct input_parts *ip,
                       struct export_input *in)
{
    memset(ip, 0, sizeof *ip);
    int rc = model_stacks(m, r, filter, &ip->rows, &ip->nrows);
    if (rc == 0)
        rc = model_thread_labels(m, &ip->labels, &ip->nlabels);
    if (rc == 0)
        rc = process_list(m, r, &ip->procs, &ip->nprocs);
    if (rc)
        return rc;
    struct model_totals tot;
    model_totals(m, r, model_weight_of(mode), &tot);
    *in = (struct export_input){
        .dict = dict,
        .rows = ip->rows,
        .nrows = ip->nrows,
        .threads = ip->labels,
        .nthreads = ip->nlabels,
        .processes = ip->procs,
        .nprocesses = ip->nprocs,
        .pid = ctx->pid,
        .python = ctx->python,
        .command = ctx->command,
        .start_unix_ns = ctx->start_unix_ns,
        .duration_ns = tot.last_ns >= tot.first_ns ? tot.last_ns - tot.first_ns : 0,
        .rate_hz = ctx->rate_hz,
    };
    if (r == MODEL_WINDOW)
        in->duration_ns = tot.last_ns - tot.window_start_ns;
    return 0;
}

static int write_export_ex(FILE *out, const struct model *m, const struct stack_table *dict,
                           enum model_range r, const struct model_filter *filter,
                           enum export_format fmt, enum export_mode mode,
                           const struct export_context *ctx, const struct timeline *tl,
                           const struct export_input *baseline)
{
    struct input_parts ip;
    struct export_input in;
    int rc = build_input(m, dict, r, filter, mode, ctx, &ip, &in);
    if (rc == 0) {
        if (tl) {
            in.rows = tl->rows;
            in.nrows = tl->n;
            in.row_time_ns = tl->time_ns;
        }
        in.baseline = baseline;
        rc = export_write(out, fmt, mode, &in);
    }
    input_parts_free(&ip);
    return rc;
}

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

/* A new temporary file beside path, for the whole file to appear at once
 * by a rename. Returns the fd, or -errno. */
static int open_beside(const char *path, char *tmp, size_t cap)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    if (snprintf(tmp, cap, "%.*s.%s.tmp-XXXXXX", dirlen, path, base) >= (int)cap)
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* mkostemp makes 0600; a profile is as readable as any new file. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = -errno;
        close(fd);
        unlink(tmp);
        return e;
    }
    return fd;
}

/* Put tmp in path's place, unless something other than a regular file
 * appeared there meanwhile. */
static int replace_with(const char *tmp, const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return -EEXIST;
    return rename(tmp, path) == 0 ? 0 : -errno;
}

static int export_to_file_ex(const char *path, const struct model *m,
                             const struct stack_table *dict, enum model_range r,
                             const struct model_filter *filter, enum export_format fmt,
                             enum export_mode mode, const struct export_context *ctx,
                             const struct timeline *tl, const struct export_input *baseline);

int export_model_to_file(const char *path, const struct model *m, const struct stack_table *dict,
                         enum model_range r, const struct model_filter *filter,
                         enum export_format fmt, enum export_mode mode,
                         const struct export_context *ctx)
{
    return export_to_file_ex(path, m, dict, r, filter, fmt, mode, ctx, NULL, NULL);
}

static int export_to_file_ex(const char *path, const struct model *m,
                             const struct stack_table *dict, enum model_range r,
                             const struct model_filter *filter, enum export_format fmt,
                             enum export_mode mode, const struct export_context *ctx,
                             const struct timeline *tl, const struct export_input *baseline)
{
    char tmp[4096];
    int fd = open_beside(path, tmp, sizeof tmp);
    if (fd < 0)
        return fd;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = -errno;
        close(fd);
        unlink(tmp);
        return e;
    }
    int rc = write_export_ex(f, m, dict, r, filter, fmt, mode, ctx, tl, baseline);
    if (fflush(f) != 0 && rc == 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0)
        rc = replace_with(tmp, path);
    if (rc)
        unlink(tmp);
    return rc;
}

int snapshot_path(char *buf, size_t cap, const char *dir, uint32_t pid, enum export_format fmt)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    const char *suffix = export_format_suffix(fmt);
    for (int n = 0; n < 1000; n++) {
        int len;
        if (n == 0)
            len = snprintf(buf, cap, "%s/pytop-%u-%s%s", dir, pid, stamp, suffix);
        else
            len = snprintf(buf, cap, "%s/pytop-%u-%s-%d%s", dir, pid, stamp, n, suffix);
        if (len < 0 || (size_t)len >= cap)
            return -ENAMETOOLONG;
        struct stat st;
        if (stat(buf, &st) != 0)
            return 0;
    }
    return -EEXIST;
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
    struct input_parts ip;
    struct export_input in;
};

static void baseline_free(struct baseline *b)
{
    input_parts_free(&b->ip);
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
    rc = build_input(b->m, rec_reader_dict(b->rd), MODEL_TOTAL, NULL, rq->mode, &ctx, &b->ip,
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
    struct timeline tl = { 0 }, *tlp = export_format_is_timeline(rq->fmt) ? &tl : NULL;
    struct sample s, kept;
    uint64_t nsamples = 0, last_ns = 0;
    while ((rc = rec_reader_next(rd, &s)) == 1) {
        nsamples++;
        last_ns = s.time_ns;
        rc = gil_filter_apply(&gil, &s, &kept);
        if (rc == 0)
            rc = model_add(m, &kept);
        if (rc == 0 && tlp)
            rc = timeline_add(tlp, &kept);
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
            timeline_free(&tl);
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
            rc = write_export_ex(stdout, m, rec_reader_dict(rd), MODEL_TOTAL, NULL, rq->fmt,
                                 rq->mode, &ctx, tlp, have_base ? &base.in : NULL);
            if (rc == 0 && fflush(stdout) != 0)
                rc = -errno;
            out = "stdout";
        } else {
            rc = export_to_file_ex(out, m, rec_reader_dict(rd), MODEL_TOTAL, NULL, rq->fmt,
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
    timeline_free(&tl);
    model_free(m);
    rec_reader_close(rd);
    gil_filter_free(&gil);
    return status;
}
