#include "config.h"

#include "native/hold.h"

#include "proc/tasks.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP_WAIT_NS 500000000ull   /* how long a thread may take to stop */
/* A wait for a stop wakes this often to look at the cancel flag: a stop
 * request from another thread or a signal handler sends no signal to end
 * waitpid. */
#define WAIT_SLICE_NS 20000000ull
/* At the end, all threads that did not stop in time together get this
 * long to report; the kernel lets go of any left when pytop exits. */
#define FREE_WAIT_NS 200000000ull
#define PENDING_MAX 64
/* Ends a wait for a stop at each slice: a timer sends it to the waiting
 * thread only, and its empty handler makes waitpid return EINTR. */
#define WAKE_SIGNAL (SIGRTMIN + 5)

struct thread_hold {
    pid_t pid;                       /* the process whose threads are held */
    const atomic_int *cancel;        /* borrowed; NULL: never cancelled */
    /* Threads that did not stop in time: seized with an interrupt pending,
     * detached as soon as they report the stop. */
    pid_t pending[PENDING_MAX];
    size_t npending;
    /* The timer bounding waitpid, for the thread that created it. */
    timer_t timer;
    pid_t timer_tid;
    int have_timer;
    struct thread_hold_stats stats;
    uint64_t *start;                 /* thread_hold_all: each thread's interrupt time */
    size_t cap_start;
};

static int cancelled(const struct thread_hold *h)
{
    return h->cancel && atomic_load(h->cancel);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void wake_handler(int sig)
{
    (void)sig;
}

static pthread_once_t wake_once = PTHREAD_ONCE_INIT;

static void wake_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wake_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;   /* no SA_RESTART: waitpid must return */
    sigaction(WAKE_SIGNAL, &sa, NULL);
}

/* A timer signalling the calling thread after ns, then every
 * WAIT_SLICE_NS (0 disarms). Created on the thread that waits, which must
 * not block the signal. */
static int timer_arm(struct thread_hold *h, uint64_t ns)
{
    pid_t self = (pid_t)syscall(SYS_gettid);
    if (!h->have_timer || h->timer_tid != self) {
        if (ns == 0)
            return 0;
        pthread_once(&wake_once, wake_install);
        if (h->have_timer)
            timer_delete(h->timer);
        h->have_timer = 0;
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = WAKE_SIGNAL;
        ev._sigev_un._tid = self;
        if (timer_create(CLOCK_MONOTONIC, &ev, &h->timer) != 0)
            return -errno;
        h->have_timer = 1;
        h->timer_tid = self;
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, WAKE_SIGNAL);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    }
    struct itimerspec it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)(ns / 1000000000ull);
    it.it_value.tv_nsec = (long)(ns % 1000000000ull);
    if (ns)
        it.it_interval.tv_nsec = (long)WAIT_SLICE_NS;
    return timer_settime(h->timer, 0, &it, NULL) == 0 ? 0 : -errno;
}

/* 1 with *status when tid reported a stop, -ESRCH when it is gone, 0
 * when it has not stopped (yet). */
static int stop_reported(pid_t tid, pid_t r, int *status)
{
    if (r == tid)
        return WIFEXITED(*status) || WIFSIGNALED(*status) ? -ESRCH : 1;
    if (r < 0 && errno != EINTR)
        return -ESRCH;   /* ECHILD: no longer ours to wait for */
    /* Stopped, but the report went to another waitpid of ours (launch
     * mode waits for its child): ptrace requests only work on a stopped
     * tracee. */
    unsigned long msg;
    if (ptrace(PTRACE_GETEVENTMSG, tid, NULL, &msg) == 0) {
        *status = (PTRACE_EVENT_STOP << 16) | (SIGTRAP << 8) | 0x7f;
        return 1;
    }
    return 0;
}

/* Wait for tid to report a stop, for at most limit_ns (0: only look), or
 * until a stop request. Returns 1 with *status, 0 on timeout or stop
 * request, -ESRCH when it is gone. waitpid blocks (polling would cost
 * more CPU than the hold); a timer signal ends it every slice, to look at
 * the clock and the cancel flag. */
static int wait_stop(struct thread_hold *h, pid_t tid, uint64_t limit_ns, int *status)
{
    int r = stop_reported(tid, waitpid(tid, status, __WALL | WNOHANG), status);
    if (r != 0 || limit_ns == 0 || cancelled(h))
        return r;
    uint64_t deadline = now_ns() + limit_ns;
    if (timer_arm(h, limit_ns < WAIT_SLICE_NS ? limit_ns : WAIT_SLICE_NS) != 0)
        return 0;
    for (;;) {
        pid_t w = waitpid(tid, status, __WALL);
        int e = errno;
        if (w == tid || (w < 0 && e != EINTR)) {
            r = stop_reported(tid, w, status);
            break;
        }
        /* A signal: ours at a slice's end, or another one. */
        if (now_ns() >= deadline || cancelled(h)) {
            r = stop_reported(tid, 0, status);
            break;
        }
    }
    timer_arm(h, 0);
    return r;
}

/* Let go of a stopped tracee, passing on a signal it stopped for. */
static void release(pid_t tid, int status)
{
    int sig = 0;
    /* A signal-delivery stop (not our interrupt, not a group stop): the
     * signal must still reach the thread. */
    if (WIFSTOPPED(status) && (status >> 16) == 0)
        sig = WSTOPSIG(status);
    ptrace(PTRACE_DETACH, tid, NULL, (void *)(uintptr_t)sig);
}

/* Detach threads that stopped late. */
static void reap_pending(struct thread_hold *h, uint64_t limit_ns)
{
    size_t w = 0;
    for (size_t i = 0; i < h->npending; i++) {
        int status;
        int r = wait_stop(h, h->pending[i], limit_ns, &status);
        if (r == 1)
            release(h->pending[i], status);
        else if (r == 0)
            h->pending[w++] = h->pending[i];
    }
    h->npending = w;
}

/* The same with one bound for all of them together. */
static void reap_pending_within(struct thread_hold *h, uint64_t total_ns)
{
    uint64_t end = now_ns() + total_ns;
    while (h->npending) {
        uint64_t now = now_ns();
        reap_pending(h, now < end ? (end - now) / h->npending : 0);
        if (now >= end)
            break;
    }
}

int thread_hold_new(pid_t pid, struct thread_hold **out)
{
    struct thread_hold *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->pid = pid;
    *out = h;
    return 0;
}

void thread_hold_set_cancel(struct thread_hold *h, const atomic_int *cancel)
{
    h->cancel = cancel;
}

void thread_hold_free(struct thread_hold *h)
{
    if (!h)
        return;
    /* Not cancelled now: the threads must get their chance to report. */
    h->cancel = NULL;
    reap_pending_within(h, FREE_WAIT_NS);
    if (h->have_timer)
        timer_delete(h->timer);
    free(h->start);
    free(h);
}

static int seize(struct thread_hold *h, pid_t tid)
{
    /* Never a process that is not one of the target's tasks: an id
     * misread, or one of another PID namespace (where 1 is the host's
     * init), must not stop it. */
    if (!proc_task_of(h->pid, tid)) {
        h->stats.gone++;
        return -ESRCH;
    }
    if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) != 0) {
        int e = errno;
        /* The kernel refuses (EPERM) to attach to a thread that is
         * exiting: that one is gone, not denied. */
        if (e == ESRCH || (e == EPERM && proc_is_dead(tid) == 1)) {
            h->stats.gone++;
            return -ESRCH;
        }
        h->stats.denied++;
        return e == EPERM || e == EACCES ? -EPERM : -e;
    }
    if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) != 0) {
        /* Only fails when the thread is gone; nothing to undo then. */
        h->stats.gone++;
        return -ESRCH;
    }
    return 0;
}

static void add_pending(struct thread_hold *h, pid_t tid, int timeout);

int thread_hold_run(struct thread_hold *h, pid_t tid, thread_held_fn fn, void *ctx,
                    uint64_t *pause_ns)
{
    if (pause_ns)
        *pause_ns = 0;
    if (tid <= 0)
        return -ESRCH;
    if (h->npending)
        reap_pending(h, 0);
    if (cancelled(h))
        return -ECANCELED;
    uint64_t t0 = now_ns();
    int rc = seize(h, tid);
    if (rc)
        return rc;
    int status = 0;
    int r = wait_stop(h, tid, STOP_WAIT_NS, &status);
    if (r == 0) {
        /* Still running, or in uninterruptible sleep; or a stop request
         * cut the wait short. */
        int stop = cancelled(h);
        add_pending(h, tid, !stop);
        return stop ? -ECANCELED : -ETIMEDOUT;
    }
    if (r < 0) {
        h->stats.gone++;
        return -ESRCH;
    }
    uint64_t t1 = now_ns();
    rc = fn ? fn(ctx) : 0;
    release(tid, status);
    uint64_t t2 = now_ns();
    h->stats.holds++;
    h->stats.stop_wait_ns += t1 - t0;
    h->stats.held_ns += t2 - t1;
    if (pause_ns)
        *pause_ns = t2 - t0;
    return rc;
}

/* A thread that did not stop in time (timeout), or whose wait a stop
 * request ended: its interrupt stays pending, and the stop it brings is
 * detached when it comes. With no room left, wait for the oldest rather
 * than lose one. */
static void add_pending(struct thread_hold *h, pid_t tid, int timeout)
{
    if (timeout)
        h->stats.timeouts++;
    if (h->npending == PENDING_MAX)
        reap_pending(h, STOP_WAIT_NS);
    if (h->npending < PENDING_MAX)
        h->pending[h->npending++] = tid;
}

int thread_hold_all(struct thread_hold *h, const pid_t *tids, size_t n, thread_held_each_fn fn,
                    void *ctx, int *results, uint64_t *pauses, uint64_t *span_ns)
{
    *span_ns = 0;
    if (n > h->cap_start) {
        uint64_t *s = realloc(h->start, n * sizeof *s);
        if (!s)
            return -ENOMEM;
        h->start = s;
        h->cap_start = n;
    }
    if (h->npending)
        reap_pending(h, 0);
    for (size_t i = 0; i < n; i++) {
        pauses[i] = 0;
        h->start[i] = now_ns();
        if (cancelled(h))
            results[i] = -ECANCELED;
        else
            results[i] = tids[i] > 0 ? seize(h, tids[i]) : -ESRCH;
    }
    uint64_t deadline = now_ns() + STOP_WAIT_NS, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (results[i])
            continue;
        /* After a stop request only look, and let each thread go unread:
         * the stops already asked for end at once or when they come. */
        int stop = cancelled(h);
        uint64_t now = now_ns();
        int status = 0;
        /* Past the bound, only look: the rest had as long as the first. */
        int r = wait_stop(h, tids[i], !stop && deadline > now ? deadline - now : 0, &status);
        stop = stop || cancelled(h);
        if (r == 0) {
            add_pending(h, tids[i], !stop);
            results[i] = stop ? -ECANCELED : -ETIMEDOUT;
            continue;
        }
        if (r < 0) {
            h->stats.gone++;
            results[i] = -ESRCH;
            continue;
        }
        if (stop) {
            release(tids[i], status);
            results[i] = -ECANCELED;
            continue;
        }
        uint64_t t1 = now_ns();
        results[i] = fn ? fn(ctx, i) : 0;
        release(tids[i], status);
        uint64_t t2 = now_ns();
        h->stats.holds++;
        h->stats.stop_wait_ns += t1 - h->start[i];
        h->stats.held_ns += t2 - t1;
        pauses[i] = t2 - h->start[i];
        last = t2;
    }
    if (last)
        *span_ns = last - h->start[0];
    return 0;
}

void thread_hold_stats(const struct thread_hold *h, struct thread_hold_stats *out)
{
    *out = h->stats;
}
