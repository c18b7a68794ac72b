/* Unit tests for src/python/heap: the memory-counter fields of every
 * generated layout, and the planner and reader on GC and pymalloc state
 * built in fake memory for every table, including garbage values and
 * unreadable memory. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proc/memsrc.h"
#include "python/heap.h"
#include "python/layout.h"
#include "unit.h"

#define V(maj, min) ((maj) * 100 + (min))
#define FIELD(name) #name, offsetof(struct py_layout, name)

static int get(const struct py_layout *l, size_t off)
{
    int v;
    memcpy(&v, (const char *)l + off, sizeof v);
    return v;
}

static int vers(const struct py_layout *l)
{
    return V(l->major, l->minor);
}

/* Which versions have each field; outside [from, to] it must be -1. */
static const struct { const char *name; size_t off; int from, to; } presence[] = {
    { FIELD(runtime_interpreters_main), V(3, 7), V(3, 15) },
    { FIELD(runtime_gc), V(3, 7), V(3, 8) },
    { FIELD(interp_gc), V(3, 9), V(3, 15) },
    { FIELD(gc_generations), V(3, 7), V(3, 15) },
    { FIELD(gc_generation_stats), V(3, 7), V(3, 15) },
    { FIELD(gc_generation_size), V(2, 7), V(3, 15) },
    { FIELD(gc_generation_count), V(2, 7), V(3, 15) },
    { FIELD(gc_generation_threshold), V(2, 7), V(3, 15) },
    { FIELD(gc_stats_size), V(3, 6), V(3, 15) },
    { FIELD(gc_stats_collections), V(3, 6), V(3, 15) },
    { FIELD(gc_stats_collected), V(3, 6), V(3, 15) },
    { FIELD(gc_stats_uncollectable), V(3, 6), V(3, 15) },
    { FIELD(gc_stats_young), V(3, 15), V(3, 15) },
    { FIELD(gc_stats_young_index), V(3, 15), V(3, 15) },
    { FIELD(gc_stats_old), V(3, 15), V(3, 15) },
    { FIELD(gc_stats_old_size), V(3, 15), V(3, 15) },
    { FIELD(gc_stats_old_index), V(3, 15), V(3, 15) },
    { FIELD(interp_obmalloc), V(3, 12), V(3, 12) },
    { FIELD(interp_obmalloc_ptr), V(3, 13), V(3, 15) },
    { FIELD(obmalloc_narenas), V(3, 12), V(3, 15) },
    { FIELD(obmalloc_narenas_highwater), V(3, 12), V(3, 15) },
    { FIELD(obmalloc_arena_bits), V(2, 7), V(3, 15) },
};

static void test_fields(void)
{
    for (size_t i = 0; i < py_layouts_count; i++) {
        const struct py_layout *l = py_layouts_all[i];
        int bad = 0;
        for (size_t j = 0; j < sizeof presence / sizeof presence[0]; j++) {
            int v = get(l, presence[j].off);
            int want = vers(l) >= presence[j].from && vers(l) <= presence[j].to;
            /* Free-threaded builds allocate with mimalloc: no pymalloc arenas. */
            if (l->free_threaded && strstr(presence[j].name, "obmalloc"))
                want = 0;
            if ((v >= 0) != want || v >= (1 << 20)) {
                printf("#   %d.%d: %s = %d\n", l->major, l->minor, presence[j].name, v);
                bad++;
            }
        }
        char what[96];
        snprintf(what, sizeof what, "%d.%d: memory-counter fields present exactly in their versions",
                 l->major, l->minor);
        CHECK(bad == 0, what);
        /* 256 KiB arenas up to 3.9, 1 MiB from 3.10 (64-bit). */
        snprintf(what, sizeof what, "%d.%d: arena size", l->major, l->minor);
        CHECK_INT(l->obmalloc_arena_bits, l->free_threaded ? -1 : vers(l) <= V(3, 9) ? 18 : 20, what);
        snprintf(what, sizeof what, "%d.%d: gc count inside its generation", l->major, l->minor);
        CHECK(l->gc_generation_count + 4 <= l->gc_generation_size, what);
    }
}

/* ---- fake interpreters ------------------------------------------------------ */

#define RT_ADDR 0x100000000000ULL
#define IS_ADDR 0x100010000000ULL
#define OB_ADDR 0x100020000000ULL
#define GENS_ADDR 0x100030000000ULL
#define STATS_ADDR 0x100040000000ULL
#define NARENAS_ADDR 0x100050000000ULL
#define HIGH_ADDR 0x100060000000ULL
#define BLOCKS_ADDR 0x100070000000ULL
#define REGION 0x40000   /* bytes of each fake runtime / interpreter region */

struct fake {
    struct fake_mem mem;
    uint8_t *rt, *is, *ob, *gens, *stats;
    uint64_t narenas, high;
    int64_t blocks;
    struct py_heap_roots roots;
};

static void put32(uint8_t *p, int32_t v)
{
    memcpy(p, &v, sizeof v);
}

static void put64(uint8_t *p, int64_t v)
{
    memcpy(p, &v, sizeof v);
}

/* GC and pymalloc state for l where each version keeps it, as a real
 * binary with a .symtab would show it. */
static int fake_build(struct fake *f, const struct py_layout *l)
{
    int v = vers(l);
    memset(f, 0, sizeof *f);
    fake_mem_init(&f->mem);
    f->rt = calloc(1, REGION);
    f->is = calloc(1, REGION);
    f->ob = calloc(1, REGION);
    f->gens = calloc(3, PY_HEAP_STRUCT_MAX);
    f->stats = calloc(3, PY_HEAP_STRUCT_MAX);
    if (!f->rt || !f->is || !f->ob || !f->gens || !f->stats)
        return -1;
    fake_mem_add(&f->mem, RT_ADDR, f->rt, REGION);
    fake_mem_add(&f->mem, IS_ADDR, f->is, REGION);
    fake_mem_add(&f->mem, OB_ADDR, f->ob, REGION);

    /* The GC state: in the runtime (3.7-3.8), the interpreter (3.9+), or
     * static arrays (2.7, 3.6). */
    uint8_t *gens = f->gens, *stats = f->stats;
    uint64_t gens_addr = GENS_ADDR, stats_addr = STATS_ADDR;
    if (l->gc_stats_young >= 0) {
        /* 3.15: generation_stats points to ring buffers; the newest entry
         * of each (index 2 of the young one, 1 of the old ones) counts. */
        uint8_t *base = f->is + l->interp_gc;
        gens = base + l->gc_generations;
        uint8_t *ring = f->stats = realloc(f->stats, PY_HEAP_STATS_MAX);
        if (!ring)
            return -1;
        memset(ring, 0x77, PY_HEAP_STATS_MAX);   /* older entries: noise */
        fake_mem_add(&f->mem, STATS_ADDR, ring, PY_HEAP_STATS_MAX);
        f->roots.gc_stats_ring = STATS_ADDR;
        ring[l->gc_stats_young + l->gc_stats_young_index] = 2;
        for (int o = 0; o < 2; o++)
            ring[l->gc_stats_old + o * l->gc_stats_old_size + l->gc_stats_old_index] = 1;
        for (int g = 0; g < 3; g++) {
            uint8_t *s = g == 0 ? ring + l->gc_stats_young + 2 * l->gc_stats_size
                                : ring + l->gc_stats_old + (g - 1) * l->gc_stats_old_size +
                                      l->gc_stats_size;
            put64(s + l->gc_stats_collections, 100 + g);
            put64(s + l->gc_stats_collected, 1000 * (g + 1));
            put64(s + l->gc_stats_uncollectable, g);
        }
        stats = NULL;
    } else if (l->runtime_gc >= 0 || l->interp_gc >= 0) {
        uint8_t *base = l->runtime_gc >= 0 ? f->rt + l->runtime_gc : f->is + l->interp_gc;
        gens = base + l->gc_generations;
        stats = base + l->gc_generation_stats;
    } else {
        fake_mem_add(&f->mem, GENS_ADDR, f->gens, 3 * (size_t)l->gc_generation_size);
        f->roots.generations = gens_addr;
        if (l->gc_stats_size >= 0) {
            fake_mem_add(&f->mem, STATS_ADDR, f->stats, 3 * (size_t)l->gc_stats_size);
            f->roots.generation_stats = stats_addr;
        }
    }
    for (int g = 0; g < 3; g++) {
        put32(gens + g * l->gc_generation_size + l->gc_generation_count, 11 * (g + 1));
        put32(gens + g * l->gc_generation_size + l->gc_generation_threshold, g ? 10 : 2000);
        if (stats && l->gc_stats_size >= 0) {
            uint8_t *s = stats + g * l->gc_stats_size;
            put64(s + l->gc_stats_collections, 100 + g);
            put64(s + l->gc_stats_collected, 1000 * (g + 1));
            put64(s + l->gc_stats_uncollectable, g);
        }
    }
    if (v >= V(3, 7))
        f->roots.runtime = RT_ADDR;
    f->roots.interp = IS_ADDR;

    /* pymalloc: struct _obmalloc_state (3.12+) or static variables. */
    if (l->obmalloc_narenas >= 0) {
        f->roots.obmalloc = l->interp_obmalloc >= 0 ? IS_ADDR + (uint64_t)l->interp_obmalloc : OB_ADDR;
        uint8_t *ob = l->interp_obmalloc >= 0 ? f->is + l->interp_obmalloc : f->ob;
        put64(ob + l->obmalloc_narenas, 5);
        put64(ob + l->obmalloc_narenas_highwater, 9);
    } else if (!l->free_threaded) {   /* which has no pymalloc state */
        f->narenas = 5;
        f->high = 9;
        f->blocks = 12345;
        fake_mem_add(&f->mem, NARENAS_ADDR, &f->narenas, 8);
        fake_mem_add(&f->mem, HIGH_ADDR, &f->high, 8);
        fake_mem_add(&f->mem, BLOCKS_ADDR, &f->blocks, 8);
        f->roots.narenas = NARENAS_ADDR;
        if (v >= V(3, 6))   /* 2.7 has it only in PYMALLOC_DEBUG builds */
            f->roots.narenas_highwater = HIGH_ADDR;
        if (v >= V(3, 6) && v <= V(3, 8))
            f->roots.allocated_blocks = BLOCKS_ADDR;
    }
    return 0;
}

static void fake_free(struct fake *f)
{
    free(f->rt);
    free(f->is);
    free(f->ob);
    free(f->gens);
    free(f->stats);
}

static void expect(const struct counters *c, enum counter_id id, int want_valid, uint64_t want,
                   const struct py_layout *l)
{
    char what[96];
    snprintf(what, sizeof what, "%d.%d: %s %s", l->major, l->minor, counter_name(id),
             want_valid ? "read" : "unavailable");
    if (!want_valid) {
        CHECK(!counters_has(c, id), what);
        return;
    }
    CHECK(counters_has(c, id), what);
    snprintf(what, sizeof what, "%d.%d: %s value", l->major, l->minor, counter_name(id));
    CHECK_INT(c->value[id], want, what);
}

static void test_read_every_version(void)
{
    for (size_t i = 0; i < py_layouts_count; i++) {
        const struct py_layout *l = py_layouts_all[i];
        int v = vers(l);
        struct fake f;
        if (fake_build(&f, l) != 0) {
            CHECK(0, "fake interpreter allocated");
            fake_free(&f);
            return;
        }
        struct py_heap h;
        py_heap_plan(l, &f.roots, &h);
        struct counters c;
        memset(&c, 0, sizeof c);
        counters_set(&c, CTR_RSS, 4242);
        unsigned long reads = f.mem.base.reads;
        int rc = py_heap_read(&h, &f.mem.base, &c);
        char what[96];
        snprintf(what, sizeof what, "%d.%d: read", l->major, l->minor);
        CHECK_INT(rc, 0, what);
        snprintf(what, sizeof what, "%d.%d: one batched read", l->major, l->minor);
        CHECK_INT(f.mem.base.reads - reads, 1, what);
        snprintf(what, sizeof what, "%d.%d: read only what the plan promised", l->major, l->minor);
        CHECK((c.valid & ~(1ULL << CTR_RSS)) == h.available, what);
        expect(&c, CTR_RSS, 1, 4242, l);
        for (int g = 0; g < 3; g++)
            expect(&c, (enum counter_id)(CTR_GC_COUNT0 + g), 1, 11 * (g + 1), l);
        int stats = v >= V(3, 6);
        for (int g = 0; g < 3; g++)
            expect(&c, (enum counter_id)(CTR_GC_COLLECTIONS0_TOTAL + g), stats, 100 + g, l);
        expect(&c, CTR_GC_COLLECTED_TOTAL, stats, 6000, l);
        expect(&c, CTR_GC_UNCOLLECTABLE_TOTAL, stats, 3, l);
        /* A free-threaded build allocates with mimalloc: unavailable. */
        int pym = !l->free_threaded;
        expect(&c, CTR_PYMALLOC_ARENAS, pym, 5, l);
        expect(&c, CTR_PYMALLOC_ARENAS_PEAK, pym && v >= V(3, 6), 9, l);
        expect(&c, CTR_PYMALLOC_ARENA_BYTES, pym, pym ? 5ULL << l->obmalloc_arena_bits : 0, l);
        expect(&c, CTR_PYMALLOC_BLOCKS, pym && v >= V(3, 6) && v <= V(3, 8), 12345, l);
        py_heap_release(&h);
        fake_free(&f);
    }
}

/* Values no interpreter would hold are left out, not shown. */
static void test_garbage(void)
{
    const struct py_layout *l = py_layout_for(3, 6);
    struct fake f;
    if (!l || fake_build(&f, l) != 0) {
        CHECK(0, "3.6 fake interpreter");
        return;
    }
    put32(f.gens + l->gc_generation_size + l->gc_generation_count, -5);
    put64(f.stats + 2 * l->gc_stats_size + l->gc_stats_collected, -1);
    put64(f.stats + l->gc_stats_size + l->gc_stats_collections, -7);
    f.narenas = 1ULL << 40;
    f.high = 3;
    f.blocks = -2;
    struct py_heap h;
    py_heap_plan(l, &f.roots, &h);
    struct counters c;
    memset(&c, 0, sizeof c);
    CHECK_INT(py_heap_read(&h, &f.mem.base, &c), 0, "garbage: read");
    /* One bad value says the structure is not what it seems: its
     * neighbours are not trusted either. */
    CHECK(!counters_has(&c, CTR_GC_COUNT0) && !counters_has(&c, CTR_GC_COUNT1) &&
          !counters_has(&c, CTR_GC_COUNT2), "garbage: a negative count leaves the counts out");
    CHECK(!counters_has(&c, CTR_GC_COLLECTIONS1_TOTAL) && !counters_has(&c, CTR_GC_COLLECTIONS0_TOTAL),
          "garbage: a negative collection count leaves the statistics out");
    CHECK(!counters_has(&c, CTR_GC_COLLECTED_TOTAL), "garbage: a total with a negative part is left out");
    CHECK(!counters_has(&c, CTR_PYMALLOC_ARENAS) && !counters_has(&c, CTR_PYMALLOC_ARENA_BYTES) &&
          !counters_has(&c, CTR_PYMALLOC_ARENAS_PEAK), "garbage: 2^40 arenas are left out");
    CHECK(!counters_has(&c, CTR_PYMALLOC_BLOCKS), "garbage: negative blocks left out");
    CHECK_INT(h.rejected, 3, "garbage: each refusal counted");

    /* The high-water mark is written after the count: never show less. */
    f.narenas = 12;
    f.high = 11;
    memset(&c, 0, sizeof c);
    py_heap_read(&h, &f.mem.base, &c);
    CHECK_INT(c.value[CTR_PYMALLOC_ARENAS_PEAK], 12, "garbage: peak is at least the current count");

    /* Counts past what the thresholds allow; totals that go down. */
    put32(f.gens + l->gc_generation_size + l->gc_generation_count, 3);
    put64(f.stats + 2 * l->gc_stats_size + l->gc_stats_collected, 1);
    put64(f.stats + l->gc_stats_size + l->gc_stats_collections, 7);
    memset(&c, 0, sizeof c);
    py_heap_read(&h, &f.mem.base, &c);
    CHECK(counters_has(&c, CTR_GC_COUNT1) && counters_has(&c, CTR_GC_COLLECTIONS1_TOTAL),
          "garbage: sane values read again");
    put32(f.gens + 2 * l->gc_generation_size + l->gc_generation_count, 10 * 1000 * 1000);
    put64(f.stats + l->gc_stats_size + l->gc_stats_collections, 6);
    uint64_t before = h.rejected;
    memset(&c, 0, sizeof c);
    py_heap_read(&h, &f.mem.base, &c);
    CHECK(!counters_has(&c, CTR_GC_COUNT2) && !counters_has(&c, CTR_GC_COUNT0),
          "garbage: an older generation's count far past its threshold is no count");
    CHECK(!counters_has(&c, CTR_GC_COLLECTIONS1_TOTAL) && counters_has(&c, CTR_GC_COLLECTIONS0_TOTAL),
          "garbage: a collection total that went down is left out");
    CHECK_INT(h.rejected - before, 2, "garbage: both counted");
    put32(f.gens + l->gc_generation_threshold, -1);
    put32(f.gens + 2 * l->gc_generation_size + l->gc_generation_count, 1);
    memset(&c, 0, sizeof c);
    py_heap_read(&h, &f.mem.base, &c);
    CHECK(!counters_has(&c, CTR_GC_COUNT0), "garbage: a negative threshold is no threshold");
    fake_free(&f);
}

/* Free-threaded: generation 0 below zero is a real count there (threads
 * add their allocations in batches); it is unavailable, its neighbours
 * read, and nothing is counted as refused. A build with the GIL refuses it. */
static void test_free_threaded_gen0(void)
{
    const struct py_layout *l = py_layout_for_build(3, 13, 1);
    struct fake f;
    if (!l || fake_build(&f, l) != 0) {
        CHECK(0, "3.13t fake interpreter");
        return;
    }
    uint8_t *gens = f.is + l->interp_gc + l->gc_generations;
    put32(gens + l->gc_generation_count, -40);
    struct py_heap h;
    py_heap_plan(l, &f.roots, &h);
    struct counters c;
    memset(&c, 0, sizeof c);
    CHECK_INT(py_heap_read(&h, &f.mem.base, &c), 0, "3.13t gen0 below zero: read");
    CHECK(!counters_has(&c, CTR_GC_COUNT0), "3.13t gen0 below zero: unavailable");
    CHECK(counters_has(&c, CTR_GC_COUNT1) && c.value[CTR_GC_COUNT1] == 22 &&
          counters_has(&c, CTR_GC_COUNT2) && c.value[CTR_GC_COUNT2] == 33,
          "3.13t gen0 below zero: gen1 and gen2 read");
    CHECK_INT(h.rejected, 0, "3.13t gen0 below zero: not a refusal");
    put32(gens + 2 * l->gc_generation_size + l->gc_generation_count, -1);
    memset(&c, 0, sizeof c);
    py_heap_read(&h, &f.mem.base, &c);
    CHECK(!counters_has(&c, CTR_GC_COUNT1) && h.rejected == 1,
          "3.13t: an older generation below zero is still refused");
    fake_free(&f);

    const struct py_layout *g = py_layout_for(3, 13);
    if (!g || fake_build(&f, g) != 0) {
        CHECK(0, "3.13 fake interpreter");
        return;
    }
    put32(f.is + g->interp_gc + g->gc_generations + g->gc_generation_count, -40);
    py_heap_plan(g, &f.roots, &h);
    memset(&c, 0, sizeof c);
    py_heap_read(&h, &f.mem.base, &c);
    CHECK(!counters_has(&c, CTR_GC_COUNT1) && h.rejected == 1,
          "3.13 with the GIL: gen0 below zero refused");
    fake_free(&f);
}

static void test_unreadable(void)
{
    const struct py_layout *l = py_layout_for(3, 11);
    struct fake f;
    if (!l || fake_build(&f, l) != 0) {
        CHECK(0, "3.11 fake interpreter");
        return;
    }
    struct py_heap_roots r = f.roots;
    r.interp = 0x7f0000000000ULL;   /* not in the fake memory */
    struct py_heap h;
    py_heap_plan(l, &r, &h);
    struct counters c;
    memset(&c, 0, sizeof c);
    CHECK_INT(py_heap_read(&h, &f.mem.base, &c), 0, "unreadable GC state: still 0");
    CHECK(!counters_has(&c, CTR_GC_COUNT0) && counters_has(&c, CTR_PYMALLOC_ARENAS),
          "unreadable GC state: GC left out, arenas read");

    r.narenas = r.narenas_highwater = 0x7f0000000000ULL;
    py_heap_plan(l, &r, &h);
    memset(&c, 0, sizeof c);
    counters_set(&c, CTR_RSS, 1);
    int rc = py_heap_read(&h, &f.mem.base, &c);
    CHECK(rc < 0, "nothing readable: an error");
    CHECK(c.valid == 1ULL << CTR_RSS, "nothing readable: out untouched");

    /* No roots at all: nothing available, nothing read. */
    memset(&r, 0, sizeof r);
    py_heap_plan(l, &r, &h);
    CHECK_INT(h.available, 0, "no roots: nothing available");
    unsigned long reads = f.mem.base.reads;
    CHECK_INT(py_heap_read(&h, &f.mem.base, &c), 0, "no roots: read is a no-op");
    CHECK_INT(f.mem.base.reads, reads, "no roots: no read at all");

    /* A layout from a newer version's debug offsets, with the GC inside
     * unknown: GC counters unavailable, not guessed. */
    struct py_layout odd = *l;
    odd.gc_generation_size = -1;
    odd.gc_stats_size = -1;
    py_heap_plan(&odd, &f.roots, &h);
    CHECK(!(h.available & (1ULL << CTR_GC_COUNT0)) && !(h.available & (1ULL << CTR_GC_COLLECTED_TOTAL)),
          "unknown GC structs: unavailable");
    odd = *l;
    odd.gc_generation_size = 100000;
    py_heap_plan(&odd, &f.roots, &h);
    CHECK(!(h.available & (1ULL << CTR_GC_COUNT0)), "absurd generation size: refused");
    fake_free(&f);
}

int main(void)
{
    UNIT_RUN(test_fields);
    UNIT_RUN(test_read_every_version);
    UNIT_RUN(test_garbage);
    UNIT_RUN(test_free_threaded_gen0);
    UNIT_RUN(test_unreadable);
    return unit_done();
}
