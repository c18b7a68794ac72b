/* What the model's files share (private to src/model/): its
 * representation, the maps, the ring and the helpers each file lends
 * the others.
 *
 * Files, one job each:
 *  - model.c            life cycle, feeding samples, totals;
 *  - aggregates.c       the (tid, node) aggregate map;
 *  - ring.c             the ring of recent entries and the window over it;
 *  - threads.c          threads, their (tid, process) slots, processes;
 *  - history.c          each process's counters history;
 *  - filter.c           thread and text filters, the walk queries share;
 *  - query_functions.c  functions and lines;
 *  - query_tree.c       the call tree and per-path stacks;
 *  - query_threads.c    threads, processes, GIL and counters. */
#ifndef PYTOP_MODEL_MODEL_INTERNAL_H
#define PYTOP_MODEL_MODEL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "core/ring.h"
#include "core/u64map.h"
#include "model/model.h"

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

/* A cap on walks up the trie, in case a dictionary is deeper than any
 * real stack. A deeper path loses its outermost frames. */
#define PATH_DEPTH_MAX 4096u

/* Both rings are core rings (blocks of 32 KiB, grown and shrunk a block
 * at a time). */
#define ENTRY_SHIFT 4           /* entries are 16 bytes */
#define WORD_SHIFT 3            /* side words are 8 */

/* Entry bits: the node id in the low 22 bits (the stack_table's bound on
 * nodes is below that), then the flags the window needs. */
#define ENTRY_NODE_BITS 22
#define ENTRY_NODE_MASK ((1u << ENTRY_NODE_BITS) - 1)
#define ENTRY_GIL_WAIT (1u << 22) /* it waited for the GIL (SAMPLE_GIL_WAIT) */
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
               "ring entries pack node ids in 22 bits");
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
    uint64_t samples, running, gil, gil_wait, cpu_ns, wall_ns, mem_grow, mem_release;
};

/* One (tid, node) aggregate; a slot is empty when c.entries is 0, so an
 * aggregate that drops to zero disappears. */
struct agg {
    uint64_t key;               /* tid << 32 | node */
    struct counts c;
};

/* Open addressing with linear probing and backward-shift deletion (as
 * core/u64map): no tombstones, so the window's map stays as small as
 * what is live. Its own map, not a u64map into an array, because the
 * counts sit in the slot: adding a sample touches one cache line, and a
 * pair that leaves the window leaves no hole in another array. */
struct agg_map {
    struct agg *slots;
    size_t cap;                 /* 0 or a power of two */
    size_t count;
};

/* No index (an empty slot list, an id not yet given a row). */
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
    struct u64map thread_index;   /* tid -> index in threads */
    struct slot *slots;
    size_t nslots, slots_cap;

    struct process *procs;      /* in order of first appearance */
    size_t nprocs, procs_cap;
    struct u64map proc_index;     /* pid -> index in procs */
    size_t nhistories;          /* processes holding a counters history */
    uint32_t holder_tid;        /* the GIL holder in the latest sample of any process */

    uint64_t first_ns, last_ns;
    uint64_t samples, window_samples;
};

/* ---- small helpers used on every sample ------------------------------- */

static inline uint64_t agg_key(uint32_t tid, uint32_t node)
{
    return (uint64_t)tid << 32 | node;
}

static inline void counts_add(struct counts *a, const struct counts *b)
{
    a->entries += b->entries;
    a->samples += b->samples;
    a->running += b->running;
    a->gil += b->gil;
    a->gil_wait += b->gil_wait;
    a->cpu_ns += b->cpu_ns;
    a->wall_ns += b->wall_ns;
    a->mem_grow += b->mem_grow;
    a->mem_release += b->mem_release;
}

static inline void counts_sub(struct counts *a, const struct counts *b)
{
    a->entries -= b->entries;
    a->samples -= b->samples;
    a->running -= b->running;
    a->gil -= b->gil;
    a->gil_wait -= b->gil_wait;
    a->cpu_ns -= b->cpu_ns;
    a->wall_ns -= b->wall_ns;
    a->mem_grow -= b->mem_grow;
    a->mem_release -= b->mem_release;
}

static inline void rec_counts(const struct rec *r, struct counts *c)
{
    c->entries = 1;
    c->samples = (r->bits & ENTRY_CARRY) == 0;
    c->running = (r->bits & ENTRY_RUNNING) != 0;
    c->gil = (r->bits & ENTRY_GIL) != 0;
    c->gil_wait = (r->bits & ENTRY_GIL_WAIT) != 0;
    c->cpu_ns = r->cpu_ns;
    c->wall_ns = r->wall_ns;
    c->mem_grow = r->mem_grow;
    c->mem_release = r->mem_release;
}

/* ---- aggregates.c ------------------------------------------------------------- */

int agg_reserve(struct agg_map *m, size_t extra);
void agg_maybe_shrink(struct agg_map *m);
void agg_release(struct agg_map *m);
void agg_add(struct agg_map *m, uint64_t key, const struct counts *c);
void agg_sub(struct agg_map *m, uint64_t key, const struct counts *c);

/* ---- ring.c ------------------------------------------------------------- */

void entries_init(struct model *m);
void entries_release(struct model *m);
void entries_advance(struct model *m);
void entries_record(struct model *m, struct rec *r, uint64_t t);

/* ---- threads.c ---------------------------------------------------------- */

int threads_reserve(struct model *m, size_t extra);
struct thread *thread_get(struct model *m, uint32_t tid);
int slots_reserve(struct model *m, size_t extra);
uint32_t slot_get(struct model *m, struct thread *th, uint32_t proc);
struct process *proc_find(const struct model *m, uint32_t pid);
int procs_reserve(struct model *m, size_t extra);
struct process *proc_get(struct model *m, uint32_t pid);
void proc_describe(struct model *m, const struct process_info *info);
void procs_release(struct model *m);

/* ---- history.c ---------------------------------------------------------- */

void history_release(struct model *m, struct history *h);
void history_add(struct model *m, struct process *p, uint64_t t, const struct counters *c);

/* ---- filter.c ----------------------------------------------------------- */

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

const struct agg_map *range_map(const struct model *m, enum model_range r);
uint64_t weight_of(const struct counts *c, enum model_weight w);
uint32_t thread_pid(const struct model *m, uint32_t tid);
int thread_matches(const struct model *m, const struct model_filter *f, uint32_t tid);
int text_filter_init(struct text_filter *tf, const struct stack_table *dict,
                     const struct model_filter *f);
void text_filter_release(struct text_filter *tf);
int stack_matches(struct text_filter *tf, uint32_t node, uint32_t *scratch);
size_t path_walk(const struct stack_table *dict, uint32_t node, uint32_t *nodes,
                 uint32_t *frames);
uint32_t *id_array(size_t n);
int walk_init(struct walk *wk, const struct model *m, enum model_range r, enum model_weight w,
              const struct model_filter *f);
void walk_release(struct walk *wk);

#endif
