/* Unit tests for src/proc/pidns: the NSpid parser on fixtures, and a live
 * process in a PID namespace of its own (when this test may create one)
 * whose threads' own ids are mapped to this namespace's. */
#include "unit.h"

#include "core/error.h"
#include "proc/pidns.h"
#include "proc/tasks.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int parse(const char *text, pid_t *first, pid_t *last, int *levels)
{
    return proc_pidns_parse_status(text, strlen(text), first, last, levels);
}

static void test_parse(void)
{
    pid_t a = 0, b = 0;
    int n = 0;
    CHECK_INT(parse("Name:\tx\nNSpid:\t3894\t1\nNSpgid:\t3894\t1\n", &a, &b, &n), 1, "two levels: found");
    CHECK_INT(a, 3894, "two levels: first is /proc's id");
    CHECK_INT(b, 1, "two levels: last is the process's own");
    CHECK_INT(n, 2, "two levels: 2");
    CHECK_INT(parse("NSpid:\t42\n", &a, &b, &n), 1, "one level: found");
    CHECK(a == 42 && b == 42 && n == 1, "one level: both ids the same");
    CHECK_INT(parse("NSpid:\t10\t7\t3", &a, &b, &n), 1, "three levels, no newline: found");
    CHECK(a == 10 && b == 3 && n == 3, "three levels: first and last");
    CHECK_INT(parse("Name:\tNSpid:\t5\nPid:\t5\n", &a, &b, &n), 0, "NSpid not at a line start: absent");
    CHECK_INT(parse("", &a, &b, &n), 0, "empty: absent");
    static const char *const bad[] = {
        "NSpid:\n", "NSpid:\tx\n", "NSpid:\t-1\n", "NSpid:\t0\n", "NSpid:\t12a\n",
        "NSpid:\t99999999999\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(parse(bad[i], &a, &b, &n), -PT_ERR_FORMAT, "malformed NSpid: refused");
    char deep[512] = "NSpid:";
    for (int i = 0; i < 40; i++)
        strcat(deep, "\t9");
    CHECK_INT(parse(deep, &a, &b, &n), -PT_ERR_FORMAT, "more levels than the kernel nests: refused");
}

static void test_same_namespace(void)
{
    struct proc_pidns ns;
    proc_pidns_init(&ns, getpid());
    CHECK_INT(proc_pidns_nested(&ns), 0, "this process: not nested");
    pid_t ids[2] = { getpid(), 12345 };
    CHECK_INT(proc_pidns_to_host(&ns, ids, 2), 0, "same namespace: translated");
    CHECK(ids[0] == getpid() && ids[1] == 12345, "same namespace: ids unchanged");
    proc_pidns_release(&ns);
}

/* ---- a process in a namespace of its own --------------------------------- */

static int report_fd;

static void *thread_main(void *arg)
{
    (void)arg;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    if (write(report_fd, &tid, sizeof tid) != sizeof tid)
        _exit(3);
    for (;;)
        pause();
    return NULL;
}

/* pid 1 of the new namespace: reports its own id and its thread's. */
static void inner(int fd)
{
    report_fd = fd;
    pid_t self = getpid();
    if (write(fd, &self, sizeof self) != sizeof self)
        _exit(3);
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0)
        _exit(4);
    for (;;)
        pause();
}

static void test_nested(void)
{
    /* A helper enters the new namespace (a process that did cannot start
     * threads once the namespace's pid 1 is gone: the sanitizers' leak
     * check would fail), and its child is pid 1 there. */
    int p[2], h[2];   /* from the child, from the helper */
    if (pipe(p) != 0)
        return;
    if (pipe(h) != 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t helper = fork();
    if (helper == 0) {
        close(p[0]);
        close(h[0]);
        int err = unshare(CLONE_NEWPID) == 0 ? 0 : errno;
        pid_t g = err ? -err : fork();
        if (g == 0)
            inner(p[1]);
        if (write(h[1], &g, sizeof g) != sizeof g)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    close(h[1]);
    pid_t child = 0;
    int got = helper > 0 && read(h[0], &child, sizeof child) == sizeof child;
    close(h[0]);
    if (!got || child <= 0) {
        printf("# SKIP nested namespace: cannot create a PID namespace (%s)\n",
               strerror(child < 0 ? -child : errno));
        if (helper > 0) {
            kill(helper, SIGKILL);
            waitpid(helper, NULL, 0);
        }
        close(p[0]);
        return;
    }
    pid_t own[2] = { 0, 0 };
    CHECK(read(p[0], &own[0], sizeof own[0]) == sizeof own[0] &&
          read(p[0], &own[1], sizeof own[1]) == sizeof own[1], "nested: ids reported");
    close(p[0]);
    CHECK_INT(own[0], 1, "nested: the child is pid 1 of its namespace");

    struct proc_pidns ns;
    proc_pidns_init(&ns, child);
    CHECK_INT(proc_pidns_nested(&ns), 1, "nested: seen as nested");
    pid_t ids[3] = { own[0], own[1], 999999 };
    CHECK_INT(proc_pidns_to_host(&ns, ids, 3), 0, "nested: translated");
    CHECK_INT(ids[0], child, "nested: its pid 1 is the child");
    CHECK(ids[1] != 0 && ids[1] != own[1] && proc_task_of(child, ids[1]),
          "nested: its thread maps to one of the child's tasks");
    CHECK_INT(ids[2], 0, "nested: an id no task has is 0");
    const struct proc_pidns_task *tasks;
    size_t n = 0;
    CHECK_INT(proc_pidns_tasks(&ns, &tasks, &n), 0, "nested: tasks listed");
    CHECK_INT(n, 2, "nested: two tasks");
    CHECK(n == 2 && tasks[0].own == 1 && tasks[0].host == child && tasks[1].host == ids[1],
          "nested: listing sorted by own id, with both ids");
    proc_pidns_release(&ns);

    kill(child, SIGKILL);
    kill(helper, SIGKILL);
    waitpid(helper, NULL, 0);
    /* The child was the helper's; as a subreaper this process inherits
     * it, so it is reaped (gone from /proc) when waitpid returns. */
    waitpid(child, NULL, 0);
    /* The process is gone: nothing maps, and nothing is left as given. */
    proc_pidns_init(&ns, child);
    ns.state = PIDNS_NESTED;
    pid_t gone[1] = { 1 };
    CHECK(proc_pidns_to_host(&ns, gone, 1) < 0 && gone[0] == 0, "gone: error, id 0");
    proc_pidns_release(&ns);
}

int main(void)
{
    UNIT_RUN(test_parse);
    UNIT_RUN(test_same_namespace);
    UNIT_RUN(test_nested);
    return unit_done();
}
