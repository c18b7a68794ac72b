/* Naming the interpreter's start-up and shutdown in a program pytop
 * launched, so their time shows as rows named for what they are.
 *
 * Before the main module runs, the interpreter imports from C (encodings,
 * site and what site pulls in): the main thread's stacks are rooted at an
 * import frame (_find_and_load, or on 2.7 a stdlib module's <module>), or
 * it has no Python frame at all. After the main module returns, it runs
 * threading._shutdown and atexit callbacks, then has no Python frame
 * while the interpreter finalizes. Those main-thread samples get a root
 * frame "<start-up>" or "<shutdown>" (line -1, no file) above what was
 * read.
 *
 * Start-up ends at the first main-thread sample rooted in the program's
 * own code (not an import frame; runpy's _run_module_as_main for -m); shutdown begins at a main-thread root of
 * threading._shutdown or the atexit runners, or at two samples in a row
 * (read whole) with no Python frame once the main module had run. Other
 * threads and other processes are left as they are. */
#ifndef PYTOP_MODEL_PHASES_H
#define PYTOP_MODEL_PHASES_H

#include <stddef.h>
#include <stdint.h>

#include "core/sample.h"
#include "core/stacks.h"

#define PHASES_NAMES_MAX 8
#define PHASES_CACHE 256

enum run_phase { PHASE_STARTUP, PHASE_MAIN, PHASE_SHUTDOWN };

struct phase_labels {
    uint32_t pid;                        /* the launched program (its main thread's tid) */
    /* Base names of its command's arguments: a main script may live
     * where the standard library does. */
    char names[PHASES_NAMES_MAX][64];
    size_t nnames;
    enum run_phase phase;
    unsigned empty_run;                  /* main-thread samples in a row with no frame */
    uint32_t last_leaf, last_root;       /* the main thread's latest stack and its root frame */
    int have_root;
    uint32_t frame[2];                   /* <start-up>, <shutdown>; valid when have_frame */
    int have_frame[2];
    struct { uint32_t in, out; } cache[2][PHASES_CACHE];   /* leaf -> labelled leaf */
    struct sample_thread *threads;
    size_t cap_threads;
    uint32_t *path;                      /* frames, leaf first */
    size_t cap_path;
};

/* cmdline: the program's arguments, NUL-separated (/proc/PID/cmdline). */
void phase_labels_init(struct phase_labels *pl, uint32_t pid, const char *cmdline, size_t len);
void phase_labels_release(struct phase_labels *pl);

/* The sample as it should be counted: *out is s, or s with the main
 * thread's stack relabelled (its threads then owned by pl until the next
 * call). A stack that cannot be relabelled (out of memory, dictionary
 * full) is kept as it is. */
void phase_labels_apply(struct phase_labels *pl, struct stack_table *dict, const struct sample *s,
                        struct sample *out);

#endif
