#include "config.h"

#include "app/export_cmd.h"

#include "core/error.h"
#include "record/recording.h"

#include <errno.h>
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

static int write_export(FILE *out, const struct model *m, const struct stack_table *dict,
                        enum model_range r, const struct model_filter *filter,
                        enum export_format fmt, enum export_mode mode,
                        const struct export_context *ctx)
{
    struct stack_weight *rows = NULL;
    struct thread_label *labels = NULL;
    struct process_info *procs = NULL;
    size_t nrows = 0, nlabels = 0, nprocs = 0;
    int rc = model_stacks(m, r, filter, &rows, &nrows);
    if (rc == 0)
        rc = model_thread_labels(m, &labels, &nlabels);
    if (rc == 0)
        rc = process_list(m, r, &procs, &nprocs);
    if (rc == 0) {
        struct model_totals tot;
        model_totals(m, r, model_weight_of(mode), &tot);
        struct export_input in = {
            .dict = dict,
            .rows = rows,
            .nrows = nrows,
            .threads = labels,
            .nthreads = nlabels,
            .processes = procs,
            .nprocesses = nprocs,
            .pid = ctx->pid,
            .python = ctx->python,
            .command = ctx->command,
            .start_unix_ns = ctx->start_unix_ns,
            .duration_ns = tot.last_ns >= tot.first_ns ? tot.last_ns - tot.first_ns : 0,
            .rate_hz = ctx->rate_hz,
        };
        if (r == MODEL_WINDOW)
            in.duration_ns = tot.last_ns - tot.window_start_ns;
        rc = export_write(out, fmt, mode, &in);
    }
    free(rows);
    free(labels);
    free(procs);
    return rc;
}

int export_model_to_file(const char *path, const struct model *m, const struct stack_table *dict,
                         enum model_range r, const struct model_filter *filter,
                         enum export_format fmt, enum export_mode mode,
                         const struct export_context *ctx)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -errno;
    int rc = write_export(f, m, dict, r, filter, fmt, mode, ctx);
    if (fflush(f) != 0 && rc == 0)
        rc = -errno;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
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

int export_cmd_run(const char *recording, enum export_format fmt, enum export_mode mode,
                   const char *out_path)
{
    struct rec_reader *rd;
    int rc = rec_reader_open(recording, &rd);
    if (rc)
        return rc;
    /* Only the since-start totals matter here: keep the window small. */
    struct model_config cfg = { .window_ns = 1000000000ULL, .retention_ns = 1000000000ULL };
    struct model *m = model_new(&cfg, rec_reader_dict(rd));
    if (!m) {
        rec_reader_close(rd);
        return -ENOMEM;
    }
    struct sample s;
    while ((rc = rec_reader_next(rd, &s)) == 1) {
        rc = model_add(m, &s);
        if (rc)
            break;
    }
    if (rc == 0 && mode == EXPORT_MEMORY) {
        /* An empty profile with no word would look like a failed export. */
        struct model_totals tot;
        model_totals(m, MODEL_TOTAL, MODEL_MEM_GROW, &tot);
        if (tot.samples && !tot.mem_grow)
            fprintf(stderr, "pytop: %s holds no memory growth (a recording of format 1.0, "
                            "from before pytop recorded memory, holds none): the profile is "
                            "empty\n", recording);
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
        if (!out_path || strcmp(out_path, "-") == 0) {
            rc = write_export(stdout, m, rec_reader_dict(rd), MODEL_TOTAL, NULL, fmt, mode, &ctx);
            if (rc == 0 && fflush(stdout) != 0)
                rc = -errno;
        } else {
            rc = export_model_to_file(out_path, m, rec_reader_dict(rd), MODEL_TOTAL, NULL, fmt,
                                      mode, &ctx);
        }
    }
    model_free(m);
    rec_reader_close(rd);
    return rc;
}
