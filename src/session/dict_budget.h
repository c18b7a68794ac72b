/* The stack dictionary for a live view or a recording: bounded by the
 * STACKS_MAX_* figures (docs/performance.md, Memory budget), or lower by
 * PYTOP_DICT_MAX=N (each of strings, frames and call paths at most N
 * entries, strings at most 64 bytes each on average), for small-memory
 * setups and for the tests that reach the bound. */
#ifndef PYTOP_SESSION_DICT_BUDGET_H
#define PYTOP_SESSION_DICT_BUDGET_H

#include "core/stacks.h"

#include <errno.h>
#include <stdlib.h>

/* The entries PYTOP_DICT_MAX asks for: 0 when it is unset or empty (the
 * default bounds), -EINVAL when it is not a number of 16 or more (the
 * defaults are used then: app/main.c says so, as library code does not
 * print), else N. */
static inline long long dict_budget_env(void)
{
    const char *env = getenv("PYTOP_DICT_MAX");
    if (!env || !*env)
        return 0;
    char *end;
    unsigned long long n = strtoull(env, &end, 10);
    if (*end || n < 16)
        return -EINVAL;
    return n > STACKS_MAX_NODES ? (long long)STACKS_MAX_NODES : (long long)n;
}

static inline struct stack_table *dict_budget_new(void)
{
    long long n = dict_budget_env();
    if (n <= 0)
        return stack_table_new();
    /* stack_table_new_limited clamps each bound */
    return stack_table_new_limited((uint32_t)n, (size_t)n * 64, (uint32_t)n, (uint32_t)n);
}

#endif
