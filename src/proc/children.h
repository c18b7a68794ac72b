/* A process's descendants, for following a program's workers
 * (--subprocesses). */
#ifndef PYTOP_PROC_CHILDREN_H
#define PYTOP_PROC_CHILDREN_H

#include <stddef.h>
#include <sys/types.h>

/* Bounds: a fork bomb must not make pytop read /proc without end. */
#define PROC_DESCENDANTS_MAX 1024

/* Every live descendant of root (children, their children, ...), in
 * breadth-first order, each with its parent, at most cap of them. Reads
 * /proc/PID/task/TID/children where the kernel has it, else the parent
 * field of every /proc/PID/stat. Returns 0 and *n (possibly 0), -ESRCH
 * when root is gone, or another -errno. */
int proc_descendants(pid_t root, pid_t *pids, pid_t *parents, size_t cap, size_t *n);

/* The parent of pid (field 4 of /proc/PID/stat). Returns 0, -ESRCH or
 * -PT_ERR_FORMAT. */
int proc_parent(pid_t pid, pid_t *ppid);

/* Parse a /proc/PID/task/TID/children text ("12 34 ") into pids, at most
 * cap; returns how many were read. Exposed for tests. */
size_t proc_parse_children(const char *text, size_t len, pid_t *pids, size_t cap);

#endif
