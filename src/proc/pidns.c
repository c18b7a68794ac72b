#include "config.h"

#include "proc/pidns.h"

#include "core/error.h"
#include "proc/tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A status file is about 1.5 KiB; NSpid comes in its first half. */
#define STATUS_BUF 4096
/* Namespaces nest at most 32 deep (MAX_PID_NS_LEVEL). */
#define NSPID_MAX_LEVELS 33

void proc_pidns_init(struct proc_pidns *ns, pid_t pid)
{
    memset(ns, 0, sizeof *ns);
    ns->pid = pid;
}

void proc_pidns_release(struct proc_pidns *ns)
{
    free(ns->tasks);
    ns->tasks = NULL;
    ns->ntasks = 0;
}

int proc_pidns_parse_status(const char *buf, size_t len, pid_t *first, pid_t *last, int *levels)
{
    static const char key[] = "NSpid:";
    const char *p = buf, *end = buf + len;
    /* Find a line that starts with the key. */
    for (;;) {
        if ((size_t)(end - p) >= sizeof key - 1 && memcmp(p, key, sizeof key - 1) == 0)
            break;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return 0;
        p = nl + 1;
    }
    p += sizeof key - 1;
    int n = 0;
    pid_t a = 0, b = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end || *p == '\n')
            break;
        long v = 0;
        const char *start = p;
        while (p < end && *p >= '0' && *p <= '9' && p - start < 10)
            v = v * 10 + (*p++ - '0');
        if (p == start || v <= 0 || (p < end && *p != ' ' && *p != '\t' && *p != '\n') ||
            ++n > NSPID_MAX_LEVELS)
            return -PT_ERR_FORMAT;
        if (n == 1)
            a = (pid_t)v;
        b = (pid_t)v;
    }
    if (n == 0)
        return -PT_ERR_FORMAT;
    *first = a;
    *last = b;
    *levels = n;
    return 1;
}

/* One status file's NSpid: 1 with the ids, 0 without the line, or -errno. */
static int read_nspid(const char *path, pid_t *first, pid_t *last, int *levels)
{
    char buf[STATUS_BUF];
    size_t len;
    int rc = proc_read_file(path, buf, sizeof buf, &len);
    if (rc < 0)
        return rc;
    return proc_pidns_parse_status(buf, len, first, last, levels);
}

int proc_pidns_nested(struct proc_pidns *ns)
{
    if (ns->state != PIDNS_UNCHECKED)
        return ns->state == PIDNS_NESTED;
    char path[64];
    pid_t first, last;
    int levels;
    snprintf(path, sizeof path, "/proc/%d/status", (int)ns->pid);
    int rc = read_nspid(path, &first, &last, &levels);
    if (rc < 0)
        return rc;
    /* No NSpid line (Linux before 4.1): ids are taken as they are. */
    ns->state = rc == 1 && levels > 1 ? PIDNS_NESTED : PIDNS_SAME;
    return ns->state == PIDNS_NESTED;
}

static int by_own(const void *a, const void *b)
{
    pid_t x = ((const struct proc_pidns_task *)a)->own, y = ((const struct proc_pidns_task *)b)->own;
    return (x > y) - (x < y);
}

static int by_host(const void *a, const void *b)
{
    pid_t x = ((const struct proc_pidns_task *)a)->host, y = ((const struct proc_pidns_task *)b)->host;
    return (x > y) - (x < y);
}

/* List the tasks; a task seen at the last listing keeps its own id
 * without reading its status again. */
static int refresh(struct proc_pidns *ns)
{
    pid_t *hosts;
    size_t n;
    int rc = proc_tasks_list(ns->pid, &hosts, &n);
    if (rc)
        return rc;
    struct proc_pidns_task *fresh = malloc(n * sizeof *fresh);
    if (!fresh) {
        free(hosts);
        return -ENOMEM;
    }
    int nested = ns->state == PIDNS_NESTED;
    /* The previous listing by host id, for the tasks still there. */
    if (nested && ns->ntasks)
        qsort(ns->tasks, ns->ntasks, sizeof *ns->tasks, by_host);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        struct proc_pidns_task key = { .host = hosts[i] };
        const struct proc_pidns_task *old =
            nested && ns->ntasks ? bsearch(&key, ns->tasks, ns->ntasks, sizeof key, by_host) : NULL;
        pid_t own = hosts[i];
        if (old) {
            own = old->own;
        } else if (nested) {
            char path[80];
            pid_t first, last;
            int levels;
            snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)ns->pid, (int)hosts[i]);
            if (read_nspid(path, &first, &last, &levels) != 1 || first != hosts[i])
                continue;   /* exited meanwhile */
            own = last;
        }
        fresh[k].host = hosts[i];
        fresh[k].own = own;
        k++;
    }
    free(hosts);
    qsort(fresh, k, sizeof *fresh, by_own);
    free(ns->tasks);
    ns->tasks = fresh;
    ns->ntasks = k;
    ns->since_refresh = 0;
    return 0;
}

pid_t proc_pidns_host_of(const struct proc_pidns *ns, pid_t own)
{
    struct proc_pidns_task key = { .own = own };
    const struct proc_pidns_task *t =
        ns->ntasks ? bsearch(&key, ns->tasks, ns->ntasks, sizeof key, by_own) : NULL;
    return t ? t->host : 0;
}

int proc_pidns_to_host(struct proc_pidns *ns, pid_t *ids, size_t n)
{
    int nested = proc_pidns_nested(ns);
    if (nested == 0 || n == 0)
        return 0;
    int rc = nested < 0 ? nested : 0, listed = 0;
    if (rc == 0 && (++ns->since_refresh >= PIDNS_REFRESH_CALLS || !ns->tasks)) {
        rc = refresh(ns);
        listed = 1;
    }
    for (size_t i = 0; i < n; i++) {
        pid_t host = rc == 0 && ids[i] > 0 ? proc_pidns_host_of(ns, ids[i]) : 0;
        if (!host && rc == 0 && ids[i] > 0 && !listed) {
            rc = refresh(ns);
            listed = 1;
            host = rc == 0 ? proc_pidns_host_of(ns, ids[i]) : 0;
        }
        /* An id left as the process gave it could name another
         * process here: unknown is 0. */
        ids[i] = host;
    }
    return rc;
}

int proc_pidns_tasks(struct proc_pidns *ns, const struct proc_pidns_task **out, size_t *n)
{
    int nested = proc_pidns_nested(ns);
    if (nested < 0)
        return nested;
    int rc = refresh(ns);
    if (rc)
        return rc;
    *out = ns->tasks;
    *n = ns->ntasks;
    return 0;
}
