/* libFuzzer target for the target-supplied tables pytop trusts least:
 * CPython's _Py_DebugOffsets (src/python/debug_offsets.c) and the GC and
 * pymalloc state (src/python/heap.c).
 *
 * The first input byte picks a version (3.13-3.15) and a generated table;
 * the rest is the target's memory: the _Py_DebugOffsets table (behind a
 * valid cookie and version, so the decoder gets past them), then the GC
 * state, 3.15's statistics ring and the obmalloc counters. Besides not
 * crashing or reading past anything, each must keep its contract: a
 * layout accepted has every offset it carries inside the structure sizes
 * the table gave, and every counter given passed the checks (counts within
 * what the thresholds allow, arenas consistent with their peak and bytes). */
#include "config.h"

#include "core/error.h"
#include "python/debug_offsets.h"
#include "python/heap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RT_ADDR 0x200000000000ULL
#define IS_ADDR 0x200010000000ULL
#define RING_ADDR 0x200020000000ULL
#define OB_ADDR 0x200030000000ULL

static void check_layout(const struct py_layout *l)
{
    /* What the walker reads in one go must stay within its bounds. */
    if (l->tstate_next < 0 || l->tstate_current_frame < 0 || l->frame_size <= 0 ||
        l->frame_back < 0 || l->frame_back + 8 > l->frame_size || l->code_size <= 0 ||
        l->code_filename + 8 > l->code_size || l->frame_owned_by_cstack != 3)
        abort();
}

static void check_counters(const struct py_heap *h, const struct counters *c, const uint8_t *gens)
{
    if (counters_has(c, CTR_GC_COUNT0)) {
        for (int g = 0; g < 3; g++) {
            int32_t n, t;
            memcpy(&n, gens + g * h->gen_size + h->gen_count, 4);
            memcpy(&t, gens + g * h->gen_size + h->gen_threshold, 4);
            if (n < 0 || t < 0 || c->value[CTR_GC_COUNT0 + g] != (uint64_t)n)
                abort();
        }
    }
    if (counters_has(c, CTR_PYMALLOC_ARENA_BYTES) &&
        (!counters_has(c, CTR_PYMALLOC_ARENAS) ||
         c->value[CTR_PYMALLOC_ARENA_BYTES] != c->value[CTR_PYMALLOC_ARENAS] << h->arena_bits))
        abort();
    if (counters_has(c, CTR_PYMALLOC_ARENAS) && counters_has(c, CTR_PYMALLOC_ARENAS_PEAK) &&
        c->value[CTR_PYMALLOC_ARENAS_PEAK] < c->value[CTR_PYMALLOC_ARENAS])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int minor = 13 + data[0] % 3;
    data++, size--;
    const struct py_debug_layout *dl = py_debug_layout_for(3, minor);
    const struct py_layout *table = py_layout_for(3, minor);
    if (!dl || !table)
        abort();

    /* The debug offsets: cookie and version, then the input. */
    uint8_t raw[PY_DEBUG_OFFSETS_MAX];
    memset(raw, 0, sizeof raw);
    size_t n = size < sizeof raw - 24 ? size : sizeof raw - 24;
    memcpy(raw + 24, data, n);
    memcpy(raw, "xdebugpy", 8);
    uint64_t version = 0x030000f0ULL | (uint64_t)minor << 16;
    memcpy(raw + 8, &version, 8);
    struct fake_mem m;
    fake_mem_init(&m);
    fake_mem_add(&m, RT_ADDR, raw, 24 + n);
    struct py_layout out;
    memset(&out, 0x5a, sizeof out);
    uint64_t hex = 0;
    int rc = py_debug_offsets_read(&m.base, RT_ADDR, table->micro, &out, &hex);
    if (rc == 0)
        check_layout(&out);
    else if (rc != -PT_ERR_BAD_DATA && rc != -EFAULT && rc != -PT_ERR_UNSUPPORTED)
        abort();

    /* The GC and pymalloc state, as that version's table places it. */
    static uint8_t is[1 << 18], ring[PY_HEAP_STATS_MAX], ob[2048];
    memset(is, 0, sizeof is);
    memset(ring, 0, sizeof ring);
    memset(ob, 0, sizeof ob);
    const uint8_t *rest = data;
    size_t left = size;
    uint8_t *gens = is + table->interp_gc + table->gc_generations;
    size_t take = left < 3 * (size_t)table->gc_generation_size ? left
                                                              : 3 * (size_t)table->gc_generation_size;
    memcpy(gens, rest, take);
    rest += take, left -= take;
    if (table->gc_stats_young < 0) {
        uint8_t *stats = is + table->interp_gc + table->gc_generation_stats;
        take = left < 3 * (size_t)table->gc_stats_size ? left : 3 * (size_t)table->gc_stats_size;
        memcpy(stats, rest, take);
    } else {
        take = left < sizeof ring ? left : sizeof ring;
        memcpy(ring, rest, take);
    }
    rest += take, left -= take;
    take = left < sizeof ob ? left : sizeof ob;
    memcpy(ob, rest, take);
    fake_mem_add(&m, IS_ADDR, is, sizeof is);
    fake_mem_add(&m, RING_ADDR, ring, sizeof ring);
    fake_mem_add(&m, OB_ADDR, ob, sizeof ob);

    struct py_heap_roots roots;
    memset(&roots, 0, sizeof roots);
    roots.runtime = RT_ADDR;
    roots.interp = IS_ADDR;
    roots.obmalloc = OB_ADDR;
    roots.gc_stats_ring = RING_ADDR;
    struct py_heap h;
    py_heap_plan(table, &roots, &h);
    for (int round = 0; round < 2; round++) {
        struct counters c;
        memset(&c, 0, sizeof c);
        if (py_heap_read(&h, &m.base, &c) != 0)
            abort();
        check_counters(&h, &c, gens);
    }
    return 0;
}
