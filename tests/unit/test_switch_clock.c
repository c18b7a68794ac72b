/* Unit tests for src/proc/switch_clock: the context-switch records read
 * from a ring built here (what the first record says of the time before
 * it, preemption, the periodic sample, wrap-around, lost and malformed
 * records), then a live clock on a thread of this process set against its
 * schedstat. */
#include "unit.h"

#include "proc/switch_clock.h"
#include "proc/tasks.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000ull
#define T0 (1000 * MS)   /* when the clock "opened" */

/* A ring being written as the kernel would: records at head, wrapping. */
struct ring {
    uint8_t data[256];
    size_t size;
    uint64_t head, tail;
};

static void put(struct ring *r, const void *bytes, size_t len)
{
    for (size_t k = 0; k < len; k++)
        r->data[(r->head + k) % r->size] = ((const uint8_t *)bytes)[k];
    r->head += len;
}

static void record(struct ring *r, uint32_t type, uint16_t misc, const uint64_t *body,
                   size_t nbody)
{
    uint16_t len = (uint16_t)(8 + 8 * nbody);
    uint8_t h[8];
    memcpy(h, &type, 4);
    memcpy(h + 4, &misc, 2);
    memcpy(h + 6, &len, 2);
    put(r, h, 8);
    put(r, body, 8 * nbody);
}

/* sample_id_all with TID | TIME: pid and tid in one word, then the time. */
static void sw(struct ring *r, uint64_t t, uint16_t misc)
{
    uint64_t body[2] = { 0x0000002a0000002aull, t };
    record(r, PERF_RECORD_SWITCH, misc, body, 2);
}

static void sw_in(struct ring *r, uint64_t t) { sw(r, t, 0); }
static void sw_out(struct ring *r, uint64_t t) { sw(r, t, PERF_RECORD_MISC_SWITCH_OUT); }
static void sw_preempted(struct ring *r, uint64_t t)
{
    sw(r, t, PERF_RECORD_MISC_SWITCH_OUT | PERF_RECORD_MISC_SWITCH_OUT_PREEMPT);
}
static void sampled(struct ring *r, uint64_t t)
{
    uint64_t body[2] = { 0x0000002a0000002aull, t };
    record(r, PERF_RECORD_SAMPLE, 0, body, 2);
}

static void apply(struct switch_state *st, struct ring *r)
{
    r->tail = switch_records_apply(st, r->data, r->size, r->tail, r->head);
}

static void ring_init(struct ring *r, size_t size)
{
    memset(r, 0, sizeof *r);
    r->size = size;
}

/* run_ns at now, or UINT64_MAX when the state cannot tell. */
static uint64_t run_at(const struct switch_state *st, uint64_t now, int *on, int *queued)
{
    uint64_t run, ins;
    int o = -1, q = -1;
    if (switch_state_read(st, now, &run, &o, &q, &ins) != 0)
        return UINT64_MAX;
    if (on)
        *on = o;
    if (queued)
        *queued = q;
    return run;
}

static void test_before_the_first_record(void)
{
    struct switch_state st;
    struct ring r;
    int on, queued;

    switch_state_init(&st, T0, 1);
    CHECK_INT(run_at(&st, T0 + 50 * MS, &on, NULL), 0, "seen asleep, no record: no CPU time");
    CHECK_INT(on, 0, "seen asleep, no record: off a CPU");

    switch_state_init(&st, T0, 0);
    CHECK(run_at(&st, T0 + 5 * MS, NULL, NULL) == UINT64_MAX,
          "maybe running, no record yet: cannot tell");

    /* The first record tells what the thread did before it. */
    static const struct {
        const char *what;
        int off_known;
        char first;              /* 'o' switch-out, 'i' switch-in, 's' a sample */
        uint64_t at, now, want_run;
        int want_on;
    } firsts[] = {
        { "first a switch-out: on a CPU from the start", 0, 'o', 5 * MS, 7 * MS, 5 * MS, 0 },
        { "asleep by the look, then a switch-out first", 1, 'o', 1 * MS, 7 * MS, 1 * MS, 0 },
        { "first a switch-in: off before it", 0, 'i', 3 * MS, 5 * MS, 2 * MS, 1 },
        { "first a sample: running all along", 0, 's', 10 * MS, 15 * MS, 15 * MS, 1 },
    };
    for (size_t i = 0; i < sizeof firsts / sizeof firsts[0]; i++) {
        ring_init(&r, 256);
        switch_state_init(&st, T0, firsts[i].off_known);
        if (firsts[i].first == 'o')
            sw_out(&r, T0 + firsts[i].at);
        else if (firsts[i].first == 'i')
            sw_in(&r, T0 + firsts[i].at);
        else
            sampled(&r, T0 + firsts[i].at);
        apply(&st, &r);
        on = queued = -1;
        CHECK_INT(run_at(&st, T0 + firsts[i].now, &on, &queued), firsts[i].want_run, firsts[i].what);
        CHECK(on == firsts[i].want_on && queued == 0, firsts[i].what);
    }
}

static void test_switches(void)
{
    struct switch_state st;
    struct ring r;
    int on, queued;
    uint64_t run, ins;

    ring_init(&r, 256);
    switch_state_init(&st, T0, 1);
    sw_in(&r, T0 + 1 * MS);
    sw_preempted(&r, T0 + 4 * MS);
    apply(&st, &r);
    CHECK_INT(run_at(&st, T0 + 6 * MS, &on, &queued), 3 * MS, "in then preempted: 3 ms");
    CHECK(on == 0 && queued == 1, "preempted: off a CPU but runnable");
    sw_in(&r, T0 + 6 * MS);
    sampled(&r, T0 + 16 * MS);
    apply(&st, &r);
    CHECK_INT(run_at(&st, T0 + 20 * MS, &on, &queued), 17 * MS, "back on: counts to now");
    CHECK(on == 1 && queued == 0, "back on: on a CPU");
    sw_out(&r, T0 + 21 * MS);
    apply(&st, &r);
    CHECK_INT(switch_state_read(&st, T0 + 30 * MS, &run, &on, &queued, &ins), 0, "readable");
    CHECK(run == 18 * MS && on == 0 && queued == 0 && ins == 2, "blocked: 18 ms in 2 turns");

    /* Records straddling the end of a small ring, many times round. */
    ring_init(&r, 64);
    switch_state_init(&st, T0, 1);
    for (int i = 0; i < 50; i++) {
        sw_in(&r, T0 + (uint64_t)(10 * i) * MS);
        sw_out(&r, T0 + (uint64_t)(10 * i + 3) * MS);
        apply(&st, &r);
    }
    CHECK_INT(run_at(&st, T0 + 600 * MS, NULL, NULL), 150 * MS, "wrapping ring: 50 turns of 3 ms");

    /* Throttling and other records say nothing of the CPU: skipped. */
    ring_init(&r, 256);
    switch_state_init(&st, T0, 1);
    uint64_t throttle[3] = { T0, 1, 1 };
    record(&r, PERF_RECORD_THROTTLE, 0, throttle, 3);
    sw_in(&r, T0 + 2 * MS);
    apply(&st, &r);
    CHECK_INT(run_at(&st, T0 + 3 * MS, NULL, NULL), 1 * MS, "other records skipped");
}

/* Whether switches in ('i') and out ('o'), 1 ms apart, written to a ring
 * of ring_size bytes before it is read, leave the state lost. */
static int lost_after(const char *seq, size_t ring_size)
{
    struct switch_state st;
    struct ring r;
    ring_init(&r, ring_size);
    switch_state_init(&st, T0, 1);
    for (size_t i = 0; seq[i]; i++) {
        if (seq[i] == 'i')
            sw_in(&r, T0 + (uint64_t)(i + 1) * MS);
        else
            sw_out(&r, T0 + (uint64_t)(i + 1) * MS);
    }
    apply(&st, &r);
    return st.lost;
}

static void test_lost(void)
{
    struct switch_state st;
    struct ring r;

    ring_init(&r, 256);
    switch_state_init(&st, T0, 1);
    sw_in(&r, T0 + 1 * MS);
    uint64_t lost[4] = { 1, 12, 0x0000002a0000002aull, T0 + 2 * MS };
    record(&r, PERF_RECORD_LOST, 0, lost, 4);
    sw_out(&r, T0 + 3 * MS);
    apply(&st, &r);
    CHECK(run_at(&st, T0 + 4 * MS, NULL, NULL) == UINT64_MAX, "lost records: cannot tell");
    CHECK(r.tail == r.head, "lost records: the rest skipped");
    switch_state_init(&st, T0 + 4 * MS, 0);
    sw_in(&r, T0 + 5 * MS);
    apply(&st, &r);
    CHECK_INT(run_at(&st, T0 + 6 * MS, NULL, NULL), 1 * MS, "after a restart: counted again");

    static const struct {
        const char *what;
        uint16_t len;
    } bad[] = { { "length 0", 0 }, { "length 4", 4 }, { "length not of 8", 20 },
                { "longer than written", 200 }, { "switch without its time", 8 } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ring_init(&r, 256);
        switch_state_init(&st, T0, 1);
        uint8_t h[24] = { 0 };
        uint32_t type = PERF_RECORD_SWITCH;
        memcpy(h, &type, 4);
        memcpy(h + 6, &bad[i].len, 2);
        put(&r, h, sizeof h);
        apply(&st, &r);
        CHECK(st.lost && r.tail == r.head, bad[i].what);
    }

    /* Twice in, or twice out: a record went missing. More written than
     * the ring holds: overwritten before it was read. */
    CHECK(lost_after("ii", 256), "in twice: lost");
    CHECK(lost_after("ioo", 256), "out twice: lost");
    CHECK(!lost_after("ioio", 256), "in, out, in, out: whole");
    CHECK(lost_after("ioio", 64), "ring overrun: lost");
}

/* ---- a live clock ------------------------------------------------------------------------- */

static atomic_int spinner_tid, spinner_stop;

static void *spin(void *arg)
{
    (void)arg;
    atomic_store(&spinner_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&spinner_stop)) {
        /* 2 ms on a CPU, 2 ms asleep. */
        struct timespec a, b, nap = { 0, 2 * (long)MS };
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
        do
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
        while ((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec) < 2 * (long long)MS);
        nanosleep(&nap, NULL);
    }
    return NULL;
}

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void test_live(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, spin, NULL) != 0) {
        CHECK(0, "live: thread started");
        return;
    }
    while (!atomic_load(&spinner_tid))
        usleep(1000);
    pid_t tid = atomic_load(&spinner_tid);
    struct proc_task_cpu cpu;
    uint64_t s0 = 0, s1 = 0;
    CHECK_INT(proc_task_cpu_open(getpid(), tid, &cpu), 0, "live: schedstat opened");
    struct switch_clock c;
    int rc = switch_clock_open(&c, getpid(), tid, mono_ns());
    if (rc == -EACCES || rc == -EPERM || rc == -ENOSYS || rc == -ENOENT) {
        unit_count++;
        printf("ok %d # SKIP live clock: perf events not available here (%s)\n", unit_count,
               strerror(-rc));
    } else {
        CHECK_INT(rc, 0, "live: clock opened");
        CHECK_INT(proc_task_cpu_read(&cpu, &s0), 0, "live: schedstat read");
        uint64_t c0 = 0, c1 = 0, ins;
        int on, queued, got0 = -1, got1 = -1;
        for (int i = 0; i < 100 && got0 != 0; i++) {
            got0 = switch_clock_read(&c, mono_ns(), &c0, &on, &queued, &ins);
            usleep(1000);
        }
        usleep(300000);
        got1 = switch_clock_read(&c, mono_ns(), &c1, &on, &queued, &ins);
        CHECK_INT(proc_task_cpu_read(&cpu, &s1), 0, "live: schedstat read again");
        CHECK(got0 == 0 && got1 == 0, "live: the clock tells");
        double clock_ms = (double)(c1 - c0) / 1e6, sched_ms = (double)(s1 - s0) / 1e6;
        printf("# live: %.1f ms on the clock, %.1f ms by schedstat, %llu switches in\n", clock_ms,
               sched_ms, (unsigned long long)ins);
        /* schedstat lags a running thread by up to a tick (4 ms at 250 Hz)
         * at each end; the clock is exact. */
        CHECK(clock_ms > 0 && clock_ms < sched_ms + 10 && sched_ms < clock_ms + 10,
              "live: the clock and schedstat agree");
        CHECK(ins > 10, "live: a thread that sleeps every 2 ms switched in many times");
        CHECK_INT(c.probe.fd, -1, "live: the probe is closed once the state is known");
        switch_clock_close(&c);
        switch_clock_close(&c);
        CHECK(c.switches.fd == -1 && c.probe.fd == -1, "live: closed, twice");
    }
    atomic_store(&spinner_stop, 1);
    pthread_join(th, NULL);
    proc_task_cpu_close(&cpu);
}

int main(void)
{
    UNIT_RUN(test_before_the_first_record);
    UNIT_RUN(test_switches);
    UNIT_RUN(test_lost);
    UNIT_RUN(test_live);
    return unit_done();
}
