#include "config.h"

#include "proc/procfs.h"

#include <errno.h>
#include <unistd.h>

int proc_gone_errno(int err)
{
    return err == ENOENT ? -ESRCH : -err;
}

int proc_pread(int fd, void *buf, size_t n, uint64_t off, size_t *got)
{
    for (;;) {
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r >= 0) {
            *got = (size_t)r;
            return 0;
        }
        if (errno != EINTR)
            return proc_gone_errno(errno);
    }
}

int proc_parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    if (s == *p)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int proc_parse_hex(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int d;
    while (s < end && (d = hex_digit(*s)) >= 0) {
        if (v >> 60)
            return -1;
        v = v << 4 | (uint64_t)d;
        s++;
    }
    if (s == *p)
        return -1;
    *p = s;
    *out = v;
    return 0;
}

const char *proc_skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}
