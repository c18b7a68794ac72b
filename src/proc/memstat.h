/* A process's memory counters from /proc: resident size, its peak,
 * anonymous and swapped memory, the brk heap and page faults.
 *
 * A handle keeps the files open and re-reads them with pread at offset 0,
 * which makes the kernel regenerate their contents: no open/close per
 * sample. The text parsers are separate pure functions over buffers, so
 * tests and fuzzers run them on any bytes.
 *
 * Which file gives what (all values in bytes unless said):
 *   statm          resident pages x page size     proc_memstat_rss (cheap)
 *   status         CTR_RSS (VmRSS), CTR_PEAK_RSS (VmHWM), CTR_ANON (RssAnon),
 *                  CTR_SWAP (VmSwap)
 *   smaps_rollup   CTR_ANON (Anonymous), only when status has no RssAnon
 *   maps           CTR_HEAP: the [heap] mappings' size, 0 when there is none
 *   stat           CTR_MINFLT_TOTAL, CTR_MAJFLT_TOTAL (fields 10 and 12)
 * A value the kernel does not give keeps its bit clear in counters.valid. */
#ifndef PYTOP_PROC_MEMSTAT_H
#define PYTOP_PROC_MEMSTAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/counters.h"

struct proc_memstat {
    pid_t pid;
    uint64_t page_size;      /* bytes, from sysconf */
    int statm_fd;            /* -1 when not open */
    int status_fd;
    int stat_fd;
    int maps_fd;             /* -1 also when the target's maps cannot be read */
    int rollup_fd;           /* smaps_rollup, opened on first need; -1 */
    int rollup_missing;      /* smaps_rollup cannot be opened: do not retry */
};

/* Open the files of pid. Returns 0, -ESRCH when there is no such process,
 * or another -errno (statm and status must open; maps and stat may be
 * denied, and their counters then stay invalid). On error *m is closed and
 * proc_memstat_close(m) is harmless. */
int proc_memstat_open(pid_t pid, struct proc_memstat *m);
void proc_memstat_close(struct proc_memstat *m);   /* idempotent */

/* Resident set size in bytes from statm: one pread, no allocation, about a
 * microsecond; meant to run on every sample. Returns 0 and *bytes, -ESRCH
 * when the process is gone or a zombie (no memory any more),
 * -PT_ERR_FORMAT, or -EBADF when m is closed. */
int proc_memstat_rss(struct proc_memstat *m, uint64_t *bytes);

/* Every process counter this kernel gives, set in *out with
 * counters_set(): CTR_RSS, CTR_PEAK_RSS, CTR_ANON, CTR_SWAP, CTR_HEAP,
 * CTR_MINFLT_TOTAL, CTR_MAJFLT_TOTAL. Other counters in *out are left as
 * they are, so the caller may merge the Python ones into the same struct.
 * Reads status, maps (up to its [heap] lines) and stat: tens of
 * microseconds. Returns 0, -ESRCH when the process is gone or a zombie
 * (then *out is untouched), or -EBADF when m is closed. */
int proc_memstat_read(struct proc_memstat *m, struct counters *out);

/* ---- pure parsers (no I/O; buf need not be NUL-terminated) ------------- */

/* statm: "size resident shared text lib data 0" in pages. Returns 0 and the
 * first two numbers, or -PT_ERR_FORMAT. */
int proc_statm_parse(const char *buf, size_t len, uint64_t *size_pages,
                     uint64_t *resident_pages);

/* status: sets CTR_RSS (VmRSS), CTR_PEAK_RSS (VmHWM), CTR_ANON (RssAnon)
 * and CTR_SWAP (VmSwap) in *out for each line present and well formed
 * ("Name:<spaces>digits kB"); returns how many it set. */
int proc_status_parse(const char *buf, size_t len, struct counters *out);

/* smaps_rollup: the "Anonymous:" line in bytes. Returns 0 and *bytes, or
 * -ENODATA when absent or malformed. */
int proc_rollup_anon_parse(const char *buf, size_t len, uint64_t *bytes);

/* stat: minflt and majflt (fields 10 and 12), counted after the last ')'
 * since the command name may contain spaces and parentheses. Returns 0, or
 * -PT_ERR_FORMAT. */
int proc_stat_faults_parse(const char *buf, size_t len, uint64_t *minflt, uint64_t *majflt);

/* maps: the total size of the [heap] mappings (the brk heap may be split
 * into neighbouring mappings), 0 when there is none. Returns 0; a malformed
 * [heap] line is ignored. */
int proc_maps_heap_parse(const char *text, size_t len, uint64_t *bytes);

/* The same over an open maps file, streamed from offset 0 through a fixed
 * buffer and stopped after the [heap] lines (lines over 16 KiB are
 * skipped). Returns 0, -ESRCH when the process is gone, or -errno. */
int proc_maps_heap_read(int fd, uint64_t *bytes);

#endif
