#include "config.h"

#include "python/heap.h"

#include "core/error.h"
#include "elf/symbols.h"
#include "proc/maps.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* More arenas than this would not fit in a 47-bit address space. */
#define ADDRESS_BITS 47

static int known(int off)
{
    return off >= 0;
}

/* A struct member of size len at off inside a struct of size size. */
static int member_ok(int off, int len, int size)
{
    return off >= 0 && size > 0 && off + len <= size;
}

static void plan_gc(const struct py_layout *l, const struct py_heap_roots *r, struct py_heap *h)
{
    uint64_t state = 0;   /* struct _gc_runtime_state */
    if (known(l->runtime_gc) && r->runtime)
        state = r->runtime + (uint64_t)l->runtime_gc;
    else if (known(l->interp_gc) && r->interp)
        state = r->interp + (uint64_t)l->interp_gc;

    h->gen_size = l->gc_generation_size;
    h->gen_count = l->gc_generation_count;
    h->gen_threshold = l->gc_generation_threshold;
    h->gen0_signed = l->free_threaded != 0;
    if (h->gen_size <= PY_HEAP_STRUCT_MAX && member_ok(h->gen_count, 4, h->gen_size) &&
        member_ok(h->gen_threshold, 4, h->gen_size)) {
        if (state && known(l->gc_generations))
            h->gc_generations = state + (uint64_t)l->gc_generations;
        else if (!known(l->gc_generations))
            h->gc_generations = r->generations;   /* static array: 2.7, 3.6 */
    }
    if (h->gc_generations)
        h->available |= 1ULL << CTR_GC_COUNT0 | 1ULL << CTR_GC_COUNT1 | 1ULL << CTR_GC_COUNT2;

    h->stats_size = l->gc_stats_size;
    h->stats_collections = l->gc_stats_collections;
    h->stats_collected = l->gc_stats_collected;
    h->stats_uncollectable = l->gc_stats_uncollectable;
    int size = h->stats_size;
    int ok = size <= PY_HEAP_STRUCT_MAX && member_ok(h->stats_collections, 8, size) &&
             member_ok(h->stats_collected, 8, size) && member_ok(h->stats_uncollectable, 8, size);
    if (ok && known(l->gc_stats_young)) {
        /* 3.15: ring buffers behind a pointer, followed at locate time. */
        h->ring_young = l->gc_stats_young;
        h->ring_young_index = l->gc_stats_young_index;
        h->ring_young_len = l->gc_stats_young_len;
        h->ring_old = l->gc_stats_old;
        h->ring_old_size = l->gc_stats_old_size;
        h->ring_old_index = l->gc_stats_old_index;
        h->ring_old_len = l->gc_stats_old_len;
        int end = h->ring_old + 2 * h->ring_old_size;
        if (state && known(l->gc_generation_stats) && h->ring_young_len > 0 &&
            h->ring_old_len > 0 && h->ring_young >= 0 && h->ring_old >= 0 &&
            member_ok(h->ring_young_index, 1, h->ring_old) &&
            h->ring_young + h->ring_young_len * size <= h->ring_young_index &&
            h->ring_old_len * size <= h->ring_old_index &&
            member_ok(h->ring_old_index, 1, h->ring_old_size) && end <= PY_HEAP_STATS_MAX) {
            h->gc_stats_ptr = state + (uint64_t)l->gc_generation_stats;
            h->gc_stats = r->gc_stats_ring;
        }
    } else if (ok) {
        if (state && known(l->gc_generation_stats))
            h->gc_stats = state + (uint64_t)l->gc_generation_stats;
        else if (!known(l->gc_generation_stats))
            h->gc_stats = r->generation_stats;   /* static array: 3.6 */
    }
    if (h->gc_stats)
        h->available |= 1ULL << CTR_GC_COLLECTIONS0_TOTAL | 1ULL << CTR_GC_COLLECTIONS1_TOTAL |
                        1ULL << CTR_GC_COLLECTIONS2_TOTAL | 1ULL << CTR_GC_COLLECTED_TOTAL |
                        1ULL << CTR_GC_UNCOLLECTABLE_TOTAL;
}

static void plan_pymalloc(const struct py_layout *l, const struct py_heap_roots *r,
                          struct py_heap *h)
{
    h->arena_bits = l->obmalloc_arena_bits >= 12 && l->obmalloc_arena_bits <= 30
                        ? l->obmalloc_arena_bits : -1;
    if (known(l->obmalloc_narenas) || known(l->obmalloc_narenas_highwater)) {
        /* 3.12+: struct _obmalloc_state. */
        if (r->obmalloc && known(l->obmalloc_narenas))
            h->narenas = r->obmalloc + (uint64_t)l->obmalloc_narenas;
        if (r->obmalloc && known(l->obmalloc_narenas_highwater))
            h->narenas_highwater = r->obmalloc + (uint64_t)l->obmalloc_narenas_highwater;
    } else {
        h->narenas = r->narenas;
        h->narenas_highwater = r->narenas_highwater;
    }
    h->allocated_blocks = r->allocated_blocks;
    if (h->narenas) {
        h->available |= 1ULL << CTR_PYMALLOC_ARENAS;
        if (h->arena_bits > 0)
            h->available |= 1ULL << CTR_PYMALLOC_ARENA_BYTES;
    }
    if (h->narenas_highwater)
        h->available |= 1ULL << CTR_PYMALLOC_ARENAS_PEAK;
    if (h->allocated_blocks)
        h->available |= 1ULL << CTR_PYMALLOC_BLOCKS;
}

void py_heap_plan(const struct py_layout *l, const struct py_heap_roots *roots, struct py_heap *out)
{
    struct py_heap h;
    memset(&h, 0, sizeof h);
    plan_gc(l, roots, &h);
    plan_pymalloc(l, roots, &h);
    *out = h;
}

/* ---- locating -------------------------------------------------------------- */

static uint64_t local_symbol(const struct elf_symbols *elf, uint64_t bias, const char *name)
{
    uint64_t addr;
    if (!elf || elf_symbols_lookup(elf, name, &addr, NULL) != 0 || !addr)
        return 0;
    return addr + bias;
}

/* The binary holding the interpreter, opened the way discovery opened it:
 * through the target's view of the file first. NULL when it cannot be. */
static struct elf_symbols *open_binary(const struct py_target *t)
{
    struct proc_maps maps;
    struct elf_symbols *elf = NULL;
    if (proc_maps_read(t->pid, &maps) != 0)
        return NULL;
    for (size_t i = 0; i < maps.count && !elf; i++) {
        const struct proc_map *m = &maps.maps[i];
        if (strcmp(m->path, t->binary) != 0)
            continue;
        char path[PATH_MAX];
        if (proc_map_open_path(t->pid, m, path, sizeof path) != 0 ||
            elf_symbols_open(path, &elf) != 0) {
            if (m->deleted || elf_symbols_open(t->binary, &elf) != 0)
                elf = NULL;
        }
        break;
    }
    proc_maps_release(&maps);
    return elf;
}

/* Up to 3.11 some state is in static variables of gcmodule.c (2.7, 3.6)
 * and obmalloc.c (up to 3.11), which only a .symtab names. */
static void find_statics(const struct py_target *t, const struct py_layout *l,
                         struct py_heap_roots *r)
{
    int v = l->major * 100 + l->minor;
    int gc_static = v <= 306 && !known(l->gc_generations);
    int ob_static = v <= 311 && !known(l->obmalloc_narenas);
    if (!gc_static && !ob_static)
        return;
    struct elf_symbols *elf = open_binary(t);
    if (!elf)
        return;
    uint64_t b = t->load_bias;
    if (gc_static) {
        r->generations = local_symbol(elf, b, "generations");
        if (known(l->gc_stats_size))
            r->generation_stats = local_symbol(elf, b, "generation_stats");
    }
    if (ob_static) {
        r->narenas = local_symbol(elf, b, "narenas_currently_allocated");
        /* 2.7 keeps a high-water mark only in PYMALLOC_DEBUG builds. */
        r->narenas_highwater = local_symbol(elf, b, "narenas_highwater");
        /* A running count only in 3.x up to 3.8; 3.9+ sum every pool on
         * demand (their raw_allocated_blocks is only a part of it). */
        if (v >= 300 && v <= 308)
            r->allocated_blocks = local_symbol(elf, b, "_Py_AllocatedBlocks");
    }
    elf_symbols_free(elf);
}

int py_heap_locate(struct py_target *t, struct py_heap *out)
{
    const struct py_layout *l = &t->walker.layout;
    struct mem_source *mem = &t->live.base;
    struct py_heap_roots r;
    memset(&r, 0, sizeof r);
    r.runtime = t->runtime_addr;

    uint64_t interp = 0;
    int rc = 0;
    if (r.runtime && known(l->runtime_interpreters_main))
        rc = mem_read_u64(mem, r.runtime + (uint64_t)l->runtime_interpreters_main, &interp);
    if (rc == -ESRCH)
        return rc;
    if (!mem_ptr_plausible(interp))
        interp = py_walker_first_interp(&t->walker);
    if (mem_ptr_plausible(interp))
        r.interp = interp;

    if (r.interp && known(l->interp_obmalloc)) {
        r.obmalloc = r.interp + (uint64_t)l->interp_obmalloc;
    } else if (r.interp && known(l->interp_obmalloc_ptr)) {
        uint64_t p = 0;
        rc = mem_read_u64(mem, r.interp + (uint64_t)l->interp_obmalloc_ptr, &p);
        if (rc == -ESRCH)
            return rc;
        if (rc == 0 && mem_ptr_plausible(p))
            r.obmalloc = p;
    }
    if (r.interp && known(l->interp_gc) && known(l->gc_generation_stats) &&
        known(l->gc_stats_young)) {
        uint64_t p = 0;
        rc = mem_read_u64(mem, r.interp + (uint64_t)l->interp_gc +
                                   (uint64_t)l->gc_generation_stats, &p);
        if (rc == -ESRCH)
            return rc;
        if (rc == 0 && mem_ptr_plausible(p))
            r.gc_stats_ring = p;
    }
    find_statics(t, l, &r);
    py_heap_plan(l, &r, out);
    return 0;
}

void py_heap_release(struct py_heap *h)
{
    memset(h, 0, sizeof *h);
}

/* ---- reading --------------------------------------------------------------- */

static int64_t get_i64(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int32_t get_i32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

enum { PIECE_GENS, PIECE_STATS, PIECE_ARENAS, PIECE_HIGH, PIECE_BLOCKS, PIECES };

/* Thresholds and counts the collector allows. Older generations' counts
 * grow with collections of younger ones, which gc.collect() can run past
 * the threshold; a count far past it (or any negative value) is not a
 * count. */
#define GC_THRESHOLD_MAX (1 << 24)
#define GC_OLDER_SLACK 4096

static int gc_counts_ok(const int32_t count[3], const int32_t threshold[3])
{
    for (int g = 0; g < 3; g++) {
        if (threshold[g] < 0 || threshold[g] > GC_THRESHOLD_MAX || count[g] < 0)
            return 0;
        if (g > 0 && (int64_t)count[g] > ((int64_t)threshold[g] + 1) * GC_OLDER_SLACK)
            return 0;
    }
    return 1;
}

/* The newest entry of one 3.15 ring buffer, or NULL if its index is off. */
static const uint8_t *ring_entry(const struct py_heap *h, const uint8_t *stats, int g)
{
    const uint8_t *buf;
    int index_off, len;
    if (g == 0) {
        buf = stats + h->ring_young;
        index_off = h->ring_young_index;
        len = h->ring_young_len;
    } else {
        buf = stats + h->ring_old + (g - 1) * h->ring_old_size;
        index_off = h->ring_old_index;
        len = h->ring_old_len;
    }
    int8_t i = (int8_t)buf[index_off];
    if (i < 0 || i >= len)
        return NULL;
    return buf + i * h->stats_size;
}

/* Give a running total unless it went down since the last one given. */
static void set_total(struct py_heap *h, struct counters *c, int i, enum counter_id id,
                      int64_t v)
{
    if (v < 0 || ((h->have_total >> i) & 1 && (uint64_t)v < h->last_total[i])) {
        h->rejected++;
        return;
    }
    h->last_total[i] = (uint64_t)v;
    h->have_total |= 1ULL << i;
    counters_set(c, id, (uint64_t)v);
}

static void decode_gc(struct py_heap *h, const uint8_t *gens, const uint8_t *stats,
                      const struct mem_iov *iov, struct counters *c)
{
    if (iov[PIECE_GENS].ok) {
        int32_t count[3], threshold[3];
        for (int g = 0; g < 3; g++) {
            count[g] = get_i32(gens + g * h->gen_size + h->gen_count);
            threshold[g] = get_i32(gens + g * h->gen_size + h->gen_threshold);
        }
        /* A free-threaded generation 0 below zero: checked as 0, not given. */
        int gen0_below = h->gen0_signed && count[0] < 0 && count[0] > -GC_THRESHOLD_MAX;
        if (gen0_below)
            count[0] = 0;
        if (gc_counts_ok(count, threshold)) {
            for (int g = gen0_below; g < 3; g++)
                counters_set(c, (enum counter_id)(CTR_GC_COUNT0 + g), (uint64_t)count[g]);
        } else {
            h->rejected++;
        }
    }
    if (iov[PIECE_STATS].ok) {
        int64_t n[3], collected = 0, uncollectable = 0;
        int sane = 1;
        for (int g = 0; g < 3; g++) {
            const uint8_t *s = h->ring_young_len > 0 ? ring_entry(h, stats, g)
                                                     : stats + g * h->stats_size;
            if (!s) {
                sane = 0;
                break;
            }
            n[g] = get_i64(s + h->stats_collections);
            int64_t got = get_i64(s + h->stats_collected);
            int64_t bad = get_i64(s + h->stats_uncollectable);
            if (n[g] < 0 || got < 0 || bad < 0 || got > INT64_MAX - collected ||
                bad > INT64_MAX - uncollectable)
                sane = 0;
            else
                collected += got, uncollectable += bad;
        }
        if (!sane) {
            h->rejected++;
            return;
        }
        for (int g = 0; g < 3; g++)
            set_total(h, c, g, (enum counter_id)(CTR_GC_COLLECTIONS0_TOTAL + g), n[g]);
        set_total(h, c, 3, CTR_GC_COLLECTED_TOTAL, collected);
        set_total(h, c, 4, CTR_GC_UNCOLLECTABLE_TOTAL, uncollectable);
    }
}

static void decode_pymalloc(struct py_heap *h, uint64_t narenas, uint64_t high,
                            int64_t blocks, const struct mem_iov *iov, struct counters *c)
{
    int bits = h->arena_bits > 0 ? h->arena_bits : 12;
    uint64_t limit = 1ULL << (ADDRESS_BITS - bits);
    /* The high-water mark is updated right after the count: it may lag it
     * by one, never by more. */
    if ((iov[PIECE_ARENAS].ok && narenas > limit) || (iov[PIECE_HIGH].ok && high > limit) ||
        (iov[PIECE_ARENAS].ok && iov[PIECE_HIGH].ok && narenas > high + 1)) {
        h->rejected++;
        return;
    }
    int have_now = iov[PIECE_ARENAS].ok;
    if (have_now) {
        counters_set(c, CTR_PYMALLOC_ARENAS, narenas);
        if (h->arena_bits > 0)
            counters_set(c, CTR_PYMALLOC_ARENA_BYTES, narenas << h->arena_bits);
    }
    if (iov[PIECE_HIGH].ok && high <= limit)
        counters_set(c, CTR_PYMALLOC_ARENAS_PEAK, have_now && narenas > high ? narenas : high);
    if (iov[PIECE_BLOCKS].ok && blocks >= 0)
        counters_set(c, CTR_PYMALLOC_BLOCKS, (uint64_t)blocks);
}

int py_heap_read(struct py_heap *h, struct mem_source *mem, struct counters *out)
{
    uint8_t gens[3 * PY_HEAP_STRUCT_MAX], stats[PY_HEAP_STATS_MAX];
    size_t stats_len = h->ring_young_len > 0 ? (size_t)(h->ring_old + 2 * h->ring_old_size)
                                             : 3 * (size_t)h->stats_size;
    uint64_t narenas = 0, high = 0;
    int64_t blocks = 0;
    struct mem_iov all[PIECES] = {
        [PIECE_GENS] = { h->gc_generations, gens, 3 * (size_t)h->gen_size, 0 },
        [PIECE_STATS] = { h->gc_stats, stats, stats_len, 0 },
        [PIECE_ARENAS] = { h->narenas, &narenas, sizeof narenas, 0 },
        [PIECE_HIGH] = { h->narenas_highwater, &high, sizeof high, 0 },
        [PIECE_BLOCKS] = { h->allocated_blocks, &blocks, sizeof blocks, 0 },
    };
    /* Only the pieces this target has, in one call. */
    struct mem_iov iov[PIECES];
    int where[PIECES];
    size_t n = 0;
    for (int i = 0; i < PIECES; i++) {
        where[i] = -1;
        size_t cap = i == PIECE_GENS ? sizeof gens : i == PIECE_STATS ? sizeof stats : 8;
        if (all[i].addr && all[i].len && all[i].len <= cap) {
            where[i] = (int)n;
            iov[n++] = all[i];
        }
    }
    if (n == 0)
        return 0;
    mem_readv(mem, iov, n);
    size_t good = 0;
    for (int i = 0; i < PIECES; i++) {
        all[i].ok = where[i] >= 0 && iov[where[i]].ok;
        good += (size_t)all[i].ok;
    }
    if (good == 0) {
        /* Nothing came: ask once more for the reason, -ESRCH above all. */
        return mem_read(mem, iov[0].addr, iov[0].buf, iov[0].len);
    }
    struct counters c;
    memset(&c, 0, sizeof c);
    decode_gc(h, gens, stats, all, &c);
    decode_pymalloc(h, narenas, high, blocks, all, &c);
    for (int id = 0; id < COUNTER_COUNT; id++)
        if (counters_has(&c, (enum counter_id)id))
            counters_set(out, (enum counter_id)id, c.value[id]);
    return 0;
}
