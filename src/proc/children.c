#include "config.h"

#include "proc/children.h"

#include "core/error.h"
#include "proc/tasks.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t proc_parse_children(const char *text, size_t len, pid_t *pids, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < len && n < cap) {
        while (i < len && !isdigit((unsigned char)text[i]))
            i++;
        long v = 0;
        size_t digits = 0;
        while (i < len && isdigit((unsigned char)text[i]) && digits < 10) {
            v = v * 10 + (text[i] - '0');
            i++;
            digits++;
        }
        while (i < len && isdigit((unsigned char)text[i]))   /* absurdly long: skip it */
            i++, v = 0;
        if (digits && v > 0 && v <= 0x3fffffff)
            pids[n++] = (pid_t)v;
    }
    return n;
}

int proc_parent(pid_t pid, pid_t *ppid)
{
    char buf[1024];
    const char *fields;
    int rc = proc_read_stat(pid, buf, sizeof buf, &fields);
    if (rc)
        return rc;
    char state;
    int parent;
    if (sscanf(fields, " %c %d", &state, &parent) != 2 || parent < 0)
        return -PT_ERR_FORMAT;
    *ppid = (pid_t)parent;
    return 0;
}

/* The direct children of pid, from every one of its threads' children
 * files (a child belongs to the thread that forked it). Returns 0, -ENOENT
 * when the kernel has no children files, -ESRCH when pid is gone. */
static int children_of(pid_t pid, pid_t *out, size_t cap, size_t *n)
{
    pid_t *tids;
    size_t ntids;
    *n = 0;
    int rc = proc_tasks_list(pid, &tids, &ntids);
    if (rc)
        return rc;
    int found_file = 0;
    for (size_t i = 0; i < ntids && *n < cap; i++) {
        char path[80], buf[4096];
        size_t len;
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)tids[i]);
        if (proc_read_file(path, buf, sizeof buf, &len) != 0)
            continue;
        found_file = 1;
        *n += proc_parse_children(buf, len, out + *n, cap - *n);
    }
    free(tids);
    return found_file || ntids == 0 ? 0 : -ENOENT;
}

/* Without children files: one pass over /proc collecting (pid, parent). */
static int scan_parents(pid_t **pids, pid_t **parents, size_t *n)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    size_t cap = 256, count = 0;
    pid_t *p = malloc(cap * sizeof *p), *pp = malloc(cap * sizeof *pp);
    struct dirent *e;
    int rc = p && pp ? 0 : -ENOMEM;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end != '\0' || v <= 0 || v > 0x3fffffff)
            continue;
        pid_t parent;
        if (proc_parent((pid_t)v, &parent) != 0)
            continue;   /* gone meanwhile */
        if (count == cap) {
            if (cap >= (size_t)1 << 22)
                break;
            cap *= 2;
            pid_t *np = realloc(p, cap * sizeof *np);
            if (np)
                p = np;
            pid_t *npp = np ? realloc(pp, cap * sizeof *npp) : NULL;
            if (npp)
                pp = npp;
            if (!np || !npp) {
                rc = -ENOMEM;
                break;
            }
        }
        p[count] = (pid_t)v;
        pp[count] = parent;
        count++;
    }
    closedir(d);
    if (rc) {
        free(p);
        free(pp);
        return rc;
    }
    *pids = p;
    *parents = pp;
    *n = count;
    return 0;
}

int proc_descendants(pid_t root, pid_t *pids, pid_t *parents, size_t cap, size_t *n)
{
    *n = 0;
    int dead = proc_is_dead(root);
    if (dead == 1 || dead == -ESRCH)
        return -ESRCH;
    pid_t kids[PROC_DESCENDANTS_MAX];
    size_t nk;
    int rc = children_of(root, kids, PROC_DESCENDANTS_MAX, &nk);
    if (rc == -ESRCH)
        return rc;
    if (rc == 0) {
        /* Breadth first: pids[] doubles as the queue. */
        size_t head = 0;
        for (size_t i = 0; i < nk && *n < cap; i++) {
            pids[*n] = kids[i];
            parents[(*n)++] = root;
        }
        while (head < *n) {
            pid_t p = pids[head++];
            if (children_of(p, kids, PROC_DESCENDANTS_MAX, &nk) != 0)
                continue;   /* exited meanwhile */
            for (size_t i = 0; i < nk && *n < cap; i++) {
                pids[*n] = kids[i];
                parents[(*n)++] = p;
            }
        }
        return 0;
    }
    /* No children files: walk the parent links of every process. */
    pid_t *all = NULL, *up = NULL;
    size_t nall = 0;
    rc = scan_parents(&all, &up, &nall);
    if (rc)
        return rc;
    size_t head = 0;
    pid_t want = root;
    for (;;) {
        for (size_t i = 0; i < nall && *n < cap; i++) {
            if (up[i] == want && all[i] != root) {
                pids[*n] = all[i];
                parents[(*n)++] = want;
            }
        }
        if (head >= *n)
            break;
        want = pids[head++];
    }
    free(all);
    free(up);
    return 0;
}
