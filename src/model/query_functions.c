#include "config.h"

#include "model/model_internal.h"

#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Functions keyed by (function, file, firstline). */
struct fkey_slot {
    uint32_t function, file;
    int32_t firstline;
    uint32_t row;               /* row + 1; 0: empty */
};

struct fkey_map {
    struct fkey_slot *slots;
    size_t cap, count;
};

static uint64_t fkey_hash(uint32_t function, uint32_t file, int32_t firstline)
{
    return hash_pair((uint64_t)function << 32 | file, (uint32_t)firstline);
}

static size_t fkey_find(const struct fkey_map *m, const struct stack_frame *f)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)fkey_hash(f->function, f->file, f->firstline) & mask;
    while (m->slots[i].row &&
           (m->slots[i].function != f->function || m->slots[i].file != f->file ||
            m->slots[i].firstline != f->firstline))
        i = (i + 1) & mask;
    return i;
}

static int fkey_reserve(struct fkey_map *m)
{
    if (m->cap && m->count + 1 <= m->cap - m->cap / 4)
        return 0;
    size_t cap = hash_cap(m->count + 1);
    struct fkey_slot *slots = cap ? calloc(cap, sizeof *slots) : NULL;
    if (!slots)
        return -ENOMEM;
    struct fkey_map n = { slots, cap, m->count };
    for (size_t i = 0; i < m->cap; i++) {
        const struct fkey_slot *s = &m->slots[i];
        if (s->row) {
            struct stack_frame k = { s->function, s->file, 0, s->firstline };
            n.slots[fkey_find(&n, &k)] = *s;
        }
    }
    free(m->slots);
    *m = n;
    return 0;
}

struct fn_rows {
    struct model_function_row *v;
    uint32_t *stamp;            /* the last leaf that added to the row's total */
    size_t n, cap;
    uint32_t *by_frame;         /* frame id -> row */
    uint32_t nframes;
    struct fkey_map by_key;     /* (function, file, firstline) -> row */
};

static uint32_t fn_row_new(struct fn_rows *fr, uint32_t frame)
{
    if (fr->n == fr->cap) {
        /* Two arrays in step: each grows to the same capacity. */
        size_t cap_v = fr->cap, cap_st = fr->cap;
        struct model_function_row *v = vec_grow(fr->v, &cap_v, fr->n + 1, sizeof *v, 64);
        if (!v)
            return IDX_NONE;
        fr->v = v;
        uint32_t *st = vec_grow(fr->stamp, &cap_st, fr->n + 1, sizeof *st, 64);
        if (!st)
            return IDX_NONE;
        fr->stamp = st;
        fr->cap = cap_v;
    }
    memset(&fr->v[fr->n], 0, sizeof fr->v[fr->n]);
    fr->v[fr->n].frame = frame;
    fr->stamp[fr->n] = 0;
    return (uint32_t)fr->n++;
}

/* The row of a frame first met (frame < nframes); IDX_NONE when out of
 * memory. */
static uint32_t fn_row_first(struct fn_rows *fr, const struct stack_table *dict,
                             uint32_t frame, int by_line)
{
    const struct stack_frame *f = stack_table_get_frame(dict, frame);
    uint32_t row;
    if (by_line || !f) {
        /* A frame is its own key: function, file and line. */
        row = fn_row_new(fr, frame);
    } else {
        if (fkey_reserve(&fr->by_key))
            return IDX_NONE;
        struct fkey_slot *s = &fr->by_key.slots[fkey_find(&fr->by_key, f)];
        if (s->row) {
            row = s->row - 1;
            /* The lowest frame id stands for the function, whatever the
             * order frames were met in. */
            if (frame < fr->v[row].frame)
                fr->v[row].frame = frame;
        } else {
            row = fn_row_new(fr, frame);
            if (row == IDX_NONE)
                return IDX_NONE;
            s->function = f->function;
            s->file = f->file;
            s->firstline = f->firstline;
            s->row = row + 1;
            fr->by_key.count++;
        }
    }
    if (row != IDX_NONE)
        fr->by_frame[frame] = row;
    return row;
}

int model_functions(const struct model *m, enum model_range r, enum model_weight w,
                    const struct model_filter *f, int by_line,
                    struct model_function_row **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct walk wk;
    struct fn_rows fr;
    memset(&fr, 0, sizeof fr);
    fr.nframes = stack_table_frame_count(m->dict);
    fr.by_frame = id_array(fr.nframes);
    int err = fr.by_frame ? walk_init(&wk, m, r, w, f) : -ENOMEM;
    for (size_t i = 0; !err && i < wk.nleaves; i++) {
        const struct leaf *lf = &wk.leaves[i];
        if (lf->node == 0) {
            /* No Python frame: a row of its own, not left out. */
            uint32_t row = fn_row_new(&fr, MODEL_FRAME_NONE);
            if (row == IDX_NONE) {
                err = -ENOMEM;
                break;
            }
            struct model_function_row *fn = &fr.v[row];
            fn->own_ns = fn->total_ns = lf->weight;
            fn->own_samples = fn->total_samples = lf->samples;
            fn->own_grow = fn->total_grow = lf->grow;
            fn->own_release = fn->total_release = lf->release;
            continue;
        }
        size_t depth = path_walk(m->dict, lf->node, wk.nodes, wk.frames);
        uint32_t stamp = (uint32_t)i + 1;
        for (size_t k = 0; k < depth; k++) {
            uint32_t frame = wk.frames[k];
            if (frame >= fr.nframes)
                continue;       /* not in the dictionary: nothing to show */
            uint32_t row = fr.by_frame[frame];
            if (row == IDX_NONE && (row = fn_row_first(&fr, m->dict, frame, by_line)) == IDX_NONE) {
                err = -ENOMEM;
                break;
            }
            struct model_function_row *fn = &fr.v[row];
            if (k == 0) {
                fn->own_ns += lf->weight;
                fn->own_samples += lf->samples;
                fn->own_grow += lf->grow;
                fn->own_release += lf->release;
            }
            /* Once per stack, however often recursion repeats it. */
            if (fr.stamp[row] != stamp) {
                fr.stamp[row] = stamp;
                fn->total_ns += lf->weight;
                fn->total_samples += lf->samples;
                fn->total_grow += lf->grow;
                fn->total_release += lf->release;
            }
        }
    }
    if (fr.by_frame)
        walk_release(&wk);
    free(fr.stamp);
    free(fr.by_frame);
    free(fr.by_key.slots);
    if (err) {
        free(fr.v);
        return err;
    }
    *rows = fr.v;
    *n = fr.n;
    return 0;
}
