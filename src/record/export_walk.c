/* The walk of the aggregated data every format writer starts from: the
 * profile restricted to what the rows use (functions, frames, call paths),
 * per-function totals, each row's path and weight, and the text and
 * output helpers the writers share. It knows no format: export_write.c
 * picks the writer, and the writers (export_*.c) call only this. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/escape.h"
#include "core/hash.h"
#include "core/stacks.h"
#include "core/strbuf.h"
#include "core/vec.h"
#include "record/export_internal.h"

const char *export_mode_title(enum export_mode mode)
{
    switch (mode) {
    case EXPORT_WALL: return "wall";
    case EXPORT_MEMORY: return "memory";
    default: return "CPU";
    }
}

/* ---- hash map ----------------------------------------------------------------- */

void export_map_init(struct export_map *m)
{
    memset(m, 0, sizeof *m);
}

void export_map_release(struct export_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t map_hash(uint64_t a, uint64_t b)
{
    return (size_t)hash_pair(a, b);
}

static int map_grow(struct export_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct export_map_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        const struct export_map_slot *s = &m->slots[i];
        if (!s->used)
            continue;
        size_t j = map_hash(s->a, s->b) & (cap - 1);
        while (slots[j].used)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int export_map_get_or_add(struct export_map *m, uint64_t a, uint64_t b,
                          uint32_t new_val, uint32_t *val, int *added)
{
    /* Keep the load under 1/2 so probes stay short. */
    if ((m->len + 1) * 2 > m->cap) {
        int rc = map_grow(m);
        if (rc != 0)
            return rc;
    }
    size_t j = map_hash(a, b) & (m->cap - 1);
    while (m->slots[j].used) {
        if (m->slots[j].a == a && m->slots[j].b == b) {
            *val = m->slots[j].val;
            if (added)
                *added = 0;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->slots[j].a = a;
    m->slots[j].b = b;
    m->slots[j].val = new_val;
    m->slots[j].used = 1;
    m->len++;
    *val = new_val;
    if (added)
        *added = 1;
    return 0;
}

/* ---- the profile view ------------------------------------------------------------ */

static int grow_array(void **arr, uint32_t n, size_t elem)
{
    /* Called with n = the current count: capacity is 16, then doubles. */
    if (n != 0 && (n < 16 || (n & (n - 1))))
        return 0;
    size_t cap = n ? (size_t)n * 2 : 16;
    void *p = realloc(*arr, cap * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    return 0;
}

static uint64_t text_hash(const char *s)
{
    return hash_fnv1a(s, strlen(s));
}

/* Functions are keyed by their text, not string ids: a table rebuilt by a
 * reader may hold equal strings under two ids. */
static int prep_func(struct export_prep *p, int32_t firstline,
                     const char *name, const char *file, uint32_t *out)
{
    uint64_t a = text_hash(name) * 0x100000001b3ull ^ text_hash(file);
    uint64_t b = ((uint64_t)text_hash(file) << 32) | (uint32_t)firstline;
    uint32_t id;
    int added, rc;
    rc = export_map_get_or_add(&p->func_map, a, b, p->nfuncs, &id, &added);
    if (rc != 0)
        return rc;
    /* Equal hashes of different text (a 128-bit accident): a new entry the
     * map does not find again, which only splits that function. */
    if (!added && (strcmp(p->funcs[id].name, name) != 0 || strcmp(p->funcs[id].file, file) != 0 ||
                   p->funcs[id].firstline != firstline)) {
        added = 1;
        id = p->nfuncs;
    }
    if (added) {
        if (grow_array((void **)&p->funcs, p->nfuncs, sizeof *p->funcs) != 0)
            return -ENOMEM;
        p->funcs[p->nfuncs].name = name;
        p->funcs[p->nfuncs].file = file;
        p->funcs[p->nfuncs].firstline = firstline;
        p->nfuncs++;
    }
    *out = id;
    return 0;
}

static int prep_frame(struct export_prep *p, uint32_t func, int32_t line, uint32_t *out)
{
    uint32_t id;
    int added;
    if (export_map_get_or_add(&p->frame_map, func, (uint32_t)line, p->nframes, &id, &added) != 0)
        return -ENOMEM;
    if (added) {
        if (grow_array((void **)&p->frames, p->nframes, sizeof *p->frames) != 0)
            return -ENOMEM;
        p->frames[p->nframes].func = func;
        p->frames[p->nframes].line = line;
        p->nframes++;
    }
    *out = id;
    return 0;
}

static int prep_synthetic(struct export_prep *p, const char *name, uint32_t *slot)
{
    uint32_t func;
    if (*slot != UINT32_MAX)
        return 0;
    int rc = prep_func(p, 0, name, "", &func);
    if (rc == 0)
        rc = prep_frame(p, func, -1, slot);
    return rc;
}

/* Map the dictionary frame fid to an export frame, creating it. */
static int prep_dict_frame(struct export_prep *p, uint32_t fid)
{
    const struct stack_frame *f = fid < p->dict_nframes
        ? stack_table_get_frame(p->in->dict, fid) : NULL;
    if (!f)
        return prep_synthetic(p, "[unknown frame]", &p->unknown_frame);
    if (p->dict_frame_map[fid])
        return 0;
    uint32_t func, frame;
    const char *name = stack_table_str(p->in->dict, f->function);
    const char *file = stack_table_str(p->in->dict, f->file);
    int rc = prep_func(p, f->firstline, name ? name : "", file ? file : "", &func);
    if (rc == 0)
        rc = prep_frame(p, func, f->line, &frame);
    if (rc == 0)
        p->dict_frame_map[fid] = frame + 1;
    return rc;
}

/* Walk from node towards the root: a parent always has a smaller id than
 * its child, so a damaged table cannot make this loop forever. */
static uint32_t walk_up(const struct stack_table *dict, uint32_t node,
                        uint32_t *frames_out, uint32_t cap)
{
    uint32_t n = 0;
    while (node != 0) {
        const struct stack_node *nd = stack_table_get_node(dict, node);
        if (!nd)
            break;
        if (frames_out && n < cap)
            frames_out[n] = nd->frame;
        n++;
        if (nd->parent >= node)
            break;
        node = nd->parent;
    }
    return n;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

const struct process_info *export_process(const struct export_input *in, uint32_t pid,
                                          struct process_info *scratch)
{
    const struct process_info *found = NULL;
    for (size_t i = 0; in->processes && i < in->nprocesses && !found; i++)
        if (in->processes[i].pid == pid)
            found = &in->processes[i];
    /* The target's own description fills in what the list lacks. */
    if ((found && found->command[0]) || !in->pid || pid != in->pid)
        return found;
    memset(scratch, 0, sizeof *scratch);
    scratch->pid = pid;
    scratch->ppid = found ? found->ppid : 0;
    snprintf(scratch->python, sizeof scratch->python, "%s", in->python ? in->python : "");
    snprintf(scratch->command, sizeof scratch->command, "%s", in->command ? in->command : "");
    return scratch;
}

void export_put_process_label(struct strbuf *sb, const struct export_input *in, uint32_t pid)
{
    struct process_info scratch;
    const struct process_info *info = export_process(in, pid, &scratch);
    strbuf_printf(sb, "process %u", (unsigned)pid);
    if (info && info->command[0])
        strbuf_printf(sb, ": %s", info->command);
}

/* The rows' distinct pids and, for process roots, a frame for each. */
static int prep_processes(struct export_prep *p, int process_roots)
{
    const struct export_input *in = p->in;
    uint32_t *pids = malloc((in->nrows ? in->nrows : 1) * sizeof *pids);
    if (!pids)
        return -ENOMEM;
    for (size_t r = 0; r < in->nrows; r++)
        pids[r] = in->rows[r].pid;
    qsort(pids, in->nrows, sizeof *pids, u32_cmp);
    uint32_t n = 0;
    for (size_t r = 0; r < in->nrows; r++)
        if (n == 0 || pids[n - 1] != pids[r])
            pids[n++] = pids[r];
    p->proc_pid = pids;
    p->nprocs = n;
    p->multi_process = n > 1;
    p->process_roots = process_roots && p->multi_process;
    if (!p->process_roots)
        return 0;
    p->proc_frame = calloc(n, sizeof *p->proc_frame);
    p->proc_label = calloc(n, sizeof *p->proc_label);
    if (!p->proc_frame || !p->proc_label)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct strbuf sb;
        strbuf_init(&sb);
        export_put_process_label(&sb, in, pids[i]);
        if (sb.oom) {
            strbuf_release(&sb);
            return -ENOMEM;
        }
        p->proc_label[i] = strdup(strbuf_str(&sb));
        strbuf_release(&sb);
        uint32_t func;
        if (!p->proc_label[i] || prep_func(p, 0, p->proc_label[i], "", &func) != 0 ||
            prep_frame(p, func, -1, &p->proc_frame[i]) != 0)
            return -ENOMEM;
    }
    p->max_depth++;
    return 0;
}

int export_prep_init(struct export_prep *p, const struct export_input *in,
                     enum export_mode mode, int process_roots)
{
    memset(p, 0, sizeof *p);
    p->in = in;
    p->mode = mode;
    p->empty_frame = UINT32_MAX;
    p->unknown_frame = UINT32_MAX;
    p->max_depth = 1;
    export_map_init(&p->func_map);
    export_map_init(&p->frame_map);
    p->dict_nframes = stack_table_frame_count(in->dict);
    p->dict_frame_map = calloc(p->dict_nframes ? p->dict_nframes : 1, sizeof *p->dict_frame_map);
    if (!p->dict_frame_map)
        goto oom;

    uint32_t *buf = NULL;
    uint32_t bufcap = 0;
    for (size_t r = 0; r < in->nrows; r++) {
        uint32_t node = in->rows[r].stack;
        uint32_t n = walk_up(in->dict, node, NULL, 0);
        if (n == 0) {
            if (prep_synthetic(p, "[no Python frame]", &p->empty_frame) != 0)
                goto oom_buf;
            continue;
        }
        if (n > p->max_depth)
            p->max_depth = n;
        if (n > bufcap) {
            uint32_t *nb = realloc(buf, (size_t)n * sizeof *buf);
            if (!nb)
                goto oom_buf;
            buf = nb;
            bufcap = n;
        }
        walk_up(in->dict, node, buf, bufcap);
        for (uint32_t i = 0; i < n; i++)
            if (prep_dict_frame(p, buf[i]) != 0)
                goto oom_buf;
    }
    free(buf);
    if (prep_processes(p, process_roots) != 0)
        goto oom;

    p->func_stamp = calloc(p->nfuncs ? p->nfuncs : 1, sizeof *p->func_stamp);
    if (!p->func_stamp)
        goto oom;
    return 0;

oom_buf:
    free(buf);
oom:
    export_prep_release(p);
    return -ENOMEM;
}

void export_prep_release(struct export_prep *p)
{
    free(p->funcs);
    free(p->frames);
    free(p->dict_frame_map);
    free(p->func_stamp);
    for (uint32_t i = 0; p->proc_label && i < p->nprocs; i++)
        free(p->proc_label[i]);
    free(p->proc_label);
    free(p->proc_pid);
    free(p->proc_frame);
    export_map_release(&p->func_map);
    export_map_release(&p->frame_map);
    memset(p, 0, sizeof *p);
}

uint64_t export_row_weight(const struct export_prep *p, const struct stack_weight *row)
{
    switch (p->mode) {
    case EXPORT_WALL: return row->wall_ns;
    case EXPORT_MEMORY: return row->mem_grow;
    default: return row->cpu_ns;
    }
}

void export_put_bytes_human(struct strbuf *sb, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    if (bytes >= 1024) {
        double v = (double)bytes / 1024;
        size_t u = 0;
        while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
            v /= 1024;
            u++;
        }
        strbuf_printf(sb, "%.1f %s = ", v, units[u]);
    }
    export_put_u64(sb, bytes);
    strbuf_puts(sb, " bytes");
}

void export_put_value(struct strbuf *sb, const struct export_prep *p, uint64_t v)
{
    if (p->mode == EXPORT_MEMORY)
        export_put_u64(sb, v);
    else
        export_put_seconds(sb, v);
}

/* The root frame of pid's process (pids were all seen in init). */
static uint32_t process_frame(const struct export_prep *p, uint32_t pid)
{
    size_t lo = vec_u32_lower_bound(p->proc_pid, p->nprocs, pid);
    return p->proc_frame[lo < p->nprocs ? lo : 0];
}

static uint32_t stack_path(const struct export_prep *p, uint32_t node, uint32_t *out,
                           uint32_t cap);

uint32_t export_path(const struct export_prep *p, const struct stack_weight *row, uint32_t *out)
{
    if (!p->process_roots)
        return stack_path(p, row->stack, out, p->max_depth);
    out[0] = process_frame(p, row->pid);
    return 1 + stack_path(p, row->stack, out + 1, p->max_depth - 1);
}

static uint32_t stack_path(const struct export_prep *p, uint32_t node, uint32_t *out,
                           uint32_t cap)
{
    uint32_t n = walk_up(p->in->dict, node, out, cap);
    if (n == 0) {
        out[0] = p->empty_frame;
        return 1;
    }
    if (n > cap)            /* cannot happen: init measured every row */
        n = cap;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t fid = out[i];
        uint32_t m = fid < p->dict_nframes ? p->dict_frame_map[fid] : 0;
        out[i] = m ? m - 1 : p->unknown_frame;
    }
    for (uint32_t i = 0, j = n - 1; i < j; i++, j--) {
        uint32_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
    return n;
}

int export_stamp_first(struct export_prep *p, uint32_t func)
{
    if (p->func_stamp[func] == p->stamp)
        return 0;
    p->func_stamp[func] = p->stamp;
    return 1;
}

void export_stamp_next(struct export_prep *p)
{
    if (++p->stamp == 0) {
        /* Wrapped: old marks could look current. */
        memset(p->func_stamp, 0, (p->nfuncs ? p->nfuncs : 1) * sizeof *p->func_stamp);
        p->stamp = 1;
    }
}

const char *export_thread_name(const struct export_input *in, uint32_t tid)
{
    if (!in->threads)
        return NULL;
    for (size_t i = 0; i < in->nthreads; i++) {
        if (in->threads[i].tid != tid || in->threads[i].name == 0)
            continue;
        const char *s = stack_table_str(in->dict, in->threads[i].name);
        return s && s[0] ? s : NULL;
    }
    return NULL;
}

struct export_func_totals *export_func_totals(struct export_prep *p)
{
    struct export_func_totals *t = calloc(p->nfuncs ? p->nfuncs : 1, sizeof *t);
    uint32_t *path = malloc(p->max_depth * sizeof *path);
    if (!t || !path) {
        free(t);
        free(path);
        return NULL;
    }
    for (size_t r = 0; r < p->in->nrows; r++) {
        const struct stack_weight *row = &p->in->rows[r];
        uint64_t w = export_row_weight(p, row);
        uint32_t n = export_path(p, row, path);
        export_stamp_next(p);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t f = p->frames[path[i]].func;
            t[f].frames += row->samples;
            if (export_stamp_first(p, f)) {
                t[f].total_samples += row->samples;
                t[f].total_ns += w;
            }
        }
        uint32_t leaf = p->frames[path[n - 1]].func;
        t[leaf].self_samples += row->samples;
        t[leaf].self_ns += w;
    }
    free(path);
    return t;
}

/* ---- text ------------------------------------------------------------------------ */



void export_sb_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

void export_put_utf8(struct strbuf *sb, const char *str)
{
    escape_put(sb, str, ESCAPE_UTF8);
}

void export_put_label(struct strbuf *sb, const char *str)
{
    escape_put(sb, str, ESCAPE_LABEL);
}

void export_put_frame_label(struct strbuf *sb, const struct export_prep *p, uint32_t frame)
{
    const struct export_frame *fr = &p->frames[frame];
    const struct export_func *fn = &p->funcs[fr->func];
    export_put_label(sb, fn->name);
    if (!fn->file[0])
        return;
    strbuf_puts(sb, " (");
    export_put_label(sb, fn->file);
    if (fr->line >= 0)
        strbuf_printf(sb, ":%d", (int)fr->line);
    strbuf_putc(sb, ')');
}

int export_frame_labels(const struct export_prep *p, struct strbuf *text, size_t **off)
{
    size_t *o = malloc(((size_t)p->nframes + 1) * sizeof *o);
    if (!o)
        return -ENOMEM;
    for (uint32_t i = 0; i < p->nframes; i++) {
        o[i] = text->len;
        export_put_frame_label(text, p, i);
    }
    o[p->nframes] = text->len;
    if (text->oom) {
        free(o);
        return -ENOMEM;
    }
    *off = o;
    return 0;
}

void export_put_u64(struct strbuf *sb, uint64_t v)
{
    char buf[20];
    size_t n = sizeof buf;
    do {
        buf[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    strbuf_append(sb, buf + n, sizeof buf - n);
}

void export_put_i64(struct strbuf *sb, int64_t v)
{
    if (v < 0) {
        strbuf_putc(sb, '-');
        export_put_u64(sb, (uint64_t)0 - (uint64_t)v);
    } else {
        export_put_u64(sb, (uint64_t)v);
    }
}

void export_put_seconds(struct strbuf *sb, uint64_t ns)
{
    export_put_u64(sb, ns / 1000000000u);
    uint32_t frac = (uint32_t)(ns % 1000000000u);
    if (frac == 0)
        return;
    char digits[10];
    digits[0] = '.';
    for (int i = 9; i >= 1; i--) {
        digits[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    size_t n = 10;
    while (digits[n - 1] == '0')
        n--;
    strbuf_append(sb, digits, n);
}

void export_put_xml(struct strbuf *sb, const char *str)
{
    escape_put(sb, str, ESCAPE_XML);
}

/* ---- output ------------------------------------------------------------------------ */

#define FLUSH_AT (256u << 10)

static void out_error(struct export_out *o, int err)
{
    if (!o->err)
        o->err = err;
}

void export_out_init(struct export_out *o, FILE *f)
{
    o->f = f;
    o->err = 0;
    strbuf_init(&o->sb);
}

static void out_flush(struct export_out *o)
{
    if (o->sb.oom)
        out_error(o, -ENOMEM);
    if (o->sb.len && !o->err) {
        errno = 0;
        if (fwrite(o->sb.data, 1, o->sb.len, o->f) != o->sb.len)
            out_error(o, errno ? -errno : -EIO);
    }
    export_sb_reset(&o->sb);
}

void export_out_maybe_flush(struct export_out *o)
{
    if (o->sb.len >= FLUSH_AT || o->sb.oom)
        out_flush(o);
}

void export_out_bytes(struct export_out *o, const void *data, size_t n)
{
    out_flush(o);
    if (n && !o->err) {
        errno = 0;
        if (fwrite(data, 1, n, o->f) != n)
            out_error(o, errno ? -errno : -EIO);
    }
}

int export_out_finish(struct export_out *o)
{
    out_flush(o);
    errno = 0;
    if (fflush(o->f) != 0 || ferror(o->f))
        out_error(o, errno ? -errno : -EIO);
    strbuf_release(&o->sb);
    return o->err;
}

/* ---- the walk of the rows ---------------------------------------------------------- */

int export_walk_rows(struct export_prep *p, export_row_visit visit, void *ctx)
{
    uint32_t *path = malloc(p->max_depth * sizeof *path);
    if (!path)
        return -ENOMEM;
    int rc = 0;
    const struct export_input *in = p->in;
    for (size_t r = 0; r < in->nrows && rc == 0; r++) {
        struct export_row_path rp = { .row = &in->rows[r], .index = r, .path = path };
        rp.n = export_path(p, rp.row, path);
        rp.weight = export_row_weight(p, rp.row);
        rc = visit(ctx, &rp);
    }
    free(path);
    return rc;
}
