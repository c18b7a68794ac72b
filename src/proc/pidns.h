/* Thread ids of a process in another PID namespace (a container).
 *
 * A process records its threads' ids as its own PID namespace numbers
 * them (Python's native_thread_id, glibc's pthread descriptor), while
 * /proc and ptrace want the ids of the namespace /proc was mounted for
 * (pytop's). /proc/PID/task/TID/status says both: its NSpid line lists a
 * task's id in each namespace from /proc's down to the task's own. This
 * map turns the process's ids into /proc's. For a process in pytop's own
 * namespace (on the host, or pytop in a sidecar sharing the target's
 * namespace) the ids are the same and nothing is read. */
#ifndef PYTOP_PROC_PIDNS_H
#define PYTOP_PROC_PIDNS_H

#include <stddef.h>
#include <sys/types.h>

struct proc_pidns_task {
    pid_t host;                  /* the id in /proc (pytop's namespace) */
    pid_t own;                   /* the id in the process's namespace */
};

struct proc_pidns {
    pid_t pid;
    int state;                   /* PIDNS_UNCHECKED, PIDNS_SAME or PIDNS_NESTED */
    struct proc_pidns_task *tasks;   /* sorted by own id */
    size_t ntasks;
    unsigned since_refresh;      /* translations since the tasks were last listed */
};

enum { PIDNS_UNCHECKED, PIDNS_SAME, PIDNS_NESTED };

void proc_pidns_init(struct proc_pidns *ns, pid_t pid);
void proc_pidns_release(struct proc_pidns *ns);

/* 1 when the process lives in a PID namespace below /proc's (its ids
 * differ), 0 when it does not or the kernel does not say (no NSpid line,
 * before Linux 4.1), or -errno. Read once: a process never changes PID
 * namespace. */
int proc_pidns_nested(struct proc_pidns *ns);

/* Replace each of n ids given in the process's own namespace by /proc's
 * (0 where no task of the process has it). The tasks are listed again on
 * a miss (at most once per call) and every PIDNS_REFRESH_CALLS calls, so
 * an id reused by a new thread is not mapped to a gone one for long.
 * Nothing changes when the process is in pytop's namespace. Returns 0 or
 * -errno (-ESRCH: the process is gone), every id then 0 (an id left as
 * the process gave it could name another process here). */
#define PIDNS_REFRESH_CALLS 128
int proc_pidns_to_host(struct proc_pidns *ns, pid_t *ids, size_t n);

/* List the tasks afresh (both ids of each); *out stays valid until the
 * next call on ns. For a process in pytop's namespace both ids are the
 * same. Returns 0 or -errno. */
int proc_pidns_tasks(struct proc_pidns *ns, const struct proc_pidns_task **out, size_t *n);

/* The /proc id of the task the process calls own, from the latest
 * listing (no system call), or 0. */
pid_t proc_pidns_host_of(const struct proc_pidns *ns, pid_t own);

/* Parse a status file's NSpid line: the first and last ids (equal when
 * the line has one). Returns 1 with *levels (ids on the line), 0 when
 * there is no NSpid line, -PT_ERR_FORMAT for a malformed one. */
int proc_pidns_parse_status(const char *buf, size_t len, pid_t *first, pid_t *last,
                            int *levels);

#endif
