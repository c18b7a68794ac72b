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

struct mem_source {
    int (*read)(struct mem_source *src, uint64_t addr, void *buf, size_t len);
    /* Optional: many pieces at once (one system call for a live process). */
    void (*readv)(struct mem_source *src, struct mem_iov *iov, size_t n);
    unsigned long reads;        /* number of read calls, for statistics */
};

static inline int mem_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    src->reads++;
    return src->read(src, addr, buf, len);
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
