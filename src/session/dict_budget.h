/* The stack dictionary for a live view or a recording: bounded by the
 * STACKS_MAX_* figures (docs/performance.md, Memory budget), or lower by
 * PYTOP_DICT_MAX=N (each of strings, frames and call paths at most N
 * entries, strings at most 64 bytes each on average), for small-memory
 * setups and for the tests that reach the bound. */
#ifndef PYTOP_SESSION_DICT_BUDGET_H
#define PYTOP_SESSION_DICT_BUDGET_H

#include "core/stacks.h"

#include <stdio.h>
#include <stdlib.h>

static inline struct stack_table *dict_budget_new(void)
{
    const char *env = getenv("PYTOP_DICT_MAX");
    if (!env || !*env)
        return stack_table_new();
    char *end;
    unsigned long long n = strtoull(env, &end, 10);
    if (*end || n < 16) {
        fprintf(stderr, "pytop: PYTOP_DICT_MAX must be a number of entries, 16 or more, not "
                        "'%s'; using the default bounds\n", env);
        return stack_table_new();
    }
    if (n > STACKS_MAX_NODES)
        n = STACKS_MAX_NODES;   /* stack_table_new_limited clamps each bound */
    return stack_table_new_limited((uint32_t)n, (size_t)n * 64, (uint32_t)n, (uint32_t)n);
}

#endif
