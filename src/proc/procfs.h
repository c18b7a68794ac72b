/* What every reader of /proc text needs: what its errors mean, reads
 * that survive signals, and bounded number parsing. */
#ifndef PYTOP_PROC_PROCFS_H
#define PYTOP_PROC_PROCFS_H

#include <stddef.h>
#include <stdint.h>

/* /proc/PID disappears with the process: opening its files then gives
 * ENOENT, and reads through a file already open give ESRCH. Both become
 * -ESRCH ("gone"); any other errno e becomes -e. */
int proc_gone_errno(int err);

/* One pread of up to n bytes at off, retried when a signal interrupts it:
 * 0 and *got (0 at the end of the file), or proc_gone_errno(errno). */
int proc_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got);

/* The decimal (or hex, either case) digits at *p before end: at least
 * one, and a value that fits. 0 with *p past them, or -1 (*p and *out
 * untouched). */
int proc_parse_u64(const char **p, const char *end, uint64_t *out);
int proc_parse_hex(const char **p, const char *end, uint64_t *out);

/* p past any spaces and tabs, at most to end. */
const char *proc_skip_blanks(const char *p, const char *end);

#endif
