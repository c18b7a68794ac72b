#include "config.h"

#include "python/pthread_tid.h"

#include "proc/tasks.h"

#include <stdlib.h>
#include <string.h>

#define GLIBC_TID_OFFSET 0x2d0

void pthread_tid_map_init(struct pthread_tid_map *m)
{
    m->offset = -1;
    m->tasks = NULL;
    m->ntasks = 0;
}

void pthread_tid_map_release(struct pthread_tid_map *m)
{
    free(m->tasks);
    m->tasks = NULL;
    m->ntasks = 0;
}

static int is_task(pid_t v, const pid_t *tids, size_t ntids)
{
    for (size_t i = 0; i < ntids; i++)
        if (tids[i] == v)
            return 1;
    return 0;
}

/* Do all descriptors hold a distinct task id at off? */
static int offset_fits(int off, uint8_t *const *descs, size_t n, const pid_t *tids,
                       size_t ntids)
{
    for (size_t i = 0; i < n; i++) {
        if (!descs[i])
            return 0;
        int32_t v;
        memcpy(&v, descs[i] + off, sizeof v);
        if (v <= 0 || !is_task(v, tids, ntids))
            return 0;
        for (size_t j = 0; j < i; j++) {
            int32_t w;
            memcpy(&w, descs[j] + off, sizeof w);
            if (w == v)
                return 0;
        }
    }
    return 1;
}

static int find_offset(struct mem_source *src, const uint64_t *pthreads, size_t n,
                       const pid_t *tids, size_t ntids)
{
    /* A handful of descriptors pins the offset down; more only costs reads. */
    size_t use = n < 8 ? n : 8;
    uint8_t *descs[8] = { 0 };
    int found = -1;
    for (size_t i = 0; i < use; i++) {
        descs[i] = malloc(PTHREAD_TID_SEARCH_BYTES);
        if (!descs[i] || mem_read(src, pthreads[i], descs[i], PTHREAD_TID_SEARCH_BYTES) != 0)
            goto out;
    }
    if (offset_fits(GLIBC_TID_OFFSET, descs, use, tids, ntids)) {
        found = GLIBC_TID_OFFSET;
        goto out;
    }
    for (int off = 0; off + 4 <= PTHREAD_TID_SEARCH_BYTES; off += 4) {
        if (offset_fits(off, descs, use, tids, ntids)) {
            found = off;
            break;
        }
    }
out:
    for (size_t i = 0; i < use; i++)
        free(descs[i]);
    return found;
}

size_t pthread_tid_resolve(struct pthread_tid_map *m, struct mem_source *src,
                           const uint64_t *pthreads, size_t n, const pid_t *tids,
                           size_t ntids, pid_t *out_tids)
{
    size_t resolved = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (m->offset < 0 && n > 0)
            m->offset = find_offset(src, pthreads, n, tids, ntids);
        resolved = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t v = 0;
            out_tids[i] = 0;
            if (m->offset >= 0 &&
                mem_read(src, pthreads[i] + (uint64_t)m->offset, &v, sizeof v) == 0 &&
                v > 0 && is_task(v, tids, ntids)) {
                out_tids[i] = v;
                resolved++;
            }
        }
        if (resolved == n || m->offset < 0)
            break;
        /* Something no longer fits: look for the offset once more. */
        m->offset = -1;
    }
    return resolved;
}

size_t pthread_tid_resolve_pid(struct pthread_tid_map *m, struct mem_source *src, pid_t pid,
                               const uint64_t *pthreads, size_t n, pid_t *out_tids)
{
    if (m->offset >= 0 && m->tasks) {
        size_t resolved = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t v = 0;
            out_tids[i] = 0;
            if (mem_read(src, pthreads[i] + (uint64_t)m->offset, &v, sizeof v) == 0 && v > 0 &&
                is_task(v, m->tasks, m->ntasks)) {
                out_tids[i] = v;
                resolved++;
            }
        }
        if (resolved == n)
            return resolved;
    }
    pid_t *tasks = NULL;
    size_t ntasks = 0;
    if (proc_tasks_list(pid, &tasks, &ntasks) != 0) {
        for (size_t i = 0; i < n; i++)
            out_tids[i] = 0;
        return 0;
    }
    free(m->tasks);
    m->tasks = tasks;
    m->ntasks = ntasks;
    return pthread_tid_resolve(m, src, pthreads, n, tasks, ntasks, out_tids);
}
