#include "config.h"

#include "proc/memstat.h"

#include "proc/procfs.h"
#include "proc/tasks.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* status is about 1.5 KiB, stat about 300 bytes, statm about 40. */
#define STATUS_BUF 8192
#define STAT_BUF 1024
#define STATM_BUF 128
#define ROLLUP_BUF 4096
/* maps is streamed through this buffer; a line is at most a path
 * (PATH_MAX) plus about 100 bytes of numbers. */
#define MAPS_CHUNK 16384
/* A bound on the bytes of maps read in one scan, should the file keep
 * growing while it is read. */
#define MAPS_READ_MAX (64u << 20)

/* ---- parsing helpers ---------------------------------------------------- */

/* The end of the line starting at p (its '\n', or end). */
static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

/* "Name:<blanks>digits kB" on the line [p, eol): the value in bytes. */
static int kb_line(const char *p, const char *eol, const char *name, uint64_t *bytes)
{
    size_t n = strlen(name);
    if ((size_t)(eol - p) < n + 1 || memcmp(p, name, n) != 0 || p[n] != ':')
        return -1;
    const char *q = proc_skip_blanks(p + n + 1, eol);
    uint64_t kb;
    if (proc_parse_u64(&q, eol, &kb) != 0)
        return -1;
    q = proc_skip_blanks(q, eol);
    if (eol - q < 2 || q[0] != 'k' || q[1] != 'B' || kb > UINT64_MAX / 1024)
        return -1;
    *bytes = kb * 1024;
    return 0;
}

/* ---- pure parsers ------------------------------------------------------- */

int proc_statm_parse(const char *buf, size_t len, uint64_t *size_pages, uint64_t *resident_pages)
{
    const char *p = buf, *end = buf + len;
    uint64_t size, resident;
    if (proc_parse_u64(&p, end, &size) != 0 || p >= end || *p != ' ')
        return -PT_ERR_FORMAT;
    p++;
    if (proc_parse_u64(&p, end, &resident) != 0 || (p < end && *p != ' ' && *p != '\n'))
        return -PT_ERR_FORMAT;
    *size_pages = size;
    *resident_pages = resident;
    return 0;
}

int proc_status_parse(const char *buf, size_t len, struct counters *out)
{
    static const struct {
        const char *name;
        enum counter_id id;
    } fields[] = {
        { "VmRSS", CTR_RSS },
        { "VmHWM", CTR_PEAK_RSS },
        { "RssAnon", CTR_ANON },
        { "VmSwap", CTR_SWAP },
    };
    const char *p = buf, *end = buf + len;
    int found = 0;
    while (p < end) {
        const char *eol = line_end(p, end);
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            uint64_t v;
            if (!counters_has(out, fields[i].id) && kb_line(p, eol, fields[i].name, &v) == 0) {
                counters_set(out, fields[i].id, v);
                found++;
                break;
            }
        }
        if (eol == end)
            break;
        p = eol + 1;
    }
    return found;
}

int proc_rollup_anon_parse(const char *buf, size_t len, uint64_t *bytes)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *eol = line_end(p, end);
        if (kb_line(p, eol, "Anonymous", bytes) == 0)
            return 0;
        if (eol == end)
            break;
        p = eol + 1;
    }
    return -ENODATA;
}

int proc_stat_faults_parse(const char *buf, size_t len, uint64_t *minflt, uint64_t *majflt)
{
    const char *p = proc_stat_fields(buf, len), *end = buf + len;
    if (!p)
        return -PT_ERR_FORMAT;
    /* Fields from 3 (the state letter) on, separated by single spaces. */
    uint64_t min = 0, maj = 0;
    int field = 2, have = 0;
    while (p < end && *p == ' ' && have < 2) {
        p++;
        field++;
        const char *tok = p;
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        if (field != 10 && field != 12)
            continue;
        const char *q = tok;
        uint64_t v;
        if (proc_parse_u64(&q, p, &v) != 0 || q != p)
            return -PT_ERR_FORMAT;
        if (field == 10)
            min = v;
        else
            maj = v;
        have++;
    }
    if (have < 2)
        return -PT_ERR_FORMAT;
    *minflt = min;
    *majflt = maj;
    return 0;
}

/* The [heap] lines of maps are neighbours: summing stops at the first line
 * after them. */
struct heap_scan {
    uint64_t bytes;
    int seen, done;
};

/* Whether the maps line [p, end) is a [heap] mapping, and its range:
 * "start-end perms offset dev inode<blanks>[heap]". */
static int heap_line(const char *p, const char *end, uint64_t *size)
{
    uint64_t start, stop;
    if (proc_parse_hex(&p, end, &start) != 0 || p >= end || *p != '-')
        return 0;
    p++;
    if (proc_parse_hex(&p, end, &stop) != 0 || stop <= start)
        return 0;
    /* Skip perms, offset, dev and inode: four fields without blanks. */
    for (int f = 0; f < 4; f++) {
        if (p >= end || *p != ' ')
            return 0;
        p++;
        while (p < end && *p != ' ')
            p++;
    }
    p = proc_skip_blanks(p, end);
    if (end - p != 6 || memcmp(p, "[heap]", 6) != 0)
        return 0;
    *size = stop - start;
    return 1;
}

static void heap_scan_line(struct heap_scan *h, const char *p, const char *eol)
{
    uint64_t size;
    if (heap_line(p, eol, &size)) {
        h->bytes = h->bytes + size < h->bytes ? UINT64_MAX : h->bytes + size;
        h->seen = 1;
    } else if (h->seen) {
        h->done = 1;
    }
}

int proc_maps_heap_parse(const char *text, size_t len, uint64_t *bytes)
{
    struct heap_scan h = { 0, 0, 0 };
    const char *p = text, *end = text + len;
    while (p < end && !h.done) {
        const char *eol = line_end(p, end);
        heap_scan_line(&h, p, eol);
        if (eol == end)
            break;
        p = eol + 1;
    }
    *bytes = h.bytes;
    return 0;
}

/* ---- files -------------------------------------------------------------- */

static int open_file(pid_t pid, const char *name, int *fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return proc_gone_errno(errno);
    *fd = f;
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int proc_memstat_open(pid_t pid, struct proc_memstat *m)
{
    memset(m, 0, sizeof *m);
    m->pid = pid;
    m->statm_fd = m->status_fd = m->stat_fd = m->maps_fd = m->rollup_fd = -1;
    if (pid <= 0)
        return -ESRCH;
    long page = sysconf(_SC_PAGESIZE);
    m->page_size = page > 0 ? (uint64_t)page : 4096;
    int rc = open_file(pid, "statm", &m->statm_fd);
    if (rc == 0)
        rc = open_file(pid, "status", &m->status_fd);
    if (rc) {
        proc_memstat_close(m);
        return rc;
    }
    /* These two may be denied (maps needs ptrace read access); their
     * counters then stay invalid. */
    if (open_file(pid, "maps", &m->maps_fd) != 0)
        m->maps_fd = -1;
    if (open_file(pid, "stat", &m->stat_fd) != 0)
        m->stat_fd = -1;
    return 0;
}

void proc_memstat_close(struct proc_memstat *m)
{
    close_fd(&m->statm_fd);
    close_fd(&m->status_fd);
    close_fd(&m->stat_fd);
    close_fd(&m->maps_fd);
    close_fd(&m->rollup_fd);
}

int proc_memstat_rss(struct proc_memstat *m, uint64_t *bytes)
{
    char buf[STATM_BUF];
    size_t len;
    int rc = proc_read_fd(m->statm_fd, buf, sizeof buf, &len);
    if (rc)
        return rc;
    if (len == 0)
        return -ESRCH;
    uint64_t size, resident;
    rc = proc_statm_parse(buf, len, &size, &resident);
    if (rc)
        return rc;
    /* A zombie has no address space: statm is all zeros. */
    if (size == 0)
        return -ESRCH;
    if (resident > UINT64_MAX / m->page_size)
        return -PT_ERR_FORMAT;
    *bytes = resident * m->page_size;
    return 0;
}

int proc_maps_heap_read(int fd, uint64_t *bytes)
{
    char buf[MAPS_CHUNK];
    struct heap_scan h = { 0, 0, 0 };
    size_t keep = 0;            /* bytes of an unfinished line at buf[0] */
    int overlong = 0;           /* inside a line longer than the buffer */
    uint64_t off = 0;
    while (!h.done && off < MAPS_READ_MAX) {
        size_t r;
        int rc = proc_pread(fd, buf + keep, sizeof buf - keep, off, &r);
        if (rc)
            return rc;
        if (r == 0)
            break;
        off += (uint64_t)r;
        const char *p = buf, *end = buf + keep + (size_t)r;
        for (;;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                break;
            if (!overlong)
                heap_scan_line(&h, p, nl);
            overlong = 0;
            p = nl + 1;
            if (h.done)
                break;
        }
        keep = (size_t)(end - p);
        if (keep == sizeof buf) {   /* no newline in a full buffer */
            overlong = 1;
            keep = 0;
        } else if (keep) {
            memmove(buf, p, keep);
        }
    }
    if (keep && !overlong && !h.done)
        heap_scan_line(&h, buf, buf + keep);
    *bytes = h.bytes;
    return 0;
}

static void read_anon_rollup(struct proc_memstat *m, struct counters *c)
{
    if (m->rollup_missing)
        return;
    if (m->rollup_fd < 0 && open_file(m->pid, "smaps_rollup", &m->rollup_fd) != 0) {
        m->rollup_fd = -1;
        m->rollup_missing = 1;
        return;
    }
    char buf[ROLLUP_BUF];
    size_t len;
    uint64_t anon;
    if (proc_read_fd(m->rollup_fd, buf, sizeof buf, &len) == 0 &&
        proc_rollup_anon_parse(buf, len, &anon) == 0)
        counters_set(c, CTR_ANON, anon);
}

int proc_memstat_read(struct proc_memstat *m, struct counters *out)
{
    char buf[STATUS_BUF];
    size_t len;
    struct counters c;
    memset(&c, 0, sizeof c);

    int rc = proc_read_fd(m->status_fd, buf, sizeof buf, &len);
    if (rc)
        return rc;
    proc_status_parse(buf, len, &c);
    /* Zombies have no Vm* lines: the memory is gone with the process. */
    if (!counters_has(&c, CTR_RSS))
        return -ESRCH;
    if (!counters_has(&c, CTR_ANON))
        read_anon_rollup(m, &c);

    uint64_t heap;
    if (m->maps_fd >= 0) {
        rc = proc_maps_heap_read(m->maps_fd, &heap);
        if (rc == -ESRCH)
            return rc;
        if (rc == 0)
            counters_set(&c, CTR_HEAP, heap);
    }

    if (m->stat_fd >= 0) {
        uint64_t minflt, majflt;
        rc = proc_read_fd(m->stat_fd, buf, STAT_BUF, &len);
        if (rc == -ESRCH)
            return rc;
        if (rc == 0 && proc_stat_faults_parse(buf, len, &minflt, &majflt) == 0) {
            counters_set(&c, CTR_MINFLT_TOTAL, minflt);
            counters_set(&c, CTR_MAJFLT_TOTAL, majflt);
        }
    }

    for (int id = 0; id < COUNTER_COUNT; id++)
        if (counters_has(&c, (enum counter_id)id))
            counters_set(out, (enum counter_id)id, c.value[id]);
    return 0;
}
