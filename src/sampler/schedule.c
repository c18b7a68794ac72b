/* The sampling instants and how the sampler catches up (schedule.h). */
#include "config.h"

#include "sampler/schedule.h"

void schedule_init(struct schedule *sc, uint64_t period_ns, uint64_t seed)
{
    sc->period_ns = period_ns ? period_ns : 1;
    sc->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

/* xorshift64*: cheap random gaps, no libc state shared with anyone. */
static double rand_unit(struct schedule *sc)
{
    sc->rng ^= sc->rng >> 12;
    sc->rng ^= sc->rng << 25;
    sc->rng ^= sc->rng >> 27;
    return (double)((sc->rng * 0x2545F4914F6CDD1DULL) >> 11) / (double)(1ULL << 53);
}

/* The sampling instants are a renewal process: each is the one before
 * plus a gap drawn uniformly from [period/2, 3 period/2). The mean gap is
 * the period, so the rate is the one asked for. One such gap spreads an
 * instant over a whole period, so against work the target repeats with
 * any cycle, the instants' phase becomes uniform within a few samples and
 * stays uniform: the sampler cannot lock onto a period.
 *
 * Each sample is credited the time since the one before, so the gap
 * before a sample must not depend on where the target's cycle is at that
 * sample; here it does not, as the phase before the gap is uniform and
 * independent of the gap. Instants at start + k * period (even jittered a
 * little) keep their phase against a cycle that divides the period; an
 * instant drawn uniformly within each period makes the time credited
 * depend on where in its period it fell (75/25 reads 66/34 to 84/16
 * depending on the target's phase); Poisson instants are unbiased but
 * their more varied gaps double a share's variance. */
uint64_t schedule_gap(struct schedule *sc)
{
    uint64_t gap = sc->period_ns / 2 + (uint64_t)(rand_unit(sc) * (double)sc->period_ns);
    return gap ? gap : 1;
}

uint64_t schedule_window(const struct schedule *sc)
{
    return sc->period_ns > SCHEDULE_CATCH_UP_NS ? sc->period_ns : SCHEDULE_CATCH_UP_NS;
}

/* A sampler that slept past its instant on a busy machine (woken, then
 * kept off a CPU for a slice or two) takes the instants it missed back to
 * back once it runs, so that it keeps the rate asked for whenever the CPU
 * it gets over the window can pay for it. Each sample is still credited
 * only the time since the one before, so the reads taken back to back
 * each carry the few microseconds they stand for, and the wait before
 * them goes to the first: no moment is counted twice. Behind by more than
 * the window, the sampler cannot keep the rate: it skips the oldest
 * instants (counted) and keeps sampling as fast as it can. */
uint64_t schedule_next(struct schedule *sc, uint64_t instant, uint64_t now, uint64_t *skipped)
{
    uint64_t next = instant + schedule_gap(sc);
    uint64_t window = schedule_window(sc);
    *skipped = 0;
    if (now <= window)
        return next;
    uint64_t oldest = now - window;
    for (unsigned draws = 0; next < oldest; draws++) {
        if (draws == SCHEDULE_MAX_DRAWS) {
            /* Stalled for thousands of periods: count the rest by the mean. */
            *skipped += (oldest - next) / sc->period_ns + 1;
            return oldest;
        }
        next += schedule_gap(sc);
        (*skipped)++;
    }
    return next;
}
