/* libFuzzer target for the GC and pymalloc counters (src/python/heap.c),
 * for every layout pytop has: 2.7 and 3.6's static arrays, the runtime's
 * or the interpreter's GC state, 3.15's statistics rings, 3.12+'s
 * obmalloc state, free-threaded builds.
 *
 * Input: byte 0 picks the layout, byte 1 which roots the target has (one
 * may point at unmapped memory), then the bytes of each piece py_heap_read
 * reads, for three reads in a row (the target moving between them). Each
 * read must keep the contract of heap.h: 0, or an error with nothing
 * given; only counters the plan made available; generation counts the
 * bytes hold and their thresholds allow; running totals never below the
 * last ones given; arena bytes the arena count times the arena size, and
 * the peak never below the count. */
#include "config.h"

#include "python/heap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NREGIONS 5
#define REGION_SIZE (1u << 20)
static const uint64_t region_addr[NREGIONS] = {
    0x200000000000ULL,   /* _PyRuntime */
    0x200010000000ULL,   /* the interpreter state */
    0x200020000000ULL,   /* struct _obmalloc_state */
    0x200030000000ULL,   /* 3.15's struct gc_stats */
    0x200040000000ULL,   /* static variables (2.7, 3.6, obmalloc up to 3.11) */
};
#define UNMAPPED 0x2000f0000000ULL

static uint8_t regions[NREGIONS][REGION_SIZE];

/* The input, consumed in order; zeros once it runs out. */
struct input {
    const uint8_t *p;
    size_t left;
};

static void take(struct input *in, uint8_t *dst, size_t n)
{
    size_t k = n < in->left ? n : in->left;
    memcpy(dst, in->p, k);
    memset(dst + k, 0, n - k);
    in->p += k, in->left -= k;
}

/* The bytes at addr..addr+n, when mapped here. */
static uint8_t *local(uint64_t addr, size_t n)
{
    for (int i = 0; i < NREGIONS; i++)
        if (addr >= region_addr[i] && addr - region_addr[i] <= REGION_SIZE - n && n <= REGION_SIZE)
            return regions[i] + (addr - region_addr[i]);
    return NULL;
}

static void fill(struct input *in, uint64_t addr, size_t n)
{
    uint8_t *p = addr && n ? local(addr, n) : NULL;
    if (p)
        take(in, p, n);
}

static int32_t i32_at(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void check_gc_counts(const struct py_heap *h, const struct counters *c)
{
    const uint8_t *gens = local(h->gc_generations, 3 * (size_t)h->gen_size);
    for (int g = 0; g < 3; g++) {
        if (!counters_has(c, (enum counter_id)(CTR_GC_COUNT0 + g)))
            continue;
        if (!gens)
            abort();   /* a count from memory that is not there */
        int32_t n = i32_at(gens + g * h->gen_size + h->gen_count);
        int32_t t = i32_at(gens + g * h->gen_size + h->gen_threshold);
        if (n < 0 || t < 0 || t > (1 << 24) || c->value[CTR_GC_COUNT0 + g] != (uint64_t)n)
            abort();
    }
}

static void check_read(const struct py_heap *h, const struct counters *c, uint64_t last[COUNTER_COUNT])
{
    for (int id = 0; id < COUNTER_COUNT; id++)
        if (counters_has(c, (enum counter_id)id) && !(h->available >> id & 1))
            abort();
    check_gc_counts(h, c);
    for (int id = CTR_GC_COLLECTIONS0_TOTAL; id <= CTR_GC_UNCOLLECTABLE_TOTAL; id++) {
        if (!counters_has(c, (enum counter_id)id))
            continue;
        if (c->value[id] > (uint64_t)INT64_MAX || c->value[id] < last[id])
            abort();
        last[id] = c->value[id];
    }
    if (counters_has(c, CTR_PYMALLOC_ARENA_BYTES) &&
        (!counters_has(c, CTR_PYMALLOC_ARENAS) || h->arena_bits <= 0 ||
         c->value[CTR_PYMALLOC_ARENA_BYTES] != c->value[CTR_PYMALLOC_ARENAS] << h->arena_bits))
        abort();
    if (counters_has(c, CTR_PYMALLOC_ARENAS) && counters_has(c, CTR_PYMALLOC_ARENAS_PEAK) &&
        c->value[CTR_PYMALLOC_ARENAS_PEAK] < c->value[CTR_PYMALLOC_ARENAS])
        abort();
    if (counters_has(c, CTR_PYMALLOC_BLOCKS) && c->value[CTR_PYMALLOC_BLOCKS] > (uint64_t)INT64_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || py_layouts_count == 0)
        return 0;
    const struct py_layout *l = py_layouts_all[data[0] % py_layouts_count];
    unsigned roots_bits = data[1];
    struct input in = { data + 2, size - 2 };

    struct py_heap_roots r;
    memset(&r, 0, sizeof r);
    if (roots_bits & 1)
        r.runtime = region_addr[0];
    if (roots_bits & 2)
        r.interp = region_addr[1];
    if (roots_bits & 4)
        r.obmalloc = region_addr[2];
    if (roots_bits & 8)
        r.gc_stats_ring = region_addr[3];
    if (roots_bits & 16) {
        r.generations = region_addr[4];
        r.generation_stats = region_addr[4] + 0x1000;
        r.narenas = region_addr[4] + 0x2000;
        r.narenas_highwater = region_addr[4] + 0x2008;
        r.allocated_blocks = region_addr[4] + 0x2010;
    }
    /* A root the target gave that leads nowhere. */
    switch (roots_bits >> 5) {
    case 1: r.runtime = UNMAPPED; break;
    case 2: r.interp = UNMAPPED; break;
    case 3: r.narenas = UNMAPPED; break;
    default: break;
    }

    struct py_heap h;
    py_heap_plan(l, &r, &h);

    struct fake_mem m;
    fake_mem_init(&m);
    for (int i = 0; i < NREGIONS; i++)
        if (fake_mem_add(&m, region_addr[i], regions[i], REGION_SIZE) != 0)
            abort();

    size_t stats_len = h.ring_young_len > 0 ? (size_t)(h.ring_old + 2 * h.ring_old_size)
                                            : 3 * (size_t)h.stats_size;
    uint64_t last[COUNTER_COUNT];
    memset(last, 0, sizeof last);
    for (int round = 0; round < 3; round++) {
        fill(&in, h.gc_generations, 3 * (size_t)h.gen_size);
        fill(&in, h.gc_stats, stats_len);
        fill(&in, h.narenas, 8);
        fill(&in, h.narenas_highwater, 8);
        fill(&in, h.allocated_blocks, 8);
        struct counters c;
        memset(&c, 0, sizeof c);
        int rc = py_heap_read(&h, &m.base, &c);
        if (rc != 0) {
            for (int id = 0; id < COUNTER_COUNT; id++)
                if (counters_has(&c, (enum counter_id)id))
                    abort();   /* an error, yet something given */
            if (rc != -EFAULT)
                abort();
            continue;
        }
        check_read(&h, &c, last);
    }
    return 0;
}
