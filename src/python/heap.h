/* Python's own memory counters, read from the target's interpreter: the
 * cyclic GC (per-generation counts, collections, objects collected and
 * uncollectable) and pymalloc (arenas now and at most, arena bytes,
 * allocated blocks). Nothing is injected into the target: the values are
 * copied with process_vm_readv (or any mem_source) from where each
 * CPython version keeps them.
 *
 * Use: py_heap_locate() once after attaching works out the addresses (it
 * reads symbols, including local .symtab ones, and a few pointers); then
 * py_heap_read() copies every counter in one batched read, a few
 * microseconds, as often as wanted. Where a version, a stripped binary or
 * a build option leaves a counter out, its bit stays clear: pytop shows it
 * as unavailable, never as zero. docs/internals.md ("Memory and heap
 * counters") has the table of what comes from where. */
#ifndef PYTOP_PYTHON_HEAP_H
#define PYTOP_PYTHON_HEAP_H

#include <stdint.h>

#include "core/counters.h"
#include "proc/memsrc.h"
#include "python/discover.h"
#include "python/layout.h"

/* The largest struct gc_generation / gc_generation_stats accepted. */
#define PY_HEAP_STRUCT_MAX 256
/* The largest GC statistics read at once: three structs, or 3.15's
 * struct gc_stats of ring buffers (1112 bytes). */
#define PY_HEAP_STATS_MAX 4096

/* Where each counter lives in the target; plain data, no resources. */
struct py_heap {
    uint64_t available;          /* bit (1 << counter_id): py_heap_read can give it */
    uint64_t gc_generations;     /* generations[0], or 0 */
    uint64_t gc_stats;           /* generation_stats[0], 3.15's struct gc_stats, or 0 */
    uint64_t gc_stats_ptr;       /* 3.15: where the pointer to struct gc_stats is, or 0 */
    uint64_t narenas;            /* size_t arenas allocated now, or 0 */
    uint64_t narenas_highwater;  /* size_t, or 0 */
    uint64_t allocated_blocks;   /* Py_ssize_t, or 0 */
    int gen_size, gen_count;     /* struct gc_generation: size, count offset */
    int gen_threshold;           /* its threshold offset */
    int stats_size, stats_collections, stats_collected, stats_uncollectable;
    /* 3.15's ring buffers (struct gc_stats), ring_len 0 before 3.15. */
    int ring_young, ring_young_index, ring_young_len;
    int ring_old, ring_old_size, ring_old_index, ring_old_len;
    int arena_bits;              /* ARENA_SIZE = 1 << arena_bits; -1 unknown */
    /* Free-threaded builds: each thread adds its allocations to generation
     * 0 in batches, so its count goes below zero when more objects died
     * than were counted yet; that count is then unavailable, not wrong. */
    int gen0_signed;

    /* Run-time checks (py_heap_read): the last totals shown, which must
     * never go down, and how many values failed a check and were left out. */
    uint64_t last_total[5];      /* collections 0-2, collected, uncollectable */
    uint64_t have_total;         /* bit i: last_total[i] was shown */
    uint64_t rejected;
};

/* Where the state hangs, as found in the target (0: not there). */
struct py_heap_roots {
    uint64_t runtime;            /* _PyRuntime, 3.7+ */
    uint64_t interp;             /* the main interpreter state */
    uint64_t obmalloc;           /* struct _obmalloc_state, 3.12+ */
    uint64_t gc_stats_ring;      /* 3.15: the struct gc_stats generation_stats points to */
    /* Static variables, found only through local (.symtab) symbols. */
    uint64_t generations, generation_stats;                    /* gcmodule.c, 2.7 / 3.6 */
    uint64_t narenas, narenas_highwater, allocated_blocks;     /* obmalloc.c, up to 3.11 */
};

/* The addresses for layout l given roots: pure arithmetic, no reads. Each
 * counter is available when its root and offsets are known. */
void py_heap_plan(const struct py_layout *l, const struct py_heap_roots *roots,
                  struct py_heap *out);

/* Resolve the roots of t (symbols from its binary, the main interpreter,
 * the obmalloc state pointer) and plan. t is only read; *out keeps no
 * pointer into it. Reads the target a few times and may open its ELF file:
 * call it at attach time, or again to retry when the interpreter was not
 * initialised yet. Returns 0 (some counters may still be unavailable), or
 * -ESRCH when the process is gone. */
int py_heap_locate(struct py_target *t, struct py_heap *out);

/* Release what py_heap_locate set up. A py_heap holds no resources today
 * (it is plain data, safe to copy), so this only clears it; call it anyway
 * so that may change. */
void py_heap_release(struct py_heap *h);

/* Copy every available counter in one batched read (mem_readv: a single
 * process_vm_readv on a live target) and set them in *out with
 * counters_set(); other counters in *out are left alone, so process and
 * Python counters can share one struct. Values are checked before they
 * are given, and one that fails is left out and counted in h->rejected:
 * generation counts must be what their thresholds allow (a threshold out
 * of range, a negative count, an older generation's count far past its
 * threshold), collection totals must never go down from one read to the
 * next, and the arena count must fit an address space and the high-water
 * mark (which may lag it by one update). Returns 0, also when some pieces
 * could not be read; or the read's error (-ESRCH: the process is gone)
 * when none could, with *out untouched. */
int py_heap_read(struct py_heap *h, struct mem_source *mem, struct counters *out);

#endif
