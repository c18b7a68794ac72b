#include "config.h"

#include "record/export_model.h"

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

int export_timeline_add(struct export_timeline *tl, const struct sample *s)
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

void export_timeline_free(struct export_timeline *tl)
{
    free(tl->rows);
    free(tl->time_ns);
}

void export_parts_free(struct export_parts *ip)
{
    free(ip->rows);
    free(ip->labels);
    free(ip->procs);
}

int export_model_input(const struct model *m, const struct stack_table *dict, enum model_range r,
                       const struct model_filter *filter, enum export_mode mode,
                       const struct export_context *ctx, struct export_parts *ip,
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

int export_model_write(FILE *out, const struct model *m, const struct stack_table *dict,
                       enum model_range r, const struct model_filter *filter,
                       enum export_format fmt, enum export_mode mode,
                       const struct export_context *ctx, const struct export_timeline *tl,
                       const struct export_input *baseline)
{
    struct export_parts ip;
    struct export_input in;
    int rc = export_model_input(m, dict, r, filter, mode, ctx, &ip, &in);
    if (rc == 0) {
        if (tl) {
            in.rows = tl->rows;
            in.nrows = tl->n;
            in.row_time_ns = tl->time_ns;
        }
        in.baseline = baseline;
        rc = export_write(out, fmt, mode, &in);
    }
    export_parts_free(&ip);
    return rc;
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

int export_model_to_file(const char *path, const struct model *m, const struct stack_table *dict,
                         enum model_range r, const struct model_filter *filter,
                         enum export_format fmt, enum export_mode mode,
                         const struct export_context *ctx)
{
    return export_model_to_file_ex(path, m, dict, r, filter, fmt, mode, ctx, NULL, NULL);
}

int export_model_to_file_ex(const char *path, const struct model *m,
                            const struct stack_table *dict, enum model_range r,
                            const struct model_filter *filter, enum export_format fmt,
                            enum export_mode mode, const struct export_context *ctx,
                            const struct export_timeline *tl, const struct export_input *baseline)
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
    int rc = export_model_write(f, m, dict, r, filter, fmt, mode, ctx, tl, baseline);
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
