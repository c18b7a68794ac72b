#include "config.h"

#include "core/ring.h"

#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void ring_init(struct ring *r, unsigned shift)
{
    memset(r, 0, sizeof *r);
    r->shift = shift;
}

void ring_release(struct ring *r)
{
    for (size_t i = 0; i < r->nblocks; i++)
        free(r->blocks[i]);
    free(r->blocks);
    free(r->spare);
    ring_init(r, r->shift);
}

int ring_grow(struct ring *r, size_t n)
{
    unsigned per = RING_BLOCK_SHIFT - r->shift;
    size_t need = (r->head + r->count + n + ((size_t)1 << per) - 1) >> per;
    while (r->nblocks < need) {
        unsigned char **nb = vec_grow(r->blocks, &r->blocks_cap, r->nblocks + 1, sizeof *nb, 16);
        if (!nb)
            return -ENOMEM;
        r->blocks = nb;
        unsigned char *b = r->spare;
        if (b)
            r->spare = NULL;
        else if (!(b = malloc(RING_BLOCK)))
            return -ENOMEM;
        r->blocks[r->nblocks++] = b;
    }
    return 0;
}

void ring_drop(struct ring *r, size_t n)
{
    if (!n)
        return;
    unsigned per = RING_BLOCK_SHIFT - r->shift;
    r->head += n;
    r->count -= n;
    size_t gone = r->count ? r->head >> per : r->nblocks;
    if (!gone)
        return;
    for (size_t i = 0; i < gone; i++) {
        if (r->spare)
            free(r->blocks[i]);
        else
            r->spare = r->blocks[i];
    }
    memmove(r->blocks, r->blocks + gone, (r->nblocks - gone) * sizeof *r->blocks);
    r->nblocks -= gone;
    r->head = r->count ? r->head - (gone << per) : 0;
}

size_t ring_memory(const struct ring *r)
{
    return r->blocks_cap * sizeof *r->blocks + (r->nblocks + (r->spare != NULL)) * RING_BLOCK;
}
