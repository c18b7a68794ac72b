/* The rolling aggregation behind every view: what the target did over the
 * last N seconds and since the start.
 *
 * The model is fed samples (struct sample, ids into a stack_table it
 * borrows) and keeps, exactly:
 *  - since the start: per (thread, call path) sample counts, CPU and
 *    wall time, and memory growth and release (threads carry their pid);
 *  - over a sliding window: the same, from a ring of recent samples that
 *    are added on arrival and subtracted when they fall out of the window.
 * Functions, lines, threads and the call tree are derived from those per
 * call path aggregates on query; processes, GIL ownership and each
 * process's counters history are kept beside them. Time comes only from
 * the samples, so the
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
/* What a row's amounts measure: CPU or wall time (ns), or bytes of
 * resident memory growth or release credited to the stack. */
enum model_weight { MODEL_CPU, MODEL_WALL, MODEL_MEM_GROW, MODEL_MEM_RELEASE };

struct model_filter {
    uint32_t pid;               /* 0: all processes */
    uint32_t tid;               /* 0: all threads */
    const char *text;           /* NULL or "": no filter; else a substring of function or file */
};

struct model_function_row {
    uint32_t frame;             /* a representative frame id (function, file, firstline; line when by_line) */
    uint64_t own_ns, total_ns;  /* in the chosen weight */
    uint64_t own_samples, total_samples;
    /* Memory credited, whatever the weight (bytes). */
    uint64_t own_grow, total_grow;
    uint64_t own_release, total_release;
};

struct model_thread_row {
    uint32_t pid;
    uint32_t tid;
    uint32_t name;              /* string id, 0 when unknown */
    uint64_t samples, running, gil;
    uint64_t gil_wait;          /* samples in which it waited for the GIL (3.15+) */
    uint64_t cpu_ns, wall_ns;
    uint64_t mem_grow, mem_release;
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
    uint64_t mem_grow, mem_release;     /* over the chosen range, all processes */
    size_t memory_bytes;                /* the model's own footprint */
};

/* A process seen in the run (the target and, with --subprocesses, its
 * descendants), in order of first appearance. */
struct model_process_row {
    struct process_info info;
    uint64_t first_ns, last_ns;         /* its first and latest sample */
    uint64_t samples;                   /* its samples over the chosen range */
    uint64_t cpu_ns;                    /* its threads' CPU time over the range */
    uint32_t threads;                   /* threads in its latest sample */
};

/* Who held the GIL over a range, from the same samples: samples of a
 * process in which some thread held it, and in which none did. The
 * per-thread shares are model_thread_row.gil / samples. */
struct model_gil {
    uint64_t samples;                   /* process samples in the range */
    uint64_t held;                      /* some thread held it */
    uint64_t none;                      /* no thread did */
    uint32_t holder_tid;                /* the holder in the latest sample, 0: none */
};

/* One point of a process's counters history. */
struct model_counter_point {
    uint64_t time_ns;
    struct counters c;
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

/* The frame of model_functions' row for samples with no Python frame
 * (an empty stack: the interpreter starting or ending, a thread in C
 * code only): counted, so it is shown too. */
#define MODEL_FRAME_NONE UINT32_MAX

/* Query results are malloc'd arrays the caller frees; unsorted. A
 * recursive function counts once per sample in total_*. by_line splits
 * functions by line. Samples with an empty stack make one row whose
 * frame is MODEL_FRAME_NONE. */
int model_functions(const struct model *m, enum model_range r, enum model_weight w,
                    const struct model_filter *f, int by_line,
                    struct model_function_row **rows, size_t *n);
int model_threads(const struct model *m, enum model_range r, struct model_thread_row **rows,
                  size_t *n);
/* The same, only the threads of f's pid (and f's tid); f's text is
 * ignored, NULL keeps every thread. */
int model_threads_filtered(const struct model *m, enum model_range r,
                           const struct model_filter *f, struct model_thread_row **rows,
                           size_t *n);
int model_tree(const struct model *m, enum model_range r, enum model_weight w,
               const struct model_filter *f, struct model_node_row **rows, size_t *n);
/* Per (thread, call path) aggregates, for exports and snapshots. */
int model_stacks(const struct model *m, enum model_range r, const struct model_filter *f,
                 struct stack_weight **rows, size_t *n);
/* Thread names seen, for exports. */
int model_thread_labels(const struct model *m, struct thread_label **rows, size_t *n);

/* Processes seen (filter's pid and text ignored), first seen first; those
 * without samples in the range too, with zero counts. */
int model_processes(const struct model *m, enum model_range r,
                    struct model_process_row **rows, size_t *n);
/* GIL ownership over the range for one process (pid 0: all processes). */
void model_gil(const struct model *m, enum model_range r, uint32_t pid, struct model_gil *out);
/* A process's counters (pid 0: the first process) with time >= from_ns,
 * oldest first. The history is bounded (MODEL_COUNTERS_MAX points per
 * process, thinned by halves, and only the retention period), so it
 * replays identically from a recording. */
#define MODEL_COUNTERS_MAX 4096
int model_counters(const struct model *m, uint32_t pid, uint64_t from_ns,
                   struct model_counter_point **rows, size_t *n);

#endif
