/* speedscope's JSON file format (file-format-spec.ts in jlfwong/speedscope):
 * shared frames (function, file, executing line) and one "sampled" profile
 * per thread (per process and thread when there are several processes),
 * whose samples are frame indices root first and whose weights are the
 * chosen time in seconds, or bytes of memory growth. Rows of zero weight,
 * and threads with no weight at all, are left out. The heaviest thread is
 * shown first. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "core/json.h"
#include "record/export_internal.h"
#include "record/export_writers.h"

struct row_ref {
    uint32_t pid;               /* 0 with a single process */
    uint32_t tid;
    size_t idx;
};

static int row_ref_cmp(const void *a, const void *b)
{
    const struct row_ref *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void put_json(struct strbuf *sb, const char *s)
{
    json_put_string(sb, s ? s : "");
}

/* The rows with a weight, grouped by (process, thread), in order. */
static struct row_ref *thread_rows(const struct export_prep *p, size_t *nrefs)
{
    const struct export_input *in = p->in;
    struct row_ref *refs = calloc(in->nrows ? in->nrows : 1, sizeof *refs);
    if (!refs)
        return NULL;
    size_t n = 0;
    for (size_t r = 0; r < in->nrows; r++) {
        if (export_row_weight(p, &in->rows[r]) == 0)
            continue;
        refs[n].pid = p->multi_process ? in->rows[r].pid : 0;
        refs[n].tid = in->rows[r].tid;
        refs[n].idx = r;
        n++;
    }
    qsort(refs, n, sizeof *refs, row_ref_cmp);
    *nrefs = n;
    return refs;
}

/* The end of the group starting at i, and its total weight. */
static size_t group_end(const struct export_prep *p, const struct row_ref *refs, size_t nrefs,
                        size_t i, uint64_t *sum)
{
    size_t j = i;
    *sum = 0;
    for (; j < nrefs && refs[j].tid == refs[i].tid && refs[j].pid == refs[i].pid; j++)
        *sum += export_row_weight(p, &p->in->rows[refs[j].idx]);
    return j;
}

/* The heaviest thread, by its position among the profiles. */
static size_t heaviest(const struct export_prep *p, const struct row_ref *refs, size_t nrefs)
{
    size_t nprofiles = 0, active = 0;
    uint64_t best = 0, sum;
    for (size_t i = 0, end; i < nrefs; i = end, nprofiles++) {
        end = group_end(p, refs, nrefs, i, &sum);
        if (sum > best) {
            best = sum;
            active = nprofiles;
        }
    }
    return active;
}

static void put_header(struct strbuf *sb, const struct export_prep *p, size_t active)
{
    const struct export_input *in = p->in;
    strbuf_puts(sb, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\n");
    strbuf_puts(sb, "\"name\":");
    struct strbuf name;
    strbuf_init(&name);
    if (p->mode == EXPORT_MEMORY)
        strbuf_puts(&name, "Memory growth (resident, while each stack ran)");
    else
        strbuf_printf(&name, "%s time", export_mode_title(p->mode));
    if (in->command && in->command[0])
        strbuf_printf(&name, " of %s", in->command);
    if (in->pid)
        strbuf_printf(&name, " (pid %u)", (unsigned)in->pid);
    put_json(sb, strbuf_str(&name));
    if (name.oom)
        sb->oom = 1;
    strbuf_release(&name);
    strbuf_puts(sb, ",\n\"exporter\":");
    put_json(sb, "pytop " PACKAGE_VERSION);
    strbuf_printf(sb, ",\n\"activeProfileIndex\":%zu,\n", active);
}

static void put_frames(struct export_out *o, const struct export_prep *p)
{
    struct strbuf *sb = &o->sb;
    strbuf_puts(sb, "\"shared\":{\"frames\":[\n");
    for (uint32_t i = 0; i < p->nframes; i++) {
        const struct export_frame *fr = &p->frames[i];
        const struct export_func *fn = &p->funcs[fr->func];
        strbuf_puts(sb, i ? ",\n{\"name\":" : "{\"name\":");
        put_json(sb, fn->name);
        if (fn->file[0]) {
            strbuf_puts(sb, ",\"file\":");
            put_json(sb, fn->file);
        }
        if (fr->line >= 0)
            strbuf_printf(sb, ",\"line\":%d", (int)fr->line);
        strbuf_putc(sb, '}');
        export_out_maybe_flush(o);
    }
    strbuf_puts(sb, "]},\n\"profiles\":[");
}

static void put_profile_name(struct strbuf *sb, const struct export_prep *p, uint32_t pid, uint32_t tid)
{
    const char *tname = export_thread_name(p->in, tid);
    struct strbuf name;
    strbuf_init(&name);
    if (pid && tname)
        strbuf_printf(&name, "%s (pid %u, tid %u)", tname, (unsigned)pid, (unsigned)tid);
    else if (pid)
        strbuf_printf(&name, "pid %u, tid %u", (unsigned)pid, (unsigned)tid);
    else if (tname)
        strbuf_printf(&name, "%s (tid %u)", tname, (unsigned)tid);
    else
        strbuf_printf(&name, "tid %u", (unsigned)tid);
    put_json(sb, strbuf_str(&name));
    if (name.oom)
        sb->oom = 1;
    strbuf_release(&name);
}

/* One thread's sampled profile: refs[i..end) with total weight sum. */
static void put_profile(struct export_out *o, const struct export_prep *p, const struct row_ref *refs,
                        size_t i, size_t end, uint64_t sum, int first, uint32_t *path)
{
    struct strbuf *sb = &o->sb;
    const struct export_input *in = p->in;
    strbuf_puts(sb, first ? "\n{" : ",\n{");
    strbuf_puts(sb, "\"type\":\"sampled\",\"name\":");
    put_profile_name(sb, p, refs[i].pid, refs[i].tid);
    strbuf_printf(sb, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":",
                  p->mode == EXPORT_MEMORY ? "bytes" : "seconds");
    export_put_value(sb, p, sum);
    strbuf_puts(sb, ",\n\"samples\":[");
    for (size_t j = i; j < end; j++) {
        uint32_t n = export_path(p, &in->rows[refs[j].idx], path);
        strbuf_puts(sb, j > i ? ",[" : "[");
        for (uint32_t d = 0; d < n; d++) {
            if (d)
                strbuf_putc(sb, ',');
            export_put_u64(sb, path[d]);
        }
        strbuf_putc(sb, ']');
        export_out_maybe_flush(o);
    }
    strbuf_puts(sb, "],\n\"weights\":[");
    for (size_t j = i; j < end; j++) {
        if (j > i)
            strbuf_putc(sb, ',');
        export_put_value(sb, p, export_row_weight(p, &in->rows[refs[j].idx]));
        export_out_maybe_flush(o);
    }
    strbuf_puts(sb, "]}");
}

int export_write_speedscope(struct export_out *o, struct export_prep *p)
{
    size_t nrefs = 0;
    struct row_ref *refs = thread_rows(p, &nrefs);
    uint32_t *path = malloc(p->max_depth * sizeof *path);
    if (!refs || !path) {
        free(refs);
        free(path);
        return -ENOMEM;
    }
    put_header(&o->sb, p, heaviest(p, refs, nrefs));
    put_frames(o, p);
    uint64_t sum;
    for (size_t i = 0, end; i < nrefs; i = end) {
        end = group_end(p, refs, nrefs, i, &sum);
        put_profile(o, p, refs, i, end, sum, i == 0, path);
    }
    strbuf_puts(&o->sb, "]}\n");
    free(refs);
    free(path);
    return 0;
}
