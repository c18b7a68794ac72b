#include "config.h"

#include "model/model.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* How the model keeps its numbers (see docs/model.md for the budget):
 *  - total:  per (tid, leaf node) counts since the start, never shrinks
 *            until model_reset;
 *  - ring:   one compact entry per thread per sample, oldest first, kept
 *            for retention_ns and at most ring_limit entries;
 *  - window: per (tid, leaf node) counts of the ring's newest entries, the
 *            ones in (last_ns - window_ns, last_ns]. They are a contiguous
 *            tail of the ring because times never go backwards (a sample
 *            older than the latest is taken at the latest time).
 * Every query walks the stack_table's trie from these per-path counts.
 *
 * A ring entry is 16 bytes: what most entries need. What only some
 * entries have goes to a side ring of 64-bit words, consumed in step with
 * the entries (each entry's flags say how many words are its own, in this
 * order):
 *  - ENTRY_TIME: 1 word, the entry's time. Only an entry whose time
 *    differs from that of the entry before it in the ring has one (in
 *    practice the first entry of each sample); the others have the time
 *    of the latest entry before them that does, or the oldest entry's.
 *    The model keeps the times of the oldest entry, of the window's
 *    oldest and of the newest, so the ring's head need not carry one;
 *  - ENTRY_WIDE: 2 words, CPU and wall time, when either does not fit the
 *    entry's 32 bits (4.29 s);
 *  - ENTRY_MEM: 2 words, memory growth and release, when either is not 0.
 * An entry names its thread and process by a slot, an index into a table
 * of (tid, process) pairs the model keeps. */

#define DEFAULT_WINDOW_NS 10000000000ull
#define DEFAULT_RETENTION_NS 300000000000ull

/* A cap on walks up the trie, in case a dictionary is deeper than any
 * real stack. A deeper path loses its outermost frames. */
#define PATH_DEPTH_MAX 4096u

/* Ring items live in fixed blocks of 32 KiB (below glibc's mmap
 * threshold), so the rings grow and shrink a block at a time: no
 * doubling slack and no large copy when they grow. */
#define RING_BLOCK_SHIFT 15
#define RING_BLOCK ((size_t)1 << RING_BLOCK_SHIFT)
#define ENTRY_SHIFT 4           /* entries are 16 bytes */
#define WORD_SHIFT 3            /* side words are 8 */

/* Entry bits: the node id in the low 24 bits (the stack_table's bound on
 * nodes is below that), then the flags the window needs. */
#define ENTRY_NODE_BITS 23
#define ENTRY_NODE_MASK ((1u << ENTRY_NODE_BITS) - 1)
#define ENTRY_CARRY (1u << 23)  /* CPU time carried to an earlier stack (SAMPLE_CARRY): no sample */
#define ENTRY_RUNNING (1u << 24)
#define ENTRY_GIL (1u << 25)
#define ENTRY_FIRST (1u << 26)  /* the first entry of its sample: counts the sample */
#define ENTRY_EMPTY (1u << 27)  /* stands for a sample with no thread: counts nothing else */
#define ENTRY_HELD (1u << 28)   /* on a sample's first entry: some thread held the GIL */
#define ENTRY_TIME (1u << 29)   /* its time is in the side ring (1 word) */
#define ENTRY_WIDE (1u << 30)   /* its CPU and wall time are in the side ring (2 words) */
#define ENTRY_MEM (1u << 31)    /* its memory growth and release are in the side ring (2) */

_Static_assert(STACKS_MAX_NODES <= (1u << ENTRY_NODE_BITS),
               "ring entries pack node ids in 24 bits");
_Static_assert(COUNTER_COUNT < 64, "a counters mask has a bit per counter");
_Static_assert(MODEL_COUNTERS_MAX % 2 == 0, "thinning pairs every point");

struct entry {
    uint32_t cpu_ns, wall_ns;   /* 0 with ENTRY_WIDE: the side words have them */
    uint32_t who;               /* its slot; with ENTRY_EMPTY, its process's index */
    uint32_t bits;              /* node | ENTRY_* */
};

_Static_assert(sizeof(struct entry) == 1u << ENTRY_SHIFT, "ENTRY_SHIFT matches the entry");

/* An entry with its side words read: what it adds to the window. */
struct rec {
    uint64_t cpu_ns, wall_ns, mem_grow, mem_release;
    uint32_t who, bits;
};

struct counts {
    uint64_t entries;           /* ring entries added: samples and carried CPU time */
    uint64_t samples, running, gil, cpu_ns, wall_ns, mem_grow, mem_release;
};

/* One (tid, node) aggregate; a slot is empty when c.entries is 0, so an
 * aggregate that drops to zero disappears. */
struct agg {
    uint64_t key;               /* tid << 32 | node */
    struct counts c;
};

/* Open addressing with linear probing and backward-shift deletion: no
 * tombstones, so the window's map stays as small as what is live. */
struct agg_map {
    struct agg *slots;
    size_t cap;                 /* 0 or a power of two */
    size_t count;
};

/* A small u32 -> u32 map (threads by tid; leaves by node in queries).
 * val holds value + 1 so that 0 marks an empty slot. */
struct idx_slot {
    uint32_t key, val;
};

struct idx_map {
    struct idx_slot *slots;
    size_t cap, count;
};

#define IDX_NONE UINT32_MAX

struct thread {
    uint32_t tid, pid, name;
    uint32_t last_stack, last_flags;
    uint32_t slot;              /* its latest slot, the head of its list; IDX_NONE: none */
    uint64_t last_seen_ns;
    struct counts total;
};

/* A (tid, process) pair seen since the start or reset: ring entries name
 * their thread and process by its index, so an entry leaving the window
 * is taken off the process it was added to, even when its tid has since
 * been reused by another process. A thread's slots (one per process that
 * had its tid, almost always one) form a list from thread.slot. */
struct slot {
    uint32_t tid;
    uint32_t proc;              /* index in model.procs */
    uint32_t next;              /* the thread's slot before it, IDX_NONE: none */
};

/* A queue of fixed-size items in RING_BLOCK-byte blocks; blocks[0] holds
 * the oldest item at index head. */
struct ring {
    unsigned char **blocks;
    size_t nblocks, blocks_cap;
    unsigned char *spare;       /* one freed block kept to avoid malloc churn */
    size_t head, count;
};

/* A process's sample counts: its samples, those in which one of its
 * threads held the GIL, and its threads' CPU time. */
struct pcounts {
    uint64_t samples, held, cpu_ns;
};

/* A process's counters, points [start, start + n) of v, oldest first. */
struct history {
    struct model_counter_point *v;
    size_t start, n, cap;
};

/* At most this many processes keep a counters history at once; a new one
 * takes the place of the one whose latest point is oldest (an exited
 * process, usually). Bounds the histories to 64 x 4096 points (44 MB). */
#define HISTORY_PROCESSES_MAX 64

struct process {
    struct process_info info;
    uint64_t first_ns, last_ns;
    struct pcounts total, window;
    uint32_t threads;           /* in its latest sample */
    uint32_t holder_tid;        /* the GIL holder in its latest sample, 0: none */
    struct history hist;
};

struct model {
    const struct stack_table *dict;
    uint64_t window_ns, retention_ns;

    /* The ring: entries, and their side words in step with them. */
    struct ring entries, words;
    size_t win;                 /* the newest win entries are in the window */
    size_t win_words;           /* the newest win_words words are theirs */
    uint64_t head_ns;           /* time of the oldest entry (when there is one) */
    uint64_t win_ns;            /* time of the window's oldest entry (when win) */
    uint64_t tail_ns;           /* time of the newest entry (when there is one) */
    size_t ring_limit;
    uint64_t dropped;           /* entries that left before their retention ran out */
    uint64_t dropped_ns;        /* time of the latest of them */

    struct agg_map total, window;
    struct counts total_sum, window_sum;

    struct thread *threads;     /* in order of first appearance */
    size_t nthreads, threads_cap;
    struct idx_map thread_index;
    struct slot *slots;
    size_t nslots, slots_cap;

    struct process *procs;      /* in order of first appearance */
    size_t nprocs, procs_cap;
    struct idx_map proc_index;
    size_t nhistories;          /* processes holding a counters history */
    uint32_t holder_tid;        /* the GIL holder in the latest sample of any process */

    uint64_t first_ns, last_ns;
    uint64_t samples, window_samples;
};

/* ---- hashing ------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The smallest power-of-two capacity that holds n keys at most 3/4 full. */
static size_t cap_for(size_t n)
{
    size_t cap = 16;
    while (cap - cap / 4 < n)
        cap *= 2;
    return cap;
}

/* ---- (tid, node) aggregates ------------------------------------------- */

static uint64_t agg_key(uint32_t tid, uint32_t node)
{
    return (uint64_t)tid << 32 | node;
}

static size_t agg_find(const struct agg_map *m, uint64_t key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)mix64(key) & mask;
    while (m->slots[i].c.entries && m->slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static int agg_rehash(struct agg_map *m, size_t cap)
{
    struct agg *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    struct agg_map n = { slots, cap, m->count };
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].c.entries)
            n.slots[agg_find(&n, m->slots[i].key)] = m->slots[i];
    free(m->slots);
    *m = n;
    return 0;
}

/* Room for extra more keys, so adds that follow can't fail. */
static int agg_reserve(struct agg_map *m, size_t extra)
{
    size_t need = m->count + extra;
    if (m->cap && need <= m->cap - m->cap / 4)
        return 0;
    return agg_rehash(m, cap_for(need));
}

/* Give memory back once the map is mostly empty; best effort. */
static void agg_maybe_shrink(struct agg_map *m)
{
    if (m->cap > 16 && m->count < m->cap / 8)
        (void)agg_rehash(m, cap_for(m->count * 2));
}

static void agg_release(struct agg_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static void counts_add(struct counts *a, const struct counts *b)
{
    a->entries += b->entries;
    a->samples += b->samples;
    a->running += b->running;
    a->gil += b->gil;
    a->cpu_ns += b->cpu_ns;
    a->wall_ns += b->wall_ns;
    a->mem_grow += b->mem_grow;
    a->mem_release += b->mem_release;
}

static void counts_sub(struct counts *a, const struct counts *b)
{
    a->entries -= b->entries;
    a->samples -= b->samples;
    a->running -= b->running;
    a->gil -= b->gil;
    a->cpu_ns -= b->cpu_ns;
    a->wall_ns -= b->wall_ns;
    a->mem_grow -= b->mem_grow;
    a->mem_release -= b->mem_release;
}

/* Needs a prior agg_reserve. */
static void agg_add(struct agg_map *m, uint64_t key, const struct counts *c)
{
    struct agg *a = &m->slots[agg_find(m, key)];
    if (!a->c.entries) {
        a->key = key;
        m->count++;
    }
    counts_add(&a->c, c);
}

static void agg_sub(struct agg_map *m, uint64_t key, const struct counts *c)
{
    if (!m->cap)
        return;
    size_t mask = m->cap - 1;
    size_t i = agg_find(m, key);
    struct agg *a = &m->slots[i];
    if (!a->c.entries)
        return;             /* not there: nothing was added, nothing to take */
    counts_sub(&a->c, c);
    if (a->c.entries)
        return;
    /* Backward shift: pull later members of the cluster into the hole
     * when their home slot is at or before it. */
    memset(a, 0, sizeof *a);
    m->count--;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->slots[j].c.entries; j = (j + 1) & mask) {
        size_t home = (size_t)mix64(m->slots[j].key) & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = m->slots[j];
            memset(&m->slots[j], 0, sizeof m->slots[j]);
            hole = j;
        }
    }
}

/* ---- u32 -> u32 map ----------------------------------------------------- */

static size_t idx_find(const struct idx_map *m, uint32_t key)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)mix64(key) & mask;
    while (m->slots[i].val && m->slots[i].key != key)
        i = (i + 1) & mask;
    return i;
}

static uint32_t idx_get(const struct idx_map *m, uint32_t key)
{
    if (!m->cap)
        return IDX_NONE;
    const struct idx_slot *s = &m->slots[idx_find(m, key)];
    return s->val ? s->val - 1 : IDX_NONE;
}

static int idx_reserve(struct idx_map *m, size_t extra)
{
    size_t need = m->count + extra;
    if (m->cap && need <= m->cap - m->cap / 4)
        return 0;
    size_t cap = cap_for(need);
    struct idx_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    struct idx_map n = { slots, cap, m->count };
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].val)
            n.slots[idx_find(&n, m->slots[i].key)] = m->slots[i];
    free(m->slots);
    *m = n;
    return 0;
}

/* Needs a prior idx_reserve and key absent. */
static void idx_put(struct idx_map *m, uint32_t key, uint32_t val)
{
    struct idx_slot *s = &m->slots[idx_find(m, key)];
    s->key = key;
    s->val = val + 1;
    m->count++;
}

static void idx_release(struct idx_map *m)
{
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- the ring ----------------------------------------------------------- */

/* Item i of a ring of items of 1 << shift bytes. */
static void *ring_item(const struct ring *r, size_t i, unsigned shift)
{
    unsigned per = RING_BLOCK_SHIFT - shift;
    size_t k = r->head + i;
    return r->blocks[k >> per] + ((k & (((size_t)1 << per) - 1)) << shift);
}

static int ring_grow(struct ring *r, size_t n, unsigned shift)
{
    unsigned per = RING_BLOCK_SHIFT - shift;
    size_t need = (r->head + r->count + n + ((size_t)1 << per) - 1) >> per;
    while (r->nblocks < need) {
        if (r->nblocks == r->blocks_cap) {
            size_t cap = r->blocks_cap ? r->blocks_cap * 2 : 16;
            unsigned char **nb = realloc(r->blocks, cap * sizeof *nb);
            if (!nb)
                return -ENOMEM;
            r->blocks = nb;
            r->blocks_cap = cap;
        }
        unsigned char *b = r->spare;
        if (b)
            r->spare = NULL;
        else if (!(b = malloc(RING_BLOCK)))
            return -ENOMEM;
        r->blocks[r->nblocks++] = b;
    }
    return 0;
}

/* Blocks for n more items, so the pushes that follow can't fail. */
static inline int ring_reserve(struct ring *r, size_t n, unsigned shift)
{
    if (r->head + r->count + n <= r->nblocks << (RING_BLOCK_SHIFT - shift))
        return 0;
    return ring_grow(r, n, shift);
}

/* Forget the n oldest items. Blocks used up go (all of them when the
 * ring is empty); one is kept as the spare. */
static void ring_drop(struct ring *r, size_t n, unsigned shift)
{
    if (!n)
        return;
    unsigned per = RING_BLOCK_SHIFT - shift;
    r->head += n;
    r->count -= n;
    size_t gone = r->count ? r->head >> per : r->nblocks;
    if (!gone)
        return;
    for (size_t i = 0; i < gone; i++) {
        if (r->spare)
            free(r->blocks[i]);
        else
            r->spare = r->blocks[i];
    }
    memmove(r->blocks, r->blocks + gone, (r->nblocks - gone) * sizeof *r->blocks);
    r->nblocks -= gone;
    r->head = r->count ? r->head - (gone << per) : 0;
}

static void ring_free(struct ring *r)
{
    for (size_t i = 0; i < r->nblocks; i++)
        free(r->blocks[i]);
    free(r->blocks);
    free(r->spare);
    memset(r, 0, sizeof *r);
}

static size_t ring_bytes(const struct ring *r)
{
    return r->blocks_cap * sizeof *r->blocks + (r->nblocks + (r->spare != NULL)) * RING_BLOCK;
}

static struct entry *entry_at(const struct model *m, size_t i)
{
    return ring_item(&m->entries, i, ENTRY_SHIFT);
}

static uint64_t *word_at(const struct model *m, size_t i)
{
    return ring_item(&m->words, i, WORD_SHIFT);
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

static void ring_release(struct model *m)
{
    ring_free(&m->entries);
    ring_free(&m->words);
    m->win = m->win_words = 0;
}

static void rec_counts(const struct rec *r, struct counts *c)
{
    c->entries = 1;
    c->samples = (r->bits & ENTRY_CARRY) == 0;
    c->running = (r->bits & ENTRY_RUNNING) != 0;
    c->gil = (r->bits & ENTRY_GIL) != 0;
    c->cpu_ns = r->cpu_ns;
    c->wall_ns = r->wall_ns;
    c->mem_grow = r->mem_grow;
    c->mem_release = r->mem_release;
}

static struct process *proc_find(const struct model *m, uint32_t pid)
{
    uint32_t i = idx_get(&m->proc_index, pid);
    return i == IDX_NONE ? NULL : &m->procs[i];
}

/* The process an entry was added to. */
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
static void ring_pop(struct model *m)
{
    size_t n = entry_words(entry_at(m, 0)->bits);
    ring_drop(&m->entries, 1, ENTRY_SHIFT);
    ring_drop(&m->words, n, WORD_SHIFT);
    if (m->entries.count && (entry_at(m, 0)->bits & ENTRY_TIME))
        m->head_ns = *word_at(m, 0);
}

/* Entries are ordered by time, so both bounds only move forward:
 * subtract what left the window, then forget what left the retention. */
static void ring_advance(struct model *m)
{
    while (m->win && m->last_ns - m->win_ns >= m->window_ns)
        window_pop(m);
    while (m->entries.count && m->last_ns - m->head_ns >= m->retention_ns) {
        if (m->win == m->entries.count)     /* only if window > retention: never, but stay exact */
            window_pop(m);
        ring_pop(m);
    }
}

static void ring_drop_oldest(struct model *m)
{
    if (m->win == m->entries.count)
        window_pop(m);
    m->dropped++;
    m->dropped_ns = m->head_ns;
    ring_pop(m);
}

/* Keep an entry at time t in the ring and, when it is in the window, in
 * the window's aggregates; r->bits gets the side ring's flags. Without
 * memory for it, it is counted as dropped, which keeps the window exact
 * over what the ring holds. */
static void ring_record(struct model *m, struct rec *r, uint64_t t)
{
    if (m->entries.count >= m->ring_limit)
        ring_drop_oldest(m);
    /* The first entry of an empty ring needs no time word: head_ns has it. */
    if (m->entries.count && t != m->tail_ns)
        r->bits |= ENTRY_TIME;
    if (r->cpu_ns > UINT32_MAX || r->wall_ns > UINT32_MAX)
        r->bits |= ENTRY_WIDE;
    if (r->mem_grow || r->mem_release)
        r->bits |= ENTRY_MEM;
    size_t n = entry_words(r->bits);
    if (ring_reserve(&m->entries, 1, ENTRY_SHIFT) || ring_reserve(&m->words, n, WORD_SHIFT)) {
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

/* ---- threads ------------------------------------------------------------ */

static int threads_reserve(struct model *m, size_t extra)
{
    if (m->nthreads + extra > m->threads_cap) {
        size_t cap = m->threads_cap ? m->threads_cap : 16;
        while (cap < m->nthreads + extra)
            cap *= 2;
        struct thread *t = realloc(m->threads, cap * sizeof *t);
        if (!t)
            return -ENOMEM;
        m->threads = t;
        m->threads_cap = cap;
    }
    return idx_reserve(&m->thread_index, extra);
}

/* Needs a prior threads_reserve. */
static struct thread *thread_get(struct model *m, uint32_t tid)
{
    uint32_t i = idx_get(&m->thread_index, tid);
    if (i != IDX_NONE)
        return &m->threads[i];
    struct thread *t = &m->threads[m->nthreads];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    t->slot = IDX_NONE;
    idx_put(&m->thread_index, tid, (uint32_t)m->nthreads);
    m->nthreads++;
    return t;
}

static int slots_reserve(struct model *m, size_t extra)
{
    if (m->nslots + extra <= m->slots_cap)
        return 0;
    size_t cap = m->slots_cap ? m->slots_cap : 16;
    while (cap < m->nslots + extra)
        cap *= 2;
    struct slot *v = realloc(m->slots, cap * sizeof *v);
    if (!v)
        return -ENOMEM;
    m->slots = v;
    m->slots_cap = cap;
    return 0;
}

/* The slot of thread th in process proc (an index in procs), made when
 * first needed; needs a prior slots_reserve. A thread's list starts with
 * its newest slot, so this is one step unless its tid was reused. */
static uint32_t slot_get(struct model *m, struct thread *th, uint32_t proc)
{
    for (uint32_t i = th->slot; i != IDX_NONE; i = m->slots[i].next)
        if (m->slots[i].proc == proc)
            return i;
    uint32_t i = (uint32_t)m->nslots++;
    m->slots[i] = (struct slot){ th->tid, proc, th->slot };
    th->slot = i;
    return i;
}

/* ---- processes ---------------------------------------------------------- */

static int procs_reserve(struct model *m, size_t extra)
{
    if (m->nprocs + extra > m->procs_cap) {
        size_t cap = m->procs_cap ? m->procs_cap * 2 : 4;
        while (cap < m->nprocs + extra)
            cap *= 2;
        struct process *p = realloc(m->procs, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        m->procs = p;
        m->procs_cap = cap;
    }
    return idx_reserve(&m->proc_index, extra);
}

/* Needs a prior procs_reserve. A pid first met gets an info with just
 * the pid until a sample describes it. */
static struct process *proc_get(struct model *m, uint32_t pid)
{
    struct process *p = proc_find(m, pid);
    if (p)
        return p;
    p = &m->procs[m->nprocs];
    memset(p, 0, sizeof *p);
    p->info.pid = pid;
    idx_put(&m->proc_index, pid, (uint32_t)m->nprocs);
    m->nprocs++;
    return p;
}

static void proc_describe(struct model *m, const struct process_info *info)
{
    struct process *p = proc_get(m, info->pid);
    p->info = *info;
    /* Text from outside may lack its terminator. */
    p->info.python[sizeof p->info.python - 1] = '\0';
    p->info.command[sizeof p->info.command - 1] = '\0';
}

/* ---- counters history --------------------------------------------------- */

static void history_release(struct model *m, struct history *h)
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
    size_t cap = h->cap ? h->cap * 2 : 64;
    if (cap > MODEL_COUNTERS_MAX)
        cap = MODEL_COUNTERS_MAX;
    struct model_counter_point *v = realloc(h->v, cap * sizeof *v);
    if (!v)
        return -ENOMEM;
    if (!h->v)
        m->nhistories++;
    h->v = v;
    h->cap = cap;
    return 0;
}

static void history_add(struct model *m, struct process *p, uint64_t t,
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

static void procs_release(struct model *m)
{
    for (size_t i = 0; i < m->nprocs; i++)
        history_release(m, &m->procs[i].hist);
    free(m->procs);
    m->procs = NULL;
    m->nprocs = m->procs_cap = 0;
    idx_release(&m->proc_index);
    m->nhistories = 0;
    m->holder_tid = 0;
}

/* ---- lifecycle and feeding ---------------------------------------------- */

struct model *model_new(const struct model_config *cfg, const struct stack_table *dict)
{
    if (!dict)
        return NULL;
    struct model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->dict = dict;
    m->retention_ns = cfg && cfg->retention_ns ? cfg->retention_ns : DEFAULT_RETENTION_NS;
    m->window_ns = cfg && cfg->window_ns ? cfg->window_ns : DEFAULT_WINDOW_NS;
    if (m->window_ns > m->retention_ns)
        m->window_ns = m->retention_ns;
    m->ring_limit = MODEL_RING_MAX;
    return m;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    ring_release(m);
    agg_release(&m->total);
    agg_release(&m->window);
    free(m->threads);
    idx_release(&m->thread_index);
    free(m->slots);
    procs_release(m);
    free(m);
}

void model_reset(struct model *m)
{
    ring_release(m);
    agg_release(&m->total);
    agg_release(&m->window);
    free(m->threads);
    m->threads = NULL;
    m->nthreads = m->threads_cap = 0;
    idx_release(&m->thread_index);
    free(m->slots);
    m->slots = NULL;
    m->nslots = m->slots_cap = 0;
    procs_release(m);
    memset(&m->total_sum, 0, sizeof m->total_sum);
    memset(&m->window_sum, 0, sizeof m->window_sum);
    m->dropped = m->dropped_ns = 0;
    m->first_ns = m->last_ns = 0;
    m->samples = m->window_samples = 0;
}

/* The process side of a sample: who it is, its counts, GIL holder and
 * counters. Returns whether some thread held the GIL; its index in procs
 * goes to *index. */
static int proc_add(struct model *m, const struct sample *s, uint64_t t, uint32_t *index)
{
    struct process *p = proc_get(m, s->pid);
    *index = (uint32_t)(p - m->procs);
    if (s->process)
        proc_describe(m, s->process);
    uint32_t holder = 0;
    for (uint32_t i = 0; i < s->nthreads; i++) {
        p->total.cpu_ns += s->threads[i].cpu_ns;
        if (!holder && (s->threads[i].flags & SAMPLE_GIL))
            holder = s->threads[i].tid ? s->threads[i].tid : UINT32_MAX;
    }
    if (p->total.samples++ == 0)
        p->first_ns = t;
    p->last_ns = t;
    p->total.held += holder != 0;
    p->threads = s->nthreads;
    /* A holder with tid 0 (unknown) still counts as held. */
    p->holder_tid = holder == UINT32_MAX ? 0 : holder;
    m->holder_tid = p->holder_tid;
    if (s->counters)
        history_add(m, p, t, s->counters);
    return holder != 0;
}

int model_add(struct model *m, const struct sample *s)
{
    if (!m || !s || (s->nthreads && !s->threads))
        return -EINVAL;
    /* Check everything before changing anything, so a refused sample
     * leaves the model as it was. */
    uint32_t nodes = stack_table_node_count(m->dict);
    for (uint32_t i = 0; i < s->nthreads; i++)
        if (s->threads[i].stack >= nodes)
            return -EINVAL;
    size_t n = s->nthreads;
    if (agg_reserve(&m->total, n) || agg_reserve(&m->window, n) || threads_reserve(m, n) ||
        slots_reserve(m, n) || procs_reserve(m, 2))
        return -ENOMEM;

    uint64_t t = s->time_ns;
    if (m->samples == 0)
        m->first_ns = t;
    else if (t < m->last_ns)
        t = m->last_ns;         /* keep the ring in time order */
    m->last_ns = t;
    m->samples++;
    ring_advance(m);
    uint32_t proc;
    uint32_t held = proc_add(m, s, t, &proc) ? ENTRY_HELD : 0;

    if (n == 0) {
        struct rec r = { .who = proc, .bits = ENTRY_FIRST | ENTRY_EMPTY };
        ring_record(m, &r, t);
    }
    for (size_t i = 0; i < n; i++) {
        const struct sample_thread *st = &s->threads[i];
        struct thread *th = thread_get(m, st->tid);
        struct rec r = {
            .cpu_ns = st->cpu_ns,
            .wall_ns = st->wall_ns,
            .mem_grow = st->mem_grow,
            .mem_release = st->mem_release,
            .who = slot_get(m, th, proc),
            .bits = st->stack | (i == 0 ? ENTRY_FIRST | held : 0) |
                    (st->flags & SAMPLE_RUNNING ? ENTRY_RUNNING : 0) |
                    (st->flags & SAMPLE_GIL ? ENTRY_GIL : 0) |
                    (st->flags & SAMPLE_CARRY ? ENTRY_CARRY : 0),
        };
        struct counts c;
        rec_counts(&r, &c);
        agg_add(&m->total, agg_key(st->tid, st->stack), &c);
        counts_add(&m->total_sum, &c);

        counts_add(&th->total, &c);
        th->pid = s->pid;
        if (st->name)
            th->name = st->name;
        if (!(st->flags & SAMPLE_CARRY)) {
            th->last_stack = st->stack;
            th->last_flags = st->flags;
            th->last_seen_ns = t;
        }

        ring_record(m, &r, t);
    }
    agg_maybe_shrink(&m->window);
    return 0;
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
        ring_drop_oldest(m);
    agg_maybe_shrink(&m->window);
}

uint64_t model_ring_dropped(const struct model *m)
{
    return m->dropped;
}

static size_t histories_memory(const struct model *m)
{
    size_t bytes = 0;
    for (size_t i = 0; i < m->nprocs; i++)
        bytes += m->procs[i].hist.cap * sizeof(struct model_counter_point);
    return bytes;
}

static size_t model_memory(const struct model *m)
{
    return sizeof *m +
           ring_bytes(&m->entries) + ring_bytes(&m->words) +
           m->slots_cap * sizeof *m->slots +
           (m->total.cap + m->window.cap) * sizeof(struct agg) +
           m->threads_cap * sizeof *m->threads +
           m->thread_index.cap * sizeof(struct idx_slot) +
           m->procs_cap * sizeof *m->procs +
           m->proc_index.cap * sizeof(struct idx_slot) +
           histories_memory(m);
}

void model_totals(const struct model *m, enum model_range r, enum model_weight w,
                  struct model_totals *out)
{
    (void)w;    /* every weight is reported */
    if (!m || !out)
        return;
    const struct counts *c = r == MODEL_WINDOW ? &m->window_sum : &m->total_sum;
    memset(out, 0, sizeof *out);
    out->first_ns = m->first_ns;
    out->last_ns = m->last_ns;
    out->samples = m->samples;
    out->window_samples = m->window_samples;
    out->window_start_ns = m->last_ns > m->window_ns ? m->last_ns - m->window_ns : 0;
    /* After a drop, the ring no longer holds everything since that entry. */
    if (m->dropped && m->dropped_ns > out->window_start_ns)
        out->window_start_ns = m->dropped_ns;
    out->cpu_ns = c->cpu_ns;
    out->wall_ns = c->wall_ns;
    out->mem_grow = c->mem_grow;
    out->mem_release = c->mem_release;
    out->memory_bytes = model_memory(m);
}

/* ---- queries ------------------------------------------------------------ */

/* Queries walk every stack up to the root: 50k stacks x 50 frames is 2.5M
 * steps a second for a live view. Ids are dense, so per-query arrays
 * indexed by node, frame or string id (a few MB at most, freed at once)
 * stand in for hash lookups on that path. */

static const struct agg_map *range_map(const struct model *m, enum model_range r)
{
    return r == MODEL_WINDOW ? &m->window : &m->total;
}

static uint64_t weight_of(const struct counts *c, enum model_weight w)
{
    switch (w) {
    case MODEL_WALL: return c->wall_ns;
    case MODEL_MEM_GROW: return c->mem_grow;
    case MODEL_MEM_RELEASE: return c->mem_release;
    default: return c->cpu_ns;
    }
}

/* The process of thread tid (its latest), 0 when unknown. */
static uint32_t thread_pid(const struct model *m, uint32_t tid)
{
    uint32_t i = idx_get(&m->thread_index, tid);
    return i == IDX_NONE ? 0 : m->threads[i].pid;
}

static int thread_matches(const struct model *m, const struct model_filter *f, uint32_t tid)
{
    if (!f)
        return 1;
    if (f->tid && f->tid != tid)
        return 0;
    return !f->pid || thread_pid(m, tid) == f->pid;
}

/* Substring matching of function and file names. Verdicts are remembered
 * per string, frame and node (0 unknown, 1 match, 2 no match), so a stack
 * costs only the nodes no earlier stack shared. */
struct text_filter {
    const struct stack_table *dict;
    const char *text;           /* NULL: everything matches */
    size_t len;
    uint8_t *strings, *frames, *nodes;
    uint32_t nstrings, nframes, nnodes;
};

static int text_filter_init(struct text_filter *tf, const struct stack_table *dict,
                            const struct model_filter *f)
{
    memset(tf, 0, sizeof *tf);
    tf->dict = dict;
    if (!f || !f->text || !f->text[0])
        return 0;
    tf->text = f->text;
    tf->len = strlen(f->text);
    tf->nstrings = stack_table_string_count(dict);
    tf->nframes = stack_table_frame_count(dict);
    tf->nnodes = stack_table_node_count(dict);
    tf->strings = calloc(tf->nstrings ? tf->nstrings : 1, 1);
    tf->frames = calloc(tf->nframes ? tf->nframes : 1, 1);
    tf->nodes = calloc(tf->nnodes ? tf->nnodes : 1, 1);
    return tf->strings && tf->frames && tf->nodes ? 0 : -ENOMEM;
}

static void text_filter_release(struct text_filter *tf)
{
    free(tf->strings);
    free(tf->frames);
    free(tf->nodes);
}

/* Strings carry a length and may hold NUL bytes, so no strstr. */
static int contains(const char *s, size_t n, const char *pat, size_t len)
{
    if (len > n)
        return 0;
    for (size_t i = 0; i + len <= n; i++)
        if (s[i] == pat[0] && memcmp(s + i, pat, len) == 0)
            return 1;
    return 0;
}

static int string_matches(struct text_filter *tf, uint32_t id)
{
    if (id < tf->nstrings && tf->strings[id])
        return tf->strings[id] == 1;
    const char *s = stack_table_str(tf->dict, id);
    int yes = s && contains(s, stack_table_str_len(tf->dict, id), tf->text, tf->len);
    if (id < tf->nstrings)
        tf->strings[id] = yes ? 1 : 2;
    return yes;
}

static int frame_matches(struct text_filter *tf, uint32_t frame)
{
    if (frame < tf->nframes && tf->frames[frame])
        return tf->frames[frame] == 1;
    const struct stack_frame *f = stack_table_get_frame(tf->dict, frame);
    int yes = f && (string_matches(tf, f->function) || string_matches(tf, f->file));
    if (frame < tf->nframes)
        tf->frames[frame] = yes ? 1 : 2;
    return yes;
}

/* A stack matches when any of its frames does: a node matches when its
 * frame or its parent does. Walk up to the first node with a verdict,
 * then settle the ones passed on the way down. scratch holds
 * 2 * PATH_DEPTH_MAX ids. */
static int stack_matches(struct text_filter *tf, uint32_t node, uint32_t *scratch)
{
    if (!tf->text)
        return 1;
    uint32_t *nodes = scratch, *frames = scratch + PATH_DEPTH_MAX;
    uint8_t v = 2;
    size_t n = 0;
    while (node != 0 && node < tf->nnodes) {
        if (tf->nodes[node]) {
            v = tf->nodes[node];
            break;
        }
        const struct stack_node *sn = stack_table_get_node(tf->dict, node);
        if (!sn || n == PATH_DEPTH_MAX)
            break;
        nodes[n] = node;
        frames[n] = sn->frame;
        n++;
        node = sn->parent;
    }
    while (n--) {
        if (v != 1 && frame_matches(tf, frames[n]))
            v = 1;
        tf->nodes[nodes[n]] = v;
    }
    return v == 1;
}

/* The call path of node, leaf first, root (node 0) excluded: node ids in
 * nodes[], their frame ids in frames[]; at most PATH_DEPTH_MAX. */
static size_t path_walk(const struct stack_table *dict, uint32_t node, uint32_t *nodes,
                        uint32_t *frames)
{
    size_t n = 0;
    while (node != 0 && n < PATH_DEPTH_MAX) {
        const struct stack_node *sn = stack_table_get_node(dict, node);
        if (!sn)
            break;
        nodes[n] = node;
        frames[n] = sn->frame;
        n++;
        node = sn->parent;
    }
    return n;
}

/* An array of n ids, all IDX_NONE. */
static uint32_t *id_array(size_t n)
{
    uint32_t *a = malloc((n ? n : 1) * sizeof *a);
    if (a)
        memset(a, 0xff, (n ? n : 1) * sizeof *a);
    return a;
}

/* The per-leaf sums a query works from: one per distinct node among the
 * range's aggregates of the filtered threads and matching stacks. */
struct leaf {
    uint32_t node;
    uint64_t samples, weight, grow, release;
};

/* Scratch shared by the functions and tree queries. */
struct walk {
    uint32_t *nodes, *frames;   /* PATH_DEPTH_MAX each, contiguous */
    struct text_filter tf;
    struct leaf *leaves;
    size_t nleaves;
};

static int leaf_cmp(const void *a, const void *b)
{
    uint32_t x = ((const struct leaf *)a)->node, y = ((const struct leaf *)b)->node;
    return (x > y) - (x < y);
}

static int leaves_collect(struct walk *wk, const struct model *m, enum model_range r,
                          enum model_weight w, const struct model_filter *f)
{
    const struct agg_map *am = range_map(m, r);
    struct idx_map index = { NULL, 0, 0 };
    struct leaf *v = malloc((am->count ? am->count : 1) * sizeof *v);
    size_t n = 0;
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < am->cap; i++) {
        const struct agg *a = &am->slots[i];
        if (!a->c.entries || !thread_matches(m, f, (uint32_t)(a->key >> 32)))
            continue;
        uint32_t node = (uint32_t)a->key;
        uint32_t j = idx_get(&index, node);
        if (j == IDX_NONE) {
            if (!stack_matches(&wk->tf, node, wk->nodes))
                continue;
            if (idx_reserve(&index, 1)) {
                free(v);
                idx_release(&index);
                return -ENOMEM;
            }
            j = (uint32_t)n++;
            idx_put(&index, node, j);
            v[j].node = node;
            v[j].samples = v[j].weight = v[j].grow = v[j].release = 0;
        }
        v[j].samples += a->c.samples;
        v[j].weight += weight_of(&a->c, w);
        v[j].grow += a->c.mem_grow;
        v[j].release += a->c.mem_release;
    }
    idx_release(&index);
    /* In node order: paths are read in the order the dictionary stored
     * them (far fewer cache misses), and rows come out in an order that
     * depends only on what was sampled. */
    qsort(v, n, sizeof *v, leaf_cmp);
    wk->leaves = v;
    wk->nleaves = n;
    return 0;
}

static int walk_init(struct walk *wk, const struct model *m, enum model_range r,
                     enum model_weight w, const struct model_filter *f)
{
    memset(wk, 0, sizeof *wk);
    wk->nodes = malloc(2 * PATH_DEPTH_MAX * sizeof *wk->nodes);
    if (!wk->nodes)
        return -ENOMEM;
    wk->frames = wk->nodes + PATH_DEPTH_MAX;
    int err = text_filter_init(&wk->tf, m->dict, f);
    if (err)
        return err;
    return leaves_collect(wk, m, r, w, f);
}

static void walk_release(struct walk *wk)
{
    free(wk->nodes);
    text_filter_release(&wk->tf);
    free(wk->leaves);
}

/* Functions keyed by (function, file, firstline). */
struct fkey_slot {
    uint32_t function, file;
    int32_t firstline;
    uint32_t row;               /* row + 1; 0: empty */
};

struct fkey_map {
    struct fkey_slot *slots;
    size_t cap, count;
};

static uint64_t fkey_hash(uint32_t function, uint32_t file, int32_t firstline)
{
    return mix64(((uint64_t)function << 32 | file) ^ mix64((uint32_t)firstline));
}

static size_t fkey_find(const struct fkey_map *m, const struct stack_frame *f)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)fkey_hash(f->function, f->file, f->firstline) & mask;
    while (m->slots[i].row &&
           (m->slots[i].function != f->function || m->slots[i].file != f->file ||
            m->slots[i].firstline != f->firstline))
        i = (i + 1) & mask;
    return i;
}

static int fkey_reserve(struct fkey_map *m)
{
    if (m->cap && m->count + 1 <= m->cap - m->cap / 4)
        return 0;
    size_t cap = cap_for(m->count + 1);
    struct fkey_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    struct fkey_map n = { slots, cap, m->count };
    for (size_t i = 0; i < m->cap; i++) {
        const struct fkey_slot *s = &m->slots[i];
        if (s->row) {
            struct stack_frame k = { s->function, s->file, 0, s->firstline };
            n.slots[fkey_find(&n, &k)] = *s;
        }
    }
    free(m->slots);
    *m = n;
    return 0;
}

struct fn_rows {
    struct model_function_row *v;
    uint32_t *stamp;            /* the last leaf that added to the row's total */
    size_t n, cap;
    uint32_t *by_frame;         /* frame id -> row */
    uint32_t nframes;
    struct fkey_map by_key;     /* (function, file, firstline) -> row */
};

static uint32_t fn_row_new(struct fn_rows *fr, uint32_t frame)
{
    if (fr->n == fr->cap) {
        size_t cap = fr->cap ? fr->cap * 2 : 64;
        struct model_function_row *v = realloc(fr->v, cap * sizeof *v);
        if (!v)
            return IDX_NONE;
        fr->v = v;
        uint32_t *st = realloc(fr->stamp, cap * sizeof *st);
        if (!st)
            return IDX_NONE;
        fr->stamp = st;
        fr->cap = cap;
    }
    memset(&fr->v[fr->n], 0, sizeof fr->v[fr->n]);
    fr->v[fr->n].frame = frame;
    fr->stamp[fr->n] = 0;
    return (uint32_t)fr->n++;
}

/* The row of a frame first met (frame < nframes); IDX_NONE when out of
 * memory. */
static uint32_t fn_row_first(struct fn_rows *fr, const struct stack_table *dict,
                             uint32_t frame, int by_line)
{
    const struct stack_frame *f = stack_table_get_frame(dict, frame);
    uint32_t row;
    if (by_line || !f) {
        /* A frame is its own key: function, file and line. */
        row = fn_row_new(fr, frame);
    } else {
        if (fkey_reserve(&fr->by_key))
            return IDX_NONE;
        struct fkey_slot *s = &fr->by_key.slots[fkey_find(&fr->by_key, f)];
        if (s->row) {
            row = s->row - 1;
            /* The lowest frame id stands for the function, whatever the
             * order frames were met in. */
            if (frame < fr->v[row].frame)
                fr->v[row].frame = frame;
        } else {
            row = fn_row_new(fr, frame);
            if (row == IDX_NONE)
                return IDX_NONE;
            s->function = f->function;
            s->file = f->file;
            s->firstline = f->firstline;
            s->row = row + 1;
            fr->by_key.count++;
        }
    }
    if (row != IDX_NONE)
        fr->by_frame[frame] = row;
    return row;
}

int model_functions(const struct model *m, enum model_range r, enum model_weight w,
                    const struct model_filter *f, int by_line,
                    struct model_function_row **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct walk wk;
    struct fn_rows fr;
    memset(&fr, 0, sizeof fr);
    fr.nframes = stack_table_frame_count(m->dict);
    fr.by_frame = id_array(fr.nframes);
    int err = fr.by_frame ? walk_init(&wk, m, r, w, f) : -ENOMEM;
    for (size_t i = 0; !err && i < wk.nleaves; i++) {
        const struct leaf *lf = &wk.leaves[i];
        if (lf->node == 0) {
            /* No Python frame: a row of its own, not left out. */
            uint32_t row = fn_row_new(&fr, MODEL_FRAME_NONE);
            if (row == IDX_NONE) {
                err = -ENOMEM;
                break;
            }
            struct model_function_row *fn = &fr.v[row];
            fn->own_ns = fn->total_ns = lf->weight;
            fn->own_samples = fn->total_samples = lf->samples;
            fn->own_grow = fn->total_grow = lf->grow;
            fn->own_release = fn->total_release = lf->release;
            continue;
        }
        size_t depth = path_walk(m->dict, lf->node, wk.nodes, wk.frames);
        uint32_t stamp = (uint32_t)i + 1;
        for (size_t k = 0; k < depth; k++) {
            uint32_t frame = wk.frames[k];
            if (frame >= fr.nframes)
                continue;       /* not in the dictionary: nothing to show */
            uint32_t row = fr.by_frame[frame];
            if (row == IDX_NONE && (row = fn_row_first(&fr, m->dict, frame, by_line)) == IDX_NONE) {
                err = -ENOMEM;
                break;
            }
            struct model_function_row *fn = &fr.v[row];
            if (k == 0) {
                fn->own_ns += lf->weight;
                fn->own_samples += lf->samples;
                fn->own_grow += lf->grow;
                fn->own_release += lf->release;
            }
            /* Once per stack, however often recursion repeats it. */
            if (fr.stamp[row] != stamp) {
                fr.stamp[row] = stamp;
                fn->total_ns += lf->weight;
                fn->total_samples += lf->samples;
                fn->total_grow += lf->grow;
                fn->total_release += lf->release;
            }
        }
    }
    if (fr.by_frame)
        walk_release(&wk);
    free(fr.stamp);
    free(fr.by_frame);
    free(fr.by_key.slots);
    if (err) {
        free(fr.v);
        return err;
    }
    *rows = fr.v;
    *n = fr.n;
    return 0;
}

/* Each touched node is visited once: walks up from the leaves stop at the
 * first node already seen, then totals flow from children to parents in
 * decreasing id order, as the dictionary gives every node a lower id
 * than its children. */
int model_tree(const struct model *m, enum model_range r, enum model_weight w,
               const struct model_filter *f, struct model_node_row **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct walk wk;
    uint32_t nnodes = stack_table_node_count(m->dict);
    uint32_t *row_of = id_array(nnodes);
    struct model_node_row *v = NULL;
    size_t nv = 0, cap = 0;
    int err = row_of ? walk_init(&wk, m, r, w, f) : -ENOMEM;
    if (!err && wk.nleaves) {
        cap = 256;
        if (!(v = calloc(cap, sizeof *v)))
            err = -ENOMEM;
        else {
            row_of[0] = 0;          /* the root is always a row */
            nv = 1;
        }
    }
    for (size_t i = 0; !err && i < wk.nleaves; i++) {
        const struct leaf *lf = &wk.leaves[i];
        for (uint32_t node = lf->node; row_of[node] == IDX_NONE;) {
            const struct stack_node *sn = stack_table_get_node(m->dict, node);
            if (nv == cap) {
                struct model_node_row *nr = realloc(v, cap * 2 * sizeof *nr);
                if (!nr) {
                    err = -ENOMEM;
                    break;
                }
                v = nr;
                cap *= 2;
            }
            row_of[node] = (uint32_t)nv;
            memset(&v[nv], 0, sizeof v[nv]);
            v[nv++].node = node;
            node = sn && sn->parent < node ? sn->parent : 0;
        }
        if (err)
            break;
        struct model_node_row *leaf = &v[row_of[lf->node]];
        leaf->self_ns += lf->weight;
        leaf->self_samples += lf->samples;
    }
    for (uint32_t node = nnodes; !err && nv && node-- > 0;) {
        if (row_of[node] == IDX_NONE)
            continue;
        /* Its children, all of higher ids, have already added theirs. */
        struct model_node_row *row = &v[row_of[node]];
        row->total_ns += row->self_ns;
        row->total_samples += row->self_samples;
        if (node == 0)
            break;
        const struct stack_node *sn = stack_table_get_node(m->dict, node);
        struct model_node_row *up = &v[row_of[sn && sn->parent < node ? sn->parent : 0]];
        up->total_ns += row->total_ns;
        up->total_samples += row->total_samples;
    }
    if (row_of)
        walk_release(&wk);
    free(row_of);
    if (err) {
        free(v);
        return err;
    }
    *rows = v;
    *n = nv;
    return 0;
}

int model_stacks(const struct model *m, enum model_range r, const struct model_filter *f,
                 struct stack_weight **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    const struct agg_map *am = range_map(m, r);
    struct text_filter tf;
    uint32_t *scratch = NULL;
    struct stack_weight *v = calloc(am->count ? am->count : 1, sizeof *v);
    size_t nv = 0;
    int err = text_filter_init(&tf, m->dict, f);
    if (!err && tf.text && !(scratch = malloc(2 * PATH_DEPTH_MAX * sizeof *scratch)))
        err = -ENOMEM;
    if (!v)
        err = -ENOMEM;
    for (size_t i = 0; !err && i < am->cap; i++) {
        const struct agg *a = &am->slots[i];
        uint32_t tid = (uint32_t)(a->key >> 32), node = (uint32_t)a->key;
        if (!a->c.entries || !thread_matches(m, f, tid) || !stack_matches(&tf, node, scratch))
            continue;
        /* Field by field into zeroed memory: rows compare whole. */
        struct stack_weight *w = &v[nv++];
        w->pid = thread_pid(m, tid);
        w->tid = tid;
        w->stack = node;
        w->samples = a->c.samples;
        w->running = a->c.running;
        w->gil = a->c.gil;
        w->cpu_ns = a->c.cpu_ns;
        w->wall_ns = a->c.wall_ns;
        w->mem_grow = a->c.mem_grow;
        w->mem_release = a->c.mem_release;
    }
    text_filter_release(&tf);
    free(scratch);
    if (err) {
        free(v);
        return err;
    }
    *rows = v;
    *n = nv;
    return 0;
}

int model_threads(const struct model *m, enum model_range r, struct model_thread_row **rows,
                  size_t *n)
{
    return model_threads_filtered(m, r, NULL, rows, n);
}

int model_threads_filtered(const struct model *m, enum model_range r,
                           const struct model_filter *f, struct model_thread_row **rows,
                           size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct counts *win = NULL;
    if (r == MODEL_WINDOW) {
        /* Window counts come from the window's aggregates. */
        win = calloc(m->nthreads ? m->nthreads : 1, sizeof *win);
        if (!win)
            return -ENOMEM;
        for (size_t i = 0; i < m->window.cap; i++) {
            const struct agg *a = &m->window.slots[i];
            if (!a->c.entries)
                continue;
            uint32_t j = idx_get(&m->thread_index, (uint32_t)(a->key >> 32));
            if (j != IDX_NONE)
                counts_add(&win[j], &a->c);
        }
    }
    struct model_thread_row *v = calloc(m->nthreads ? m->nthreads : 1, sizeof *v);
    if (!v) {
        free(win);
        return -ENOMEM;
    }
    size_t nv = 0;
    for (size_t i = 0; i < m->nthreads; i++) {
        const struct thread *t = &m->threads[i];
        const struct counts *c = win ? &win[i] : &t->total;
        if (!c->samples)
            continue;           /* not in the window */
        if (f && ((f->pid && t->pid != f->pid) || (f->tid && t->tid != f->tid)))
            continue;
        struct model_thread_row *row = &v[nv++];
        row->pid = t->pid;
        row->tid = t->tid;
        row->name = t->name;
        row->samples = c->samples;
        row->running = c->running;
        row->gil = c->gil;
        row->cpu_ns = c->cpu_ns;
        row->wall_ns = c->wall_ns;
        row->mem_grow = c->mem_grow;
        row->mem_release = c->mem_release;
        row->last_stack = t->last_stack;
        row->last_flags = t->last_flags;
        row->last_seen_ns = t->last_seen_ns;
    }
    free(win);
    *rows = v;
    *n = nv;
    return 0;
}

int model_thread_labels(const struct model *m, struct thread_label **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct thread_label *v = malloc((m->nthreads ? m->nthreads : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < m->nthreads; i++) {
        v[i].pid = m->threads[i].pid;
        v[i].tid = m->threads[i].tid;
        v[i].name = m->threads[i].name;
    }
    *rows = v;
    *n = m->nthreads;
    return 0;
}

/* ---- processes, GIL, counters ------------------------------------------- */

int model_processes(const struct model *m, enum model_range r,
                    struct model_process_row **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    struct model_process_row *v = calloc(m->nprocs ? m->nprocs : 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct process *p = &m->procs[i];
        const struct pcounts *c = r == MODEL_WINDOW ? &p->window : &p->total;
        v[i].info = p->info;
        v[i].first_ns = p->first_ns;
        v[i].last_ns = p->last_ns;
        v[i].samples = c->samples;
        v[i].cpu_ns = c->cpu_ns;
        v[i].threads = p->threads;
    }
    *rows = v;
    *n = m->nprocs;
    return 0;
}

void model_gil(const struct model *m, enum model_range r, uint32_t pid, struct model_gil *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!m)
        return;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct process *p = &m->procs[i];
        if (pid && p->info.pid != pid)
            continue;
        const struct pcounts *c = r == MODEL_WINDOW ? &p->window : &p->total;
        out->samples += c->samples;
        out->held += c->held;
        if (pid)
            out->holder_tid = p->holder_tid;
    }
    out->none = out->samples - out->held;
    if (!pid)
        out->holder_tid = m->holder_tid;
}

int model_counters(const struct model *m, uint32_t pid, uint64_t from_ns,
                   struct model_counter_point **rows, size_t *n)
{
    if (!m || !rows || !n)
        return -EINVAL;
    const struct process *p = pid ? proc_find(m, pid) : m->nprocs ? &m->procs[0] : NULL;
    const struct model_counter_point *pts = p && p->hist.v ? p->hist.v + p->hist.start : NULL;
    size_t count = pts ? p->hist.n : 0, first = 0;
    while (first < count && pts[first].time_ns < from_ns)
        first++;
    count -= first;
    struct model_counter_point *v = malloc((count ? count : 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    if (count)
        memcpy(v, pts + first, count * sizeof *v);
    *rows = v;
    *n = count;
    return 0;
}
