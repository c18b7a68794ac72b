#include "config.h"

#include "proc/memsrc.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

int mem_read_u64(struct mem_source *src, uint64_t addr, uint64_t *out)
{
    uint64_t v;
    int rc = mem_read(src, addr, &v, sizeof v);
    if (rc == 0)
        *out = v;
    return rc;
}

int mem_read_i32(struct mem_source *src, uint64_t addr, int32_t *out)
{
    int32_t v;
    int rc = mem_read(src, addr, &v, sizeof v);
    if (rc == 0)
        *out = v;
    return rc;
}

void mem_readv(struct mem_source *src, struct mem_iov *iov, size_t n)
{
    if (n == 0)
        return;
    src->reads++;
    if (src->readv) {
        src->readv(src, iov, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        iov[i].ok = src->read(src, iov[i].addr, iov[i].buf, iov[i].len) == 0;
}

static int live_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    struct live_mem *m = (struct live_mem *)src;
    if (len == 0)
        return 0;
    if (addr == 0 || addr + len < addr)
        return -EFAULT;
    struct iovec local = { .iov_base = buf, .iov_len = len };
    struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
    ssize_t n = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
    if (n < 0)
        return -errno;
    /* A partial read means the range crosses into an unmapped page. */
    if ((size_t)n != len)
        return -EFAULT;
    return 0;
}

/* The kernel takes up to IOV_MAX pieces per call; 256 keeps the arrays on
 * the stack. A short total means some piece failed: those few are then
 * read one by one to find which. */
#define LIVE_READV_BATCH 256

static void live_readv(struct mem_source *src, struct mem_iov *iov, size_t n)
{
    struct live_mem *m = (struct live_mem *)src;
    struct iovec local[LIVE_READV_BATCH], remote[LIVE_READV_BATCH];
    for (size_t start = 0; start < n; start += LIVE_READV_BATCH) {
        size_t count = n - start < LIVE_READV_BATCH ? n - start : LIVE_READV_BATCH;
        size_t total = 0;
        for (size_t i = 0; i < count; i++) {
            struct mem_iov *p = &iov[start + i];
            local[i].iov_base = p->buf;
            local[i].iov_len = p->len;
            remote[i].iov_base = (void *)(uintptr_t)p->addr;
            remote[i].iov_len = p->len;
            total += p->len;
        }
        ssize_t got = process_vm_readv(m->pid, local, count, remote, count, 0);
        for (size_t i = 0; i < count; i++) {
            struct mem_iov *p = &iov[start + i];
            if (got >= 0 && (size_t)got == total)
                p->ok = 1;
            else
                p->ok = live_read(src, p->addr, p->buf, p->len) == 0;
        }
    }
}

void live_mem_init(struct live_mem *m, pid_t pid)
{
    memset(m, 0, sizeof *m);
    m->base.read = live_read;
    m->base.readv = live_readv;
    m->pid = pid;
}

static int fake_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    struct fake_mem *m = (struct fake_mem *)src;
    if (addr + len < addr)
        return -EFAULT;
    for (size_t i = 0; i < m->count; i++) {
        uint64_t start = m->regions[i].addr;
        size_t rlen = m->regions[i].len;
        if (addr >= start && addr - start <= rlen && len <= rlen - (addr - start)) {
            memcpy(buf, (const char *)m->regions[i].data + (addr - start), len);
            return 0;
        }
    }
    return -EFAULT;
}

void fake_mem_init(struct fake_mem *m)
{
    memset(m, 0, sizeof *m);
    m->base.read = fake_read;
}

int fake_mem_add(struct fake_mem *m, uint64_t addr, const void *data, size_t len)
{
    if (m->count >= FAKE_MEM_MAX_REGIONS)
        return -ENOSPC;
    m->regions[m->count].addr = addr;
    m->regions[m->count].data = data;
    m->regions[m->count].len = len;
    m->count++;
    return 0;
}
