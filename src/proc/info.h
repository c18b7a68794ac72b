/* One-off facts from /proc for the layers above, which never name /proc
 * themselves: a process's program and raw arguments, the kernel's ptrace
 * policy, pytop's own capabilities, and a path that reopens a descriptor. */
#ifndef PYTOP_PROC_INFO_H
#define PYTOP_PROC_INFO_H

#include <stddef.h>
#include <sys/types.h>

/* The process's arguments as the kernel keeps them, NUL-separated, into
 * buf (at most cap bytes, not NUL-terminated). Returns 0 and *len,
 * -ESRCH when it is gone, or another -errno. */
int proc_cmdline_args(pid_t pid, char *buf, size_t cap, size_t *len);

/* The path of the process's program (its exe link), NUL-terminated, with
 * the kernel's " (deleted)" left off. Returns 0, -ENAMETOOLONG when it
 * does not fit, or -errno (-ENOENT for a kernel thread or a zombie). */
int proc_exe_path(pid_t pid, char *buf, size_t cap);

/* kernel.yama.ptrace_scope (0..3), or -1 on a kernel without Yama. */
int proc_ptrace_scope(void);

/* Whether pytop's effective capabilities hold capability number cap
 * (CAP_SYS_PTRACE is 19): 1 or 0; 1 when it cannot be told. */
int proc_self_has_cap(int cap);

/* A path that opens what descriptor fd of pytop refers to, into buf.
 * Returns 0 or -ENAMETOOLONG. */
int proc_fd_path(int fd, char *buf, size_t cap);

#endif
