#include "config.h"

#include "app/launch.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A program that has not mapped an interpreter after this long of its own
 * life is not a Python program. */
#define NOT_PYTHON_AFTER_NS (5ULL * 1000000000ULL)

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int launch_start(char *const argv[], struct launch *l)
{
    memset(l, 0, sizeof *l);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return -e;
    }
    if (pid == 0) {
        close(pipefd[0]);
        /* Die with pytop. If pytop died before the request took hold, the
         * child has a new parent already: do not start. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        execvp(argv[0], argv);
        int e = errno;
        ssize_t n = write(pipefd[1], &e, sizeof e);
        (void)n;
        _exit(127);
    }
    close(pipefd[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(pipefd[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    l->pid = pid;
    if (n == (ssize_t)sizeof child_errno) {
        /* exec failed: the pipe carried its errno before closing. */
        waitpid(pid, &l->status, 0);
        l->reaped = 1;
        return -child_errno;
    }
    return 0;
}

int launch_exited(struct launch *l)
{
    if (l->reaped)
        return 1;
    if (l->pid <= 0)
        return 1;
    int st;
    pid_t r = waitpid(l->pid, &st, WNOHANG);
    /* --native holds threads with ptrace, and their stops are reported
     * to every waitpid of ours: a stop is not an exit. */
    if (r == l->pid && !WIFEXITED(st) && !WIFSIGNALED(st))
        return 0;
    if (r == l->pid) {
        l->status = st;
        l->reaped = 1;
        return 1;
    }
    return 0;
}

int launch_attach(struct launch *l, enum py_layout_source pref, struct py_target **out)
{
    uint64_t start = mono_ns();
    struct timespec pause = { 0, 1000000 };   /* 1 ms between tries */
    for (;;) {
        if (launch_exited(l))
            return -ESRCH;
        if (l->attach_limit_ns && mono_ns() - start > l->attach_limit_ns)
            return -ETIMEDOUT;
        int rc = py_target_open(l->pid, pref, out);
        if (rc == 0)
            return 0;
        /* Loading (not Python yet) and initialising (no interpreter yet)
         * are passing states; anything else is final. */
        if (rc != -PT_ERR_NOT_PYTHON && rc != -PT_ERR_NO_INTERP && rc != -ESRCH &&
            rc != -PT_ERR_BAD_DATA)
            return rc;
        if (rc == -PT_ERR_NOT_PYTHON && mono_ns() - start > NOT_PYTHON_AFTER_NS)
            return rc;
        nanosleep(&pause, NULL);
        /* Back off gently: quick at first, when start-up matters most. */
        if (pause.tv_nsec < 20000000)
            pause.tv_nsec += 1000000;
    }
}

static int wait_for(struct launch *l, uint64_t ns)
{
    uint64_t end = mono_ns() + ns;
    struct timespec pause = { 0, 10000000 };
    while (mono_ns() < end) {
        if (launch_exited(l))
            return 1;
        nanosleep(&pause, NULL);
    }
    return launch_exited(l);
}

void launch_finish(struct launch *l, int terminate)
{
    if (l->pid <= 0 || l->reaped)
        return;
    if (terminate) {
        static const int sigs[] = { SIGINT, SIGTERM, SIGKILL };
        for (size_t i = 0; i < 3; i++) {
            kill(l->pid, sigs[i]);
            if (wait_for(l, 2000000000ULL))
                return;
        }
    }
    while (waitpid(l->pid, &l->status, 0) < 0 && errno == EINTR)
        ;
    l->reaped = 1;
}

int launch_exit_code(const struct launch *l)
{
    if (!l->reaped)
        return 0;
    if (WIFEXITED(l->status))
        return WEXITSTATUS(l->status);
    if (WIFSIGNALED(l->status))
        return 128 + WTERMSIG(l->status);
    return 1;
}
