#include "config.h"

#include "proc/info.h"

#include "proc/tasks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int proc_cmdline_args(pid_t pid, char *buf, size_t cap, size_t *len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    return proc_read_file(path, buf, cap, len);
}

int proc_exe_path(pid_t pid, char *buf, size_t cap)
{
    char link[64];
    if (cap < 2)
        return -ENAMETOOLONG;
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    ssize_t len = readlink(link, buf, cap - 1);
    if (len < 0)
        return -errno;
    if ((size_t)len >= cap - 1)
        return -ENAMETOOLONG;     /* readlink cuts silently */
    buf[len] = '\0';
    /* The file was replaced or removed since the process started. */
    char *del = strstr(buf, " (deleted)");
    if (del && del[10] == '\0')
        *del = '\0';
    return 0;
}

int proc_ptrace_scope(void)
{
    FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
    int v = -1;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

int proc_self_has_cap(int cap)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned long long caps = 0;
    int found = 0;
    if (!f || cap < 0 || cap > 63) {
        if (f)
            fclose(f);
        return 1;
    }
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            found = 1;
            break;
        }
    fclose(f);
    return !found || (caps >> cap) & 1;
}

int proc_fd_path(int fd, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "/proc/self/fd/%d", fd);
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
