/* Unit tests for src/sampler/schedule: the gaps between instants, and
 * what the sampler does behind them, on a made-up clock: a sampler run
 * the way sampler_run does (sleep to the instant, sample, ask for the
 * next), woken late by a scheduler that keeps it off its CPU for slices. */
#include "unit.h"

#include "sampler/schedule.h"

#include <math.h>

#define US 1000ull
#define MS 1000000ull
#define SEC 1000000000ull
#define T0 (10 * SEC)   /* the made-up clock's start: past the window */

static void test_gaps(void)
{
    struct schedule sc;
    schedule_init(&sc, 100 * US, 42);
    uint64_t lo = UINT64_MAX, hi = 0;
    double sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        uint64_t g = schedule_gap(&sc);
        lo = g < lo ? g : lo;
        hi = g > hi ? g : hi;
        sum += (double)g;
    }
    CHECK(lo >= 50 * US && hi < 150 * US, "every gap is within [period/2, 3 period/2)");
    CHECK(fabs(sum / n - 100.0 * US) < 0.005 * 100 * US, "the mean gap is the period (0.5 %)");
    CHECK(lo < 51 * US && hi > 149 * US, "the gaps fill their whole range");

    schedule_init(&sc, 1, 0);
    int zero = 0;
    for (int i = 0; i < 1000; i++)
        zero += schedule_gap(&sc) == 0;
    CHECK_INT(zero, 0, "a 1 ns period (and a 0 seed) never gives a 0 gap");
    schedule_init(&sc, 0, 7);
    CHECK_INT(sc.period_ns, 1, "a 0 period is taken as 1 ns");
}

static void test_next(void)
{
    struct schedule sc;
    uint64_t skipped = 99;
    schedule_init(&sc, 100 * US, 5);
    uint64_t next = schedule_next(&sc, T0, T0 + 10 * US, &skipped);
    CHECK(next >= T0 + 50 * US && next < T0 + 150 * US && skipped == 0,
          "on time: the next instant is one gap on, nothing skipped");

    next = schedule_next(&sc, T0, T0 + 30 * MS, &skipped);
    CHECK(next < T0 + 150 * US && skipped == 0,
          "30 ms behind (within the window): the missed instant is still owed, in the past");

    next = schedule_next(&sc, T0, T0 + 250 * MS, &skipped);
    uint64_t oldest = T0 + 250 * MS - SCHEDULE_CATCH_UP_NS;
    CHECK(next >= oldest && next < oldest + 150 * US,
          "250 ms behind: the instant kept is the first within the window");
    CHECK(llabs((long long)skipped - 2000) < 100, "250 ms behind at 10 kHz: about 2000 instants skipped");

    next = schedule_next(&sc, T0, T0 + 1000 * SEC, &skipped);
    oldest = T0 + 1000 * SEC - SCHEDULE_CATCH_UP_NS;
    CHECK_INT(next, oldest, "a stall of millions of periods ends its draws at the window's start");
    CHECK(fabs((double)skipped - 1e7) < 1e5, "and counts the instants by the mean (1e7, within 1 %)");

    next = schedule_next(&sc, 0, 1 * MS, &skipped);
    CHECK(next < 150 * US && skipped == 0, "a clock younger than the window skips nothing");

    schedule_init(&sc, SEC, 5);
    CHECK_INT(schedule_window(&sc), SEC, "at 1 Hz the window is a period");
    next = schedule_next(&sc, T0, T0 + 1800 * MS, &skipped);
    CHECK(next >= T0 + 800 * MS && skipped <= 1,
          "1 Hz, 1.8 s behind: at most the instant over a period old is skipped");
}

/* The made-up machine: a sample costs `cost`; a sleeping sampler wakes
 * at its instant, but while a hog holds the CPU (the first `held` of
 * every `cycle`) it runs only when the hog's slice ends. */
struct machine {
    uint64_t cost, cycle, held;
};

static uint64_t runs_at(const struct machine *m, uint64_t t)
{
    if (!m->cycle)
        return t;
    uint64_t in = (t - T0) % m->cycle;
    return in < m->held ? t - in + m->held : t;
}

struct run {
    uint64_t samples, skipped, burst_max, wall_sum;
    int ordered;
};

/* sampler_run's loop on the machine, for `span`; stopped (not running,
 * not sleeping) from stop_at for stop_for. */
static struct run simulate(uint64_t period, const struct machine *m, uint64_t span,
                           uint64_t stop_at, uint64_t stop_for)
{
    struct schedule sc;
    schedule_init(&sc, period, 11);
    struct run r = { 0, 0, 0, 0, 1 };
    uint64_t now = T0, instant = T0, last = T0, burst = 0;
    int stopped = 0;
    while (now < T0 + span) {
        if (now < instant) {
            now = runs_at(m, instant);   /* slept, then waited for the CPU */
            burst = 0;
        }
        if (!stopped && stop_for && now >= T0 + stop_at) {
            now += stop_for;
            stopped = 1;
        }
        if (now < last)
            r.ordered = 0;
        r.wall_sum += now - last;   /* what the sample is credited */
        last = now;
        r.samples++;
        if (++burst > r.burst_max)
            r.burst_max = burst;
        now += m->cost;
        uint64_t skipped;
        instant = schedule_next(&sc, instant, now, &skipped);
        r.skipped += skipped;
    }
    return r;
}

static void test_busy_machine(void)
{
    /* 10 kHz asked; 11 us a sample; a hog keeps the CPU 3 ms of every 6. */
    struct machine busy = { 11 * US, 6 * MS, 3 * MS };
    struct run r = simulate(100 * US, &busy, 1 * SEC, 0, 0);
    CHECK(r.samples >= 9900 && r.samples <= 10100,
          "10 kHz asked, kept off the CPU half the time in 3 ms slices: 10 kHz taken");
    CHECK_INT(r.skipped, 0, "no instant skipped: each wait is within the window");
    CHECK(r.burst_max >= 25 && r.burst_max <= 40,
          "after a 3 ms wait, the ~30 missed instants are taken back to back");
    CHECK(r.ordered && r.wall_sum <= 1 * SEC + 11 * US,
          "the time credited is the time sampled: no moment counted twice");

    struct machine quiet = { 11 * US, 0, 0 };
    r = simulate(100 * US, &quiet, 1 * SEC, 0, 0);
    CHECK(r.samples >= 9900 && r.samples <= 10100 && r.burst_max <= 2,
          "a quiet machine: 10 kHz, no bursts");

    /* 100 kHz asked, 15 us a sample: as many as the cost allows. */
    struct machine slow = { 15 * US, 0, 0 };
    r = simulate(10 * US, &slow, 1 * SEC, 0, 0);
    CHECK(llabs((long long)r.samples - 66667) < 100, "behind for good: back to back, 1 / cost a second");
    double owed = (double)(SCHEDULE_CATCH_UP_NS / (10 * US));
    CHECK(fabs((double)(r.samples + r.skipped) + owed - 1e5) < 1e3,
          "every instant is sampled, skipped or still owed");

    /* Stopped for 1 s at 10 kHz: the window's instants only are paid back,
     * and those falling due while it pays: 500 * 100 / (100 - 11) = 562. */
    r = simulate(100 * US, &quiet, 3 * SEC, 1 * SEC, 1 * SEC);
    CHECK(r.burst_max >= 540 && r.burst_max <= 585,
          "after a 1 s stop, the burst is the window's instants (about 560)");
    if (r.burst_max < 540 || r.burst_max > 585)
        printf("#   burst %" PRIu64 "\n", r.burst_max);
    CHECK(llabs((long long)r.skipped - 9500) < 200, "and the rest of the second is skipped, counted");
}

int main(void)
{
    UNIT_RUN(test_gaps);
    UNIT_RUN(test_next);
    UNIT_RUN(test_busy_machine);
    return unit_done();
}
