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

struct edge {
    uint32_t caller, callee;
    uint32_t stamp;
    uint64_t nc, cc, tt_ns, ct_ns;
};

int export_write_pstats(struct export_out *o, struct export_prep *p)
{
    const struct export_input *in = p->in;
    struct strbuf *sb = &o->sb;
    struct export_map edge_map;
    struct edge *edges = NULL;
    size_t nedges = 0, edgecap = 0;
    uint32_t *by_callee = NULL;
    size_t *start = NULL;
    uint32_t stamp = 0;
    int rc = -ENOMEM;

    export_map_init(&edge_map);
    /* Each key is written once per function and once per caller entry:
     * marshal them once. */
    struct strbuf keys;
    strbuf_init(&keys);
    size_t *key_off = malloc(((size_t)p->nfuncs + 1) * sizeof *key_off);
    struct export_func_totals *tot = export_func_totals(p);
    uint32_t *path = malloc(p->max_depth * sizeof *path);
    if (!tot || !path || !key_off)
        goto out;
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        key_off[f] = keys.len;
        m_func_key(&keys, &p->funcs[f]);
    }
    key_off[p->nfuncs] = keys.len;
    if (keys.oom)
        goto out;

    for (size_t r = 0; r < in->nrows; r++) {
        const struct stack_weight *row = &in->rows[r];
        uint64_t w = export_row_weight(p, row);
        uint32_t n = export_path(p, row, path);
        stamp++;
        for (uint32_t i = 1; i < n; i++) {
            uint32_t caller = p->frames[path[i - 1]].func;
            uint32_t callee = p->frames[path[i]].func;
            uint32_t e;
            int added;
            if (export_map_get_or_add(&edge_map, caller, callee, (uint32_t)nedges, &e, &added) != 0)
                goto out;
            if (added) {
                struct edge *ne = vec_grow(edges, &edgecap, nedges + 1, sizeof *ne, 64);
                if (!ne)
                    goto out;
                edges = ne;
                memset(&edges[nedges], 0, sizeof edges[nedges]);
                edges[nedges].caller = caller;
                edges[nedges].callee = callee;
                nedges++;
            }
            struct edge *ed = &edges[e];
            ed->nc += row->samples;
            if (ed->stamp != stamp) {
                ed->stamp = stamp;
                ed->cc += row->samples;
                ed->ct_ns += w;
            }
            if (i == n - 1)
                ed->tt_ns += w;
        }
    }
    /* Group the edges by callee (a counting sort: there can be millions). */
    by_callee = malloc((nedges ? nedges : 1) * sizeof *by_callee);
    start = calloc((size_t)p->nfuncs + 1, sizeof *start);
    if (!by_callee || !start)
        goto out;
    for (size_t e = 0; e < nedges; e++)
        start[edges[e].callee + 1]++;
    for (uint32_t f = 0; f < p->nfuncs; f++)
        start[f + 1] += start[f];
    for (size_t e = 0; e < nedges; e++)
        by_callee[start[edges[e].callee]++] = (uint32_t)e;
    /* start[f] now holds the end of f's group, the start of f + 1's. */

    m_byte(sb, '{');
    for (uint32_t f = 0; f < p->nfuncs; f++) {
        strbuf_append(sb, keys.data + key_off[f], key_off[f + 1] - key_off[f]);
        m_small_tuple(sb, 5);
        m_int(sb, tot[f].total_samples);
        m_int(sb, tot[f].frames);
        m_amount(sb, p, tot[f].self_ns);
        m_amount(sb, p, tot[f].total_ns);
        m_byte(sb, '{');
        for (size_t k = f ? start[f - 1] : 0; k < start[f]; k++) {
            const struct edge *ed = &edges[by_callee[k]];
            strbuf_append(sb, keys.data + key_off[ed->caller],
                          key_off[ed->caller + 1] - key_off[ed->caller]);
            m_small_tuple(sb, 4);
            m_int(sb, ed->nc);
            m_int(sb, ed->cc);
            m_amount(sb, p, ed->tt_ns);
            m_amount(sb, p, ed->ct_ns);
        }
        m_byte(sb, '0');
        export_out_maybe_flush(o);
    }
    if (p->nfuncs == 0) {
        /* pstats refuses an empty dict: give it one empty entry. */
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
    m_byte(sb, '0');
    rc = 0;
out:
    free(tot);
    free(path);
    free(edges);
    free(key_off);
    free(by_callee);
    free(start);
    strbuf_release(&keys);
    export_map_release(&edge_map);
    return rc;
}
