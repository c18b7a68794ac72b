#include "config.h"

#include "proc/process.h"

#include "proc/memstat.h"
#include "proc/tasks.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A status file is about 1.5 KiB; stat about 300 bytes. */
#define STATUS_BUF 8192

int proc_memory(pid_t pid, uint64_t *rss_bytes, uint64_t *peak_bytes)
{
    char path[64], buf[STATUS_BUF];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int rc = proc_read_file(path, buf, sizeof buf - 1, &len);
    if (rc)
        return rc;
    struct counters c;
    memset(&c, 0, sizeof c);
    proc_status_parse(buf, len, &c);
    if (!counters_has(&c, CTR_RSS))
        return -ENODATA;   /* zombies and kernel threads have no Vm* lines */
    uint64_t rss = c.value[CTR_RSS];
    uint64_t peak = counters_has(&c, CTR_PEAK_RSS) ? c.value[CTR_PEAK_RSS] : rss;
    if (peak < rss)
        peak = rss;
    if (rss_bytes)
        *rss_bytes = rss;
    if (peak_bytes)
        *peak_bytes = peak;
    return 0;
}

int proc_usage_read(pid_t pid, struct proc_usage *out)
{
    char buf[1024];
    const char *fields;
    int rc = proc_read_stat(pid, buf, sizeof buf, &fields);
    if (rc)
        return rc;
    /* Fields from 3 (state) on; utime, stime are 14, 15; num_threads 20. */
    unsigned long long field[21] = { 0 };
    const char *p = fields;
    int k = 3;
    while (k <= 20 && *p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *end;
        field[k] = strtoull(p, &end, 10);
        if (end == p)   /* the state letter */
            while (*end && *end != ' ')
                end++;
        p = end;
        k++;
    }
    if (k <= 20)
        return -PT_ERR_FORMAT;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    struct proc_usage u = {
        .cpu_ns = (field[14] + field[15]) * (1000000000ULL / (unsigned long long)hz),
        .threads = (uint32_t)field[20],
    };
    *out = u;
    return 0;
}

int proc_open_target_file(pid_t pid, const char *path, int *fd)
{
    char full[4096];
    int n;
    if (!path || !*path)
        return -ENOENT;
    if (path[0] == '/')
        n = snprintf(full, sizeof full, "/proc/%d/root%s", (int)pid, path);
    else
        n = snprintf(full, sizeof full, "/proc/%d/cwd/%s", (int)pid, path);
    if (n < 0 || (size_t)n >= sizeof full)
        return -ENAMETOOLONG;
    int f = open(full, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -errno;
    *fd = f;
    return 0;
}

int proc_image_id(pid_t pid, uint64_t *out)
{
    char path[64], buf[1024];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
    int rc = proc_read_file(path, buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return -ESRCH;   /* a zombie has no memory map left */
    /* FNV-1a over the vector, then the executable's path. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ULL;
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, buf, sizeof buf);
    for (ssize_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ULL;
    *out = h;
    return 0;
}
