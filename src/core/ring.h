/* A queue of fixed-size items, oldest first, stored in blocks of
 * RING_BLOCK bytes (32 KiB, below glibc's mmap threshold): it grows and
 * shrinks a block at a time, with no doubling slack and no large copy,
 * and one freed block is kept as a spare to avoid malloc churn. Items are
 * pushed at the end (reserve, write ring_at(r, count), count++) and
 * dropped from the front. */
#ifndef PYTOP_CORE_RING_H
#define PYTOP_CORE_RING_H

#include <stddef.h>

#define RING_BLOCK_SHIFT 15
#define RING_BLOCK ((size_t)1 << RING_BLOCK_SHIFT)

struct ring {
    unsigned char **blocks;     /* blocks[0] holds the oldest item, at index head */
    size_t nblocks, blocks_cap;
    unsigned char *spare;
    size_t head;
    size_t count;               /* items held; the caller adds to it after a push */
    unsigned shift;             /* items are 1 << shift bytes */
};

/* An empty ring of items of 1 << shift bytes (shift < RING_BLOCK_SHIFT). */
void ring_init(struct ring *r, unsigned shift);
/* Free every block; the ring is empty again, for the same item size. */
void ring_release(struct ring *r);

/* Item i, 0 the oldest; i < count, or i == count after a reserve.
 * ring_at_shift is the same with the ring's shift given as a constant,
 * which spares a hot loop the variable shifts. */
static inline void *ring_at_shift(const struct ring *r, size_t i, unsigned shift)
{
    unsigned per = RING_BLOCK_SHIFT - shift;
    size_t k = r->head + i;
    return r->blocks[k >> per] + ((k & (((size_t)1 << per) - 1)) << shift);
}

static inline void *ring_at(const struct ring *r, size_t i)
{
    return ring_at_shift(r, i, r->shift);
}

int ring_grow(struct ring *r, size_t n);

/* Blocks for n more items, so the pushes that follow cannot fail:
 * 0 or -ENOMEM. */
static inline int ring_reserve(struct ring *r, size_t n)
{
    if (r->head + r->count + n <= r->nblocks << (RING_BLOCK_SHIFT - r->shift))
        return 0;
    return ring_grow(r, n);
}

/* Forget the n oldest items (n <= count). Blocks used up go (all of them
 * when the ring is empty), one kept as the spare. */
void ring_drop(struct ring *r, size_t n);

/* Bytes the ring holds: its blocks, the spare and the block array. */
size_t ring_memory(const struct ring *r);

#endif
