/* pprof's gzipped perftools.profiles.Profile (proto/profile.proto in
 * google/pprof), for go tool pprof, Pyroscope and Grafana.
 *
 * Two sample types: samples/count and cpu|wall/nanoseconds (the default).
 * One Sample per (thread, call path), location ids leaf first, labelled
 * with "thread" (the Python thread name, when known) and "thread_id". A
 * Location is a (function, line) pair with one Line and no address, in one
 * Mapping for the interpreter that says symbols are already resolved (so
 * pprof does not look for a binary to symbolize). The protobuf encoding (varints, length-delimited
 * and packed fields) is written here; top-level fields are streamed through
 * zlib's gzip encoder as they are built. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/hash.h"
#include "record/export_internal.h"

/* ---- protobuf ------------------------------------------------------------------- */

enum { WT_VARINT = 0, WT_LEN = 2 };

static void pb_varint(struct strbuf *sb, uint64_t v)
{
    char buf[10];
    size_t n = 0;
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        buf[n++] = (char)(v ? b | 0x80 : b);
    } while (v);
    strbuf_append(sb, buf, n);
}

static void pb_tag(struct strbuf *sb, unsigned field, unsigned wt)
{
    pb_varint(sb, ((uint64_t)field << 3) | wt);
}

/* A scalar field; zero is the default and is left out, as proto3 does. */
static void pb_uint(struct strbuf *sb, unsigned field, uint64_t v)
{
    if (!v)
        return;
    pb_tag(sb, field, WT_VARINT);
    pb_varint(sb, v);
}

static void pb_int(struct strbuf *sb, unsigned field, int64_t v)
{
    pb_uint(sb, field, (uint64_t)v);   /* int64: two's complement varint */
}

static void pb_bytes(struct strbuf *sb, unsigned field, const char *data, size_t n)
{
    pb_tag(sb, field, WT_LEN);
    pb_varint(sb, n);
    strbuf_append(sb, data, n);
}

/* Append a finished sub-message, then empty it for reuse. */
static void pb_message(struct strbuf *sb, unsigned field, struct strbuf *msg)
{
    pb_bytes(sb, field, strbuf_str(msg), msg->len);
    if (msg->oom)
        sb->oom = 1;
    export_sb_reset(msg);
}

/* ---- gzip stream ---------------------------------------------------------------------- */

struct gz {
    z_stream z;
    struct export_out *o;
    int ok;         /* no error so far */
    int live;       /* deflateEnd is owed */
    unsigned char buf[1 << 16];
};

static int gz_init(struct gz *g, struct export_out *o)
{
    memset(&g->z, 0, sizeof g->z);
    g->o = o;
    /* 15 + 16: a gzip header and trailer rather than zlib's. */
    g->ok = g->live = deflateInit2(&g->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                   Z_DEFAULT_STRATEGY) == Z_OK;
    return g->ok ? 0 : -ENOMEM;
}

static void gz_run(struct gz *g, const void *data, size_t n, int flush)
{
    if (!g->ok)
        return;
    g->z.next_in = (Bytef *)(uintptr_t)data;
    g->z.avail_in = (uInt)n;
    int zr;
    do {
        g->z.next_out = g->buf;
        g->z.avail_out = sizeof g->buf;
        zr = deflate(&g->z, flush);
        if (zr == Z_STREAM_ERROR) {
            g->ok = 0;
            return;
        }
        export_out_bytes(g->o, g->buf, sizeof g->buf - g->z.avail_out);
    } while (g->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
}

/* Compress what sb holds (a run of top-level fields) and empty it. */
static void gz_put(struct gz *g, struct strbuf *sb)
{
    if (sb->oom) {
        g->ok = 0;
        return;
    }
    /* avail_in is an unsigned int: feed big buffers in pieces. */
    for (size_t off = 0; off < sb->len;) {
        size_t n = sb->len - off > (1u << 30) ? (1u << 30) : sb->len - off;
        gz_run(g, sb->data + off, n, Z_NO_FLUSH);
        off += n;
    }
    export_sb_reset(sb);
}

static void gz_end(struct gz *g)
{
    if (g->live)
        deflateEnd(&g->z);
    g->live = 0;
}

static int gz_finish(struct gz *g)
{
    gz_run(g, NULL, 0, Z_FINISH);
    gz_end(g);
    return g->ok ? 0 : -ENOMEM;
}

/* ---- string table ------------------------------------------------------------------------ */

struct strtab {
    struct strbuf text;     /* NUL-separated entries */
    size_t *off;
    uint32_t n, cap;
    struct export_map map;  /* (hash, length) -> index */
    struct strbuf tmp;
    int oom;
};

static int64_t strtab_add(struct strtab *t, const char *s)
{
    export_sb_reset(&t->tmp);
    export_put_utf8(&t->tmp, s ? s : "");
    const char *c = strbuf_str(&t->tmp);
    size_t len = t->tmp.len;
    uint32_t idx;
    int added;
    if (t->tmp.oom ||
        export_map_get_or_add(&t->map, hash_fnv1a(c, len), len, t->n, &idx, &added) != 0) {
        t->oom = 1;
        return 0;
    }
    /* A hash collision with other text: give this text its own entry. */
    if (!added && strcmp(t->text.data + t->off[idx], c) == 0)
        return idx;
    if (t->n == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 256;
        size_t *no = realloc(t->off, cap * sizeof *no);
        if (!no) {
            t->oom = 1;
            return 0;
        }
        t->off = no;
        t->cap = cap;
    }
    t->off[t->n] = t->text.len;
    strbuf_append(&t->text, c, len + 1);
    if (t->text.oom)
        t->oom = 1;
    return t->n++;
}

/* ---- the profile ---------------------------------------------------------------------------- */

int export_write_pprof(struct export_out *o, struct export_prep *p)
{
    const struct export_input *in = p->in;
    struct strtab st;
    struct strbuf top, msg, sub, packed;
    struct gz *g = NULL;
    int64_t *func_name = NULL, *func_file = NULL, *row_thread = NULL, *s_procs = NULL;
    uint32_t *path = NULL;
    int rc = -ENOMEM;

    memset(&st, 0, sizeof st);
    strbuf_init(&st.text);
    strbuf_init(&st.tmp);
    export_map_init(&st.map);
    strbuf_init(&top);
    strbuf_init(&msg);
    strbuf_init(&sub);
    strbuf_init(&packed);

    func_name = calloc(p->nfuncs ? p->nfuncs : 1, sizeof *func_name);
    func_file = calloc(p->nfuncs ? p->nfuncs : 1, sizeof *func_file);
    row_thread = calloc(in->nrows ? in->nrows : 1, sizeof *row_thread);
    path = malloc(p->max_depth * sizeof *path);
    g = calloc(1, sizeof *g);
    if (!func_name || !func_file || !row_thread || !path || !g)
        goto out;

    /* Every string first: the table is written after what refers to it. */
    strtab_add(&st, "");
    int64_t s_samples = strtab_add(&st, "samples");
    int64_t s_count = strtab_add(&st, "count");
    int memory = p->mode == EXPORT_MEMORY;
    int64_t s_time = strtab_add(&st, memory ? "memory" : p->mode == EXPORT_WALL ? "wall" : "cpu");
    int64_t s_ns = strtab_add(&st, memory ? "bytes" : "nanoseconds");
    int64_t s_pid = p->multi_process ? strtab_add(&st, "pid") : 0;
    int64_t s_thread = strtab_add(&st, "thread");
    int64_t s_thread_id = strtab_add(&st, "thread_id");
    int64_t s_creator = strtab_add(&st, "pytop " PACKAGE_VERSION);
    int64_t s_binary = strtab_add(&st, "python");
    int64_t s_command = 0, s_python = 0;
    if (in->command && in->command[0]) {
        struct strbuf t;
        strbuf_init(&t);
        strbuf_printf(&t, "command: %s", in->command);
        s_command = strtab_add(&st, strbuf_str(&t));
        strbuf_release(&t);
    }
    if (in->python && in->python[0]) {
        struct strbuf t;
        strbuf_init(&t);
        strbuf_printf(&t, "python: %s", in->python);
        s_python = strtab_add(&st, strbuf_str(&t));
        strbuf_release(&t);
    }
    /* With several processes, a comment names each. */
    s_procs = calloc(p->multi_process ? p->nprocs : 1, sizeof *s_procs);
    if (!s_procs)
        goto out;
    for (uint32_t i = 0; p->multi_process && i < p->nprocs; i++) {
        struct strbuf t;
        strbuf_init(&t);
        export_put_process_label(&t, in, p->proc_pid[i]);
        s_procs[i] = strtab_add(&st, strbuf_str(&t));
        strbuf_release(&t);
    }
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        func_name[f] = strtab_add(&st, p->funcs[f].name);
        func_file[f] = strtab_add(&st, p->funcs[f].file);
    }
    for (size_t r = 0; r < in->nrows; r++) {
        const char *tname = export_thread_name(in, in->rows[r].tid);
        row_thread[r] = tname ? strtab_add(&st, tname) : 0;
    }
    if (st.oom)
        goto out;

    if (gz_init(g, o) != 0)
        goto out;

    /* sample_type */
    pb_int(&msg, 1, s_samples);
    pb_int(&msg, 2, s_count);
    pb_message(&top, 1, &msg);
    pb_int(&msg, 1, s_time);
    pb_int(&msg, 2, s_ns);
    pb_message(&top, 1, &msg);

    /* sample */
    for (size_t r = 0; r < in->nrows; r++) {
        const struct stack_weight *row = &in->rows[r];
        uint32_t n = export_path(p, row, path);
        for (uint32_t i = n; i-- > 0;)      /* leaf first */
            pb_varint(&packed, (uint64_t)path[i] + 1);
        pb_message(&msg, 1, &packed);
        pb_varint(&packed, row->samples);
        pb_varint(&packed, export_row_weight(p, row));
        pb_message(&msg, 2, &packed);
        if (row_thread[r]) {
            pb_int(&sub, 1, s_thread);
            pb_int(&sub, 2, row_thread[r]);
            pb_message(&msg, 3, &sub);
        }
        pb_int(&sub, 1, s_thread_id);
        /* A tid of 0 would encode as nothing: still write num = 0. */
        pb_tag(&sub, 3, WT_VARINT);
        pb_varint(&sub, row->tid);
        pb_message(&msg, 3, &sub);
        if (s_pid) {
            pb_int(&sub, 1, s_pid);
            pb_tag(&sub, 3, WT_VARINT);
            pb_varint(&sub, row->pid);
            pb_message(&msg, 3, &sub);
        }
        pb_message(&top, 2, &msg);
        if (top.len >= (64u << 10))
            gz_put(g, &top);
    }

    /* mapping 1: the interpreter, fully symbolized */
    pb_uint(&msg, 1, 1);
    pb_int(&msg, 5, s_binary);
    pb_uint(&msg, 7, 1);    /* has_functions */
    pb_uint(&msg, 8, 1);    /* has_filenames */
    pb_uint(&msg, 9, 1);    /* has_line_numbers */
    pb_message(&top, 3, &msg);

    /* location: one per frame, id = frame + 1 */
    for (uint32_t i = 0; i < p->nframes; i++) {
        pb_uint(&msg, 1, (uint64_t)i + 1);
        pb_uint(&msg, 2, 1);
        pb_uint(&sub, 1, (uint64_t)p->frames[i].func + 1);
        pb_int(&sub, 2, p->frames[i].line > 0 ? p->frames[i].line : 0);
        pb_message(&msg, 4, &sub);
        pb_message(&top, 4, &msg);
        if (top.len >= (64u << 10))
            gz_put(g, &top);
    }

    /* function: id = function + 1 */
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        pb_uint(&msg, 1, (uint64_t)f + 1);
        pb_int(&msg, 2, func_name[f]);
        pb_int(&msg, 3, func_name[f]);
        pb_int(&msg, 4, func_file[f]);
        pb_int(&msg, 5, p->funcs[f].firstline > 0 ? p->funcs[f].firstline : 0);
        pb_message(&top, 5, &msg);
        if (top.len >= (64u << 10))
            gz_put(g, &top);
    }

    /* string_table */
    for (uint32_t i = 0; i < st.n; i++) {
        const char *s = st.text.data + st.off[i];
        pb_bytes(&top, 6, s, strlen(s));
        if (top.len >= (64u << 10))
            gz_put(g, &top);
    }

    pb_uint(&top, 9, in->start_unix_ns);
    pb_uint(&top, 10, in->duration_ns);
    /* The period is the sampling interval: a time, so memory has none. */
    if (!memory) {
        pb_int(&msg, 1, s_time);
        pb_int(&msg, 2, s_ns);
        pb_message(&top, 11, &msg);
        if (in->rate_hz)
            pb_uint(&top, 12, 1000000000u / in->rate_hz);
    }
    pb_int(&top, 13, s_creator);
    pb_int(&top, 13, s_command);
    pb_int(&top, 13, s_python);
    for (uint32_t i = 0; p->multi_process && i < p->nprocs; i++)
        pb_int(&top, 13, s_procs[i]);
    pb_int(&top, 14, s_time);
    gz_put(g, &top);
    rc = gz_finish(g);
out:
    if (g)
        gz_end(g);
    free(g);
    free(func_name);
    free(func_file);
    free(row_thread);
    free(s_procs);
    free(path);
    free(st.off);
    strbuf_release(&st.text);
    strbuf_release(&st.tmp);
    export_map_release(&st.map);
    strbuf_release(&top);
    strbuf_release(&msg);
    strbuf_release(&sub);
    strbuf_release(&packed);
    return rc;
}
