#include "config.h"

#include "model/model_internal.h"

#include "core/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- counters history --------------------------------------------------- */

void history_release(struct model *m, struct history *h)
{
    if (h->v)
        m->nhistories--;
    free(h->v);
    memset(h, 0, sizeof *h);
}

/* Two neighbouring points as one, at the newer's time: each counter keeps
 * the larger value, so peaks survive thinning (running totals only grow,
 * so they keep the newer value). */
static void point_merge(struct model_counter_point *newer, const struct model_counter_point *older)
{
    for (int id = 0; id < COUNTER_COUNT; id++) {
        if (!counters_has(&older->c, (enum counter_id)id))
            continue;
        if (!counters_has(&newer->c, (enum counter_id)id) ||
            older->c.value[id] > newer->c.value[id])
            counters_set(&newer->c, (enum counter_id)id, older->c.value[id]);
    }
}

/* Full: halve the resolution, pairs oldest first, like the session's
 * points. MODEL_COUNTERS_MAX is even, so the newest point survives. */
static void history_thin(struct history *h)
{
    struct model_counter_point *v = h->v + h->start;
    size_t k = 0;
    for (size_t i = 0; i + 1 < h->n; i += 2, k++) {
        struct model_counter_point pt = v[i + 1];
        point_merge(&pt, &v[i]);
        h->v[k] = pt;
    }
    h->start = 0;
    h->n = k;
}

/* The time of a history's latest point; 0 when it has none. */
static uint64_t history_latest(const struct history *h)
{
    return h->n ? h->v[h->start + h->n - 1].time_ns : 0;
}

/* Free the history whose latest point is oldest (the first such, for
 * ties), to make room for another. */
static void history_evict(struct model *m)
{
    struct history *oldest = NULL;
    for (size_t i = 0; i < m->nprocs; i++) {
        struct history *h = &m->procs[i].hist;
        if (h->v && (!oldest || history_latest(h) < history_latest(oldest)))
            oldest = h;
    }
    if (oldest)
        history_release(m, oldest);
}

_Static_assert(MODEL_COUNTERS_MAX >= 64 && MODEL_COUNTERS_MAX % 64 == 0 &&
               ((MODEL_COUNTERS_MAX / 64) & (MODEL_COUNTERS_MAX / 64 - 1)) == 0,
               "a history doubling from 64 points meets MODEL_COUNTERS_MAX");

/* Room for one more point at the end: 0, or -ENOMEM (the point is then
 * left out; the history is a nicety). */
static int history_room(struct model *m, struct history *h)
{
    if (h->n == MODEL_COUNTERS_MAX)
        history_thin(h);
    if (h->start + h->n < h->cap)
        return 0;
    /* Compact when half is free (amortized: it moves n points after at
     * least n were dropped), else grow. */
    if (h->start && (h->n <= h->cap / 2 || h->cap == MODEL_COUNTERS_MAX)) {
        memmove(h->v, h->v + h->start, h->n * sizeof *h->v);
        h->start = 0;
        return 0;
    }
    if (!h->v && m->nhistories >= HISTORY_PROCESSES_MAX)
        history_evict(m);
    /* Doubling from 64 meets MODEL_COUNTERS_MAX exactly, and a full
     * history is thinned above before it could grow past it. */
    int first = !h->v;
    struct model_counter_point *v = vec_grow(h->v, &h->cap, h->cap + 1, sizeof *v, 64);
    if (!v)
        return -ENOMEM;
    if (first)
        m->nhistories++;
    h->v = v;
    return 0;
}

void history_add(struct model *m, struct process *p, uint64_t t,
                        const struct counters *c)
{
    struct history *h = &p->hist;
    while (h->n && t - h->v[h->start].time_ns >= m->retention_ns) {
        h->start++;
        h->n--;
    }
    if (history_room(m, h) != 0)
        return;
    struct model_counter_point *pt = &h->v[h->start + h->n++];
    pt->time_ns = t;
    pt->c = *c;
    pt->c.valid &= (1ull << COUNTER_COUNT) - 1;     /* ids this build knows */
}
