#include "config.h"

#include "core/hist.h"

static unsigned bucket_of(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);   /* >= 4 */
    if (e >= HIST_MAX_EXP)
        return HIST_BUCKETS - 1;
    return (e - 3) * HIST_SUB + (unsigned)((v >> (e - 4)) & (HIST_SUB - 1));
}

/* The middle of bucket b. */
static uint64_t bucket_value(unsigned b)
{
    if (b < HIST_SUB)
        return b;
    unsigned e = b / HIST_SUB + 3, sub = b % HIST_SUB;
    uint64_t width = 1ull << (e - 4);
    return (HIST_SUB + sub) * width + width / 2;
}

void hist_add(struct hist *h, uint64_t v)
{
    uint32_t *n = &h->n[bucket_of(v)];
    if (*n < UINT32_MAX)
        (*n)++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank == 0)
        rank = 1;
    if (rank >= h->count)
        return h->max;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->n[b];
        if (seen >= rank) {
            uint64_t v = bucket_value(b);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}
