/* When the sampler samples: the instants (a renewal process around the
 * period asked for) and what it does when it falls behind them. Pure
 * arithmetic on times given by the caller, so that tests can run it on a
 * made-up clock. */
#ifndef PYTOP_SAMPLER_SCHEDULE_H
#define PYTOP_SAMPLER_SCHEDULE_H

#include <stdint.h>

/* Instants missed by less than this (or by less than a period, when the
 * period is longer) are still taken, back to back; older ones are skipped
 * and counted. Long enough to outlast the waits a busy scheduler gives a
 * thread that slept (a few of its 3 ms slices), short enough that a real
 * stall (pytop stopped, the machine suspended) is not paid back with a
 * burst of reads of one moment. */
#define SCHEDULE_CATCH_UP_NS (50 * 1000 * 1000ULL)

/* A stall of more instants than this is counted by the mean gap. */
#define SCHEDULE_MAX_DRAWS 4096

struct schedule {
    uint64_t period_ns;          /* the mean gap, > 0 */
    uint64_t rng;                /* xorshift64* state, never 0 */
};

void schedule_init(struct schedule *sc, uint64_t period_ns, uint64_t seed);

/* A gap drawn uniformly from [period/2, 3 period/2); never 0. */
uint64_t schedule_gap(struct schedule *sc);

/* The instant after `instant`, given that the sample taken for it ended at
 * `now`. It may be in the past: the caller then samples at once. Instants
 * more than the catch-up window before `now` are skipped; *skipped says
 * how many. */
uint64_t schedule_next(struct schedule *sc, uint64_t instant, uint64_t now, uint64_t *skipped);

/* How far behind `now` an instant may be and still be taken. */
uint64_t schedule_window(const struct schedule *sc);

#endif
