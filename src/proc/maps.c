#include "config.h"

#include "proc/maps.h"

#include "core/vec.h"
#include "proc/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A cursor over one line of maps text; [p, end) is what is left of it. */
struct cursor {
    const char *p, *end;
};

/* At least one digit, no overflow: a line that does not fit is garbage. */
static int parse_hex(struct cursor *c, uint64_t *out)
{
    return proc_parse_hex(&c->p, c->end, out);
}

static int parse_dec(struct cursor *c, uint64_t *out)
{
    return proc_parse_u64(&c->p, c->end, out);
}

static int expect(struct cursor *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 0;
    }
    return -1;
}

/* The kernel separates fields with one space, but be lenient: any run of
 * blanks, and at least one. */
static int skip_blanks(struct cursor *c)
{
    const char *start = c->p;
    c->p = proc_skip_blanks(c->p, c->end);
    return c->p == start ? -1 : 0;
}

static int parse_perms(struct cursor *c, unsigned *out)
{
    if (c->end - c->p < 4)
        return -1;
    const char *s = c->p;
    unsigned perms = 0;
    if (s[0] == 'r') perms |= PROC_MAP_R; else if (s[0] != '-') return -1;
    if (s[1] == 'w') perms |= PROC_MAP_W; else if (s[1] != '-') return -1;
    if (s[2] == 'x') perms |= PROC_MAP_X; else if (s[2] != '-') return -1;
    if (s[3] == 'p') perms |= PROC_MAP_P; else if (s[3] != 's') return -1;
    c->p += 4;
    *out = perms;
    return 0;
}

static const char deleted_suffix[] = " (deleted)";

/* Parse one line (without its newline) into *m, allocating m->path.
 * Returns 1 when parsed, 0 when the line is malformed, -ENOMEM. */
static int parse_line(const char *line, size_t len, struct proc_map *m)
{
    struct cursor c = { line, line + len };
    uint64_t major, minor;

    memset(m, 0, sizeof *m);
    if (parse_hex(&c, &m->start) || expect(&c, '-') || parse_hex(&c, &m->end) ||
        skip_blanks(&c) || parse_perms(&c, &m->perms) || skip_blanks(&c) ||
        parse_hex(&c, &m->offset) || skip_blanks(&c) ||
        parse_hex(&c, &major) || expect(&c, ':') || parse_hex(&c, &minor) ||
        skip_blanks(&c) || parse_dec(&c, &m->inode))
        return 0;
    /* An empty range can't contain anything and would break the search. */
    if (m->start >= m->end || major > UINT32_MAX || minor > UINT32_MAX)
        return 0;
    m->dev_major = (unsigned)major;
    m->dev_minor = (unsigned)minor;

    /* After the inode: nothing (anonymous), or padding then the path. The
     * path runs to the end of the line and may itself contain spaces; the
     * kernel escapes newlines in it, so the line end is its end. */
    if (c.p < c.end && *c.p != ' ' && *c.p != '\t')
        return 0;
    while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
        c.p++;
    const char *path = c.p;
    size_t plen = (size_t)(c.end - c.p);
    size_t slen = sizeof deleted_suffix - 1;
    if (plen > slen && memcmp(path + plen - slen, deleted_suffix, slen) == 0) {
        plen -= slen;
        m->deleted = 1;
    }
    m->path = malloc(plen + 1);
    if (!m->path)
        return -ENOMEM;
    memcpy(m->path, path, plen);
    m->path[plen] = '\0';
    return 1;
}

static int cmp_start(const void *a, const void *b)
{
    const struct proc_map *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* The kernel lists mappings sorted and disjoint, but a maps file read in
 * several chunks while the target maps or unmaps memory can show an entry
 * twice or out of order. Restore the invariant proc_maps_find relies on:
 * sorted by start, no overlaps (the first of two overlapping entries wins). */
static void normalise(struct proc_maps *out)
{
    int sorted = 1;
    for (size_t i = 1; i < out->count; i++) {
        if (out->maps[i].start < out->maps[i - 1].end) {
            sorted = 0;
            break;
        }
    }
    if (sorted)
        return;
    /* qsort isn't stable, so which of two entries with the same start
     * survives is arbitrary; either is as good for a torn read. */
    qsort(out->maps, out->count, sizeof out->maps[0], cmp_start);
    size_t kept = 0;
    for (size_t i = 0; i < out->count; i++) {
        if (kept > 0 && out->maps[i].start < out->maps[kept - 1].end) {
            free(out->maps[i].path);
            continue;
        }
        out->maps[kept++] = out->maps[i];
    }
    out->count = kept;
}

int proc_maps_parse(const char *text, size_t len, struct proc_maps *out)
{
    size_t cap = 0;
    out->maps = NULL;
    out->count = 0;

    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        struct proc_map m;
        int rc = parse_line(p, (size_t)(line_end - p), &m);
        if (rc < 0) {
            proc_maps_release(out);
            return rc;
        }
        if (rc > 0) {
            struct proc_map *n = vec_grow(out->maps, &cap, out->count + 1, sizeof *n, 64);
            if (!n) {
                free(m.path);
                proc_maps_release(out);
                return -ENOMEM;
            }
            out->maps = n;
            out->maps[out->count++] = m;
        }
        p = nl ? nl + 1 : end;
    }
    normalise(out);
    return 0;
}

/* Read a whole /proc file: its size isn't known in advance (stat says 0),
 * so grow the buffer until read returns 0. */
static int read_whole(const char *path, char **text, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return proc_gone_errno(errno);

    size_t cap = 0, used = 0;
    char *buf = NULL;
    for (;;) {
        char *n = vec_grow(buf, &cap, used + 1, 1, 64 * 1024);
        if (!n) {
            free(buf);
            close(fd);
            return -ENOMEM;
        }
        buf = n;
        size_t r;
        /* A process that exits while we read reports ESRCH. */
        int rc = proc_pread(fd, buf + used, cap - used, used, &r);
        if (rc) {
            free(buf);
            close(fd);
            return rc;
        }
        if (r == 0)
            break;
        used += r;
    }
    close(fd);
    *text = buf;
    *len = used;
    return 0;
}

int proc_maps_read(pid_t pid, struct proc_maps *out)
{
    char path[64];
    char *text = NULL;
    size_t len = 0;

    out->maps = NULL;
    out->count = 0;
    if (pid <= 0)
        return -ESRCH;
    snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
    int rc = read_whole(path, &text, &len);
    if (rc < 0)
        return rc;
    rc = proc_maps_parse(text, len, out);
    free(text);
    return rc;
}

void proc_maps_release(struct proc_maps *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        free(m->maps[i].path);
    free(m->maps);
    m->maps = NULL;
    m->count = 0;
}

const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr)
{
    /* Find the last mapping starting at or below addr. */
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->maps[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct proc_map *cand = &m->maps[lo - 1];
    return addr < cand->end ? cand : NULL;
}

/* snprintf's result n against the buffer size. */
static int fits(int n, size_t cap)
{
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= cap)
        return -ENAMETOOLONG;
    return 0;
}

/* Besides 0 and -ENAMETOOLONG this returns -ENOENT when there is no file
 * to open: an anonymous or pseudo ("[heap]") mapping, or a deleted file
 * that map_files can't reach (its path now names a different file, or
 * none). */
int proc_map_open_path(pid_t pid, const struct proc_map *map, char *buf, size_t cap)
{
    if (cap == 0)
        return -ENAMETOOLONG;
    buf[0] = '\0';
    if (!map->path || map->path[0] != '/')
        return -ENOENT;

    /* map_files reaches the very inode that is mapped, even when deleted or
     * in another mount namespace, but following its links needs privileges
     * (CAP_SYS_ADMIN on older kernels, CAP_CHECKPOINT_RESTORE later). The
     * kernel names entries "%lx-%lx". */
    int n = snprintf(buf, cap, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid,
                     map->start, map->end);
    int rc = fits(n, cap);
    if (rc == 0 && access(buf, R_OK) == 0)
        return 0;

    if (map->deleted) {
        buf[0] = '\0';
        return rc < 0 ? rc : -ENOENT;
    }
    /* The target's root: correct across chroots and mount namespaces. */
    n = snprintf(buf, cap, "/proc/%d/root%s", (int)pid, map->path);
    rc = fits(n, cap);
    if (rc < 0)
        buf[0] = '\0';
    return rc;
}
