/* Private to src/sampler/: what the sampler's files share. One file per
 * job: sampler.c (life cycle, the loop, when to sample), tracks.c (the
 * processes and threads being sampled, thread names), children.c
 * (descendants and the target's exec), round.c (one sample of one
 * process), intern.c (frames and stacks into the dictionary), credit.c
 * (memory credit, counters, carried CPU time). */
#ifndef PYTOP_SAMPLER_SAMPLER_INTERNAL_H
#define PYTOP_SAMPLER_SAMPLER_INTERNAL_H

#include "sampler/sampler.h"

#include "core/counters.h"
#include "core/sample.h"
#include "native/hold.h"
#include "native/native.h"
#include "proc/memstat.h"
#include "proc/switch_clock.h"
#include "proc/tasks.h"
#include "python/asyncio_tasks.h"
#include "python/heap.h"
#include "python/walk.h"
#include "sampler/held_read.h"
#include "sampler/merge.h"
#include "sampler/schedule.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NS_PER_SEC 1000000000ULL

/* What the sampler remembers about one OS thread between samples. */
struct thread_track {
    pid_t tid;                   /* 0: free slot */
    struct proc_task_cpu cpu;
    struct proc_task_stat stat;
    /* Its CPU time from context switches (see proc/switch_clock.h), when
     * it could be opened: then schedstat is read only while the clock
     * cannot tell. Its times count from the schedstat values read when it
     * opened, so the two read alike. */
    struct switch_clock clock;
    int clock_tried;             /* an open was tried (once per thread) */
    uint64_t clock_base_run, clock_base_slices;
    uint64_t clock_window_ns, clock_window_slices;   /* its switch rate's window */
    uint64_t last_run_ns;        /* its schedstat CPU time at the last sample */
    uint64_t last_wall_ns;       /* the sampler's clock at its last sample */
    uint64_t cpu_owed_ns;        /* CPU time read, not credited yet (credit_owed_cpu) */
    uint64_t round;              /* the last sampling round that saw it */
    uint32_t name;               /* string id of its Python name */
    int running;
    /* In state R (on a CPU or waiting for one) at the last sample's
     * instant, as its stat said or as follows from that: not merely run
     * since the sample before. */
    int runnable;
    /* On a CPU (or holding the GIL) at this sample; -1: it used CPU time
     * since the last one, and whether it is on a CPU now is asked of its
     * stat only if that matters (see carry_cpu). */
    int on_cpu;
    uint32_t cpu_stack;          /* its stack when last seen on a CPU; 0: never */
    uint64_t last_slices;        /* times put on a CPU, at the last sample (0: unknown) */
    uint64_t tstate;             /* its thread state's address at the last sample */
    uint32_t stack;              /* its stack at the last sample */
    int have_stack;              /* stack is set */
    int kind;                    /* that stack's enum stack_kind */
    int elided;                  /* that stack keeps a <N frames elided> marker */
    /* Its innermost Python frame at the last sample (code object address
     * and position; code 0: none read): one that moved ran since. */
    uint64_t leaf_code, leaf_pos;
};

/* (code object serial, line) -> frame id, so a frame seen before costs one
 * hash probe instead of hashing its strings again. */
struct frame_slot {
    uint64_t serial;             /* 0: empty */
    int32_t line;
    uint32_t frame;
};

/* One process being sampled: the target, or one of its descendants. */
struct proc_track {
    struct py_target *target;
    int owned;                   /* a descendant pytop attached to (freed here) */
    struct process_info info;
    int announce;                /* attach info to the next sample */

    struct thread_track *tracks;
    size_t ntracks, cap_tracks;
    size_t switch_clocks;        /* of its tracks, those with a context-switch clock open */
    size_t track_hint;           /* where track_lookup starts */
    uint64_t names_at_ns;        /* when names were last read; 0: never */
    int names_dirty;             /* a new thread appeared */

    /* Code serials are per walker, so the frame map is per process. */
    struct frame_slot *frames;
    size_t cap_frames, nframes;

    uint64_t image;              /* proc_image_id at attach */
    int have_image;

    struct proc_memstat mem;
    int have_mem;
    uint64_t last_rss;           /* resident bytes at the previous credited sample */
    int have_rss;
    uint64_t rss_read_ns;        /* when statm was last read */
    uint64_t rss_every_ns;       /* the wait before the next read (credit.c) */
    struct py_heap heap;
    int have_heap;
    uint64_t next_counters_ns;
    struct counters counters;

    unsigned failures;           /* walks failed in a row */
    int lazy_walk;               /* many threads: read frames only of threads that ran */

    /* --async: this process's task reader and the tasks of the latest
     * sample; NULL when --async is off or its version has none to read. */
    struct py_aio_reader *aio;
    struct py_aio_tasks tasks;
    const struct py_aio_task **task_on; /* per thread of the sample: its running task */
    size_t cap_task_on;
    uint64_t tasks_at_ns;        /* when waiting tasks were last sampled; 0: never */

    struct native_stacks *native;   /* --native: C stacks of this process, or NULL */
    struct thread_hold *hold;       /* --blocking without --native, or NULL */
};

/* A descendant seen but not sampled: not Python (yet), or still starting. */
enum candidate_state { CAND_PENDING, CAND_NOT_PYTHON, CAND_SAMPLED };

struct candidate {
    pid_t pid, ppid;
    enum candidate_state state;
    char command[256];           /* when it changes, the process exec'd: look again */
    unsigned attempts;
    uint64_t round;              /* the last discovery that saw it */
};

/* From this many threads on, a sample lists the threads first and reads
 * the frames only of those that ran since the previous sample (see
 * read_moved_threads). */
#define LAZY_WALK_MIN_THREADS 16

/* Threads given a context-switch clock, at most (a descriptor and a
 * 20 KiB ring each); the others have their schedstat read. */
#define SWITCH_CLOCKS_MAX 256

/* Bounds on what --subprocesses follows. */
#define SAMPLER_MAX_PROCESSES 256
#define CANDIDATE_MAX_ATTEMPTS 200    /* ~10 s of retries at 50 ms while Python starts */
#define CANDIDATE_NOT_PYTHON_ATTEMPTS 10   /* ~0.5 s: a fresh exec before libpython is mapped */
#define CHILD_MAX_FAILURES 100        /* walks failing in a row: it is not what it was */

struct sampler {
    struct py_target *target;    /* the first process, borrowed */
    struct stack_table *dict;
    struct sampler_config cfg;
    uint64_t period_ns;
    atomic_int stop;
    int wake_fd;                 /* eventfd sampler_stop writes to end a sleep; -1: none */
    struct schedule schedule;    /* the instants (schedule.h) */
    uint64_t round;

    struct proc_track **procs;   /* procs[0] is the target */
    size_t nprocs, cap_procs;
    uint32_t procs_seen;
    unsigned long gone_retries;   /* walker counters of processes removed */

    struct candidate *cands;
    size_t ncands, cap_cands;
    uint64_t children_at_ns;     /* last discovery; 0: never */
    uint64_t discovery_round;

    /* The target exec'd: waiting for the new image's interpreter. */
    int exec_pending;
    uint64_t exec_since_ns, exec_tried_ns, image_at_ns;
    char exec_command[256];

    uint32_t truncated_frame;    /* "[truncated]" root marker */
    int have_truncated_frame;
    uint32_t torn_frame;         /* "<torn>" root marker */
    int have_torn_frame;
    uint32_t gc_frame;           /* "<GC>" leaf marker: the collector runs */
    int have_gc_frame;
    uint32_t full_frame;         /* "[dictionary full]" leaf marker, interned at start */
    uint32_t full_node;          /* the stack of that marker alone */
    int have_full_frame;
    uint64_t dict_full;          /* stacks cut this round, for the stats */

    struct py_sample ps;
    struct sample_thread *out;
    size_t cap_out;
    size_t len_out;              /* entries out holds (waiting tasks may need more than cap_out) */
    size_t *track_of;            /* per thread of ps: its track's index + 1, 0: none */
    uint64_t *pauses;            /* per thread of ps: how long it was held, 0: not held */
    int *hold_results;           /* per thread of ps: how its hold went */
    unsigned char *still;        /* per thread of ps: has not run, its last stack holds */
    struct merged_stack *merged;  /* --native: per thread of ps */
    size_t cap_merged;

    /* Context-switch clocks (proc/switch_clock.h) stopped being opened
     * for good: not allowed or not there (the error is in the stats). */
    int switch_off;
    /* This round's counts of where CPU time came from, added to the
     * stats (under their lock) once the round ends. */
    struct {
        uint64_t cpu_switches, cpu_schedstat, switch_restarts, switch_busy;
    } clock_tally;

    pthread_mutex_t stats_lock;
    struct sampler_stats stats;
};

/* tracks.c */
void proc_track_free(struct proc_track *p);
int proc_track_add(struct sampler *s, struct py_target *target, int owned, pid_t ppid,
                   struct proc_track **out);
void proc_track_remove(struct sampler *s, size_t i);
struct thread_track *track_find(struct proc_track *p, pid_t tid, int create);
/* *on_cpu: 1 when the thread is on a CPU or runnable at now, 0 when
 * not, as its context switches tell; -1 when they do not (schedstat was
 * read). */
void track_update(struct sampler *s, struct proc_track *p, struct thread_track *t, uint64_t now,
                  int seen_running, uint64_t *cpu_ns, uint64_t *wall_ns, int *running,
                  int *still, int *on_cpu);
void sweep_tracks(struct proc_track *p, uint64_t round);
void refresh_names(struct sampler *s, struct proc_track *p, uint64_t now);

/* children.c */
struct candidate *candidate_find(struct sampler *s, pid_t pid);
void discover_children(struct sampler *s, uint64_t now);
int target_execd(struct sampler *s, uint64_t now);
int follow_exec(struct sampler *s, uint64_t now);

/* intern.c */
uint32_t intern_stack(struct sampler *s, struct proc_track *p, const struct py_thread *t,
                      const struct merged_stack *merged);
void intern_gc(struct sampler *s, struct sample_thread *o);
/* --async: the innermost task->depth frames of t under "<task NAME>". */
uint32_t intern_task_stack(struct sampler *s, struct proc_track *p, const struct py_thread *t,
                           const struct py_aio_task *task);
/* A waiting task's await chain (frames innermost first) under its root,
 * ending in "<awaits task OTHER>" when it awaits another task. */
uint32_t intern_chain(struct sampler *s, struct proc_track *p, const struct py_aio_tasks *tasks,
                      const struct py_aio_task *task);

/* credit.c */
void credit_memory(struct proc_track *p, struct sample_thread *out, size_t n, uint64_t now);
const struct counters *read_counters(struct sampler *s, struct proc_track *p, uint64_t t);
size_t carry_cpu(struct thread_track *tr, struct sample_thread *o, struct sample_thread *carry);

/* round.c */
int sample_process(struct sampler *s, struct proc_track *p, uint64_t now, uint64_t t,
                   sampler_sink_fn sink, void *ctx);

#endif
