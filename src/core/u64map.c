#include "config.h"

#include "core/u64map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void u64map_init(struct u64map *m)
{
    memset(m, 0, sizeof *m);
}

void u64map_release(struct u64map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int rehash(struct u64map *m, size_t cap)
{
    if (!cap)
        return -ENOMEM;
    struct u64map_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    struct u64map n = { slots, cap, m->count };
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].used)
            n.slots[u64map_find(&n, m->slots[i].key)] = m->slots[i];
    free(m->slots);
    *m = n;
    return 0;
}

int u64map_reserve(struct u64map *m, size_t extra)
{
    if (extra > SIZE_MAX - m->count)
        return -ENOMEM;
    size_t need = m->count + extra;
    if (m->cap && need <= m->cap - m->cap / 4)
        return 0;
    return rehash(m, hash_cap(need));
}

void u64map_put(struct u64map *m, uint64_t key, uint32_t val)
{
    struct u64map_slot *s = &m->slots[u64map_find(m, key)];
    if (!s->used) {
        s->used = 1;
        s->key = key;
        m->count++;
    }
    s->val = val;
}

int u64map_get_or_add(struct u64map *m, uint64_t key, uint32_t new_val, uint32_t *val,
                      int *added)
{
    int rc = u64map_reserve(m, 1);
    if (rc)
        return rc;
    struct u64map_slot *s = &m->slots[u64map_find(m, key)];
    *added = !s->used;
    if (!s->used) {
        s->used = 1;
        s->key = key;
        s->val = new_val;
        m->count++;
    }
    *val = s->val;
    return 0;
}

int u64map_del(struct u64map *m, uint64_t key)
{
    if (!m->cap)
        return 0;
    size_t mask = m->cap - 1;
    size_t hole = u64map_find(m, key);
    if (!m->slots[hole].used)
        return 0;
    memset(&m->slots[hole], 0, sizeof m->slots[hole]);
    m->count--;
    /* Pull later members of the cluster into the hole when their home
     * slot is at or before it, so every member stays reachable. */
    for (size_t j = (hole + 1) & mask; m->slots[j].used; j = (j + 1) & mask) {
        size_t home = (size_t)hash_mix64(m->slots[j].key) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            memset(&m->slots[j], 0, sizeof m->slots[j]);
            hole = j;
        }
    }
    return 1;
}

void u64map_shrink(struct u64map *m)
{
    if (m->cap > 16 && m->count < m->cap / 8)
        (void)rehash(m, hash_cap(m->count * 2));
}

size_t u64map_memory(const struct u64map *m)
{
    return m->cap * sizeof *m->slots;
}
