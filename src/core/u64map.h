/* A map from 64-bit keys to 32-bit values (usually an index into an
 * array the caller keeps): open addressing with linear probing, at most
 * 3/4 full, and backward-shift deletion, so it never fills with
 * tombstones and a map that empties gives its memory back. */
#ifndef PYTOP_CORE_U64MAP_H
#define PYTOP_CORE_U64MAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"

#define U64MAP_NONE UINT32_MAX      /* what u64map_get returns for a key not there */

struct u64map_slot {
    uint64_t key;
    uint32_t val;
    uint32_t used;                  /* 0: an empty slot */
};

/* All zero is an empty map (no memory). Walk the members with
 * for (i < cap) if (slots[i].used). */
struct u64map {
    struct u64map_slot *slots;
    size_t cap;                     /* 0 or a power of two */
    size_t count;
};

void u64map_init(struct u64map *m);
void u64map_release(struct u64map *m);      /* back to empty */

/* Room for extra more keys, so the puts that follow cannot fail:
 * 0 or -ENOMEM (the map is then unchanged). */
int u64map_reserve(struct u64map *m, size_t extra);

/* The slot of key, or the empty slot where it would go (cap > 0). */
static inline size_t u64map_find(const struct u64map *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash_mix64(key) & mask;
    while (m->slots[i].used && m->slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

/* The value of key, or U64MAP_NONE. */
static inline uint32_t u64map_get(const struct u64map *m, uint64_t key)
{
    if (!m->cap)
        return U64MAP_NONE;
    const struct u64map_slot *s = &m->slots[u64map_find(m, key)];
    return s->used ? s->val : U64MAP_NONE;
}

/* Set key's value, adding key when absent; needs room (u64map_reserve). */
void u64map_put(struct u64map *m, uint64_t key, uint32_t val);

/* key's value in *val when there; else key is added with new_val (which
 * *val gets) and *added is set. 0 or -ENOMEM (nothing added). */
int u64map_get_or_add(struct u64map *m, uint64_t key, uint32_t new_val, uint32_t *val,
                      int *added);

/* Remove key; 1 when it was there, 0 when not. */
int u64map_del(struct u64map *m, uint64_t key);

/* Shrink to fit when under 1/8 full; best effort. */
void u64map_shrink(struct u64map *m);

/* Bytes the map holds. */
size_t u64map_memory(const struct u64map *m);

#endif
