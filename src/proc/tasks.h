/* The threads (tasks) of a process and their scheduler state. */
#ifndef PYTOP_PROC_TASKS_H
#define PYTOP_PROC_TASKS_H

#include <stddef.h>
#include <sys/types.h>

/* List /proc/PID/task into a malloc'd array of tids (caller frees *out).
 * Returns 0, -ESRCH when the process is gone, or another -errno. */
int proc_tasks_list(pid_t pid, pid_t **out, size_t *count);

/* The one-letter state of a task from /proc/PID/task/TID/stat ('R', 'S',
 * 'D', ...), or a negative error. */
int proc_task_state(pid_t pid, pid_t tid, char *state);

/* Does the process exist, and may we read its memory? Returns 0, -ESRCH,
 * or -EPERM (ptrace access check failed). */
int proc_check_access(pid_t pid);

/* The process's command line with arguments separated by spaces, written
 * into buf (NUL-terminated, truncated to cap). Returns 0 or -errno. */
int proc_cmdline(pid_t pid, char *buf, size_t cap);

/* Whether the process is a zombie or gone (1), alive (0), or -errno. */
int proc_is_dead(pid_t pid);

#endif
