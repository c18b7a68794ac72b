/* A histogram of durations in nanoseconds with a bounded relative error:
 * 16 buckets per power of two (about 3 % of the value), exact below
 * 16 ns, up to 2^40 ns (18 minutes; longer ones count in the last
 * bucket). Fixed size, so it can be copied as a value. */
#ifndef PYTOP_CORE_HIST_H
#define PYTOP_CORE_HIST_H

#include <stdint.h>

#define HIST_SUB 16
#define HIST_MAX_EXP 40
#define HIST_BUCKETS ((HIST_MAX_EXP - 3) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t max;
    uint32_t n[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t v);
/* The value at quantile q (0..1): the middle of its bucket, never above
 * the largest value added (which q = 1 gives); 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
