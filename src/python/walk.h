/* Walking a target's interpreters, thread states and frames.
 *
 * The walker knows where the interpreter list starts and how the target's
 * structures are laid out; it reads them through a mem_source, so the same
 * code runs against a live process and against fake structures in tests.
 * Target memory changes under our feet: every pointer is checked before
 * it is followed, every loop is bounded, and a thread whose walk breaks
 * keeps the frames read so far, with the error recorded.
 *
 * A thread runs on while it is read, so a walk must prove its stack whole
 * before it is kept: it must end at a frame that can be a thread's first
 * (not a generator or coroutine frame, whose link back is cleared when it
 * suspends; from 3.15 exactly the base frame in the thread state), every frame must be of one type, and up to 3.10 the chain
 * may not be longer than the thread's recursion depth (a freed frame's
 * f_back leads into the free list). A walk that fails a check, or meets
 * unreadable data, reads the thread again (PY_WALK_RETRIES times, as it
 * is now, not from a snapshot of the start of the sample: see memsrc.h;
 * up to 3.10 once more when the first walk was served from one); a stack
 * still not whole keeps what was read with -PT_ERR_TORN. The checks use what the walk reads
 * anyway: no extra read. */
#ifndef PYTOP_PYTHON_WALK_H
#define PYTOP_PYTHON_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/memsrc.h"
#include "proc/pidns.h"
#include "python/code_cache.h"
#include "python/layout.h"
#include "python/pthread_tid.h"

#define PY_MAX_DEPTH 4096        /* frames kept per thread, a marker included */
/* A deeper stack keeps its innermost PY_KEEP_INNER frames, a marker frame
 * (py_frame.elided) and its outermost PY_MAX_DEPTH - PY_KEEP_INNER - 1. */
#define PY_KEEP_INNER 2048
#define PY_MAX_WALK (1u << 17)   /* frames followed per thread before the walk is cut */
/* Reads of a thread after the first when a walk cannot be proven whole. */
#define PY_WALK_RETRIES 8
#define PY_MAX_THREADS 4096      /* thread states per interpreter */
#define PY_MAX_INTERPRETERS 64

struct py_frame {
    const struct py_code_info *code;  /* owned by the walker's cache; NULL if unreadable */
    uint64_t code_addr;
    int line;                         /* -1 when unknown */
    int error;                        /* 0, or why this frame could not be decoded */
    int use_instr;                    /* pos is an instruction address (3.11+) */
    int64_t pos;                      /* instruction address, or byte offset (up to 3.10) */
    /* The outermost frame one call of the eval loop runs (--native merges
     * each eval-loop C frame with the frames up to the next entry): every
     * frame up to 3.10, is_entry in 3.11, the frame just inside a C-stack
     * shim from 3.12. */
    int entry;
    /* 3.12+: the C-stack shim frame just outside an entry frame, 0 if none.
     * It lives in the eval loop's own C frame, so it tells which native
     * frame ran this group where no symbol names the eval loop. */
    uint64_t shim;
    /* Not a frame: a marker standing for this many frames left out of
     * the middle of a deeper stack (code is NULL). */
    uint32_t elided;
    /* 3.11+: the _PyInterpreterFrame's address (a coroutine's lies inside
     * its coroutine object, which is how --async finds its task); 0 before. */
    uint64_t addr;
};

struct py_thread {
    uint64_t tstate;
    uint64_t interp;           /* the interpreter state it belongs to */
    uint64_t thread_id;        /* the pthread_t recorded by Python */
    pid_t tid;                 /* OS thread id, 0 when unknown */
    int gil;                   /* holds the GIL */
    /* Waiting for the GIL: 1 or 0 where the interpreter says (3.15's
     * gil_requested), -1 where it does not tell (earlier versions,
     * free-threaded builds with the GIL off). */
    int gil_wait;
    /* 3.13+: 1 while attached to the interpreter (it may run Python: with
     * a GIL, it holds it), 0 when detached (a blocking call, a wait for
     * the GIL) or suspended; -1 where the interpreter does not tell. */
    int attached;
    /* The interpreter's cyclic collector runs and this thread runs it:
     * the GIL holder while "collecting" is set (builds with a GIL). */
    int gc;
    /* 0, or why the walk could not end at the outermost frame:
     * -PT_ERR_TORN (it changed under every read), -PT_ERR_TRUNCATED (a
     * safety bound), or another error (unreadable). */
    int error;
    size_t first_frame;        /* index into py_sample.frames, innermost first */
    size_t nframes;
};

struct py_sample {
    struct py_thread *threads;
    size_t nthreads, cap_threads;
    struct py_frame *frames;
    size_t nframes, cap_frames;
};

void py_sample_init(struct py_sample *s);
void py_sample_release(struct py_sample *s);

struct py_walker {
    struct mem_source *mem;          /* borrowed */
    struct py_layout layout;
    pid_t pid;                       /* for tid lookup before 3.11; 0 skips it */
    uint64_t interp_head_ptr;        /* address of the pointer to the first interpreter */
    uint64_t interp_addr;            /* or the first interpreter itself (used by tests) */
    uint64_t tstate_current_ptr;     /* GIL holder pointer (2.7-3.11), or 0 */
    /* The collector's int collecting when it is not per interpreter: a
     * static of gcmodule.c (2.7, 3.6), in _PyRuntime (3.7-3.8); else 0,
     * and 3.9+ read it in each interpreter (layout.interp_gc). */
    uint64_t gc_collecting_ptr;
    uint64_t code_type;              /* &PyCode_Type in the target, or 0 */
    struct py_code_cache codes;
    struct pthread_tid_map tids;
    /* The target's ids are its PID namespace's; tids are given as /proc's
     * (pytop's), so that per-thread /proc files and ptrace find them. */
    struct proc_pidns pidns;
    uint8_t *chunk_buf;              /* data-stack chunk copies (3.11+), owned */
    /* Scratch for checking cached code objects, grown as needed, owned. */
    struct py_code_info **verify_ci;
    struct mem_iov *verify_iov;
    uint8_t *verify_buf;
    size_t verify_cap;
    unsigned long stale_codes;       /* cache entries found replaced */
    struct py_sample again;          /* scratch of py_walk_thread_again, owned */
    /* py_thread_names' own replay, when mem has one (thread_names.c). */
    struct mem_snap names_snap;
    /* py_walk lists threads without their frames (--native reads each
     * thread's frames while it holds it, with py_walk_thread_again). */
    int threads_only;
    /* Free-threaded builds: the GIL was turned back on at the latest walk
     * (PYTHON_GIL=1, or an extension that needs it), so a thread may hold
     * it; 0 otherwise. */
    int gil_enabled;
    /* The thread read is held (stopped: --native, --blocking): a walk
     * not proven whole is not read again at once, as the thread cannot
     * have moved; the caller holds it again once it ran (native.c), and
     * counts that in retries. */
    int held;
    /* Some interpreter's collector ran at the latest walk (whichever
     * thread ran it, free-threaded builds included). */
    int gc_collecting;
    /* Counters for statistics. */
    unsigned long walks, frame_errors, thread_errors;
    unsigned long retries;           /* threads read again: a walk not proven whole */
    unsigned long torn;              /* stacks left torn after every retry */
    unsigned long elided;            /* reads of a thread with frames left out of the middle */
    /* Pause before the last read of a thread still torn (0: none; the
     * sampler sets one, tests and the fuzzer do not). */
    unsigned long torn_pause_ns;
    /* The generator frame a torn walk ended at, re-read in one system
     * call with the thread state by the next attempt (hint_len bytes,
     * used when the walk meets that frame again; 0: none). */
    uint64_t hint_addr;
    size_t hint_len;
    uint8_t hint_buf[4096];
};

/* The walker copies layout. Returns 0 or -ENOMEM. */
int py_walker_init(struct py_walker *w, struct mem_source *mem, const struct py_layout *layout);
void py_walker_release(struct py_walker *w);

/* Read every thread of every interpreter into out (reused across calls:
 * frames' code pointers stay valid until the next py_walk). Returns 0 when
 * at least the interpreter list could be read (individual threads may
 * carry errors), -PT_ERR_NO_INTERP when there is no interpreter yet, or a
 * negative error (-ESRCH when the process is gone). */
int py_walk(struct py_walker *w, struct py_sample *out);

/* Read thread index of s (from this walker's latest py_walk) again: its
 * frames as they are now replace the ones s holds for it (appended to
 * s->frames; the thread entries do not move). For --native, which reads
 * a thread's Python frames again while the thread is held, so that its C
 * and Python frames are of one moment. Returns 0 (the thread may carry an
 * error, as in py_walk), or a negative error with the thread unchanged. */
int py_walk_thread_again(struct py_walker *w, struct py_sample *s, size_t index);

/* 3.11+: decode one _PyInterpreterFrame already copied out (fb holds
 * py_walker_frame_span bytes of it) into f: its code object and line, as a
 * walk does. Used for suspended coroutines' frames (asyncio_tasks.c).
 * Returns 0 or a negative error (also left in f->error). */
int py_walker_decode_iframe(struct py_walker *w, const uint8_t *fb, struct py_frame *f);
size_t py_walker_frame_span(const struct py_walker *w);

/* The first interpreter's address, or 0. */
uint64_t py_walker_first_interp(struct py_walker *w);

#endif
