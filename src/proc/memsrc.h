/* Where remote memory comes from.
 *
 * Every reader of interpreter structures goes through a mem_source, so the
 * same decoding code runs on a live process (process_vm_readv) and, in the
 * unit tests and fuzzers, on structures built in local memory. A read either
 * fills the whole buffer and returns 0, or returns a negative error
 * (-EFAULT for an unmapped address, -ESRCH when the process is gone). */
#ifndef PYTOP_PROC_MEMSRC_H
#define PYTOP_PROC_MEMSRC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One piece of a batched read: ok is set to 1 when it was read whole. */
struct mem_iov {
    uint64_t addr;
    void *buf;
    size_t len;
    int ok;
};

struct mem_snap;

struct mem_source {
    int (*read)(struct mem_source *src, uint64_t addr, void *buf, size_t len);
    /* Optional: many pieces at once (one system call for a live process). */
    void (*readv)(struct mem_source *src, struct mem_iov *iov, size_t n);
    unsigned long reads;        /* reads and batches that reached read/readv */
    struct mem_snap *snap;      /* optional replay of the last sample's reads */
};

int mem_snap_read(struct mem_source *src, uint64_t addr, void *buf, size_t len);
int mem_snap_read_part(struct mem_source *src, uint64_t addr, void *buf, size_t need,
                       size_t whole);

static inline int mem_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    if (src->snap)
        return mem_snap_read(src, addr, buf, len);
    src->reads++;
    return src->read(src, addr, buf, len);
}

/* The first need bytes of the range [addr, addr + whole): only they are
 * read (or, from a snapshot, copied), but a snapshot remembers the whole
 * range for the next sample's batch, so that a read further into it then
 * (a stack grown by a frame) is served too. whole >= need. */
static inline int mem_read_part(struct mem_source *src, uint64_t addr, void *buf, size_t need,
                                size_t whole)
{
    if (src->snap)
        return mem_snap_read_part(src, addr, buf, need, whole < need ? need : whole);
    src->reads++;
    return src->read(src, addr, buf, need);
}

/* A plausible address of a heap object in a 64-bit user space: non-null,
 * 8-aligned and canonical. Checked before following any remote pointer. */
static inline int mem_ptr_plausible(uint64_t p)
{
    return p >= 4096 && (p & 7) == 0 && p < (1ULL << 47);
}

/* Read n pieces, setting each one's ok; pieces that fail leave others
 * unaffected. */
void mem_readv(struct mem_source *src, struct mem_iov *iov, size_t n);

int mem_read_u64(struct mem_source *src, uint64_t addr, uint64_t *out);
int mem_read_i32(struct mem_source *src, uint64_t addr, int32_t *out);

/* Replay: a sample mostly reads what the previous one read (the same
 * interpreter, thread states, chunks and frames). A source with a
 * mem_snap attached remembers, between mem_sample_begin and
 * mem_sample_end, the ranges read whole (up to MEM_SNAP_MAX_RANGES,
 * MEM_SNAP_MAX_BYTES in all); the next mem_sample_begin fetches them all
 * in one batched read (one process_vm_readv), and reads of that sample
 * lying wholly inside a fetched range are copied from it. Anything else
 * (a new frame, a new chunk, a range the batch could not read) is read as
 * without a snapshot. The bytes served are the target's at the start of
 * the sample, to be checked like any read: a snapshot never serves what
 * was not read whole. Outside a sample, reads pass through. */
#define MEM_SNAP_MAX_RANGES 1024
#define MEM_SNAP_MAX_BYTES (4u << 20)

struct mem_snap_range {
    uint64_t addr;
    size_t len;
    size_t off;                 /* into buf */
    int ok;                     /* fetched whole */
};

struct mem_snap {
    int active;                 /* inside a sample */
    int serving;                /* the snapshot may answer reads */
    struct mem_snap_range *have;   /* fetched at this sample's start */
    struct mem_snap_range *want;   /* read in this sample, for the next */
    size_t nhave, nwant, want_bytes;
    size_t next;                /* where the next search of have starts */
    int stale;                  /* a read missed since the last fetch */
    unsigned refetches;         /* fetches after a miss in this sample */
    uint8_t *buf;
    size_t buf_cap;
    struct mem_iov *iov, *miss;    /* a fetch's pieces; a readv's misses */
    /* Statistics: reads answered from the snapshot, reads that were not,
     * batches fetched, ranges a batch could not read. */
    unsigned long hits, misses, batches, failed;
};

/* Give src a snapshot (zeroed here; src reads through it from the next
 * mem_sample_begin). */
void mem_snap_attach(struct mem_source *src, struct mem_snap *snap);
void mem_snap_release(struct mem_snap *snap);

/* Start a sample: fetch the previous sample's ranges in one batch. No-op
 * without a snapshot. */
void mem_sample_begin(struct mem_source *src);
/* The rest of this sample reads the target as it is now (a walk read
 * again because the stack moved under it must not see the same bytes). */
void mem_sample_fresh(struct mem_source *src);
void mem_sample_end(struct mem_source *src);

/* Live process memory via process_vm_readv. Never stops the target. */
struct live_mem {
    struct mem_source base;
    pid_t pid;
};

void live_mem_init(struct live_mem *m, pid_t pid);

/* Local regions posing as remote addresses, for tests and fuzzing. A read is
 * served only when it lies entirely inside one registered region. */
#define FAKE_MEM_MAX_REGIONS 64
struct fake_mem {
    struct mem_source base;
    size_t count;
    struct {
        uint64_t addr;
        const void *data;   /* borrowed, must outlive the fake_mem */
        size_t len;
    } regions[FAKE_MEM_MAX_REGIONS];
};

void fake_mem_init(struct fake_mem *m);
/* Returns 0, or -ENOSPC when all regions are used. */
int fake_mem_add(struct fake_mem *m, uint64_t addr, const void *data, size_t len);

#endif
