/* Unit tests for src/proc: the /proc/PID/maps parser and lookups, the
 * paths used to open mapped files, and the task/process helpers, both on
 * synthetic text and on this test's own process and children. */
#include "unit.h"

#include "proc/maps.h"
#include "proc/tasks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void skip(const char *why)
{
    unit_count++;
    printf("ok %d # SKIP %s\n", unit_count, why);
    fflush(stdout);
}

static int parse_str(const char *text, struct proc_maps *m)
{
    return proc_maps_parse(text, strlen(text), m);
}

/* A pid that cannot exist: pids are always below pid_max. */
static pid_t missing_pid(void)
{
    FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
    long v = 4194304;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = 4194304;
        fclose(f);
    }
    return (pid_t)v;
}

static pid_t my_tid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- parser ------------------------------------------------------------ */

static const char sample[] =
    "00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/python3.11\n"
    "00651000-00652000 rw-p 00051000 fd:01 173521      /usr/bin/python3.11\n"
    "0067b000-006a0000 rw-p 00000000 00:00 0          [heap]\n"
    "7f0000000000-7f0000021000 rw-s 00000000 00:00 0 \n"
    "7f0000100000-7f0000200000 r--p 00001000 103:0a 18446744073709551615 /home/a b/lib python.so\n"
    "7f0000200000-7f0000300000 r-xp 00000000 08:02 42 /tmp/gone.so (deleted)\n"
    "7f0000300000-7f0000301000 r--p 00000000 08:02 43 /tmp/a (deleted)/b.so\n"
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";

static void test_parse_sample(void)
{
    struct proc_maps m;
    CHECK_INT(parse_str(sample, &m), 0, "sample parses");
    CHECK_INT(m.count, 10, "sample: 10 mappings");
    if (m.count != 10) {
        proc_maps_release(&m);
        return;
    }
    CHECK(m.maps[0].start == 0x400000 && m.maps[0].end == 0x452000, "first range");
    CHECK_INT(m.maps[0].perms, PROC_MAP_R | PROC_MAP_X | PROC_MAP_P, "r-xp perms");
    CHECK_STR(m.maps[0].path, "/usr/bin/python3.11", "executable path");
    CHECK_INT(m.maps[0].dev_major, 8, "dev major");
    CHECK_INT(m.maps[0].dev_minor, 2, "dev minor");
    CHECK_INT(m.maps[0].inode, 173521, "inode");
    CHECK_INT(m.maps[0].deleted, 0, "not deleted");
    CHECK_INT(m.maps[1].offset, 0x51000, "file offset");
    CHECK_INT(m.maps[1].dev_major, 0xfd, "hex dev major");
    CHECK_STR(m.maps[2].path, "[heap]", "[heap] pseudo-path");
    CHECK_STR(m.maps[3].path, "", "anonymous with trailing blank has empty path");
    CHECK_INT(m.maps[3].perms, PROC_MAP_R | PROC_MAP_W, "rw-s: shared, not private");
    CHECK_STR(m.maps[4].path, "/home/a b/lib python.so", "path with spaces kept whole");
    CHECK_INT(m.maps[4].dev_major, 0x103, "three-digit dev major");
    CHECK_INT(m.maps[4].dev_minor, 0xa, "dev minor 0a");
    CHECK(m.maps[4].inode == UINT64_MAX, "64-bit inode");
    CHECK_STR(m.maps[5].path, "/tmp/gone.so", "\" (deleted)\" stripped");
    CHECK_INT(m.maps[5].deleted, 1, "deleted flag set");
    CHECK_STR(m.maps[6].path, "/tmp/a (deleted)/b.so", "\" (deleted)\" mid-path kept");
    CHECK_INT(m.maps[6].deleted, 0, "mid-path (deleted) is not deletion");
    CHECK_STR(m.maps[7].path, "[stack]", "[stack]");
    CHECK_STR(m.maps[8].path, "[vdso]", "[vdso]");
    CHECK(m.maps[9].start == 0xffffffffff600000ULL, "top-of-address-space start");
    CHECK_STR(m.maps[9].path, "[vsyscall]", "last line without newline");
    CHECK_INT(m.maps[9].perms, PROC_MAP_X | PROC_MAP_P, "--xp perms");
    proc_maps_release(&m);
    CHECK(m.maps == NULL && m.count == 0, "release clears");
    proc_maps_release(&m);   /* twice is harmless */
}

static void test_parse_garbage(void)
{
    static const char text[] =
        "\n"
        "hello world\n"
        "1000-2000 r-xp 00000000 08:02 1 /ok/one\n"
        "zzzz-3000 r-xp 00000000 08:02 1 /bad/start\n"
        "3000-4000 rwxq 00000000 08:02 1 /bad/perms\n"
        "5000-4000 r--p 00000000 08:02 1 /bad/reversed\n"
        "5000-5000 r--p 00000000 08:02 1 /bad/empty\n"
        "10000000000000000-10000000000000001 r--p 0 08:02 1 /bad/overflow\n"
        "6000-7000 r--p 00000000 0802 1 /bad/dev\n"
        "6000-7000 r--p 00000000 08:02 /bad/inode\n"
        "6000-7000 r--p\n"
        "6000-7000 r--p 00000000 08:02 1x /bad/inode-suffix\n"
        "6000-7000 r--pX 00000000 08:02 1 /bad/perms-long\n"
        "8000-9000 rw-p 00000000 00:00 0\n"
        "\r\n"
        "a000-b000 rw-p 00000000 00:00 0 \t [anon:some name]\n";
    struct proc_maps m;
    CHECK_INT(parse_str(text, &m), 0, "garbage-laden text parses");
    CHECK_INT(m.count, 3, "only the 3 well-formed lines kept");
    if (m.count == 3) {
        CHECK_STR(m.maps[0].path, "/ok/one", "good line among garbage");
        CHECK_STR(m.maps[1].path, "", "anonymous without trailing blank");
        CHECK_STR(m.maps[2].path, "[anon:some name]", "named anonymous mapping");
    }
    proc_maps_release(&m);

    CHECK_INT(proc_maps_parse("", 0, &m), 0, "empty text parses");
    CHECK_INT(m.count, 0, "empty text: no mappings");
    proc_maps_release(&m);

    /* Only the first len bytes count, even mid-line. */
    const char *cut = "1000-2000 r-xp 00000000 08:02 1 /lib/x.so\n3000-4000 r-xp 0";
    CHECK_INT(proc_maps_parse(cut, strlen(cut), &m), 0, "cut text parses");
    CHECK_INT(m.count, 1, "truncated last line dropped");
    proc_maps_release(&m);
    CHECK_INT(proc_maps_parse(cut, 25, &m), 0, "cut inside the first line");
    CHECK_INT(m.count, 0, "half a line is not a mapping");
    proc_maps_release(&m);
}

static void test_parse_long_path(void)
{
    size_t plen = 10000;
    char *text = malloc(plen + 100);
    if (!text) {
        CHECK(0, "malloc");
        return;
    }
    int n = sprintf(text, "1000-2000 r--p 00000000 08:02 7 /");
    memset(text + n, 'x', plen - 1);
    strcpy(text + n + plen - 1, " (deleted)\n");
    struct proc_maps m;
    CHECK_INT(parse_str(text, &m), 0, "10000-byte path parses");
    CHECK(m.count == 1 && strlen(m.maps[0].path) == plen && m.maps[0].deleted,
          "long path kept whole, deleted suffix stripped");
    proc_maps_release(&m);
    free(text);
}

static void test_parse_unsorted(void)
{
    /* A torn read can repeat or reorder entries; the result must still be
     * sorted and disjoint. */
    static const char text[] =
        "5000-6000 r--p 00000000 08:02 1 /c\n"
        "1000-2000 r--p 00000000 08:02 1 /a\n"
        "3000-4000 r--p 00000000 08:02 1 /b\n"
        "3000-4000 r--p 00000000 08:02 1 /b\n"
        "3800-4800 r--p 00000000 08:02 1 /overlap\n";
    struct proc_maps m;
    CHECK_INT(parse_str(text, &m), 0, "unsorted text parses");
    CHECK_INT(m.count, 3, "duplicates and overlaps dropped");
    int ok = m.count == 3;
    for (size_t i = 1; ok && i < m.count; i++)
        ok = m.maps[i - 1].end <= m.maps[i].start;
    CHECK(ok, "sorted and disjoint");
    if (m.count == 3)
        CHECK(strcmp(m.maps[0].path, "/a") == 0 && strcmp(m.maps[2].path, "/c") == 0,
              "sorted by start");
    proc_maps_release(&m);
}

static void test_find(void)
{
    struct proc_maps m;
    CHECK_INT(parse_str(sample, &m), 0, "sample parses for find");
    const struct proc_map *f;
    CHECK(proc_maps_find(&m, 0) == NULL, "below the first mapping");
    CHECK(proc_maps_find(&m, 0x3fffff) == NULL, "one byte before the first");
    f = proc_maps_find(&m, 0x400000);
    CHECK(f == &m.maps[0], "first byte of a mapping");
    f = proc_maps_find(&m, 0x451fff);
    CHECK(f == &m.maps[0], "last byte of a mapping");
    CHECK(proc_maps_find(&m, 0x452000) == NULL, "end is exclusive (gap)");
    f = proc_maps_find(&m, 0x7f0000250000);
    CHECK(f == &m.maps[5], "middle mapping");
    f = proc_maps_find(&m, 0x7f0000300000);
    CHECK(f == &m.maps[6], "adjacent mapping starts where the last ended");
    f = proc_maps_find(&m, 0xffffffffff600fffULL);
    CHECK(f == &m.maps[9], "last mapping");
    CHECK(proc_maps_find(&m, UINT64_MAX) == NULL, "above the last mapping");
    int all = 1;
    for (size_t i = 0; i < m.count; i++)
        all &= proc_maps_find(&m, m.maps[i].start) == &m.maps[i] &&
               proc_maps_find(&m, m.maps[i].end - 1) == &m.maps[i];
    CHECK(all, "every mapping found by its first and last byte");
    proc_maps_release(&m);

    struct proc_maps empty = { NULL, 0 };
    CHECK(proc_maps_find(&empty, 0x1000) == NULL, "find in an empty list");
}

/* ---- open paths ---------------------------------------------------------- */

static void test_open_path_format(void)
{
    char buf[256], want[256];
    /* Nothing of ours is mapped there, so map_files has no such entry and
     * the fallback through the target's root is used. */
    struct proc_map fake = { .start = 0x10000, .end = 0x20000, .path = "/usr/lib/lib x.so" };
    pid_t pid = getpid();
    CHECK_INT(proc_map_open_path(pid, &fake, buf, sizeof buf), 0, "fallback path");
    snprintf(want, sizeof want, "/proc/%d/root/usr/lib/lib x.so", (int)pid);
    CHECK_STR(buf, want, "fallback goes through /proc/PID/root");

    CHECK_INT(proc_map_open_path(pid, &fake, buf, 12), -ENAMETOOLONG, "small buffer");
    CHECK_STR(buf, "", "small buffer leaves an empty string");
    CHECK_INT(proc_map_open_path(pid, &fake, buf, 0), -ENAMETOOLONG, "zero-size buffer");

    struct proc_map anon = { .start = 0x10000, .end = 0x20000, .path = "" };
    CHECK_INT(proc_map_open_path(pid, &anon, buf, sizeof buf), -ENOENT, "anonymous: no file");
    struct proc_map heap = { .start = 0x10000, .end = 0x20000, .path = "[heap]" };
    CHECK_INT(proc_map_open_path(pid, &heap, buf, sizeof buf), -ENOENT, "[heap]: no file");
    struct proc_map gone = { .start = 0x10000, .end = 0x20000, .path = "/tmp/x.so", .deleted = 1 };
    CHECK_INT(proc_map_open_path(pid, &gone, buf, sizeof buf), -ENOENT,
              "deleted file without map_files: no path that could name another file");
}

/* Find the mapping holding addr in our own maps. */
static const struct proc_map *self_map(const struct proc_maps *m, const void *addr)
{
    return proc_maps_find(m, (uint64_t)(uintptr_t)addr);
}

static void test_live_self(void)
{
    struct proc_maps m;
    pid_t pid = getpid();
    CHECK_INT(proc_maps_read(pid, &m), 0, "read own maps");
    CHECK(m.count > 5, "own maps has mappings");

    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const struct proc_map *code = self_map(&m, (const void *)(uintptr_t)test_live_self);
    CHECK(code != NULL, "own code is mapped");
    CHECK(code && strcmp(code->path, exe) == 0, "own code maps the test binary");
    CHECK(code && (code->perms & PROC_MAP_X), "own code is executable");

    int on_stack;
    const struct proc_map *stack = self_map(&m, &on_stack);
    CHECK(stack && (stack->perms & PROC_MAP_W), "stack is mapped writable");

    const struct proc_map *libc = self_map(&m, (const void *)(uintptr_t)getpid);
    CHECK(libc && strstr(libc->path, "libc") != NULL, "getpid lives in a libc mapping");
    if (libc) {
        char path[4096], want[4096];
        CHECK_INT(proc_map_open_path(pid, libc, path, sizeof path), 0, "open path for libc");
        snprintf(want, sizeof want, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid,
                 libc->start, libc->end);
        /* Whether map_files can be followed here depends on privileges:
         * ask the kernel, then the path must be the one it allows. */
        if (access(want, R_OK) == 0) {
            printf("# map_files is accessible here: %s\n", want);
            CHECK_STR(path, want, "libc via map_files, lowercase hex without 0x");
        } else {
            printf("# map_files not accessible, fallback: %s\n", path);
            snprintf(want, sizeof want, "/proc/%d/root%s", (int)pid, libc->path);
            CHECK_STR(path, want, "libc via /proc/PID/root");
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0, "libc open path opens");
        struct stat st;
        CHECK(fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == libc->inode,
              "opened file is the mapped inode");
        if (fd >= 0)
            close(fd);
    }
    proc_maps_release(&m);

    CHECK_INT(proc_maps_read(missing_pid(), &m), -ESRCH, "no such process: -ESRCH");
    CHECK_INT(proc_maps_read(0, &m), -ESRCH, "pid 0: -ESRCH");
}

/* A deleted file still mapped: only map_files can reach it. */
static void test_live_deleted(void)
{
    char path[] = "/tmp/pytop-maps-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        skip("cannot create a temp file");
        return;
    }
    char page[4096];
    memset(page, 'Q', sizeof page);
    ssize_t w = write(fd, page, sizeof page);
    (void)w;
    void *addr = mmap(NULL, sizeof page, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    unlink(path);
    if (addr == MAP_FAILED) {
        skip("cannot map a temp file");
        return;
    }
    {
        struct proc_maps m;
        CHECK_INT(proc_maps_read(getpid(), &m), 0, "read own maps after unlink");
        const struct proc_map *d = self_map(&m, addr);
        CHECK(d && d->deleted && strcmp(d->path, path) == 0,
              "unlinked mapping: deleted flag, path without suffix");
        if (d) {
            char p[4096];
            int rc = proc_map_open_path(getpid(), d, p, sizeof p);
            if (rc == 0) {
                int f2 = open(p, O_RDONLY | O_CLOEXEC);
                char c = 0;
                CHECK(f2 >= 0 && read(f2, &c, 1) == 1 && c == 'Q',
                      "deleted file readable through map_files");
                if (f2 >= 0)
                    close(f2);
            } else {
                CHECK_INT(rc, -ENOENT, "deleted file, no map_files access: -ENOENT");
            }
        }
        proc_maps_release(&m);
        munmap(addr, sizeof page);
    }
}

/* ---- tasks --------------------------------------------------------------- */

struct sleeper {
    int pipe[2];
    _Atomic pid_t tid;
};

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    /* comm with spaces and parentheses: the stat parser must find the
     * last ')'. */
    prctl(PR_SET_NAME, "a) b (c) d", 0, 0, 0);
    atomic_store(&s->tid, my_tid());
    char c;
    ssize_t r = read(s->pipe[0], &c, 1);
    (void)r;
    return NULL;
}

static void test_tasks_threads(void)
{
    struct sleeper s;
    s.tid = 0;
    pthread_t th;
    if (pipe(s.pipe) != 0 || pthread_create(&th, NULL, sleeper_main, &s) != 0) {
        CHECK(0, "start a sleeping thread");
        return;
    }
    while (atomic_load(&s.tid) == 0)
        sleep_ms(1);
    pid_t pid = getpid(), tid = atomic_load(&s.tid);

    pid_t *tids;
    size_t count;
    CHECK_INT(proc_tasks_list(pid, &tids, &count), 0, "list own tasks");
    int have_main = 0, have_thread = 0;
    for (size_t i = 0; i < count; i++) {
        have_main |= tids[i] == pid;
        have_thread |= tids[i] == tid;
    }
    CHECK(count >= 2 && have_main && have_thread, "main thread and sleeper listed");
    int sorted = 1;
    for (size_t i = 1; i < count; i++)
        sorted &= tids[i - 1] < tids[i];
    free(tids);
    CHECK(sorted, "tids sorted ascending");

    /* Wait for the sleeper to block in read(). */
    char st = 0;
    for (int i = 0; i < 2000; i++) {
        if (proc_task_state(pid, tid, &st) != 0 || st == 'S')
            break;
        sleep_ms(1);
    }
    CHECK(st == 'S', "blocked thread with ')' in its name is 'S'");
    CHECK_INT(proc_task_state(pid, my_tid(), &st), 0, "own state");
    CHECK(st == 'R', "the running thread is 'R'");

    struct proc_task_stat ts;
    uint64_t ticks = UINT64_MAX;
    CHECK_INT(proc_task_stat_open(pid, tid, &ts), 0, "keep the sleeper's stat open");
    CHECK_INT(proc_task_stat_read(&ts, &st, &ticks), 0, "read through the open file");
    CHECK(st == 'S' && ticks != UINT64_MAX, "state and ticks from the open file");
    CHECK_INT(proc_task_stat_read(&ts, &st, NULL), 0, "re-read, no ticks wanted");

    ssize_t w = write(s.pipe[1], "x", 1);
    (void)w;
    pthread_join(th, NULL);
    close(s.pipe[0]);
    close(s.pipe[1]);
    int rc = 0;
    for (int i = 0; i < 2000; i++) {
        rc = proc_task_stat_read(&ts, &st, NULL);
        if (rc != 0)
            break;
        sleep_ms(1);
    }
    CHECK_INT(rc, -ESRCH, "exited thread: -ESRCH through the open file");
    proc_task_stat_close(&ts);
    proc_task_stat_close(&ts);
    CHECK_INT(ts.fd, -1, "closed twice, fd -1");
    CHECK_INT(proc_task_stat_read(&ts, &st, NULL), -EBADF, "read after close");
    CHECK_INT(proc_task_state(pid, tid, &st), -ESRCH, "state of an exited thread");
    CHECK_INT(proc_task_stat_open(missing_pid(), 1, &ts), -ESRCH, "open stat of no process");
    CHECK_INT(ts.fd, -1, "failed open leaves fd -1");
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_tasks_cpu(void)
{
    struct proc_task_stat ts;
    char st;
    uint64_t t0, t1;
    long hz = sysconf(_SC_CLK_TCK);
    CHECK_INT(proc_task_stat_open(getpid(), my_tid(), &ts), 0, "open own stat");
    uint64_t c0 = thread_cpu_ns();
    CHECK_INT(proc_task_stat_read(&ts, &st, &t0), 0, "own ticks before");
    /* Burn about 200 ms of CPU: reading the clock is work enough. */
    while (thread_cpu_ns() - c0 < 200000000ULL)
        ;
    CHECK_INT(proc_task_stat_read(&ts, &st, &t1), 0, "own ticks after");
    uint64_t c1 = thread_cpu_ns();
    proc_task_stat_close(&ts);
    double got = (double)(t1 - t0) / (double)hz, want = (double)(c1 - c0) / 1e9;
    printf("# utime+stime grew %.3f s, thread clock %.3f s\n", got, want);
    CHECK(t1 >= t0 && got > want - 3.0 / hz && got < want + 3.0 / hz,
          "utime+stime ticks track the thread's CPU clock");
}

static void test_process_state(void)
{
    pid_t self = getpid();
    char buf[4096];
    CHECK_INT(proc_check_access(self), 0, "may read own memory");
    CHECK_INT(proc_check_access(missing_pid()), -ESRCH, "access to no process: -ESRCH");
    CHECK_INT(proc_check_access(-1), -ESRCH, "negative pid: -ESRCH");
    CHECK_INT(proc_is_dead(self), 0, "we are alive");
    CHECK_INT(proc_is_dead(missing_pid()), 1, "no process is dead");

    CHECK_INT(proc_cmdline(self, buf, sizeof buf), 0, "own cmdline");
    CHECK(strstr(buf, "test_maps") != NULL, "own cmdline names the test");
    char small[5];
    CHECK_INT(proc_cmdline(self, small, sizeof small), 0, "cmdline into a small buffer");
    CHECK_INT(strlen(small), 4, "truncated to cap - 1");
    CHECK_INT(proc_cmdline(missing_pid(), buf, sizeof buf), -ESRCH, "cmdline of no process");

    /* A child with arguments, then a zombie, then gone. */
    int go[2];
    if (pipe(go) != 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(go[1]);
        ssize_t r = read(go[0], &c, 1);
        (void)r;
        _exit(0);
    }
    close(go[0]);
    CHECK(child > 0, "fork");
    if (child < 0)
        return;
    CHECK_INT(proc_check_access(child), 0, "may read our child");
    CHECK_INT(proc_is_dead(child), 0, "child alive");
    pid_t *tids;
    size_t count;
    CHECK_INT(proc_tasks_list(child, &tids, &count), 0, "list child tasks");
    CHECK(count == 1 && tids[0] == child, "single-threaded child: one task, its pid");
    free(tids);

    close(go[1]);   /* let it exit */
    int dead = 0;
    for (int i = 0; i < 2000 && !(dead = proc_is_dead(child)); i++)
        sleep_ms(1);
    CHECK_INT(dead, 1, "unreaped child is dead (zombie)");
    char st = 0;
    CHECK_INT(proc_task_state(child, child, &st), 0, "zombie's state readable");
    CHECK(st == 'Z', "zombie state 'Z'");
    CHECK_INT(proc_check_access(child), -ESRCH, "zombie has no memory: -ESRCH");
    CHECK_INT(proc_cmdline(child, buf, sizeof buf), 0, "zombie cmdline");
    CHECK(buf[0] == '[' && buf[strlen(buf) - 1] == ']', "zombie cmdline falls back to [comm]");
    struct proc_maps m;
    CHECK_INT(proc_maps_read(child, &m), 0, "zombie's maps read");
    CHECK_INT(m.count, 0, "zombie has no mappings");
    proc_maps_release(&m);

    waitpid(child, NULL, 0);
    CHECK_INT(proc_is_dead(child), 1, "reaped child is dead");
    CHECK_INT(proc_task_state(child, child, &st), -ESRCH, "reaped child: state -ESRCH");
    CHECK_INT(proc_tasks_list(child, &tids, &count), -ESRCH, "reaped child: tasks -ESRCH");
    CHECK_INT(proc_check_access(child), -ESRCH, "reaped child: access -ESRCH");
}

/* An unprivileged child must be refused our memory. */
static void test_access_denied(void)
{
    if (geteuid() != 0) {
        skip("EPERM check needs root to drop to another user");
        return;
    }
    int res[2];
    if (pipe(res) != 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        int rc = 1;
        if (setgid(65534) == 0 && setuid(65534) == 0)
            rc = proc_check_access(parent);
        ssize_t w = write(res[1], &rc, sizeof rc);
        (void)w;
        _exit(0);
    }
    close(res[1]);
    int rc = 12345;
    ssize_t r = read(res[0], &rc, sizeof rc);
    close(res[0]);
    waitpid(child, NULL, 0);
    if (r != sizeof rc || rc == 1) {
        skip("could not drop privileges in a child");
        return;
    }
    CHECK_INT(rc, -EPERM, "unprivileged user gets -EPERM for root's process");
}

int main(void)
{
    UNIT_RUN(test_parse_sample);
    UNIT_RUN(test_parse_garbage);
    UNIT_RUN(test_parse_long_path);
    UNIT_RUN(test_parse_unsorted);
    UNIT_RUN(test_find);
    UNIT_RUN(test_open_path_format);
    UNIT_RUN(test_live_self);
    UNIT_RUN(test_live_deleted);
    UNIT_RUN(test_tasks_threads);
    UNIT_RUN(test_tasks_cpu);
    UNIT_RUN(test_process_state);
    UNIT_RUN(test_access_denied);
    return unit_done();
}
