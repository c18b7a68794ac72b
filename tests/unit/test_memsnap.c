#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proc/memsrc.h"
#include "unit.h"

/* The replay of a sample's reads (memsrc.h): a source over local regions
 * that counts what reaches it, and can be told to fail one address, as a
 * range freed in the target since the last sample. */
struct counting {
    struct mem_source base;
    struct fake_mem fake;
    unsigned reads, readvs, pieces;
    uint64_t fail_addr;
};

static int counting_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    struct counting *c = (struct counting *)src;
    c->reads++;
    if (c->fail_addr && addr <= c->fail_addr && c->fail_addr - addr < len)
        return -EFAULT;
    return mem_read(&c->fake.base, addr, buf, len);
}

/* Like process_vm_readv: pieces in order, none after the first that fails. */
static void counting_readv(struct mem_source *src, struct mem_iov *iov, size_t n)
{
    struct counting *c = (struct counting *)src;
    c->readvs++;
    int stopped = 0;
    for (size_t i = 0; i < n; i++) {
        c->pieces++;
        iov[i].ok = 0;
        if (stopped)
            continue;
        iov[i].ok = counting_read(src, iov[i].addr, iov[i].buf, iov[i].len) == 0;
        c->reads--;   /* counted as part of the batch */
        stopped = !iov[i].ok;
    }
}

static uint8_t region_a[256], region_b[64], region_c[4096];
#define A 0x10000u
#define B 0x20000u
#define C 0x30000u

static void counting_init(struct counting *c, struct mem_snap *snap)
{
    memset(c, 0, sizeof *c);
    c->base.read = counting_read;
    c->base.readv = counting_readv;
    fake_mem_init(&c->fake);
    fake_mem_add(&c->fake, A, region_a, sizeof region_a);
    fake_mem_add(&c->fake, B, region_b, sizeof region_b);
    fake_mem_add(&c->fake, C, region_c, sizeof region_c);
    for (size_t i = 0; i < sizeof region_a; i++)
        region_a[i] = (uint8_t)i;
    memset(region_b, 0xbb, sizeof region_b);
    memset(region_c, 0xcc, sizeof region_c);
    mem_snap_attach(&c->base, snap);
}

static void test_hits_and_misses(void)
{
    struct counting c;
    struct mem_snap snap;
    counting_init(&c, &snap);
    uint8_t buf[256];
    uint64_t v;

    /* First sample: nothing to replay, every read goes through. */
    mem_sample_begin(&c.base);
    CHECK_INT(c.readvs, 0, "no batch before anything was read");
    CHECK_INT(mem_read(&c.base, A, buf, 64), 0, "first read of A");
    CHECK_INT(mem_read_u64(&c.base, B + 8, &v), 0, "first read of B");
    CHECK_INT(mem_read(&c.base, A + 8, buf, 16), 0, "a range inside one read this sample");
    mem_sample_end(&c.base);
    CHECK_INT(c.reads, 3, "three reads reached the source");
    CHECK_INT(snap.hits, 0, "no hits in the first sample");

    /* Second sample: one batch, then the same reads are answered from it. */
    c.reads = 0;
    region_a[5] = 0x55;   /* the target moves on before the next sample */
    mem_sample_begin(&c.base);
    CHECK_INT(c.readvs, 1, "one batch at the start of the sample");
    CHECK_INT(c.pieces, 2, "the batch holds the two ranges read (the inner one folded in)");
    region_a[5] = 0x66;   /* ... and during it */
    memset(buf, 0, sizeof buf);
    CHECK_INT(mem_read(&c.base, A, buf, 64), 0, "A again");
    CHECK_INT(buf[5], 0x55, "A as it was at the start of the sample");
    CHECK_INT(buf[63], 63, "all of A copied");
    CHECK_INT(mem_read(&c.base, A + 60, buf, 4), 0, "part of A");
    CHECK_INT(buf[0], 60, "part of A from the snapshot");
    CHECK_INT(mem_read_u64(&c.base, B + 8, &v), 0, "B again");
    CHECK_INT(v, 0xbbbbbbbbbbbbbbbbull, "B's bytes");
    CHECK_INT(c.reads, 0, "nothing read but the batch");
    CHECK_INT(snap.hits, 3, "three hits");

    /* A range not wholly inside one fetched: read as usual. */
    CHECK_INT(mem_read(&c.base, A + 60, buf, 8), 0, "A's end and beyond what was fetched");
    CHECK_INT(c.reads, 1, "a range crossing a fetched one's end is a miss");
    CHECK_INT(buf[7], 67, "the bytes past the fetched range");
    CHECK_INT(mem_read(&c.base, C, buf, 32), 0, "a new range");
    CHECK_INT(c.reads, 2, "a new range is a miss");

    /* Batched reads: hits copied, misses read together. */
    uint8_t x[8], y[8], z[8];
    struct mem_iov iov[3] = {
        { A, x, 8, 0 }, { C + 1024, y, 8, 0 }, { B, z, 8, 0 },
    };
    unsigned readvs = c.readvs;
    mem_readv(&c.base, iov, 3);
    CHECK(iov[0].ok == 1 && iov[1].ok == 1 && iov[2].ok == 1, "every piece of a readv read");
    /* A was a hit, but after misses: the snapshot from A on is fetched
     * again first (2 pieces), then the two misses in one batch. */
    CHECK_INT(c.readvs - readvs, 2, "a fetch again after the misses, and the misses in one batch");
    CHECK_INT(c.pieces, 6, "two pieces in each");
    CHECK_INT(x[5], 0x66, "a hit after a miss is not older than the miss");
    CHECK_INT(y[0], 0xcc, "the miss's bytes");

    /* After mem_sample_fresh, the target as it is now. */
    mem_sample_fresh(&c.base);
    CHECK_INT(mem_read(&c.base, A, buf, 8), 0, "A read fresh");
    CHECK_INT(buf[5], 0x66, "a fresh read sees the change");
    mem_sample_end(&c.base);

    /* Outside a sample: straight through, nothing remembered. */
    c.reads = 0;
    CHECK_INT(mem_read(&c.base, C + 2048, buf, 8), 0, "a read between samples");
    CHECK_INT(c.reads, 1, "it reached the source");
    c.pieces = 0;
    mem_sample_begin(&c.base);
    CHECK_INT(c.pieces, 6, "next batch: this sample's ranges, not the one between samples");
    mem_sample_end(&c.base);
    mem_snap_release(&snap);
}

/* A range the batch cannot read (freed since) and the ones after it: read
 * on their own, never served from stale or unread bytes. */
static void test_partial_batch(void)
{
    struct counting c;
    struct mem_snap snap;
    counting_init(&c, &snap);
    uint8_t buf[64];
    mem_sample_begin(&c.base);
    mem_read(&c.base, A, buf, 16);
    mem_read(&c.base, B, buf, 16);
    mem_read(&c.base, C, buf, 16);
    mem_sample_end(&c.base);

    c.fail_addr = B + 4;
    c.reads = 0;
    mem_sample_begin(&c.base);
    CHECK_INT(snap.failed, 2, "the batch stopped at B: B and C not fetched");
    memset(buf, 0, sizeof buf);
    CHECK_INT(mem_read(&c.base, A, buf, 16), 0, "A before the failure");
    CHECK_INT(buf[1], 1, "A's bytes");
    CHECK_INT(c.reads, 0, "A served from the batch");
    unsigned readvs = c.readvs;
    CHECK_INT(mem_read(&c.base, B, buf, 16), -EFAULT, "B fails as a read fails");
    CHECK_INT(c.reads, 1, "B read on its own");
    CHECK_INT(mem_read(&c.base, C, buf, 16), 0, "C after the failure");
    CHECK_INT(buf[0], 0xcc, "C's bytes");
    CHECK_INT(c.readvs - readvs, 1, "C fetched again (after a miss), in a batch");
    CHECK_INT(c.reads, 1, "and not read on its own");
    mem_sample_end(&c.base);

    /* B is not asked for again in the next batch. */
    c.fail_addr = 0;
    c.pieces = 0;
    mem_sample_begin(&c.base);
    CHECK_INT(c.pieces, 2, "a range that failed is not in the next batch");
    CHECK_INT(snap.failed, 2, "and nothing more failed");
    mem_sample_end(&c.base);
    mem_snap_release(&snap);
}

/* The live source reads this process: a page unmapped in the middle of a
 * batch fails that piece alone (the kernel stops at it; the call resumes
 * after it). */
static void test_live_partial(void)
{
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *m = mmap(NULL, (size_t)page * 3, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        CHECK(0, "mmap for the live test");
        return;
    }
    memset(m, 0x11, (size_t)page);
    memset(m + 2 * page, 0x33, (size_t)page);
    munmap(m + page, (size_t)page);
    struct live_mem lm;
    live_mem_init(&lm, getpid());
    uint64_t base = (uint64_t)(uintptr_t)m;
    uint8_t a[8], b[8], s[16], d[8];
    struct mem_iov iov[4] = {
        { base, a, 8, 0 },
        { base + (uint64_t)page, b, 8, 0 },            /* unmapped */
        { base + (uint64_t)page - 8, s, 16, 0 },       /* straddles into it */
        { base + 2 * (uint64_t)page, d, 8, 0 },
    };
    mem_readv(&lm.base, iov, 4);
    CHECK(iov[0].ok && !iov[1].ok && !iov[2].ok && iov[3].ok,
          "live batch: only the pieces in unmapped memory fail");
    CHECK(a[0] == 0x11 && d[7] == 0x33, "live batch: the others read");

    /* Through a snapshot: the unmapped range was readable last sample. */
    struct mem_snap snap;
    mem_snap_attach(&lm.base, &snap);
    uint8_t *n = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (n == MAP_FAILED) {
        CHECK(0, "mmap for the live snapshot test");
        munmap(m, (size_t)page);
        munmap(m + 2 * page, (size_t)page);
        return;
    }
    memset(n, 0x22, (size_t)page);
    mem_sample_begin(&lm.base);
    CHECK_INT(mem_read(&lm.base, base, a, 8), 0, "live: first range");
    CHECK_INT(mem_read(&lm.base, (uint64_t)(uintptr_t)n, b, 8), 0, "live: second range");
    CHECK_INT(mem_read(&lm.base, base + 2 * (uint64_t)page, d, 8), 0, "live: third range");
    mem_sample_end(&lm.base);
    munmap(n, (size_t)page);
    unsigned long reads = lm.base.reads;
    mem_sample_begin(&lm.base);
    CHECK_INT(snap.failed, 1, "live: the freed range alone failed in the batch");
    CHECK_INT(mem_read(&lm.base, base, a, 8), 0, "live: first range again");
    CHECK_INT(mem_read(&lm.base, base + 2 * (uint64_t)page, d, 8), 0, "live: third range again");
    CHECK_INT(lm.base.reads - reads, 1, "live: both served from the batch, either side of the failed piece");
    CHECK_INT(mem_read(&lm.base, (uint64_t)(uintptr_t)n, b, 8), -EFAULT,
              "live: the freed range fails as a read");
    mem_sample_end(&lm.base);
    mem_snap_release(&snap);
    munmap(m, (size_t)page);
    munmap(m + 2 * page, (size_t)page);
}

/* A range fetched before the last one served is fetched again before it
 * is served: read in another order than the last sample read them, the
 * bytes would otherwise go back in time. */
static void test_order(void)
{
    struct counting c;
    struct mem_snap snap;
    counting_init(&c, &snap);
    uint8_t buf[16];
    mem_sample_begin(&c.base);
    mem_read(&c.base, A, buf, 16);
    mem_read(&c.base, B, buf, 16);
    mem_read(&c.base, C, buf, 16);
    mem_sample_end(&c.base);
    c.reads = 0;
    mem_sample_begin(&c.base);
    unsigned readvs = c.readvs;
    region_a[3] = 0x33;
    CHECK_INT(mem_read(&c.base, A, buf, 16), 0, "A");
    CHECK_INT(mem_read(&c.base, C, buf, 16), 0, "C (B skipped)");
    CHECK_INT(c.readvs - readvs, 0, "in the order fetched: no fetch again");
    CHECK_INT(buf[0], 0xcc, "C's bytes");
    CHECK_INT(mem_read(&c.base, B, buf, 16), 0, "B, fetched before C");
    CHECK_INT(c.readvs - readvs, 1, "fetched again from B on");
    CHECK_INT(mem_read(&c.base, A, buf, 16), 0, "A, fetched before B");
    CHECK_INT(c.readvs - readvs, 2, "fetched again from A on");
    CHECK_INT(buf[3], 0x33, "A as it is now");
    CHECK_INT(c.reads, 0, "nothing read on its own");
    mem_sample_end(&c.base);
    mem_snap_release(&snap);
}

/* Part of a range read, the whole remembered: a stack chunk of which the
 * walk needs the bottom, a little more of it at the next sample. */
static void test_read_part(void)
{
    struct counting c;
    struct mem_snap snap;
    counting_init(&c, &snap);
    uint8_t buf[4096];

    mem_sample_begin(&c.base);
    memset(buf, 0, sizeof buf);
    CHECK_INT(mem_read_part(&c.base, C, buf, 100, 4096), 0, "first sample: a part read");
    CHECK(buf[99] == 0xcc && buf[100] == 0, "only the part asked for is written");
    mem_sample_end(&c.base);
    CHECK_INT(c.reads, 1, "one read");

    c.reads = 0;
    region_c[150] = 0x77;
    mem_sample_begin(&c.base);
    CHECK_INT(c.pieces, 1, "the batch fetches the whole range remembered");
    region_c[150] = 0x88;
    memset(buf, 0, sizeof buf);
    CHECK_INT(mem_read_part(&c.base, C, buf, 200, 4096), 0, "next sample: a longer part");
    CHECK_INT(c.reads, 0, "served from the batch, though longer than the part read before");
    CHECK(buf[150] == 0x77 && buf[199] == 0xcc && buf[200] == 0,
          "as it was at the start of the sample, the part asked for only");
    CHECK_INT(snap.hits, 1, "one hit");
    mem_sample_end(&c.base);

    mem_snap_release(&snap);

    /* Without a snapshot, the part alone is read. */
    struct counting plain;
    struct mem_snap unused;
    counting_init(&plain, &unused);
    plain.base.snap = NULL;
    CHECK_INT(mem_read_part(&plain.base, C, buf, 64, 4096), 0, "no snapshot: read");
    CHECK_INT(plain.reads, 1, "no snapshot: one read of the part");
}

/* Bounds: ranges past MEM_SNAP_MAX_RANGES are not remembered, and still read. */
static void test_bounds(void)
{
    struct counting c;
    struct mem_snap snap;
    counting_init(&c, &snap);
    uint8_t v;
    mem_sample_begin(&c.base);
    for (unsigned i = 0; i < MEM_SNAP_MAX_RANGES + 10; i++)
        mem_read(&c.base, C + (i % 4096), &v, 1);
    mem_sample_end(&c.base);
    CHECK_INT(snap.nwant, MEM_SNAP_MAX_RANGES, "ranges remembered up to the bound");
    c.pieces = 0;
    mem_sample_begin(&c.base);
    CHECK_INT(c.readvs, 1, "one batch for all of them");
    CHECK_INT(c.pieces, MEM_SNAP_MAX_RANGES, "the batch is bounded");
    mem_sample_end(&c.base);
    mem_snap_release(&snap);
}

int main(void)
{
    UNIT_RUN(test_hits_and_misses);
    UNIT_RUN(test_partial_batch);
    UNIT_RUN(test_live_partial);
    UNIT_RUN(test_order);
    UNIT_RUN(test_bounds);
    UNIT_RUN(test_read_part);
    return unit_done();
}
