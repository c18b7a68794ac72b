/* The rolling aggregation behind every view: what the target did over the
 * last N seconds and since the start.
 *
 * The model is fed samples (struct sample, ids into a stack_table it
 * borrows) and keeps, exactly:
 *  - since the start: per (thread, call path) sample counts and CPU and
 *    wall time;
 *  - over a sliding window: the same, from a ring of recent samples that
 *    are added on arrival and subtracted when they fall out of the window.
 * Functions, lines, threads and the call tree are derived from those per
 * call path aggregates on query. Time comes only from the samples, so the
 * same recording always gives the same answers. Memory is bounded: the
 * ring holds at most MODEL_RING_MAX entries (and only the retention
 * period), the rest is proportional to distinct call paths. */
#ifndef PYTOP_MODEL_MODEL_H
#define PYTOP_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/sample.h"
#include "core/stacks.h"

#define MODEL_RING_MAX (8u << 20)

struct model_config {
    uint64_t window_ns;         /* default 10 s */
    uint64_t retention_ns;      /* longest window that can be asked for; default 300 s */
};

enum model_range { MODEL_WINDOW, MODEL_TOTAL };
enum model_weight { MODEL_CPU, MODEL_WALL };

struct model_filter {
    uint32_t tid;               /* 0: all threads */
    const char *text;           /* NULL or "": no filter; else a substring of function or file */
};

struct model_function_row {
    uint32_t frame;             /* a representative frame id (function, file, firstline; line when by_line) */
    uint64_t own_ns, total_ns;  /* in the chosen weight */
    uint64_t own_samples, total_samples;
};

struct model_thread_row {
    uint32_t tid;
    uint32_t name;              /* string id, 0 when unknown */
    uint64_t samples, running, gil;
    uint64_t cpu_ns, wall_ns;
    uint32_t last_stack;        /* the stack of its latest sample */
    uint32_t last_flags;
    uint64_t last_seen_ns;      /* time of its latest sample */
};

struct model_node_row {
    uint32_t node;
    uint64_t self_ns, total_ns;
    uint64_t self_samples, total_samples;
};

struct model_totals {
    uint64_t first_ns, last_ns;         /* times of the first and latest sample */
    uint64_t samples;                   /* samples added (since start or reset) */
    uint64_t window_samples;
    uint64_t window_start_ns;           /* the window covers (window_start_ns, last_ns] */
    uint64_t cpu_ns, wall_ns;           /* over the chosen range, all threads */
    size_t memory_bytes;                /* the model's own footprint */
};

struct model;

/* The model borrows dict, which must outlive it. */
struct model *model_new(const struct model_config *cfg, const struct stack_table *dict);
void model_free(struct model *m);                   /* NULL is fine */

int model_add(struct model *m, const struct sample *s);
void model_reset(struct model *m);                  /* forget everything gathered so far */
void model_set_window(struct model *m, uint64_t window_ns);   /* clamped to retention */
uint64_t model_window(const struct model *m);
/* Lower the ring's bound below MODEL_RING_MAX (tests, small-memory
 * setups); clamped to [1, MODEL_RING_MAX]. Entries over it go at once,
 * oldest first, as when the ring fills. */
void model_set_ring_limit(struct model *m, size_t entries);
/* Ring entries that left before their retention ran out: pushed out by a
 * full ring, or not kept for lack of memory. Since-start numbers keep
 * them; the window then starts no earlier than the latest of them. */
uint64_t model_ring_dropped(const struct model *m);

void model_totals(const struct model *m, enum model_range r, enum model_weight w,
                  struct model_totals *out);

/* Query results are malloc'd arrays the caller frees; unsorted. A
 * recursive function counts once per sample in total_*. by_line splits
 * functions by line. */
int model_functions(const struct model *m, enum model_range r, enum model_weight w,
                    const struct model_filter *f, int by_line,
                    struct model_function_row **rows, size_t *n);
int model_threads(const struct model *m, enum model_range r, struct model_thread_row **rows,
                  size_t *n);
int model_tree(const struct model *m, enum model_range r, enum model_weight w,
               const struct model_filter *f, struct model_node_row **rows, size_t *n);
/* Per (thread, call path) aggregates, for exports and snapshots. */
int model_stacks(const struct model *m, enum model_range r, const struct model_filter *f,
                 struct stack_weight **rows, size_t *n);
/* Thread names seen, for exports. */
int model_thread_labels(const struct model *m, struct thread_label **rows, size_t *n);

#endif
