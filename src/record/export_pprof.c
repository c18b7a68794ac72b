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
#include "record/export_writers.h"

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

/* The string ids the profile refers to, all made before anything is
 * written: the table is written after what refers to it. */
struct pprof {
    struct export_prep *p;
    struct strtab st;
    struct strbuf top, msg, sub, packed;
    struct gz *g;
    int64_t *func_name, *func_file, *row_thread, *s_procs;
    int64_t s_samples, s_count, s_time, s_ns, s_pid, s_thread, s_thread_id;
    int64_t s_creator, s_binary, s_command, s_python;
};

static int64_t add_prefixed(struct strtab *st, const char *prefix, const char *s)
{
    if (!s || !s[0])
        return 0;
    struct strbuf t;
    strbuf_init(&t);
    strbuf_printf(&t, "%s%s", prefix, s);
    int64_t id = strtab_add(st, strbuf_str(&t));
    strbuf_release(&t);
    return id;
}

static int pprof_strings(struct pprof *pp)
{
    struct export_prep *p = pp->p;
    const struct export_input *in = p->in;
    struct strtab *st = &pp->st;
    int memory = p->mode == EXPORT_MEMORY;
    strtab_add(st, "");
    pp->s_samples = strtab_add(st, "samples");
    pp->s_count = strtab_add(st, "count");
    pp->s_time = strtab_add(st, memory ? "memory" : p->mode == EXPORT_WALL ? "wall" : "cpu");
    pp->s_ns = strtab_add(st, memory ? "bytes" : "nanoseconds");
    pp->s_pid = p->multi_process ? strtab_add(st, "pid") : 0;
    pp->s_thread = strtab_add(st, "thread");
    pp->s_thread_id = strtab_add(st, "thread_id");
    pp->s_creator = strtab_add(st, "pytop " PACKAGE_VERSION);
    pp->s_binary = strtab_add(st, "python");
    pp->s_command = add_prefixed(st, "command: ", in->command);
    pp->s_python = add_prefixed(st, "python: ", in->python);
    /* With several processes, a comment names each. */
    for (uint32_t i = 0; p->multi_process && i < p->nprocs; i++) {
        struct strbuf t;
        strbuf_init(&t);
        export_put_process_label(&t, in, p->proc_pid[i]);
        pp->s_procs[i] = strtab_add(st, strbuf_str(&t));
        strbuf_release(&t);
    }
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        pp->func_name[f] = strtab_add(st, p->funcs[f].name);
        pp->func_file[f] = strtab_add(st, p->funcs[f].file);
    }
    for (size_t r = 0; r < in->nrows; r++) {
        const char *tname = export_thread_name(in, in->rows[r].tid);
        pp->row_thread[r] = tname ? strtab_add(st, tname) : 0;
    }
    return st->oom ? -ENOMEM : 0;
}

static void put_chunk(struct pprof *pp)
{
    if (pp->top.len >= (64u << 10))
        gz_put(pp->g, &pp->top);
}

/* A sample: its locations leaf first, (samples, weight), its labels. */
static int put_sample(void *ctx, const struct export_row_path *r)
{
    struct pprof *pp = ctx;
    for (uint32_t i = r->n; i-- > 0;)
        pb_varint(&pp->packed, (uint64_t)r->path[i] + 1);
    pb_message(&pp->msg, 1, &pp->packed);
    pb_varint(&pp->packed, r->row->samples);
    pb_varint(&pp->packed, r->weight);
    pb_message(&pp->msg, 2, &pp->packed);
    if (pp->row_thread[r->index]) {
        pb_int(&pp->sub, 1, pp->s_thread);
        pb_int(&pp->sub, 2, pp->row_thread[r->index]);
        pb_message(&pp->msg, 3, &pp->sub);
    }
    pb_int(&pp->sub, 1, pp->s_thread_id);
    /* A tid of 0 would encode as nothing: still write num = 0. */
    pb_tag(&pp->sub, 3, WT_VARINT);
    pb_varint(&pp->sub, r->row->tid);
    pb_message(&pp->msg, 3, &pp->sub);
    if (pp->s_pid) {
        pb_int(&pp->sub, 1, pp->s_pid);
        pb_tag(&pp->sub, 3, WT_VARINT);
        pb_varint(&pp->sub, r->row->pid);
        pb_message(&pp->msg, 3, &pp->sub);
    }
    pb_message(&pp->top, 2, &pp->msg);
    put_chunk(pp);
    return 0;
}

/* The mapping (the interpreter, fully symbolized), one location per
 * frame (id = frame + 1) and the functions (id = function + 1). */
static void put_locations(struct pprof *pp)
{
    const struct export_prep *p = pp->p;
    pb_uint(&pp->msg, 1, 1);
    pb_int(&pp->msg, 5, pp->s_binary);
    pb_uint(&pp->msg, 7, 1);    /* has_functions */
    pb_uint(&pp->msg, 8, 1);    /* has_filenames */
    pb_uint(&pp->msg, 9, 1);    /* has_line_numbers */
    pb_message(&pp->top, 3, &pp->msg);
    for (uint32_t i = 0; i < p->nframes; i++) {
        pb_uint(&pp->msg, 1, (uint64_t)i + 1);
        pb_uint(&pp->msg, 2, 1);
        pb_uint(&pp->sub, 1, (uint64_t)p->frames[i].func + 1);
        pb_int(&pp->sub, 2, p->frames[i].line > 0 ? p->frames[i].line : 0);
        pb_message(&pp->msg, 4, &pp->sub);
        pb_message(&pp->top, 4, &pp->msg);
        put_chunk(pp);
    }
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        pb_uint(&pp->msg, 1, (uint64_t)f + 1);
        pb_int(&pp->msg, 2, pp->func_name[f]);
        pb_int(&pp->msg, 3, pp->func_name[f]);
        pb_int(&pp->msg, 4, pp->func_file[f]);
        pb_int(&pp->msg, 5, p->funcs[f].firstline > 0 ? p->funcs[f].firstline : 0);
        pb_message(&pp->top, 5, &pp->msg);
        put_chunk(pp);
    }
}

/* The string table, then the profile's own fields. */
static void put_tail(struct pprof *pp)
{
    const struct export_prep *p = pp->p;
    const struct export_input *in = p->in;
    for (uint32_t i = 0; i < pp->st.n; i++) {
        const char *s = pp->st.text.data + pp->st.off[i];
        pb_bytes(&pp->top, 6, s, strlen(s));
        put_chunk(pp);
    }
    pb_uint(&pp->top, 9, in->start_unix_ns);
    pb_uint(&pp->top, 10, in->duration_ns);
    /* The period is the sampling interval: a time, so memory has none. */
    if (p->mode != EXPORT_MEMORY) {
        pb_int(&pp->msg, 1, pp->s_time);
        pb_int(&pp->msg, 2, pp->s_ns);
        pb_message(&pp->top, 11, &pp->msg);
        if (in->rate_hz)
            pb_uint(&pp->top, 12, 1000000000u / in->rate_hz);
    }
    pb_int(&pp->top, 13, pp->s_creator);
    pb_int(&pp->top, 13, pp->s_command);
    pb_int(&pp->top, 13, pp->s_python);
    for (uint32_t i = 0; p->multi_process && i < p->nprocs; i++)
        pb_int(&pp->top, 13, pp->s_procs[i]);
    pb_int(&pp->top, 14, pp->s_time);
}

static int pprof_init(struct pprof *pp, struct export_prep *p)
{
    memset(pp, 0, sizeof *pp);
    pp->p = p;
    strbuf_init(&pp->st.text);
    strbuf_init(&pp->st.tmp);
    export_map_init(&pp->st.map);
    strbuf_init(&pp->top);
    strbuf_init(&pp->msg);
    strbuf_init(&pp->sub);
    strbuf_init(&pp->packed);
    pp->func_name = calloc(p->nfuncs ? p->nfuncs : 1, sizeof *pp->func_name);
    pp->func_file = calloc(p->nfuncs ? p->nfuncs : 1, sizeof *pp->func_file);
    pp->row_thread = calloc(p->in->nrows ? p->in->nrows : 1, sizeof *pp->row_thread);
    pp->s_procs = calloc(p->multi_process ? p->nprocs : 1, sizeof *pp->s_procs);
    pp->g = calloc(1, sizeof *pp->g);
    return pp->func_name && pp->func_file && pp->row_thread && pp->s_procs && pp->g ? 0 : -ENOMEM;
}

static void pprof_release(struct pprof *pp)
{
    if (pp->g)
        gz_end(pp->g);
    free(pp->g);
    free(pp->func_name);
    free(pp->func_file);
    free(pp->row_thread);
    free(pp->s_procs);
    free(pp->st.off);
    strbuf_release(&pp->st.text);
    strbuf_release(&pp->st.tmp);
    export_map_release(&pp->st.map);
    strbuf_release(&pp->top);
    strbuf_release(&pp->msg);
    strbuf_release(&pp->sub);
    strbuf_release(&pp->packed);
}

int export_write_pprof(struct export_out *o, struct export_prep *p)
{
    struct pprof pp;
    int rc = pprof_init(&pp, p);
    if (rc == 0)
        rc = pprof_strings(&pp);
    if (rc == 0)
        rc = gz_init(pp.g, o);
    if (rc == 0) {
        /* sample_type */
        pb_int(&pp.msg, 1, pp.s_samples);
        pb_int(&pp.msg, 2, pp.s_count);
        pb_message(&pp.top, 1, &pp.msg);
        pb_int(&pp.msg, 1, pp.s_time);
        pb_int(&pp.msg, 2, pp.s_ns);
        pb_message(&pp.top, 1, &pp.msg);
        rc = export_walk_rows(p, put_sample, &pp);
    }
    if (rc == 0) {
        put_locations(&pp);
        put_tail(&pp);
        gz_put(pp.g, &pp.top);
        rc = gz_finish(pp.g);
    }
    pprof_release(&pp);
    return rc;
}
