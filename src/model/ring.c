#include "config.h"

#include "model/model_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- the ring ----------------------------------------------------------- */

static struct entry *entry_at(const struct model *m, size_t i)
{
    return ring_at_shift(&m->entries, i, ENTRY_SHIFT);
}

static uint64_t *word_at(const struct model *m, size_t i)
{
    return ring_at_shift(&m->words, i, WORD_SHIFT);
}

/* How many side words an entry with these bits has. */
static size_t entry_words(uint32_t bits)
{
    return ((bits & ENTRY_TIME) != 0) + 2 * ((bits & ENTRY_WIDE) != 0) +
           2 * ((bits & ENTRY_MEM) != 0);
}

/* Entry i, whose side words start at word w: its amounts in *r, and its
 * time in *time when it has one of its own (else *time is untouched).
 * Returns how many words it has. */
static size_t entry_read(const struct model *m, size_t i, size_t w, struct rec *r,
                         uint64_t *time)
{
    const struct entry *e = entry_at(m, i);
    size_t k = w;
    r->who = e->who;
    r->bits = e->bits;
    r->cpu_ns = e->cpu_ns;
    r->wall_ns = e->wall_ns;
    r->mem_grow = r->mem_release = 0;
    if (e->bits & ENTRY_TIME)
        *time = *word_at(m, k++);
    if (e->bits & ENTRY_WIDE) {
        r->cpu_ns = *word_at(m, k++);
        r->wall_ns = *word_at(m, k++);
    }
    if (e->bits & ENTRY_MEM) {
        r->mem_grow = *word_at(m, k++);
        r->mem_release = *word_at(m, k++);
    }
    return k - w;
}

void entries_init(struct model *m)
{
    ring_init(&m->entries, ENTRY_SHIFT);
    ring_init(&m->words, WORD_SHIFT);
}

void entries_release(struct model *m)
{
    ring_release(&m->entries);
    ring_release(&m->words);
    m->win = m->win_words = 0;
}

static struct process *rec_proc(const struct model *m, const struct rec *r)
{
    return &m->procs[r->bits & ENTRY_EMPTY ? r->who : m->slots[r->who].proc];
}

/* What r adds to its process's window counts. */
static void rec_pcounts(const struct rec *r, struct pcounts *pc)
{
    pc->samples = (r->bits & ENTRY_FIRST) != 0;
    pc->held = (r->bits & (ENTRY_FIRST | ENTRY_HELD)) == (ENTRY_FIRST | ENTRY_HELD);
    pc->cpu_ns = r->bits & ENTRY_EMPTY ? 0 : r->cpu_ns;
}

/* Needs room reserved in the window map. */
static void window_add(struct model *m, const struct rec *r)
{
    struct process *p = rec_proc(m, r);
    struct pcounts pc;
    rec_pcounts(r, &pc);
    p->window.samples += pc.samples;
    p->window.held += pc.held;
    p->window.cpu_ns += pc.cpu_ns;
    m->window_samples += pc.samples;
    if (r->bits & ENTRY_EMPTY)
        return;
    struct counts c;
    rec_counts(r, &c);
    agg_add(&m->window, agg_key(m->slots[r->who].tid, r->bits & ENTRY_NODE_MASK), &c);
    counts_add(&m->window_sum, &c);
}

static void window_sub(struct model *m, const struct rec *r)
{
    struct process *p = rec_proc(m, r);
    struct pcounts pc;
    rec_pcounts(r, &pc);
    p->window.samples -= pc.samples;
    p->window.held -= pc.held;
    p->window.cpu_ns -= pc.cpu_ns;
    m->window_samples -= pc.samples;
    if (r->bits & ENTRY_EMPTY)
        return;
    struct counts c;
    rec_counts(r, &c);
    agg_sub(&m->window, agg_key(m->slots[r->who].tid, r->bits & ENTRY_NODE_MASK), &c);
    counts_sub(&m->window_sum, &c);
}

/* The window's oldest entry leaves the window (it stays in the ring). */
static void window_pop(struct model *m)
{
    struct rec r;
    uint64_t t;
    size_t n = entry_read(m, m->entries.count - m->win, m->words.count - m->win_words, &r, &t);
    window_sub(m, &r);
    m->win--;
    m->win_words -= n;
    /* Its successor has the same time unless it has its own. */
    if (m->win && (entry_at(m, m->entries.count - m->win)->bits & ENTRY_TIME))
        m->win_ns = *word_at(m, m->words.count - m->win_words);
}

/* The oldest entry leaves the ring, with its words; it is not in the
 * window. */
static void entries_pop(struct model *m)
{
    size_t n = entry_words(entry_at(m, 0)->bits);
    ring_drop(&m->entries, 1);
    ring_drop(&m->words, n);
    if (m->entries.count && (entry_at(m, 0)->bits & ENTRY_TIME))
        m->head_ns = *word_at(m, 0);
}

/* Entries are ordered by time, so both bounds only move forward:
 * subtract what left the window, then forget what left the retention. */
void entries_advance(struct model *m)
{
    while (m->win && m->last_ns - m->win_ns >= m->window_ns)
        window_pop(m);
    while (m->entries.count && m->last_ns - m->head_ns >= m->retention_ns) {
        if (m->win == m->entries.count)     /* only if window > retention: never, but stay exact */
            window_pop(m);
        entries_pop(m);
    }
}

static void entries_drop_oldest(struct model *m)
{
    if (m->win == m->entries.count)
        window_pop(m);
    m->dropped++;
    m->dropped_ns = m->head_ns;
    entries_pop(m);
}

/* Keep an entry at time t in the ring and, when it is in the window, in
 * the window's aggregates; r->bits gets the side ring's flags. Without
 * memory for it, it is counted as dropped, which keeps the window exact
 * over what the ring holds. */
void entries_record(struct model *m, struct rec *r, uint64_t t)
{
    if (m->entries.count >= m->ring_limit)
        entries_drop_oldest(m);
    /* The first entry of an empty ring needs no time word: head_ns has it. */
    if (m->entries.count && t != m->tail_ns)
        r->bits |= ENTRY_TIME;
    if (r->cpu_ns > UINT32_MAX || r->wall_ns > UINT32_MAX)
        r->bits |= ENTRY_WIDE;
    if (r->mem_grow || r->mem_release)
        r->bits |= ENTRY_MEM;
    size_t n = entry_words(r->bits);
    if (ring_reserve(&m->entries, 1) || ring_reserve(&m->words, n)) {
        m->dropped++;
        m->dropped_ns = t;
        return;
    }
    size_t k = m->words.count;
    if (r->bits & ENTRY_TIME)
        *word_at(m, k++) = t;
    if (r->bits & ENTRY_WIDE) {
        *word_at(m, k++) = r->cpu_ns;
        *word_at(m, k++) = r->wall_ns;
    }
    if (r->bits & ENTRY_MEM) {
        *word_at(m, k++) = r->mem_grow;
        *word_at(m, k++) = r->mem_release;
    }
    m->words.count = k;
    struct entry *e = entry_at(m, m->entries.count);
    e->cpu_ns = r->bits & ENTRY_WIDE ? 0 : (uint32_t)r->cpu_ns;
    e->wall_ns = r->bits & ENTRY_WIDE ? 0 : (uint32_t)r->wall_ns;
    e->who = r->who;
    e->bits = r->bits;
    if (m->entries.count++ == 0)
        m->head_ns = t;
    m->tail_ns = t;
    if (m->last_ns - t < m->window_ns) {
        if (!m->win)
            m->win_ns = t;
        window_add(m, r);
        m->win++;
        m->win_words += n;
    }
}

void model_set_window(struct model *m, uint64_t window_ns)
{
    if (window_ns > m->retention_ns)
        window_ns = m->retention_ns;
    /* The entries now in the window: a tail of the ring, k entries and kw
     * words. Walking back, an entry's time is known at the first entry
     * with a time of its own (or at the ring's head), which decides the
     * pending ones. */
    size_t k = 0, kw = 0, pending = 0, pending_words = 0, w = m->words.count;
    uint64_t oldest = 0;
    for (size_t j = m->entries.count; j-- > 0;) {
        const struct entry *e = entry_at(m, j);
        size_t n = entry_words(e->bits);
        w -= n;
        pending++;
        pending_words += n;
        if (!(e->bits & ENTRY_TIME) && j)
            continue;
        uint64_t t = e->bits & ENTRY_TIME ? *word_at(m, w) : m->head_ns;
        if (m->last_ns - t >= window_ns)
            break;
        k += pending;
        kw += pending_words;
        pending = pending_words = 0;
        oldest = t;
    }
    /* Distinct keys in the window are at most those since the start, and
     * at most k. Build the new map aside, so failing leaves the old window. */
    struct agg_map nw = { NULL, 0, 0 };
    size_t keys = k < m->total.count ? k : m->total.count;
    if (keys && agg_reserve(&nw, keys))
        return;
    agg_release(&m->window);
    m->window = nw;
    memset(&m->window_sum, 0, sizeof m->window_sum);
    m->window_samples = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        memset(&m->procs[i].window, 0, sizeof m->procs[i].window);
    m->window_ns = window_ns;
    m->win = k;
    m->win_words = kw;
    m->win_ns = oldest;
    w = m->words.count - kw;
    for (size_t i = m->entries.count - k; i < m->entries.count; i++) {
        struct rec r;
        uint64_t t;
        w += entry_read(m, i, w, &r, &t);
        window_add(m, &r);
    }
    agg_maybe_shrink(&m->window);
}

uint64_t model_window(const struct model *m)
{
    return m->window_ns;
}

void model_set_ring_limit(struct model *m, size_t entries)
{
    if (entries < 1)
        entries = 1;
    if (entries > MODEL_RING_MAX)
        entries = MODEL_RING_MAX;
    m->ring_limit = entries;
    while (m->entries.count > m->ring_limit)
        entries_drop_oldest(m);
    agg_maybe_shrink(&m->window);
}

uint64_t model_ring_dropped(const struct model *m)
{
    return m->dropped;
}
