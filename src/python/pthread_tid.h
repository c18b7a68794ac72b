/* OS thread ids for thread states that only record a pthread_t (before 3.11).
 *
 * On glibc a pthread_t is the address of the thread's descriptor, which
 * holds the kernel tid at a fixed offset. That offset is found once per
 * target by looking for the offset at which every descriptor holds one of
 * the process's tids, then rechecked on every use. */
#ifndef PYTOP_PYTHON_PTHREAD_TID_H
#define PYTOP_PYTHON_PTHREAD_TID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/memsrc.h"

/* How far into a descriptor the search looks (small enough not to run off
 * the end of the mapping). glibc 2.36 keeps the tid at
 * 0x2d0 on x86-64. */
#define PTHREAD_TID_SEARCH_BYTES 0x400

struct pthread_tid_map {
    int offset;          /* -1 until found */
    /* The process's tasks as last listed (see pthread_tid_resolve_pid). */
    pid_t *tasks;
    size_t ntasks;
};

void pthread_tid_map_init(struct pthread_tid_map *m);
void pthread_tid_map_release(struct pthread_tid_map *m);

/* For each of n pthread_t values, write its tid into out_tids (0 where it
 * cannot be found). tids lists the process's tasks. Returns the number
 * resolved. */
size_t pthread_tid_resolve(struct pthread_tid_map *m, struct mem_source *src,
                           const uint64_t *pthreads, size_t n, const pid_t *tids,
                           size_t ntids, pid_t *out_tids);

/* The same for process pid, listing its tasks only when needed: the
 * tids read at the known offset are checked against the last listing,
 * and the tasks are listed again (and the offset searched again if it no
 * longer fits) only when one is not in it, as when a thread started. A
 * tid read there is the thread's own while it lives (the kernel clears it
 * when the thread exits), so the old listing cannot vouch for a dead one
 * for long: its tid is not reused until the pid space wraps. */
size_t pthread_tid_resolve_pid(struct pthread_tid_map *m, struct mem_source *src, pid_t pid,
                               const uint64_t *pthreads, size_t n, pid_t *out_tids);

#endif
