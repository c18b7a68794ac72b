#include "config.h"

#include "model/model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t agg_find(const struct agg_map *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_mix64(key) & mask;
    while (m->slots[i].c.entries && m->slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static int agg_rehash(struct agg_map *m, size_t cap)
{
    if (!cap)
        return -ENOMEM;
    struct agg *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    struct agg_map n = { slots, cap, m->count };
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].c.entries)
            n.slots[agg_find(&n, m->slots[i].key)] = m->slots[i];
    free(m->slots);
    *m = n;
    return 0;
}

/* Room for extra more keys, so adds that follow can't fail. */
int agg_reserve(struct agg_map *m, size_t extra)
{
    size_t need = m->count + extra;
    if (m->cap && need <= m->cap - m->cap / 4)
        return 0;
    return agg_rehash(m, hash_cap(need));
}

/* Give memory back once the map is mostly empty; best effort. */
void agg_maybe_shrink(struct agg_map *m)
{
    if (m->cap > 16 && m->count < m->cap / 8)
        (void)agg_rehash(m, hash_cap(m->count * 2));
}

void agg_release(struct agg_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* Needs a prior agg_reserve. */
void agg_add(struct agg_map *m, uint64_t key, const struct counts *c)
{
    struct agg *a = &m->slots[agg_find(m, key)];
    if (!a->c.entries) {
        a->key = key;
        m->count++;
    }
    counts_add(&a->c, c);
}

void agg_sub(struct agg_map *m, uint64_t key, const struct counts *c)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1;
    size_t i = agg_find(m, key);
    struct agg *a = &m->slots[i];
    if (!a->c.entries)
        return;             /* not there: nothing was added, nothing to take */
    counts_sub(&a->c, c);
    if (a->c.entries)
        return;
    /* Backward shift: pull later members of the cluster into the hole
     * when their home slot is at or before it. */
    memset(a, 0, sizeof *a);
    m->count--;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].c.entries; j = (j + 1) & mask) {
        size_t home = (size_t)hash_mix64(m->slots[j].key) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            memset(&m->slots[j], 0, sizeof m->slots[j]);
            hole = j;
        }
    }
}
