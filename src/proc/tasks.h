/* The threads (tasks) of a process and their scheduler state. */
#ifndef PYTOP_PROC_TASKS_H
#define PYTOP_PROC_TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* List /proc/PID/task into a malloc'd array of tids (caller frees *out).
 * Returns 0, -ESRCH when the process is gone, or another -errno. */
int proc_tasks_list(pid_t pid, pid_t **out, size_t *count);

/* The one-letter state of a task from /proc/PID/task/TID/stat ('R', 'S',
 * 'D', ...), or a negative error. */
int proc_task_state(pid_t pid, pid_t tid, char *state);

/* Whether tid is a thread of process pid in pytop's PID namespace (1),
 * or not (0): before holding a thread, so that an id misread, or given in
 * the target's namespace, never stops an unrelated process. */
int proc_task_of(pid_t pid, pid_t tid);

/* Does the process exist, and may we read its memory? Returns 0, -ESRCH,
 * or -EPERM (ptrace access check failed). */
int proc_check_access(pid_t pid);

/* The process's command line with arguments separated by spaces, written
 * into buf (NUL-terminated, truncated to cap). Returns 0 or -errno. */
int proc_cmdline(pid_t pid, char *buf, size_t cap);

/* Read at most cap bytes of a small file (a /proc file that the kernel
 * hands over whole) into buf, not NUL-terminated. Returns 0 and *len,
 * -ESRCH when the file (or its process) is gone, or another -errno. */
int proc_read_file(const char *path, char *buf, size_t cap, size_t *len);

/* The same on a file already open (kept open to be re-read at a high
 * rate): one pread from offset 0. Returns 0 and *len, -ESRCH when its
 * process is gone, -EBADF for fd < 0, or another -errno. */
int proc_read_fd(int fd, char *buf, size_t cap, size_t *len);

/* Where the fields after the command name begin in a /proc stat line of
 * len bytes (just after the last ')': the name may hold spaces and
 * parentheses), or NULL when there is no ')'. */
const char *proc_stat_fields(const char *buf, size_t len);

/* /proc/PID/stat into buf (NUL-terminated) and where its fields after
 * the command name begin (" S 1 ..."): the name may hold spaces and
 * parentheses, so they start after the last ')'. Returns 0, -ESRCH, or
 * -PT_ERR_FORMAT. */
int proc_read_stat(pid_t pid, char *buf, size_t cap, const char **fields);

/* Whether the process is a zombie or gone (1), alive (0), or -errno. */
int proc_is_dead(pid_t pid);

/* A task's stat file kept open, for sampling its state at a high rate: each
 * read is one pread of the already open file instead of open+read+close. */
struct proc_task_stat {
    int fd;                  /* -1 when closed */
};

/* Open /proc/PID/task/TID/stat. Returns 0, -ESRCH when the task is gone, or
 * another -errno; on error st->fd is -1. */
int proc_task_stat_open(pid_t pid, pid_t tid, struct proc_task_stat *st);
/* Re-read the task's state letter and its user+system CPU time in clock
 * ticks (sysconf(_SC_CLK_TCK)); either output may be NULL. Returns 0,
 * -ESRCH once the task has exited, -PT_ERR_FORMAT for an unparsable line. */
int proc_task_stat_read(struct proc_task_stat *st, char *state, uint64_t *cpu_ticks);
void proc_task_stat_close(struct proc_task_stat *st);   /* idempotent */

/* A task's CPU time in nanoseconds from /proc/PID/task/TID/schedstat,
 * kept open and re-read: three times cheaper than stat, and finer than its
 * clock ticks (the kernel updates it at each tick and context switch). */
struct proc_task_cpu {
    int fd;                  /* -1 when closed */
};

int proc_task_cpu_open(pid_t pid, pid_t tid, struct proc_task_cpu *c);
/* Returns 0 and the time the task has spent on a CPU, -ESRCH once it has
 * exited, -PT_ERR_FORMAT for an unparsable line. */
int proc_task_cpu_read(struct proc_task_cpu *c, uint64_t *run_ns);
/* The same, and how many times the task was put on a CPU (schedstat's
 * third field; 0 when the kernel does not count them). The pair unchanged
 * between two reads of a task that was not running means it never ran in
 * between. */
int proc_task_cpu_read_slices(struct proc_task_cpu *c, uint64_t *run_ns, uint64_t *slices);
void proc_task_cpu_close(struct proc_task_cpu *c);      /* idempotent */

#endif
