/* The marshalled dict that pstats.Stats (and snakeviz, tuna, gprof2dot)
 * loads, as cProfile's dump_stats writes it:
 *
 *     {(file, firstline, name): (cc, nc, tt, ct, {caller key: (nc, cc, tt, ct)})}
 *
 * A sampler sees no calls, so the counts are sample counts: cc is the
 * number of samples with the function on the stack (recursion counted
 * once), nc the number of its frames in them (each recursion level
 * counted), so pstats shows "nc/cc" for recursive functions as it does for
 * cProfile's. tt (own time) is the chosen weight of the samples where it
 * was the leaf, ct (cumulative) of the samples where it was anywhere on the
 * stack, counted once per sample; both in seconds. A caller entry counts
 * the same things for the samples where that caller called the function,
 * its ct counted once per sample for each (caller, function) pair.
 *
 * Only marshal types every Python 3 reads are written (version 2-4: tuple,
 * small tuple, dict, int, long, binary float, unicode, ascii), and no
 * references (FLAG_REF), so Python 3.4 and later load the file. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"
#include "record/export_internal.h"
#include "record/export_writers.h"

/* ---- marshal ---------------------------------------------------------------- */

static void m_byte(struct strbuf *sb, unsigned c)
{
    strbuf_putc(sb, (char)(unsigned char)c);
}

static void m_u32(struct strbuf *sb, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        m_byte(sb, (v >> (8 * i)) & 0xff);
}

static void m_int(struct strbuf *sb, uint64_t v)
{
    if (v <= INT32_MAX) {
        m_byte(sb, 'i');
        m_u32(sb, (uint32_t)v);
        return;
    }
    /* Python's long: base 2**15 digits, least significant first. */
    unsigned digits[5];
    int n = 0;
    while (v) {
        digits[n++] = (unsigned)(v & 0x7fff);
        v >>= 15;
    }
    m_byte(sb, 'l');
    m_u32(sb, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        m_byte(sb, digits[i] & 0xff);
        m_byte(sb, digits[i] >> 8);
    }
}

static void m_float(struct strbuf *sb, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    m_byte(sb, 'g');
    for (int i = 0; i < 8; i++)
        m_byte(sb, (unsigned)(bits >> (8 * i)) & 0xff);
}

/* pstats' time fields: seconds, or in memory mode bytes (pstats has no
 * unit of its own; docs/exports.md says so). */
static void m_amount(struct strbuf *sb, const struct export_prep *p, uint64_t v)
{
    m_float(sb, p->mode == EXPORT_MEMORY ? (double)v : (double)v / 1e9);
}

static void m_str(struct strbuf *sb, const char *s)
{
    struct strbuf clean;
    strbuf_init(&clean);
    export_put_utf8(&clean, s);
    const char *c = strbuf_str(&clean);
    int ascii = 1;
    for (size_t i = 0; i < clean.len; i++)
        if ((unsigned char)c[i] >= 0x80)
            ascii = 0;
    if (ascii && clean.len < 256) {
        m_byte(sb, 'z');
        m_byte(sb, (unsigned)clean.len);
    } else {
        m_byte(sb, ascii ? 'a' : 'u');
        m_u32(sb, (uint32_t)clean.len);
    }
    strbuf_append(sb, c, clean.len);
    if (clean.oom)
        sb->oom = 1;
    strbuf_release(&clean);
}

static void m_small_tuple(struct strbuf *sb, unsigned n)
{
    m_byte(sb, ')');
    m_byte(sb, n);
}

/* (file, firstline, name), pstats' function key. */
static void m_func_key(struct strbuf *sb, const struct export_func *f)
{
    m_small_tuple(sb, 3);
    if (f->file[0]) {
        m_str(sb, f->file);
        m_int(sb, f->firstline > 0 ? (uint64_t)f->firstline : 0);
    } else {
        /* pstats' spelling of "no source file": shown as the name alone. */
        m_str(sb, "~");
        m_int(sb, 0);
    }
    m_str(sb, f->name);
}

/* ---- aggregation ------------------------------------------------------------- */

/* A call from caller to callee, pstats' per-caller entry of callee. */
struct edge {
    uint32_t caller, callee;
    uint32_t stamp;
    uint64_t nc, cc, tt_ns, ct_ns;
};

struct edges {
    struct export_map map;          /* (caller, callee) -> index */
    struct edge *v;
    size_t n, cap;
    uint32_t stamp;                 /* the row being added */
    uint32_t *by_callee;            /* edge indices grouped by callee */
    size_t *end;                    /* per function: the end of its group */
};

static struct edge *edge_at(struct edges *es, uint32_t caller, uint32_t callee)
{
    uint32_t e;
    int added;
    if (export_map_get_or_add(&es->map, caller, callee, (uint32_t)es->n, &e, &added) != 0)
        return NULL;
    if (added) {
        struct edge *nv = vec_grow(es->v, &es->cap, es->n + 1, sizeof *nv, 64);
        if (!nv)
            return NULL;
        es->v = nv;
        memset(&es->v[es->n], 0, sizeof es->v[es->n]);
        es->v[es->n].caller = caller;
        es->v[es->n].callee = callee;
        es->n++;
    }
    return &es->v[e];
}

struct collect {
    const struct export_prep *p;
    struct edges *es;
};

/* Every call of a row's path: counted per sample (nc), and once per stack
 * for the recursion-free counts and cumulative time (cc, ct). */
static int add_row(void *ctx, const struct export_row_path *r)
{
    struct collect *c = ctx;
    struct edges *es = c->es;
    es->stamp++;
    for (uint32_t i = 1; i < r->n; i++) {
        struct edge *ed = edge_at(es, c->p->frames[r->path[i - 1]].func, c->p->frames[r->path[i]].func);
        if (!ed)
            return -ENOMEM;
        ed->nc += r->row->samples;
        if (ed->stamp != es->stamp) {
            ed->stamp = es->stamp;
            ed->cc += r->row->samples;
            ed->ct_ns += r->weight;
        }
        if (i == r->n - 1)
            ed->tt_ns += r->weight;
    }
    return 0;
}

/* Group the edges by callee (a counting sort: there can be millions). */
static int group_by_callee(struct edges *es, uint32_t nfuncs)
{
    es->by_callee = malloc((es->n ? es->n : 1) * sizeof *es->by_callee);
    es->end = calloc((size_t)nfuncs + 1, sizeof *es->end);
    if (!es->by_callee || !es->end)
        return -ENOMEM;
    for (size_t e = 0; e < es->n; e++)
        es->end[es->v[e].callee + 1]++;
    for (uint32_t f = 0; f < nfuncs; f++)
        es->end[f + 1] += es->end[f];
    for (size_t e = 0; e < es->n; e++)
        es->by_callee[es->end[es->v[e].callee]++] = (uint32_t)e;
    /* end[f] now holds the end of f's group, the start of f + 1's. */
    return 0;
}

static void edges_release(struct edges *es)
{
    export_map_release(&es->map);
    free(es->v);
    free(es->by_callee);
    free(es->end);
}

/* ---- output -------------------------------------------------------------------- */

/* Each key is written once per function and once per caller entry:
 * marshal them once. key_off[f]..key_off[f + 1] is f's. */
static size_t *marshal_keys(const struct export_prep *p, struct strbuf *keys)
{
    size_t *key_off = malloc(((size_t)p->nfuncs + 1) * sizeof *key_off);
    if (!key_off)
        return NULL;
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        key_off[f] = keys->len;
        m_func_key(keys, &p->funcs[f]);
    }
    key_off[p->nfuncs] = keys->len;
    if (keys->oom) {
        free(key_off);
        return NULL;
    }
    return key_off;
}

/* Function f's key, then a tuple of n items that starts with
 * (cc, nc, tt, ct): the times are amounts of ns. */
static void put_keyed_counts(struct strbuf *sb, const struct export_prep *p, const struct strbuf *keys,
                             const size_t *key_off, uint32_t f, unsigned n, uint64_t cc, uint64_t nc,
                             uint64_t tt_ns, uint64_t ct_ns)
{
    strbuf_append(sb, keys->data + key_off[f], key_off[f + 1] - key_off[f]);
    m_small_tuple(sb, n);
    m_int(sb, cc);
    m_int(sb, nc);
    m_amount(sb, p, tt_ns);
    m_amount(sb, p, ct_ns);
}

/* Function f's entry: its key, (cc, nc, tt, ct) and its callers. */
static void put_func(struct strbuf *sb, const struct export_prep *p, uint32_t f,
                     const struct export_func_totals *tot, const struct edges *es,
                     const struct strbuf *keys, const size_t *key_off)
{
    put_keyed_counts(sb, p, keys, key_off, f, 5, tot->total_samples, tot->frames, tot->self_ns,
                     tot->total_ns);
    m_byte(sb, '{');
    for (size_t k = f ? es->end[f - 1] : 0; k < es->end[f]; k++) {
        const struct edge *ed = &es->v[es->by_callee[k]];
        put_keyed_counts(sb, p, keys, key_off, ed->caller, 4, ed->nc, ed->cc, ed->tt_ns, ed->ct_ns);
    }
    m_byte(sb, '0');
}

/* pstats refuses an empty dict: give it one empty entry. */
static void put_no_samples(struct strbuf *sb)
{
    static const struct export_func none = { "<no samples>", "", 0 };
    m_func_key(sb, &none);
    m_small_tuple(sb, 5);
    m_int(sb, 0);
    m_int(sb, 0);
    m_float(sb, 0.0);
    m_float(sb, 0.0);
    m_byte(sb, '{');
    m_byte(sb, '0');
}

int export_write_pstats(struct export_out *o, struct export_prep *p)
{
    struct strbuf *sb = &o->sb;
    struct edges es;
    memset(&es, 0, sizeof es);
    export_map_init(&es.map);
    struct strbuf keys;
    strbuf_init(&keys);
    size_t *key_off = marshal_keys(p, &keys);
    struct export_func_totals *tot = export_func_totals(p);
    struct collect c = { p, &es };
    int rc = !key_off || !tot ? -ENOMEM : export_walk_rows(p, add_row, &c);
    if (rc == 0)
        rc = group_by_callee(&es, p->nfuncs);
    if (rc == 0) {
        m_byte(sb, '{');
        for (uint32_t f = 0; f < p->nfuncs; f++) {
            put_func(sb, p, f, &tot[f], &es, &keys, key_off);
            export_out_maybe_flush(o);
        }
        if (p->nfuncs == 0)
            put_no_samples(sb);
        m_byte(sb, '0');
    }
    free(tot);
    free(key_off);
    strbuf_release(&keys);
    edges_release(&es);
    return rc;
}
