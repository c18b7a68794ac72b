/* Launch mode: start a program and attach to it as soon as its
 * interpreter exists. */
#ifndef PYTOP_APP_LAUNCH_H
#define PYTOP_APP_LAUNCH_H

#include <stdint.h>
#include <sys/types.h>

#include "python/discover.h"

struct launch {
    pid_t pid;           /* the child, 0 when none */
    int reaped;          /* its exit status has been collected */
    int status;          /* waitpid status once reaped */
    uint64_t attach_limit_ns;   /* launch_attach gives up after this long; 0: no limit */
};

/* Start argv[0] with its arguments (searched in PATH). The child runs at
 * once, and is killed (SIGKILL) if the thread that started it ends first:
 * it never outlives pytop, whatever ends pytop. Returns 0, or -errno (e.g. -ENOENT for a missing program, reported
 * from the child through a close-on-exec pipe). */
int launch_start(char *const argv[], struct launch *l);

/* Attach to the launched program as soon as it runs Python code: retries
 * while the interpreter is loading or initialising, as long as the child
 * lives (no fixed start-up timeout to lose under load), and gives up on a
 * program that has run a few seconds without ever mapping an interpreter.
 * Returns 0 and *out, -ESRCH when the child exited first (its status is in
 * l), -ETIMEDOUT after l->attach_limit_ns, or another py_target_open error. */
int launch_attach(struct launch *l, enum py_layout_source pref, struct py_target **out);

/* Whether the child has exited; collects its status without blocking. */
int launch_exited(struct launch *l);

/* End the child if it still runs (SIGINT, then SIGTERM, then SIGKILL, a
 * couple of seconds apart) and collect its status. */
void launch_finish(struct launch *l, int terminate);

/* The exit code pytop should return to mirror the child's: its exit
 * status, or 128 + the signal that ended it. */
int launch_exit_code(const struct launch *l);

#endif
