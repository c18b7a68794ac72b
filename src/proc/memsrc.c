#include "config.h"

#include "proc/memsrc.h"

#include <errno.h>
#include <stdlib.h>
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

/* Straight to the source, with no snapshot. */
static void raw_readv(struct mem_source *src, struct mem_iov *iov, size_t n)
{
    src->reads++;
    if (src->readv) {
        src->readv(src, iov, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        iov[i].ok = src->read(src, iov[i].addr, iov[i].buf, iov[i].len) == 0;
}

static void snap_readv(struct mem_source *src, struct mem_iov *iov, size_t n);

void mem_readv(struct mem_source *src, struct mem_iov *iov, size_t n)
{
    if (n == 0)
        return;
    if (src->snap && src->snap->active)
        snap_readv(src, iov, n);
    else
        raw_readv(src, iov, n);
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

/* The kernel takes up to UIO_MAXIOV (1024) pieces per call. It copies
 * them in order and stops at the first it cannot read whole, returning
 * the bytes copied so far (or -1 with EFAULT when that is the first): the
 * pieces wholly inside that prefix were read, the one it stopped at was
 * not, and the call is made again from the one after. So a batch with an
 * unreadable piece costs a call more per such piece, never a wrong byte. */
#define LIVE_READV_BATCH 1024

static void live_readv(struct mem_source *src, struct mem_iov *iov, size_t n)
{
    struct live_mem *m = (struct live_mem *)src;
    static _Thread_local struct iovec local[LIVE_READV_BATCH], remote[LIVE_READV_BATCH];
    for (size_t i = 0; i < n; i++)
        iov[i].ok = 0;
    size_t start = 0;
    while (start < n) {
        size_t count = n - start < LIVE_READV_BATCH ? n - start : LIVE_READV_BATCH;
        for (size_t i = 0; i < count; i++) {
            struct mem_iov *p = &iov[start + i];
            local[i].iov_base = p->buf;
            local[i].iov_len = p->len;
            remote[i].iov_base = (void *)(uintptr_t)p->addr;
            remote[i].iov_len = p->len;
        }
        ssize_t got = process_vm_readv(m->pid, local, count, remote, count, 0);
        if (got < 0 && errno != EFAULT)
            return;   /* gone or not allowed: every piece left fails */
        size_t done = 0, i = 0;
        for (; got >= 0 && i < count && iov[start + i].len <= (size_t)got - done; i++) {
            iov[start + i].ok = 1;
            done += iov[start + i].len;
        }
        /* Piece i (if any) stopped the copy. */
        start += i < count ? i + 1 : count;
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

/* ---- replay of the last sample's reads -------------------------------------------------- */

void mem_snap_attach(struct mem_source *src, struct mem_snap *snap)
{
    memset(snap, 0, sizeof *snap);
    src->snap = snap;
}

void mem_snap_release(struct mem_snap *snap)
{
    free(snap->have);
    free(snap->want);
    free(snap->buf);
    free(snap->iov);
    free(snap->miss);
    memset(snap, 0, sizeof *snap);
}

static int range_holds(const struct mem_snap_range *r, uint64_t addr, size_t len)
{
    return addr >= r->addr && addr - r->addr <= r->len && len <= r->len - (addr - r->addr);
}

/* Ranges a new one is compared with before it is remembered: a walk reads
 * a range again soon after, if at all (a frame in its chunk's copy, a
 * field of a thread state), and a range remembered twice costs only its
 * copy; comparing with all would make a deep walk quadratic. */
#define SNAP_RECORD_LOOKBACK 8

/* Remember a range read whole in this sample, for the next one's batch.
 * Ranges inside one of the last remembered are not added again. */
static void snap_record(struct mem_snap *sn, uint64_t addr, size_t len)
{
    if (len == 0 || sn->nwant >= MEM_SNAP_MAX_RANGES || len > MEM_SNAP_MAX_BYTES - sn->want_bytes)
        return;
    for (size_t i = sn->nwant, k = 0; i-- > 0 && k < SNAP_RECORD_LOOKBACK; k++)
        if (range_holds(&sn->want[i], addr, len))
            return;
    struct mem_snap_range *r = &sn->want[sn->nwant++];
    r->addr = addr;
    r->len = len;
    r->off = 0;
    r->ok = 0;
    sn->want_bytes += len;
}

/* Fetch the snapshot's ranges from index `from` on, in one batch. */
static void snap_fetch(struct mem_source *src, struct mem_snap *sn, size_t from)
{
    size_t n = 0;
    for (size_t i = from; i < sn->nhave; i++, n++) {
        struct mem_snap_range *r = &sn->have[i];
        sn->iov[n].addr = r->addr;
        sn->iov[n].buf = sn->buf + r->off;
        sn->iov[n].len = r->len;
        sn->iov[n].ok = 0;
    }
    raw_readv(src, sn->iov, n);
    for (size_t i = from; i < sn->nhave; i++)
        sn->have[i].ok = sn->iov[i - from].ok;
}

/* The bytes at addr from the snapshot, or NULL when no range fetched
 * whole holds all len of them. A walk reads in the order the last one
 * did: the search starts at the range after the last one found.
 *
 * Bytes served are never older than any read before them in the sample,
 * as with reads one by one: a walk that read a new frame (a miss) and
 * follows its link back into the snapshot must not find the caller as it
 * was before the miss (freed and reused since, on a stack that moves
 * fast). So the first hit after a miss, or on a range fetched before the
 * last one served (read in another order than the last sample did),
 * fetches the snapshot's ranges from there on again, in one batch; after
 * SNAP_REFETCH_MAX of those in a sample, reads go to the source. */
#define SNAP_REFETCH_MAX 4

static const uint8_t *snap_find(struct mem_source *src, uint64_t addr, size_t len)
{
    struct mem_snap *sn = src->snap;
    if (!sn->serving || sn->nhave == 0)
        return NULL;
    size_t start = sn->next < sn->nhave ? sn->next : 0;
    for (size_t k = 0; k < sn->nhave; k++) {
        size_t i = start + k < sn->nhave ? start + k : start + k - sn->nhave;
        struct mem_snap_range *r = &sn->have[i];
        if (!range_holds(r, addr, len))
            continue;
        if (sn->stale || i + 1 < sn->next) {
            if (sn->refetches >= SNAP_REFETCH_MAX) {
                sn->serving = 0;
                return NULL;
            }
            /* Ranges before this one stay as fetched, older than the
             * miss: they are not served again. */
            sn->refetches++;
            sn->stale = 0;
            for (size_t j = 0; j < i; j++)
                sn->have[j].ok = 0;
            snap_fetch(src, sn, i);
        }
        if (!r->ok)
            continue;
        sn->next = i + 1;
        return sn->buf + r->off + (addr - r->addr);
    }
    return NULL;
}

int mem_snap_read_part(struct mem_source *src, uint64_t addr, void *buf, size_t need,
                       size_t whole)
{
    struct mem_snap *sn = src->snap;
    if (!sn->active || need == 0 || addr + whole < addr) {
        src->reads++;
        return src->read(src, addr, buf, need);
    }
    const uint8_t *p = snap_find(src, addr, need);
    if (p) {
        memcpy(buf, p, need);
        sn->hits++;
        snap_record(sn, addr, whole);
        return 0;
    }
    sn->misses++;
    sn->stale = 1;
    src->reads++;
    int rc = src->read(src, addr, buf, need);
    if (rc == 0)
        snap_record(sn, addr, whole);
    return rc;
}

int mem_snap_read(struct mem_source *src, uint64_t addr, void *buf, size_t len)
{
    return mem_snap_read_part(src, addr, buf, len, len);
}

static void snap_readv(struct mem_source *src, struct mem_iov *iov, size_t n)
{
    struct mem_snap *sn = src->snap;
    /* The misses, read together. */
    size_t nmiss = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = iov[i].addr + iov[i].len >= iov[i].addr
                               ? snap_find(src, iov[i].addr, iov[i].len) : NULL;
        if (p) {
            memcpy(iov[i].buf, p, iov[i].len);
            iov[i].ok = 1;
            sn->hits++;
            snap_record(sn, iov[i].addr, iov[i].len);
            continue;
        }
        sn->misses++;
        if (nmiss < MEM_SNAP_MAX_RANGES) {
            sn->miss[nmiss++] = iov[i];
            iov[i].ok = -1;   /* in the batch below */
        } else {
            src->reads++;
            sn->stale = 1;
            iov[i].ok = src->read(src, iov[i].addr, iov[i].buf, iov[i].len) == 0;
            if (iov[i].ok)
                snap_record(sn, iov[i].addr, iov[i].len);
        }
    }
    if (nmiss == 0)
        return;
    /* Read after this call's hits: a hit later in the sample is newer. */
    sn->stale = 1;
    raw_readv(src, sn->miss, nmiss);
    /* Back to the caller's pieces, in the same order. */
    size_t k = 0;
    for (size_t i = 0; i < n && k < nmiss; i++) {
        if (iov[i].ok != -1)
            continue;
        iov[i].ok = sn->miss[k].ok;
        if (iov[i].ok)
            snap_record(sn, iov[i].addr, iov[i].len);
        k++;
    }
}

void mem_sample_begin(struct mem_source *src)
{
    struct mem_snap *sn = src->snap;
    if (!sn)
        return;
    sn->active = 0;
    if (!sn->have) {
        sn->have = calloc(MEM_SNAP_MAX_RANGES, sizeof *sn->have);
        sn->want = calloc(MEM_SNAP_MAX_RANGES, sizeof *sn->want);
        sn->iov = calloc(MEM_SNAP_MAX_RANGES, sizeof *sn->iov);
        sn->miss = calloc(MEM_SNAP_MAX_RANGES, sizeof *sn->miss);
        if (!sn->have || !sn->want || !sn->iov || !sn->miss) {
            mem_snap_release(sn);   /* no snapshot: reads pass through */
            return;
        }
    }
    struct mem_snap_range *t = sn->have;
    sn->have = sn->want;
    sn->want = t;
    sn->nhave = sn->nwant;
    sn->nwant = 0;
    size_t bytes = sn->want_bytes;
    sn->want_bytes = 0;
    if (bytes > sn->buf_cap) {
        uint8_t *b = realloc(sn->buf, bytes);
        if (b) {
            sn->buf = b;
            sn->buf_cap = bytes;
        } else {
            sn->nhave = 0;
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < sn->nhave; i++) {
        struct mem_snap_range *r = &sn->have[i];
        r->off = off;
        r->ok = 0;
        off += r->len;
    }
    if (sn->nhave) {
        snap_fetch(src, sn, 0);
        sn->batches++;
        for (size_t i = 0; i < sn->nhave; i++)
            sn->failed += !sn->have[i].ok;
    }
    sn->next = 0;
    sn->stale = 0;
    sn->refetches = 0;
    sn->active = 1;
    sn->serving = 1;
}

void mem_sample_fresh(struct mem_source *src)
{
    if (src->snap)
        src->snap->serving = 0;
}

void mem_sample_end(struct mem_source *src)
{
    if (src->snap)
        src->snap->active = 0;
}
