#include "config.h"

#include "core/counters.h"

#include <stddef.h>

static const char *const names[COUNTER_COUNT] = {
    [CTR_RSS] = "rss",
    [CTR_PEAK_RSS] = "peak_rss",
    [CTR_HEAP] = "heap",
    [CTR_ANON] = "anon",
    [CTR_SWAP] = "swap",
    [CTR_MINFLT_TOTAL] = "minflt_total",
    [CTR_MAJFLT_TOTAL] = "majflt_total",
    [CTR_GC_COUNT0] = "gc_count0",
    [CTR_GC_COUNT1] = "gc_count1",
    [CTR_GC_COUNT2] = "gc_count2",
    [CTR_GC_COLLECTIONS0_TOTAL] = "gc_collections0_total",
    [CTR_GC_COLLECTIONS1_TOTAL] = "gc_collections1_total",
    [CTR_GC_COLLECTIONS2_TOTAL] = "gc_collections2_total",
    [CTR_GC_COLLECTED_TOTAL] = "gc_collected_total",
    [CTR_GC_UNCOLLECTABLE_TOTAL] = "gc_uncollectable_total",
    [CTR_PYMALLOC_ARENAS] = "pymalloc_arenas",
    [CTR_PYMALLOC_ARENAS_PEAK] = "pymalloc_arenas_peak",
    [CTR_PYMALLOC_ARENA_BYTES] = "pymalloc_arena_bytes",
    [CTR_PYMALLOC_BLOCKS] = "pymalloc_blocks",
};

const char *counter_name(enum counter_id id)
{
    if ((unsigned)id >= COUNTER_COUNT)
        return NULL;
    return names[id];
}
