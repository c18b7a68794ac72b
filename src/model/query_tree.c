#include "config.h"

#include "model/model_internal.h"

#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Each touched node is visited once: walks up from the leaves stop at the
 * first node already seen, then totals flow from children to parents in
 * decreasing id order, as the dictionary gives every node a lower id
 * than its children. */
int model_tree(const struct model *m, enum model_range r, enum model_weight w,
               const struct model_filter *f, struct model_node_row **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct walk wk;
    uint32_t nnodes = stack_table_node_count(m->dict);
    uint32_t *row_of = id_array(nnodes);
    struct model_node_row *v = NULL;
    size_t nv = 0, cap = 0;
    int err = row_of ? walk_init(&wk, m, r, w, f) : -ENOMEM;
    if (!err && wk.nleaves) {
        cap = 256;
        if (!(v = calloc(cap, sizeof *v)))
            err = -ENOMEM;
        else {
            row_of[0] = 0;          /* the root is always a row */
            nv = 1;
        }
    }
    for (size_t i = 0; !err && i < wk.nleaves; i++) {
        const struct leaf *lf = &wk.leaves[i];
        for (uint32_t node = lf->node; row_of[node] == IDX_NONE;) {
            const struct stack_node *sn = stack_table_get_node(m->dict, node);
            struct model_node_row *nr = vec_grow(v, &cap, nv + 1, sizeof *nr, 256);
            if (!nr) {
                err = -ENOMEM;
                break;
            }
            v = nr;
            row_of[node] = (uint32_t)nv;
            memset(&v[nv], 0, sizeof v[nv]);
            v[nv++].node = node;
            node = sn && sn->parent < node ? sn->parent : 0;
        }
        if (err)
            break;
        struct model_node_row *leaf = &v[row_of[lf->node]];
        leaf->self_ns += lf->weight;
        leaf->self_samples += lf->samples;
    }
    for (uint32_t node = nnodes; !err && nv && node-- > 0;) {
        if (row_of[node] == IDX_NONE)
            continue;
        /* Its children, all of higher ids, have already added theirs. */
        struct model_node_row *row = &v[row_of[node]];
        row->total_ns += row->self_ns;
        row->total_samples += row->self_samples;
        if (node == 0)
            break;
        const struct stack_node *sn = stack_table_get_node(m->dict, node);
        struct model_node_row *up = &v[row_of[sn && sn->parent < node ? sn->parent : 0]];
        up->total_ns += row->total_ns;
        up->total_samples += row->total_samples;
    }
    if (row_of)
        walk_release(&wk);
    free(row_of);
    if (err) {
        free(v);
        return err;
    }
    *rows = v;
    *n = nv;
    return 0;
}

int model_stacks(const struct model *m, enum model_range r, const struct model_filter *f,
                 struct stack_weight **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    const struct agg_map *am = range_map(m, r);
    struct text_filter tf;
    uint32_t *scratch = NULL;
    struct stack_weight *v = calloc(am->count ? am->count : 1, sizeof *v);
    size_t nv = 0;
    int err = text_filter_init(&tf, m->dict, f);
    if (!err && tf.text && !(scratch = malloc(2 * PATH_DEPTH_MAX * sizeof *scratch)))
        err = -ENOMEM;
    if (!v)
        err = -ENOMEM;
    for (size_t i = 0; !err && i < am->cap; i++) {
        const struct agg *a = &am->slots[i];
        uint32_t tid = (uint32_t)(a->key >> 32), node = (uint32_t)a->key;
        if (!a->c.entries || !thread_matches(m, f, tid) || !stack_matches(&tf, node, scratch))
            continue;
        /* Field by field into zeroed memory: rows compare whole. */
        struct stack_weight *w = &v[nv++];
        w->pid = thread_pid(m, tid);
        w->tid = tid;
        w->stack = node;
        w->samples = a->c.samples;
        w->running = a->c.running;
        w->gil = a->c.gil;
        w->cpu_ns = a->c.cpu_ns;
        w->wall_ns = a->c.wall_ns;
        w->mem_grow = a->c.mem_grow;
        w->mem_release = a->c.mem_release;
    }
    text_filter_release(&tf);
    free(scratch);
    if (err) {
        free(v);
        return err;
    }
    *rows = v;
    *n = nv;
    return 0;
}
