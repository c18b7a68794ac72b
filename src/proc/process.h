/* Process-wide counters and files, for the live view: memory, CPU time,
 * thread count, and the target's own view of the file system. */
#ifndef PYTOP_PROC_PROCESS_H
#define PYTOP_PROC_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

/* Resident set size now and its peak (VmRSS, VmHWM from /proc/PID/status),
 * in bytes. Returns 0, -ESRCH when the process is gone, -ENODATA when it
 * has no memory any more (a zombie), or another -errno. */
int proc_memory(pid_t pid, uint64_t *rss_bytes, uint64_t *peak_bytes);

struct proc_usage {
    uint64_t cpu_ns;        /* user + system time of all its threads so far */
    uint32_t threads;       /* OS threads now */
};

/* From /proc/PID/stat. Returns 0, -ESRCH, -PT_ERR_FORMAT or -errno. */
int proc_usage_read(pid_t pid, struct proc_usage *out);

/* Open a file as the target sees it: an absolute path under
 * /proc/PID/root (its mount namespace), a relative one under /proc/PID/cwd
 * (its working directory). Returns 0 and a read-only *fd the caller closes,
 * or -errno. */
int proc_open_target_file(pid_t pid, const char *path, int *fd);

/* An identity of the process's current program image: a hash of its
 * auxiliary vector (/proc/PID/auxv), whose entry point, stack and loader
 * addresses are new at every exec (address randomisation), with its
 * executable's path. Two reads that differ mean the process exec'd
 * between them. Returns 0, -ESRCH, or another -errno. */
int proc_image_id(pid_t pid, uint64_t *out);

#endif
