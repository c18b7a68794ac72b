#include "config.h"

#include "model/model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- queries ------------------------------------------------------------ */

/* Queries walk every stack up to the root: 50k stacks x 50 frames is 2.5M
 * steps a second for a live view. Ids are dense, so per-query arrays
 * indexed by node, frame or string id (a few MB at most, freed at once)
 * stand in for hash lookups on that path. */

const struct agg_map *range_map(const struct model *m, enum model_range r)
{
    return r == MODEL_WINDOW ? &m->window : &m->total;
}

uint64_t weight_of(const struct counts *c, enum model_weight w)
{
    switch (w) {
    case MODEL_WALL: return c->wall_ns;
    case MODEL_MEM_GROW: return c->mem_grow;
    case MODEL_MEM_RELEASE: return c->mem_release;
    default: return c->cpu_ns;
    }
}

/* The process of thread tid (its latest), 0 when unknown. */
uint32_t thread_pid(const struct model *m, uint32_t tid)
{
    uint32_t i = u64map_get(&m->thread_index, tid);
    return i == IDX_NONE ? 0 : m->threads[i].pid;
}

int thread_matches(const struct model *m, const struct model_filter *f, uint32_t tid)
{
    if (!f)
        return 1;
    if (f->tid && f->tid != tid)
        return 0;
    return !f->pid || thread_pid(m, tid) == f->pid;
}

int text_filter_init(struct text_filter *tf, const struct stack_table *dict,
                            const struct model_filter *f)
{
    memset(tf, 0, sizeof *tf);
    tf->dict = dict;
    if (!f || !f->text || !f->text[0])
        return 0;
    tf->text = f->text;
    tf->len = strlen(f->text);
    tf->nstrings = stack_table_string_count(dict);
    tf->nframes = stack_table_frame_count(dict);
    tf->nnodes = stack_table_node_count(dict);
    tf->strings = calloc(tf->nstrings ? tf->nstrings : 1, 1);
    tf->frames = calloc(tf->nframes ? tf->nframes : 1, 1);
    tf->nodes = calloc(tf->nnodes ? tf->nnodes : 1, 1);
    return tf->strings && tf->frames && tf->nodes ? 0 : -ENOMEM;
}

void text_filter_release(struct text_filter *tf)
{
    free(tf->strings);
    free(tf->frames);
    free(tf->nodes);
}

/* Strings carry a length and may hold NUL bytes, so no strstr. */
static int contains(const char *s, size_t n, const char *pat, size_t len)
{
    if (len > n)
        return 0;
    for (size_t i = 0; i + len <= n; i++)
        if (s[i] == pat[0] && memcmp(s + i, pat, len) == 0)
            return 1;
    return 0;
}

static int string_matches(struct text_filter *tf, uint32_t id)
{
    if (id < tf->nstrings && tf->strings[id])
        return tf->strings[id] == 1;
    const char *s = stack_table_str(tf->dict, id);
    int yes = s && contains(s, stack_table_str_len(tf->dict, id), tf->text, tf->len);
    if (id < tf->nstrings)
        tf->strings[id] = yes ? 1 : 2;
    return yes;
}

static int frame_matches(struct text_filter *tf, uint32_t frame)
{
    if (frame < tf->nframes && tf->frames[frame])
        return tf->frames[frame] == 1;
    const struct stack_frame *f = stack_table_get_frame(tf->dict, frame);
    int yes = f && (string_matches(tf, f->function) || string_matches(tf, f->file));
    if (frame < tf->nframes)
        tf->frames[frame] = yes ? 1 : 2;
    return yes;
}

/* A stack matches when any of its frames does: a node matches when its
 * frame or its parent does. Walk up to the first node with a verdict,
 * then settle the ones passed on the way down. scratch holds
 * 2 * PATH_DEPTH_MAX ids. */
int stack_matches(struct text_filter *tf, uint32_t node, uint32_t *scratch)
{
    if (!tf->text)
        return 1;
    uint32_t *nodes = scratch, *frames = scratch + PATH_DEPTH_MAX;
    uint8_t v = 2;
    size_t n = 0;
    while (node != 0 && node < tf->nnodes) {
        if (tf->nodes[node]) {
            v = tf->nodes[node];
            break;
        }
        const struct stack_node *sn = stack_table_get_node(tf->dict, node);
        if (!sn || n == PATH_DEPTH_MAX)
            break;
        nodes[n] = node;
        frames[n] = sn->frame;
        n++;
        node = sn->parent;
    }
    while (n--) {
        if (v != 1 && frame_matches(tf, frames[n]))
            v = 1;
        tf->nodes[nodes[n]] = v;
    }
    return v == 1;
}

/* The call path of node, leaf first, root (node 0) excluded: node ids in
 * nodes[], their frame ids in frames[]; at most PATH_DEPTH_MAX. */
size_t path_walk(const struct stack_table *dict, uint32_t node, uint32_t *nodes,
                        uint32_t *frames)
{
    size_t n = 0;
    while (node != 0 && n < PATH_DEPTH_MAX) {
        const struct stack_node *sn = stack_table_get_node(dict, node);
        if (!sn)
            break;
        nodes[n] = node;
        frames[n] = sn->frame;
        n++;
        node = sn->parent;
    }
    return n;
}

/* An array of n ids, all IDX_NONE. */
uint32_t *id_array(size_t n)
{
    uint32_t *a = malloc((n ? n : 1) * sizeof *a);
    if (a)
        memset(a, 0xff, (n ? n : 1) * sizeof *a);
    return a;
}
static int leaf_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct leaf *)a)->node, y = ((const struct leaf *)b)->node;
    return (x > y) - (x < y);
}

static int leaves_collect(struct walk *wk, const struct model *m, enum model_range r,
                          enum model_weight w, const struct model_filter *f)
{
    const struct agg_map *am = range_map(m, r);
    struct u64map index = { NULL, 0, 0 };    /* node -> leaf */
    struct leaf *v = malloc((am->count ? am->count : 1) * sizeof *v);
    size_t n = 0;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < am->cap; i++) {
        const struct agg *a = &am->slots[i];
        if (!a->c.entries || !thread_matches(m, f, (uint32_t)(a->key >> 32)))
            continue;
        uint32_t node = (uint32_t)a->key;
        uint32_t j = u64map_get(&index, node);
        if (j == IDX_NONE) {
            if (!stack_matches(&wk->tf, node, wk->nodes))
                continue;
            if (u64map_reserve(&index, 1)) {
                free(v);
                u64map_release(&index);
                return -ENOMEM;
            }
            j = (uint32_t)n++;
            u64map_put(&index, node, j);
            v[j].node = node;
            v[j].samples = v[j].weight = v[j].grow = v[j].release = 0;
        }
        v[j].samples += a->c.samples;
        v[j].weight += weight_of(&a->c, w);
        v[j].grow += a->c.mem_grow;
        v[j].release += a->c.mem_release;
    }
    u64map_release(&index);
    /* In node order: paths are read in the order the dictionary stored
     * them (far fewer cache misses), and rows come out in an order that
     * depends only on what was sampled. */
    qsort(v, n, sizeof *v, leaf_cmp);
    wk->leaves = v;
    wk->nleaves = n;
    return 0;
}

int walk_init(struct walk *wk, const struct model *m, enum model_range r,
                     enum model_weight w, const struct model_filter *f)
{
    memset(wk, 0, sizeof *wk);
    wk->nodes = malloc(2 * PATH_DEPTH_MAX * sizeof *wk->nodes);
    if (!wk->nodes)
        return -ENOMEM;
    wk->frames = wk->nodes + PATH_DEPTH_MAX;
    int err = text_filter_init(&wk->tf, m->dict, f);
    if (err)
        return err;
    return leaves_collect(wk, m, r, w, f);
}

void walk_release(struct walk *wk)
{
    free(wk->nodes);
    text_filter_release(&wk->tf);
    free(wk->leaves);
}
