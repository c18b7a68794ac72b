/* Unit tests for src/proc/memstat: the /proc text parsers on fixtures
 * (whole, truncated and garbage), and live reads of this test process and
 * of a child that exits. Also prints what a read costs. */
#include "unit.h"

#include "core/error.h"
#include "proc/memstat.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct counters parse_status(const char *text, int *found)
{
    struct counters c;
    memset(&c, 0, sizeof c);
    *found = proc_status_parse(text, strlen(text), &c);
    return c;
}

/* ---- statm --------------------------------------------------------------- */

static void test_statm(void)
{
    uint64_t size = 7, res = 7;
    const char *ok = "5436 1234 880 1 0 1015 0\n";
    CHECK_INT(proc_statm_parse(ok, strlen(ok), &size, &res), 0, "statm: parsed");
    CHECK_INT(size, 5436, "statm: size");
    CHECK_INT(res, 1234, "statm: resident");
    CHECK_INT(proc_statm_parse("0 0 0 0 0 0 0\n", 14, &size, &res), 0, "statm: a zombie's zeros parse");
    CHECK_INT(size, 0, "statm: zombie size 0");

    static const char *const bad[] = {
        "", "\n", "5436", "5436 ", "5436 x", "x 1", " 1 2", "5436\t12 0",
        "99999999999999999999999 1 0", "12 99999999999999999999999 0", "12 34abc 0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size = res = 7;
        CHECK_INT(proc_statm_parse(bad[i], strlen(bad[i]), &size, &res), -PT_ERR_FORMAT,
                  "statm: garbage refused");
        CHECK(size == 7 && res == 7, "statm: outputs untouched on error");
    }
    /* Truncated inside the second number still gives a number: statm has
     * no terminator to insist on, and a short read of it does not happen. */
    CHECK_INT(proc_statm_parse("5436 12", 7, &size, &res), 0, "statm: without newline");
    CHECK_INT(res, 12, "statm: without newline, resident");
}

/* ---- status -------------------------------------------------------------- */

static const char status_fixture[] =
    "Name:\tpython3\n"
    "Umask:\t0022\n"
    "State:\tS (sleeping)\n"
    "Pid:\t4242\n"
    "VmPeak:\t  412340 kB\n"
    "VmSize:\t  412340 kB\n"
    "VmLck:\t       0 kB\n"
    "VmHWM:\t   98765 kB\n"
    "VmRSS:\t   54321 kB\n"
    "RssAnon:\t   40000 kB\n"
    "RssFile:\t   14000 kB\n"
    "RssShmem:\t     321 kB\n"
    "VmData:\t  300000 kB\n"
    "VmSwap:\t      12 kB\n"
    "Threads:\t3\n";

static void test_status(void)
{
    int n;
    struct counters c = parse_status(status_fixture, &n);
    CHECK_INT(n, 4, "status: four fields");
    CHECK_INT(c.value[CTR_RSS], 54321ULL * 1024, "status: VmRSS in bytes");
    CHECK_INT(c.value[CTR_PEAK_RSS], 98765ULL * 1024, "status: VmHWM");
    CHECK_INT(c.value[CTR_ANON], 40000ULL * 1024, "status: RssAnon");
    CHECK_INT(c.value[CTR_SWAP], 12ULL * 1024, "status: VmSwap");
    CHECK(counters_has(&c, CTR_RSS) && counters_has(&c, CTR_SWAP), "status: valid bits");
    CHECK(!counters_has(&c, CTR_HEAP) && !counters_has(&c, CTR_MINFLT_TOTAL),
          "status: nothing else set");

    /* An old kernel: no RssAnon, no VmSwap. */
    c = parse_status("VmHWM:\t 10 kB\nVmRSS:\t 9 kB\n", &n);
    CHECK_INT(n, 2, "status: old kernel, two fields");
    CHECK(!counters_has(&c, CTR_ANON) && !counters_has(&c, CTR_SWAP),
          "status: absent fields stay invalid");

    /* A zombie: no Vm lines at all. */
    c = parse_status("Name:\tpython3\nState:\tZ (zombie)\nThreads:\t1\n", &n);
    CHECK_INT(n, 0, "status: zombie, nothing");
    CHECK_INT(c.valid, 0, "status: zombie, no valid bit");

    /* Cut in the middle of a line: the cut line is not taken. */
    size_t cut = (size_t)(strstr(status_fixture, "VmRSS:\t   543") - status_fixture) + 13;
    struct counters t;
    memset(&t, 0, sizeof t);
    n = proc_status_parse(status_fixture, cut, &t);
    CHECK_INT(n, 1, "status: truncated in VmRSS, only VmHWM");
    CHECK(counters_has(&t, CTR_PEAK_RSS) && !counters_has(&t, CTR_RSS), "status: truncated line dropped");

    static const char *const bad[] = {
        "VmRSS:\n", "VmRSS:\t kB\n", "VmRSS:\t12\n", "VmRSS:\t12 MB\n", "VmRSS:\t-12 kB\n",
        "VmRSS 12 kB\n", "XVmRSS:\t12 kB\n", "VmRSSX:\t12 kB\n", "vmrss:\t12 kB\n",
        "VmRSS:\t99999999999999999999 kB\n", "VmRSS:\t18014398509481984 kB\n", "VmRSS:\t12 k",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = parse_status(bad[i], &n);
        CHECK(n == 0 && c.valid == 0, "status: malformed line ignored");
    }
    /* The first well-formed line of a name wins; later duplicates do not. */
    c = parse_status("VmRSS:\t1 kB\nVmRSS:\t2 kB\n", &n);
    CHECK_INT(c.value[CTR_RSS], 1024, "status: first line wins");
    /* Binary garbage with NULs in it does not confuse the line scan. */
    static const char junk[] = "\0\0j\nVmRSS:\t7 kB\n\0VmSwap\0:\t1 kB\nVmHWM:\t8 kB";
    memset(&c, 0, sizeof c);
    n = proc_status_parse(junk, sizeof junk - 1, &c);
    CHECK(n == 2 && c.value[CTR_RSS] == 7 * 1024 && c.value[CTR_PEAK_RSS] == 8 * 1024,
          "status: NULs between lines, no newline at the end");
}

static void test_rollup(void)
{
    const char *text = "00400000-7ffd0000 ---p 00000000 00:00 0   [rollup]\n"
                       "Rss:               58200 kB\n"
                       "Anonymous:         41000 kB\n"
                       "Swap:                  0 kB\n";
    uint64_t v = 0;
    CHECK_INT(proc_rollup_anon_parse(text, strlen(text), &v), 0, "rollup: Anonymous found");
    CHECK_INT(v, 41000ULL * 1024, "rollup: Anonymous in bytes");
    CHECK_INT(proc_rollup_anon_parse("Rss: 1 kB\n", 10, &v), -ENODATA, "rollup: absent");
    CHECK_INT(proc_rollup_anon_parse("Anonymous: x kB\n", 16, &v), -ENODATA, "rollup: malformed");
}

/* ---- stat ---------------------------------------------------------------- */

static void test_stat(void)
{
    /* Fields: 1 pid, 2 comm, 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty,
     * 8 tpgid, 9 flags, 10 minflt, 11 cminflt, 12 majflt, 13 cmajflt... */
    const char *line = "4242 (py (x) y) S 1 4242 4242 34816 -1 4194560 12345 99 67 0 10 20 0 0 "
                       "20 0 3 0 100 412340224 13580 18446744073709551615\n";
    uint64_t mn = 0, mj = 0;
    CHECK_INT(proc_stat_faults_parse(line, strlen(line), &mn, &mj), 0, "stat: parsed");
    CHECK_INT(mn, 12345, "stat: minflt after a comm with ') '");
    CHECK_INT(mj, 67, "stat: majflt");

    const char *big = "1 (a) R 0 0 0 0 0 0 18446744073709551615 0 18446744073709551614 0";
    CHECK_INT(proc_stat_faults_parse(big, strlen(big), &mn, &mj), 0, "stat: 64-bit counts");
    CHECK(mn == UINT64_MAX && mj == UINT64_MAX - 1, "stat: 64-bit values");

    static const char *const bad[] = {
        "", "4242 (py", "4242 (py) S 1 2 3 4 5 6 7", "4242 (py) S 1 2 3 4 5 6 x 8 9",
        "4242 (py) S 1 2 3 4 5 6 7 8 -9", "4242 (py) S 1 2 3 4 5 6 18446744073709551616 8 9",
        "4242 (py) S 1 2 3 4 5 6 7 8", "4242 (py)",
        "4242 (py) S 1 2 3 4 5 6 12a 8 9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mn = mj = 5;
        CHECK_INT(proc_stat_faults_parse(bad[i], strlen(bad[i]), &mn, &mj), -PT_ERR_FORMAT,
                  "stat: garbage refused");
        CHECK(mn == 5 && mj == 5, "stat: outputs untouched on error");
    }
    /* Truncated right after majflt is enough. */
    const char *cut = "4242 (py) S 1 2 3 4 5 6 7 8 9";
    CHECK_INT(proc_stat_faults_parse(cut, strlen(cut), &mn, &mj), 0, "stat: cut after majflt");
    CHECK(mn == 7 && mj == 9, "stat: cut after majflt, values");
}

/* ---- maps ---------------------------------------------------------------- */

static void test_maps_heap(void)
{
    const char *maps =
        "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 131   /usr/bin/python3.11\n"
        "55d0c1e2e000-55d0c2000000 rw-p 00000000 00:00 0                          [heap]\n"
        "55d0c2000000-55d0c2100000 rw-p 00000000 00:00 0                          [heap]\n"
        "55d0c2100000-55d0c2200000 rw-p 00000000 00:00 0   \n"
        "7f0000000000-7f0000001000 rw-p 00000000 00:00 0                          [heap]\n"
        "7ffd0000000-7ffd0021000 rw-p 00000000 00:00 0                          [stack]\n";
    uint64_t b = 1;
    CHECK_INT(proc_maps_heap_parse(maps, strlen(maps), &b), 0, "maps: parsed");
    CHECK_INT(b, 0x55d0c2100000 - 0x55d0c1e2e000, "maps: neighbouring [heap] lines summed, "
              "stops at the first line after them");

    const char *none = "00400000-00401000 r-xp 00000000 08:01 12 /bin/true\n";
    CHECK_INT(proc_maps_heap_parse(none, strlen(none), &b), 0, "maps: no heap parsed");
    CHECK_INT(b, 0, "maps: no heap is 0");

    static const char *const not_heap[] = {
        "1000-2000 rw-p 00000000 08:01 12 /tmp/x [heap]\n",
        "1000-2000 rw-p 00000000 08:01 12 [heap] \n",
        "1000-2000 rw-p 00000000 08:01 [heap]\n",
        "2000-1000 rw-p 00000000 00:00 0 [heap]\n",
        "1000-1000 rw-p 00000000 00:00 0 [heap]\n",
        "1000 rw-p 00000000 00:00 0 [heap]\n",
        "-2000 rw-p 00000000 00:00 0 [heap]\n",
        "1000-20G0 rw-p 00000000 00:00 0 [heap]\n",
        "10000000000000000-10000000000000001 rw-p 00000000 00:00 0 [heap]\n",
        "1000-2000 rw-p 00000000 00:00 0 [heap",
    };
    for (size_t i = 0; i < sizeof not_heap / sizeof not_heap[0]; i++) {
        b = 1;
        proc_maps_heap_parse(not_heap[i], strlen(not_heap[i]), &b);
        CHECK_INT(b, 0, "maps: a line that is not a [heap] mapping");
    }
    const char *last = "1000-3000 rw-p 00000000 00:00 0 [heap]";
    CHECK_INT(proc_maps_heap_parse(last, strlen(last), &b), 0, "maps: last line without newline");
    CHECK_INT(b, 0x2000, "maps: last line without newline, size");
}

/* ---- live ---------------------------------------------------------------- */

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void test_live_self(void)
{
    struct proc_memstat m;
    CHECK_INT(proc_memstat_open(getpid(), &m), 0, "live: open self");
    uint64_t rss0 = 0;
    CHECK_INT(proc_memstat_rss(&m, &rss0), 0, "live: rss");
    CHECK(rss0 > 0 && rss0 % m.page_size == 0, "live: rss is a positive number of pages");

    struct counters c0;
    memset(&c0, 0, sizeof c0);
    counters_set(&c0, CTR_GC_COUNT0, 77);   /* others' counters are kept */
    CHECK_INT(proc_memstat_read(&m, &c0), 0, "live: read");
    CHECK(counters_has(&c0, CTR_RSS) && counters_has(&c0, CTR_PEAK_RSS), "live: rss and peak valid");
    CHECK(c0.value[CTR_PEAK_RSS] >= c0.value[CTR_RSS], "live: peak >= rss");
    CHECK(counters_has(&c0, CTR_ANON) && counters_has(&c0, CTR_SWAP), "live: anon and swap valid");
    CHECK(counters_has(&c0, CTR_HEAP), "live: heap valid (0 when there is none)");
    CHECK(counters_has(&c0, CTR_MINFLT_TOTAL) && counters_has(&c0, CTR_MAJFLT_TOTAL),
          "live: fault counts valid");
    CHECK(counters_has(&c0, CTR_GC_COUNT0) && c0.value[CTR_GC_COUNT0] == 77,
          "live: other counters left alone");
    CHECK(!counters_has(&c0, CTR_PYMALLOC_ARENAS), "live: no Python counter invented");

    /* 64 MiB touched page by page: resident size and minor faults grow. */
    size_t big = 64u << 20;
    unsigned char *p = malloc(big);
    CHECK(p != NULL, "live: 64 MiB allocated");
    if (!p)
        return;
    for (size_t i = 0; i < big; i += 4096)
        p[i] = (unsigned char)i;
    uint64_t rss1 = 0;
    struct counters c1;
    memset(&c1, 0, sizeof c1);
    CHECK_INT(proc_memstat_rss(&m, &rss1), 0, "live: rss after touching");
    CHECK_INT(proc_memstat_read(&m, &c1), 0, "live: read after touching");
    printf("# rss %llu -> %llu bytes, minflt %llu -> %llu\n", (unsigned long long)rss0,
           (unsigned long long)rss1, (unsigned long long)c0.value[CTR_MINFLT_TOTAL],
           (unsigned long long)c1.value[CTR_MINFLT_TOTAL]);
    CHECK(rss1 >= rss0 + (60u << 20), "live: statm rss grew by 60+ MiB");
    CHECK(c1.value[CTR_RSS] >= c0.value[CTR_RSS] + (60u << 20), "live: VmRSS grew by 60+ MiB");
    CHECK(c1.value[CTR_ANON] >= c0.value[CTR_ANON] + (60u << 20), "live: anon grew by 60+ MiB");
    CHECK(c1.value[CTR_PEAK_RSS] >= c1.value[CTR_RSS], "live: peak follows");
    /* With transparent huge pages a fault can bring 2 MiB at once. */
    CHECK(c1.value[CTR_MINFLT_TOTAL] >= c0.value[CTR_MINFLT_TOTAL] + 32,
          "live: minor faults increased");
    CHECK(c1.value[CTR_MAJFLT_TOTAL] >= c0.value[CTR_MAJFLT_TOTAL], "live: major faults do not go back");

    /* Cost: the sampler reads rss on every sample. */
    enum { N = 20000, NR = 2000 };
    uint64_t v;
    int fails = 0;
    double t0 = now_us();
    for (int i = 0; i < N; i++)
        fails += proc_memstat_rss(&m, &v) != 0;
    double t1 = now_us();
    for (int i = 0; i < NR; i++) {
        struct counters c;
        memset(&c, 0, sizeof c);
        fails += proc_memstat_read(&m, &c) != 0;
    }
    double t2 = now_us();
    CHECK_INT(fails, 0, "live: repeated reads all succeed");
    printf("# cost: proc_memstat_rss %.2f us/call, proc_memstat_read %.2f us/call\n",
           (t1 - t0) / N, (t2 - t1) / NR);
    free(p);

    proc_memstat_close(&m);
    proc_memstat_close(&m);
    CHECK_INT(proc_memstat_rss(&m, &v), -EBADF, "live: closed handle, -EBADF");
    struct counters c;
    memset(&c, 0, sizeof c);
    CHECK_INT(proc_memstat_read(&m, &c), -EBADF, "live: closed handle read, -EBADF");
}

static void test_live_gone(void)
{
    int pfd[2];
    if (pipe(pfd) != 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        char ch;
        close(pfd[1]);
        _exit(read(pfd[0], &ch, 1) == 1 ? 0 : 1);
    }
    close(pfd[0]);
    struct proc_memstat m;
    CHECK_INT(proc_memstat_open(child, &m), 0, "gone: open a child");
    uint64_t v;
    CHECK_INT(proc_memstat_rss(&m, &v), 0, "gone: child alive, rss");
    /* Let it exit, but do not reap it yet: a zombie has no memory. */
    CHECK(write(pfd[1], "x", 1) == 1, "gone: child told to exit");
    close(pfd[1]);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT);
    CHECK_INT(proc_memstat_rss(&m, &v), -ESRCH, "gone: zombie rss, -ESRCH");
    struct counters c;
    memset(&c, 0, sizeof c);
    CHECK_INT(proc_memstat_read(&m, &c), -ESRCH, "gone: zombie read, -ESRCH");
    CHECK_INT(c.valid, 0, "gone: nothing written on -ESRCH");
    waitpid(child, NULL, 0);
    CHECK_INT(proc_memstat_rss(&m, &v), -ESRCH, "gone: reaped rss, -ESRCH");
    CHECK_INT(proc_memstat_read(&m, &c), -ESRCH, "gone: reaped read, -ESRCH");
    proc_memstat_close(&m);
    CHECK_INT(proc_memstat_open(child, &m), -ESRCH, "gone: open a reaped pid, -ESRCH");
    CHECK_INT(proc_memstat_open(0, &m), -ESRCH, "gone: pid 0, -ESRCH");
    proc_memstat_close(&m);
}

int main(void)
{
    UNIT_RUN(test_statm);
    UNIT_RUN(test_status);
    UNIT_RUN(test_rollup);
    UNIT_RUN(test_stat);
    UNIT_RUN(test_maps_heap);
    UNIT_RUN(test_live_self);
    UNIT_RUN(test_live_gone);
    return unit_done();
}
