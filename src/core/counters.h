/* Memory and heap counters of one process at one moment: what the
 * Memory view plots and a recording keeps (record type 6).
 *
 * Process counters come from /proc (status, statm, smaps_rollup, stat);
 * Python counters are read from the interpreter's own structures. A
 * counter that cannot be read on this kernel or Python version has its
 * bit clear in `valid` and is shown as unavailable, never as zero.
 * Values are levels (bytes, objects) except the *_TOTAL ones, which are
 * running totals: consumers derive rates from two points. */
#ifndef PYTOP_CORE_COUNTERS_H
#define PYTOP_CORE_COUNTERS_H

#include <stdint.h>

enum counter_id {
    /* Process (bytes unless said). */
    CTR_RSS,                    /* resident set (VmRSS / statm resident) */
    CTR_PEAK_RSS,               /* its peak so far (VmHWM) */
    CTR_HEAP,                   /* the brk heap segment ([heap] mapping size) */
    CTR_ANON,                   /* anonymous resident memory (RssAnon) */
    CTR_SWAP,                   /* swapped out (VmSwap) */
    CTR_MINFLT_TOTAL,           /* minor page faults so far (count) */
    CTR_MAJFLT_TOTAL,           /* major page faults so far (count) */
    /* Python's cyclic garbage collector (objects or collections). */
    CTR_GC_COUNT0,              /* the count toward generation 0's threshold */
    CTR_GC_COUNT1,
    CTR_GC_COUNT2,
    CTR_GC_COLLECTIONS0_TOTAL,  /* collections of generation 0 so far */
    CTR_GC_COLLECTIONS1_TOTAL,
    CTR_GC_COLLECTIONS2_TOTAL,
    CTR_GC_COLLECTED_TOTAL,     /* objects collected so far, all generations */
    CTR_GC_UNCOLLECTABLE_TOTAL, /* objects found uncollectable so far */
    /* pymalloc, Python's small-object allocator. */
    CTR_PYMALLOC_ARENAS,        /* arenas allocated now (count) */
    CTR_PYMALLOC_ARENAS_PEAK,   /* most arenas allocated at once (count) */
    CTR_PYMALLOC_ARENA_BYTES,   /* arenas now x arena size */
    CTR_PYMALLOC_BLOCKS,        /* allocated blocks now (count) */
    COUNTER_COUNT
};

struct counters {
    uint64_t valid;             /* bit (1 << id): value[id] was read */
    uint64_t value[COUNTER_COUNT];
};

static inline int counters_has(const struct counters *c, enum counter_id id)
{
    return (int)((c->valid >> id) & 1u);
}

static inline void counters_set(struct counters *c, enum counter_id id, uint64_t v)
{
    c->valid |= 1ULL << id;
    c->value[id] = v;
}

/* Short stable names ("rss", "gc_collections0_total", ...), for JSON,
 * exports and docs; NULL for an id out of range. */
const char *counter_name(enum counter_id id);

#endif
