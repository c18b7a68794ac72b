#include "config.h"

#include "proc/tasks.h"

#include "core/error.h"
#include "core/vec.h"
#include "proc/maps.h"
#include "proc/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* A stat line is "pid (comm) S ..." with comm at most 16 bytes, so about
 * 300 bytes in practice; 1 KiB leaves room for wide counters. */
#define STAT_BUF 1024

/* Read up to cap bytes of a small /proc file from offset 0. The kernel
 * hands a one-line file over in one piece, so a short read is the whole
 * file: asking again for the end would double the system calls on the
 * sampling path. */
int proc_read_fd(int fd, char *buf, size_t cap, size_t *len)
{
    if (fd < 0)
        return -EBADF;
    size_t used = 0;
    while (used < cap) {
        size_t r;
        int rc = proc_pread(fd, buf + used, cap - used, used, &r);
        if (rc)
            return rc;
        if (r == 0)
            break;
        used += r;
        if (r < cap - (used - r))
            break;
    }
    *len = used;
    return 0;
}

int proc_read_stat(pid_t pid, char *buf, size_t cap, const char **fields)
{
    char path[64];
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int rc = cap ? proc_read_file(path, buf, cap - 1, &len) : -EINVAL;
    if (rc)
        return rc;
    buf[len] = '\0';
    *fields = proc_stat_fields(buf, len);
    return *fields ? 0 : -PT_ERR_FORMAT;
}

int proc_read_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return proc_gone_errno(errno);
    int rc = proc_read_fd(fd, buf, cap, len);
    close(fd);
    return rc;
}

/* Fields of a stat line after the state letter, up to utime (field 14)
 * and stime (15): ppid pgrp session tty_nr tpgid flags minflt cminflt
 * majflt cmajflt are fields 4..13. */
#define STAT_FIELDS_BEFORE_UTIME 10

const char *proc_stat_fields(const char *buf, size_t len)
{
    for (size_t i = len; i > 0; i--)
        if (buf[i - 1] == ')')
            return buf + i;
    return NULL;
}

/* Parse a stat line. comm may contain spaces and ')' itself, so the state
 * follows the LAST ')' in the line. */
static int parse_stat(const char *buf, size_t len, char *state, uint64_t *cpu_ticks)
{
    const char *p = proc_stat_fields(buf, len), *end = buf + len;
    if (!p)
        return -PT_ERR_FORMAT;
    if (p + 2 > end || p[0] != ' ' || p[1] == ' ' || p[1] == '\n')
        return -PT_ERR_FORMAT;
    if (state)
        *state = p[1];
    if (!cpu_ticks)
        return 0;
    p += 2;

    uint64_t vals[2];
    for (int field = 0; field < STAT_FIELDS_BEFORE_UTIME + 2; field++) {
        if (p >= end || *p != ' ')
            return -PT_ERR_FORMAT;
        p++;
        const char *start = p;
        uint64_t v = 0;
        /* Some earlier fields (tty_nr, tpgid) may be negative. */
        if (p < end && *p == '-')
            p++;
        while (p < end && *p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p - '0');
            p++;
        }
        if (p == start || (p == start + 1 && *start == '-'))
            return -PT_ERR_FORMAT;
        if (field >= STAT_FIELDS_BEFORE_UTIME)
            vals[field - STAT_FIELDS_BEFORE_UTIME] = v;
    }
    *cpu_ticks = vals[0] + vals[1];
    return 0;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int proc_tasks_list(pid_t pid, pid_t **out, size_t *count)
{
    char path[64];
    *out = NULL;
    *count = 0;
    if (pid <= 0)
        return -ESRCH;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return proc_gone_errno(errno);

    pid_t *tids = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno)
                rc = proc_gone_errno(errno);
            break;
        }
        char *endp;
        long v = strtol(de->d_name, &endp, 10);
        if (de->d_name[0] < '0' || de->d_name[0] > '9' || *endp || v <= 0)
            continue;   /* "." and ".." */
        pid_t *t = vec_grow(tids, &cap, n + 1, sizeof *t, 16);
        if (!t) {
            rc = -ENOMEM;
            break;
        }
        tids = t;
        tids[n++] = (pid_t)v;
    }
    closedir(d);
    if (rc == 0 && n == 0)
        rc = -ESRCH;   /* a reaped process can leave an empty directory */
    if (rc < 0) {
        free(tids);
        return rc;
    }
    /* Directory order is arbitrary; sorted lists give stable output. */
    qsort(tids, n, sizeof *tids, cmp_pid);
    *out = tids;
    *count = n;
    return 0;
}

int proc_task_state(pid_t pid, pid_t tid, char *state)
{
    struct proc_task_stat st;
    int rc = proc_task_stat_open(pid, tid, &st);
    if (rc < 0)
        return rc;
    rc = proc_task_stat_read(&st, state, NULL);
    proc_task_stat_close(&st);
    return rc;
}

int proc_task_of(pid_t pid, pid_t tid)
{
    char path[80];
    if (pid <= 0 || tid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)tid);
    return access(path, F_OK) == 0;
}

int proc_task_stat_open(pid_t pid, pid_t tid, struct proc_task_stat *st)
{
    char path[80];
    st->fd = -1;
    if (pid <= 0 || tid <= 0)
        return -ESRCH;
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return proc_gone_errno(errno);
    st->fd = fd;
    return 0;
}

int proc_task_stat_read(struct proc_task_stat *st, char *state, uint64_t *cpu_ticks)
{
    char buf[STAT_BUF];
    size_t len;
    if (st->fd < 0)
        return -EBADF;
    /* pread at offset 0 makes the kernel regenerate the line each time. */
    int rc = proc_read_fd(st->fd, buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return -ESRCH;
    return parse_stat(buf, len, state, cpu_ticks);
}

void proc_task_stat_close(struct proc_task_stat *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
}

int proc_task_cpu_open(pid_t pid, pid_t tid, struct proc_task_cpu *c)
{
    char path[80];
    c->fd = -1;
    if (pid <= 0 || tid <= 0)
        return -ESRCH;
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return proc_gone_errno(errno);
    c->fd = fd;
    return 0;
}

int proc_task_cpu_read_slices(struct proc_task_cpu *c, uint64_t *run_ns, uint64_t *slices)
{
    char buf[96];
    size_t len;
    if (c->fd < 0)
        return -EBADF;
    int rc = proc_read_fd(c->fd, buf, sizeof buf - 1, &len);
    if (rc < 0)
        return rc;
    if (len == 0)
        return -ESRCH;
    buf[len] = '\0';
    /* "run_ns wait_ns timeslices\n": three decimal fields. */
    uint64_t v[3] = { 0, 0, 0 };
    size_t i = 0;
    for (int f = 0; f < 3; f++) {
        size_t start = i;
        while (i < len && buf[i] >= '0' && buf[i] <= '9' && i - start < 20)
            v[f] = v[f] * 10 + (uint64_t)(buf[i++] - '0');
        if (i == start || (i < len && buf[i] != ' ' && buf[i] != '\n'))
            return -PT_ERR_FORMAT;
        if (f < 2 && (i >= len || buf[i++] != ' '))
            return -PT_ERR_FORMAT;
    }
    *run_ns = v[0];
    *slices = v[2];
    return 0;
}

int proc_task_cpu_read(struct proc_task_cpu *c, uint64_t *run_ns)
{
    uint64_t slices;
    return proc_task_cpu_read_slices(c, run_ns, &slices);
}

void proc_task_cpu_close(struct proc_task_cpu *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* One byte of the target via process_vm_readv. The kernel checks ptrace
 * access before it looks at the address, so EFAULT still means access
 * was granted. */
static int probe_read(pid_t pid, uint64_t addr)
{
    char byte;
    struct iovec local = { .iov_base = &byte, .iov_len = 1 };
    struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = 1 };
    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) == 1)
        return 0;
    switch (errno) {
    case EPERM:
    case EACCES:
        return -EPERM;
    case ESRCH:
        return -ESRCH;
    case EFAULT:
    case EIO:
        return 0;
    default:
        return -errno;
    }
}

int proc_check_access(pid_t pid)
{
    if (pid <= 0)
        return -ESRCH;
    struct proc_maps maps;
    int rc = proc_maps_read(pid, &maps);
    if (rc == -EACCES || rc == -EPERM)
        return -EPERM;
    if (rc < 0)
        return rc;

    /* Probe the first mapping that is plainly readable memory: the
     * executable, normally. [vvar] and friends can't be read even with
     * access. A zombie has no mappings; probing any address then reports
     * ESRCH, which is what we want. */
    uint64_t addr = 0x10000;
    for (size_t i = 0; i < maps.count; i++) {
        const struct proc_map *m = &maps.maps[i];
        if ((m->perms & PROC_MAP_R) && m->path[0] != '[') {
            addr = m->start;
            break;
        }
    }
    proc_maps_release(&maps);
    return probe_read(pid, addr);
}

int proc_cmdline(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    size_t len;
    if (cap == 0)
        return -EINVAL;
    buf[0] = '\0';
    if (pid <= 0)
        return -ESRCH;
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int rc = proc_read_file(path, buf, cap - 1, &len);
    if (rc < 0)
        return rc;
    /* Arguments are NUL-separated, with a NUL after the last. */
    while (len > 0 && buf[len - 1] == '\0')
        len--;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\0')
            buf[i] = ' ';
    }
    buf[len] = '\0';
    if (len > 0)
        return 0;

    /* Kernel threads and zombies have no command line: show "[comm]" as ps
     * does. */
    char comm[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    rc = proc_read_file(path, comm, sizeof comm - 1, &len);
    if (rc < 0)
        return rc;
    while (len > 0 && (comm[len - 1] == '\n' || comm[len - 1] == '\0'))
        len--;
    comm[len] = '\0';
    snprintf(buf, cap, "[%s]", comm);
    return 0;
}

int proc_is_dead(pid_t pid)
{
    char path[64], buf[STAT_BUF];
    size_t len;
    char state;
    if (pid <= 0)
        return 1;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int rc = proc_read_file(path, buf, sizeof buf, &len);
    if (rc == -ESRCH)
        return 1;
    if (rc < 0)
        return rc;
    if (len == 0)
        return 1;
    rc = parse_stat(buf, len, &state, NULL);
    if (rc < 0)
        return rc;
    return state == 'Z' || state == 'X';
}
