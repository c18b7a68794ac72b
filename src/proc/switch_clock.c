#include "config.h"

#include "proc/switch_clock.h"

#include "proc/tasks.h"

#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Pages of records after the control page: 16 KiB holds 680 switches,
 * more than a thread makes between two samples at any rate but the
 * lowest; an overflow is noticed (a lost record) and schedstat used. */
#define RING_PAGES 4
/* The probe writes a sample every SWITCH_SAMPLE_NS: one page is plenty. */
#define PROBE_PAGES 1

/* The fields of a record this file reads, from the header on: what
 * sample_id_all appends with PERF_SAMPLE_TID | PERF_SAMPLE_TIME (pid,
 * tid, time), and the same as a sample's body. */
#define HEADER_LEN 8
#define SWITCH_TIME_AT (HEADER_LEN + 8)
#define SAMPLE_TIME_AT (HEADER_LEN + 8)
#define RECORD_READ_MAX 24

/* A record's time this far after the clock opened is not one (146 years):
 * bounds every sum of times. */
#define SWITCH_SPAN_MAX (1ull << 62)

void switch_state_init(struct switch_state *st, uint64_t open_ns, int off_known)
{
    memset(st, 0, sizeof *st);
    st->open_ns = open_ns;
    st->last_ns = open_ns;
    st->on = off_known ? 0 : -1;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The thread got on a CPU at t. */
static void switched_in(struct switch_state *st, uint64_t t)
{
    if (st->on == 1) {
        st->lost = 1;   /* in twice: a record went missing */
        return;
    }
    st->on = 1;
    st->queued = 0;
    st->since_ns = t;
    st->ins++;
}

/* The thread left its CPU at t (preempted: still runnable). The first
 * record says what it did before: going off, it was on from the start. */
static void switched_out(struct switch_state *st, uint64_t t, int first, int preempted)
{
    if (first) {
        st->on = 1;
        st->since_ns = st->open_ns;
    }
    if (st->on != 1) {
        st->lost = 1;   /* out twice */
        return;
    }
    if (t > st->since_ns)
        st->run_ns += t - st->since_ns;
    st->on = 0;
    st->queued = preempted;
}

/* A periodic sample: the thread is on a CPU; the first record being one,
 * it never left one since the start. */
static void sampled(struct switch_state *st, int first)
{
    if (first) {
        st->on = 1;
        st->since_ns = st->open_ns;
    } else if (st->on != 1) {
        st->lost = 1;
    }
}

/* A thread's records come in time order, none before the clock opened:
 * 1 for t in order (then the latest), 0 for one that is not. */
static int in_order(struct switch_state *st, uint64_t t)
{
    if (t < st->last_ns || t - st->open_ns > SWITCH_SPAN_MAX)
        return 0;
    st->last_ns = t;
    return 1;
}

uint64_t switch_records_apply(struct switch_state *st, const uint8_t *data, size_t size,
                              uint64_t tail, uint64_t head)
{
    if (size == 0 || (size & (size - 1)) || head - tail > size) {
        st->lost = 1;   /* overwritten before it was read */
        return head;
    }
    while (!st->lost && head - tail >= HEADER_LEN) {
        uint8_t rec[RECORD_READ_MAX];
        size_t want = head - tail < sizeof rec ? (size_t)(head - tail) : sizeof rec;
        for (size_t k = 0; k < want; k++)
            rec[k] = data[(tail + k) & (size - 1)];
        uint32_t type;
        uint16_t misc, len;
        memcpy(&type, rec, 4);
        memcpy(&misc, rec + 4, 2);
        memcpy(&len, rec + 6, 2);
        if (len < HEADER_LEN || len % 8 || len > head - tail) {
            st->lost = 1;   /* not a record: stop here */
            return head;
        }
        int first = !st->seen_record;
        if (type == PERF_RECORD_SWITCH) {
            if (len < SWITCH_TIME_AT + 8 || !in_order(st, get_u64(rec + SWITCH_TIME_AT))) {
                st->lost = 1;
                return head;
            }
            uint64_t t = get_u64(rec + SWITCH_TIME_AT);
            if (misc & PERF_RECORD_MISC_SWITCH_OUT)
                switched_out(st, t, first, (misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) != 0);
            else
                switched_in(st, t);
            st->seen_record = 1;
        } else if (type == PERF_RECORD_SAMPLE) {
            if (len < SAMPLE_TIME_AT + 8 || !in_order(st, get_u64(rec + SAMPLE_TIME_AT))) {
                st->lost = 1;
                return head;
            }
            sampled(st, first);
            st->seen_record = 1;
        } else if (type == PERF_RECORD_LOST) {
            st->lost = 1;
        }
        if (st->lost)
            return head;   /* what follows is no use until a restart */
        /* Throttling and the like: nothing to do with being on a CPU. */
        tail += len;
    }
    return tail;
}

int switch_state_read(const struct switch_state *st, uint64_t now_ns, uint64_t *run_ns, int *on,
                      int *queued, uint64_t *ins)
{
    if (st->lost || st->on < 0)
        return -EAGAIN;
    uint64_t open = st->on == 1 && now_ns > st->since_ns ? now_ns - st->since_ns : 0;
    *run_ns = st->run_ns + (open < SWITCH_SPAN_MAX ? open : SWITCH_SPAN_MAX);
    *on = st->on;
    *queued = st->queued;
    *ins = st->ins;
    return 0;
}

/* A perf event on thread tid: a dummy software event that only writes
 * the thread's switches (context_switch), or a task clock that writes a
 * sample every SWITCH_SAMPLE_NS of its CPU time. */
static int perf_open(pid_t tid, int switches, int exclude_kernel)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = switches ? PERF_COUNT_SW_DUMMY : PERF_COUNT_SW_TASK_CLOCK;
    a.sample_period = switches ? 1 : SWITCH_SAMPLE_NS;
    a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
    a.context_switch = (unsigned)switches;
    a.sample_id_all = 1;
    a.use_clockid = 1;
    a.clockid = CLOCK_MONOTONIC;
    a.exclude_kernel = (unsigned)exclude_kernel;
    a.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

/* The event's fd with its ring of pages data pages mapped, into r. */
static int ring_open(struct switch_ring *r, pid_t tid, int switches, size_t pages)
{
    r->fd = -1;
    r->map = NULL;
    /* Kernel-side samples need a lower perf_event_paranoid; switches and
     * the samples of a thread in user space do not. */
    int fd = perf_open(tid, switches, 0);
    if (fd == -EACCES || fd == -EPERM)
        fd = perf_open(tid, switches, 1);
    if (fd < 0)
        return fd;
    long page = sysconf(_SC_PAGESIZE);
    size_t len = (size_t)(page > 0 ? page : 4096) * (1 + pages);
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int err = -errno;
        close(fd);
        return err == -EPERM ? -ENOMEM : err;   /* over the locked-memory allowance */
    }
    r->fd = fd;
    r->map = map;
    r->map_len = len;
    r->pages = pages;
    return 0;
}

static void ring_close(struct switch_ring *r)
{
    if (r->map)
        munmap(r->map, r->map_len);
    if (r->fd >= 0)
        close(r->fd);
    r->map = NULL;
    r->fd = -1;
}

/* The records written to r since the last drain, into st. */
static void ring_drain(struct switch_ring *r, struct switch_state *st)
{
    struct perf_event_mmap_page *pg = r->map;
    uint64_t head = __atomic_load_n(&pg->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = pg->data_tail;
    size_t off = pg->data_offset ? (size_t)pg->data_offset : r->map_len / (1 + r->pages);
    size_t size = pg->data_size ? (size_t)pg->data_size : r->map_len - off;
    if (off > r->map_len || size > r->map_len - off) {
        st->lost = 1;
    } else if (head != tail) {
        tail = switch_records_apply(st, (const uint8_t *)r->map + off, size, tail, head);
        __atomic_store_n(&pg->data_tail, tail, __ATOMIC_RELEASE);
    }
}

/* While the state is not known, a thread that may be running all along
 * writes no switch: the probe, a task clock sampling its CPU time, tells
 * it by a sample. Open only until the state is known: a sampling task
 * clock costs the thread a timer started and stopped at every switch
 * (a third more time per switch on a thread that switches 80,000 times
 * a second), the switch records alone do not. */
static void probe_open(struct switch_clock *c)
{
    if (ring_open(&c->probe, c->tid, 0, PROBE_PAGES) != 0)
        c->probe.fd = -1;   /* schedstat until a switch tells */
}

int switch_clock_open(struct switch_clock *c, pid_t pid, pid_t tid, uint64_t now_ns)
{
    memset(c, 0, sizeof *c);
    c->switches.fd = -1;
    c->probe.fd = -1;
    c->tid = tid;
    int rc = ring_open(&c->switches, tid, 1, RING_PAGES);
    if (rc)
        return rc;
    /* Not runnable now, after the records began: off all along until a
     * record says otherwise (one that was on at the start and left before
     * this read has its switch-out in the ring, which says so). */
    char state;
    int off_known = proc_task_state(pid, tid, &state) == 0 && state != 'R';
    switch_state_init(&c->state, now_ns, off_known);
    if (!off_known)
        probe_open(c);
    return 0;
}

int switch_clock_read(struct switch_clock *c, uint64_t now_ns, uint64_t *run_ns, int *on,
                      int *queued, uint64_t *ins)
{
    if (c->switches.fd < 0)
        return -EBADF;
    ring_drain(&c->switches, &c->state);
    /* Only while no switch came: a probe's sample after a switch would
     * be out of order with the switches still to be read. */
    if (c->probe.fd >= 0 && !c->state.seen_record && !c->state.lost)
        ring_drain(&c->probe, &c->state);
    if (c->probe.fd >= 0 && (c->state.on >= 0 || c->state.lost))
        ring_close(&c->probe);
    return switch_state_read(&c->state, now_ns, run_ns, on, queued, ins);
}

void switch_clock_restart(struct switch_clock *c, uint64_t now_ns)
{
    switch_state_init(&c->state, now_ns, 0);
    if (c->probe.fd < 0)
        probe_open(c);
}

void switch_clock_close(struct switch_clock *c)
{
    ring_close(&c->switches);
    ring_close(&c->probe);
}
