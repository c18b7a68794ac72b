/* Finding the CPython interpreter inside a process.
 *
 * py_target_open() looks through the process's mappings for libpython or
 * an executable with the interpreter linked in, reads its symbols (with
 * the load bias applied), settles the version and the structure layout,
 * and locates the interpreter list: through _PyRuntime (3.7+) or
 * interp_head (2.7, 3.6), or, for binaries stripped of those symbols, by
 * scanning the file's data sections for an interpreter state that a full
 * thread and frame walk accepts. */
#ifndef PYTOP_PYTHON_DISCOVER_H
#define PYTOP_PYTHON_DISCOVER_H

#include <limits.h>
#include <sys/types.h>

#include "proc/memsrc.h"
#include "python/version.h"
#include "python/walk.h"

enum py_layout_source {
    PY_LAYOUT_AUTO,            /* _Py_DebugOffsets from 3.13, tables before */
    PY_LAYOUT_TABLE,           /* always pytop's generated tables */
    PY_LAYOUT_DEBUG_OFFSETS,   /* always the target's _Py_DebugOffsets (3.13+) */
};

struct py_target {
    pid_t pid;
    struct live_mem live;
    struct mem_snap snap;            /* the walks' replay, attached to live */
    struct py_walker walker;
    struct py_version version;
    char binary[PATH_MAX];           /* the file holding the interpreter */
    enum py_layout_source layout_source;  /* the one actually used */
    int found_by_scan;               /* no interpreter symbols: found by scanning */
    uint64_t load_bias;              /* binary's link-time address + this = runtime address */
    uint64_t runtime_addr;           /* _PyRuntime (3.7+), or 0 */
};

/* Attach to pid (nothing is stopped or modified). Returns 0 and *out, or
 * -ESRCH (no such process), -EPERM (not allowed to read it),
 * -PT_ERR_NOT_PYTHON, -PT_ERR_UNSUPPORTED, -PT_ERR_TOO_NEW (a version newer
 * than pytop's tables), -PT_ERR_NO_INTERP (Python is there but not
 * initialised yet). */
int py_target_open(pid_t pid, enum py_layout_source pref, struct py_target **out);
void py_target_free(struct py_target *t);   /* NULL is fine */

/* The CPython version running in pid, found as py_target_open finds it
 * (for a message when that refused it). 0, or a negative error. */
int py_target_find_version(pid_t pid, struct py_version *out);

#endif
