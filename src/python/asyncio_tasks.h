/* asyncio tasks of a target (--async), 3.11+.
 *
 * A task is an _asyncio.Task object: its name, its coroutine, and the
 * coroutine's frame, which lives inside the coroutine object. A task whose
 * coroutine runs has that frame on a thread's stack (the thread's frames
 * from there inwards are the task's); a waiting one is suspended, and the
 * value on top of its frame's stack is what it awaits: another coroutine
 * (followed, giving the await chain) or a future.
 *
 * Where the tasks are found:
 *  - 3.14+: every thread state heads a linked list of its tasks, and the
 *    interpreter one of tasks whose thread ended; the _asyncio module
 *    describes the task object and those fields for debuggers in its
 *    .AsyncioDebug ELF section, read when it is there (else the table);
 *  - 3.11-3.13: asyncio.tasks._all_tasks (3.11) or _scheduled_tasks
 *    (3.12+), a WeakSet, and _eager_tasks (3.12+), a set; the task object
 *    is private to _asynciomodule.c, so its layout comes from the table
 *    here, made from each version's sources and checked live by the
 *    functional tests.
 * Everything read is bounded and checked: a torn list or set ends the
 * walk with what was read, a task that does not read as one is counted,
 * never shown. Free-threaded builds and versions before 3.11 are not
 * read (-PT_ERR_UNSUPPORTED). */
#ifndef PYTOP_PYTHON_ASYNCIO_TASKS_H
#define PYTOP_PYTHON_ASYNCIO_TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "python/walk.h"

#define PY_AIO_NAME_MAX 64
#define PY_AIO_MAX_TASKS 65536     /* tasks read per sample */
#define PY_AIO_MAX_CHAIN 256       /* coroutines followed per await chain */

struct py_aio_layout {
    int major, minor;
    /* TaskObj (_asynciomodule.c) */
    int task_size;
    int task_name;               /* PyObject *task_name: a str, or an int n for "Task-n" */
    int task_coro;
    int task_node;               /* struct llist_node task_node, 3.14+ */
    /* 3.14+: list heads (struct llist_node) */
    int ts_tasks_head;           /* _PyThreadStateImpl.asyncio_tasks_head */
    int is_tasks_head;           /* PyInterpreterState.asyncio_tasks_head */
    /* PyGenObject / PyCoroObject */
    int gen_iframe;              /* the _PyInterpreterFrame inside it */
    int gen_frame_state;         /* int8_t gi_frame_state */
    int state_executing;         /* its value while the coroutine runs */
    int state_suspended_min, state_suspended_max;
    /* _PyInterpreterFrame: the top of its value stack */
    int frame_stacktop;          /* int stacktop, an index into localsplus (3.11-3.13) */
    int frame_stackpointer;      /* _PyStackRef *stackpointer (3.14+) */
    int frame_localsplus;
    /* Which slot from the top holds the awaited object while suspended:
     * 1 (the top) up to 3.14, 2 in 3.15 (one more value sits above it). */
    int frame_yf_depth;
};

/* pytop's table for X.Y, or NULL (before 3.11, or newer than pytop). */
const struct py_aio_layout *py_aio_layout_for(int major, int minor);

/* Decode a 3.14+ .AsyncioDebug section (struct _Py_AsyncioModuleDebugOffsets)
 * into the task and list fields of *l, keeping the others. 0, or
 * -PT_ERR_BAD_DATA when it is too short or an offset is implausible. */
int py_aio_layout_from_section(struct py_aio_layout *l, const uint8_t *data, size_t len);

struct py_aio_task {
    uint64_t addr;
    uint64_t coro_frame;         /* its coroutine's frame */
    char name[PY_AIO_NAME_MAX];
    int running;                 /* its coroutine was executing */
    /* Running: the thread (index in the py_sample) whose stack holds
     * coro_frame, and how many frames from its innermost one up to and
     * including coro_frame are the task's; -1 and 0 when none did. */
    int thread;
    size_t depth;
    /* Waiting: its await chain in py_aio_tasks.frames, innermost (the
     * awaited coroutine) first, and what the innermost one awaits when it
     * is another task: its name, else "". */
    size_t first_frame, nframes;
    char awaits_task[PY_AIO_NAME_MAX];
    int error;                   /* 0, or why the chain is cut short */
};

struct py_aio_tasks {
    struct py_aio_task *tasks;
    size_t ntasks, cap_tasks;
    struct py_frame *frames;
    size_t nframes, cap_frames;
    unsigned long rejected;      /* objects found that did not read as tasks */
    int cut;                     /* a bound was reached: more tasks may exist */
};

void py_aio_tasks_init(struct py_aio_tasks *t);
void py_aio_tasks_release(struct py_aio_tasks *t);

#define PY_AIO_TYPES_MAX 8

struct py_aio_pages;                 /* remote pages cached for one read */

struct py_aio_reader {
    struct py_aio_layout l;
    int from_section;            /* task fields from the target's .AsyncioDebug */
    uint64_t task_types[PY_AIO_TYPES_MAX];   /* types seen to be Task or a subclass */
    size_t ntask_types;
    uint64_t other_types[PY_AIO_TYPES_MAX];  /* types seen not to be (mostly futures) */
    unsigned next_other;
    uint64_t coro_type;          /* the coroutine type, learned from a task's coroutine */
    struct {                     /* names of awaited objects' types, by address */
        uint64_t type;
        char name[24];
    } names[PY_AIO_TYPES_MAX];
    unsigned next_name;
    /* 3.11-3.13: the sets found through sys.modules (the WeakSet's data,
     * the eager tasks), looked up again every PY_AIO_RELOOKUP reads or
     * when one does not read as a set: the lookup costs hundreds of reads. */
    uint64_t weak_set, eager_set;
    unsigned reads_left;
    struct py_aio_pages *pages;      /* owned: py_aio_reader_release */
};

#define PY_AIO_RELOOKUP 128

/* Set up for a target of X.Y (free_threaded: a Py_GIL_DISABLED build).
 * pid and binary (the file holding the interpreter, openable by pytop)
 * are searched for the .AsyncioDebug section from 3.14 on (pid 0 and
 * binary NULL skip that). 0, or -PT_ERR_UNSUPPORTED for a version or
 * build not read. */
int py_aio_reader_init(struct py_aio_reader *r, int major, int minor, int free_threaded,
                       pid_t pid, const char *binary);

/* Free what py_aio_read allocated (the reader can be set up again). */
void py_aio_reader_release(struct py_aio_reader *r);

/* The tasks of every interpreter in s (this walker's latest py_walk),
 * into out (reset first). Frames' code pointers belong to the walker's
 * cache, valid until its next walk. 0 (out may hold no task: asyncio not
 * imported, no loop), or a negative error when nothing could be read. */
int py_aio_read(struct py_aio_reader *r, struct py_walker *w, const struct py_sample *s,
                struct py_aio_tasks *out);

#endif
