/* Growable arrays: the one place that grows an array by doubling. An
 * array is a plain typed pointer with a count and a capacity the caller
 * keeps:
 *
 *     struct thing *v = vec_grow(t->things, &t->cap, t->n + 1, sizeof *v, 16);
 *     if (!v)
 *         return -ENOMEM;
 *     t->things = v;
 */
#ifndef PYTOP_CORE_VEC_H
#define PYTOP_CORE_VEC_H

#include <stddef.h>
#include <stdint.h>

/* items (capacity *cap items of size bytes) with room for at least need
 * items (and at least one): items itself when it has it, else a larger
 * array holding the same items, its capacity doubled from min_cap until
 * it fits. Returns NULL without memory or when the size overflows; items
 * is then unchanged and still the caller's. *cap changes only on
 * success. */
void *vec_grow_to(void *items, size_t *cap, size_t need, size_t size, size_t min_cap);

/* The check callers make on every add stays inline. */
static inline void *vec_grow(void *items, size_t *cap, size_t need, size_t size, size_t min_cap)
{
    if (items && need <= *cap)
        return items;
    return vec_grow_to(items, cap, need, size, min_cap);
}

/* The index of the first of a[0..n) (sorted, ascending) not below key:
 * key's index when it is there, else where it would go (n: past all). */
static inline size_t vec_u32_lower_bound(const uint32_t *a, size_t n, uint32_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
