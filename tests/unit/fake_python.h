/* Fake CPython interpreter structures in local memory, for the walker's
 * unit tests and fuzzer.
 *
 * A fake_py owns a few arenas of zeroed local memory, each registered in a
 * fake_mem at a "remote" address far from any local one, so a walker that
 * dereferences a remote address by mistake faults instead of quietly
 * working. Every structure is laid out by a struct py_layout (normally a
 * generated one from py_layout_for), so the same builder serves 2.7 and
 * every 3.x: interpreters, thread states, frame objects (up to 3.10) or
 * interpreter frames in data-stack chunks (3.11+), code objects with line
 * tables, str and bytes objects.
 *
 * Builders return the remote address of what they made, or 0 on failure
 * (out of memory, or a request the version cannot express). */
#ifndef PYTOP_TESTS_FAKE_PYTHON_H
#define PYTOP_TESTS_FAKE_PYTHON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/memsrc.h"
#include "python/layout.h"
#include "python/walk.h"

/* Arenas sit at FAKE_REMOTE_BASE + i * FAKE_REMOTE_STRIDE; the space
 * between them, and FAKE_UNMAPPED, is never served. */
#define FAKE_REMOTE_BASE 0x100000000000ULL
#define FAKE_REMOTE_STRIDE 0x10000000ULL
#define FAKE_UNMAPPED 0x0f0000001000ULL
#define FAKE_ARENA_SIZE (256u << 10)
/* CPython's DATA_STACK_CHUNK_SIZE. */
#define FAKE_CHUNK_SIZE (16u << 10)

/* Values of _PyInterpreterFrame.owner (3.11+). */
#define FAKE_OWNED_BY_THREAD 0
#define FAKE_OWNED_BY_GENERATOR 1
#define FAKE_OWNED_BY_CSTACK 3

enum fake_kind {
    FAKE_OBJ_OTHER,
    FAKE_OBJ_RUNTIME,   /* _PyRuntime, or the interp_head/_PyThreadState_Current words */
    FAKE_OBJ_TYPE,
    FAKE_OBJ_INTERP,
    FAKE_OBJ_GIL,
    FAKE_OBJ_TSTATE,
    FAKE_OBJ_CFRAME,
    FAKE_OBJ_CHUNK,
    FAKE_OBJ_FRAME,     /* a frame object, or an interpreter frame outside chunks */
    FAKE_OBJ_CODE,
    FAKE_OBJ_STR,
    FAKE_OBJ_BYTES,
};

struct fake_obj {
    uint64_t addr;
    size_t size;
    enum fake_kind kind;
};

struct fake_arena {
    uint8_t *buf;
    size_t len, used;
    uint64_t remote;
    size_t region;       /* its index in fake_py.mem.regions */
};

struct fake_py {
    struct fake_mem mem;             /* pass &mem.base to the walker */
    struct py_layout lay;
    struct fake_arena arenas[FAKE_MEM_MAX_REGIONS];
    size_t narenas;
    size_t arena_size;
    struct fake_obj *objs;           /* every allocation, in order */
    size_t nobjs, cap_objs;
    uint64_t code_type, str_type, bytes_type, other_type, none_obj;
    uint64_t interp_head_ptr;        /* word holding the first interpreter */
    uint64_t tstate_current_ptr;     /* GIL holder word (2.7-3.11), or 0 */
    uint64_t gc_collecting_ptr;      /* the collector's flag up to 3.8, or 0 */
    unsigned frame_extra_words;      /* locals/stack slots after each 3.11+ frame */
    int failed;                      /* some builder ran out of memory or space */
};

/* Returns 0, or -1 when out of memory. arena_size 0 means FAKE_ARENA_SIZE. */
int fake_py_init(struct fake_py *fp, const struct py_layout *lay);
int fake_py_init_sized(struct fake_py *fp, const struct py_layout *lay, size_t arena_size);
void fake_py_release(struct fake_py *fp);

/* Set up a walker on fp the way discover.c does for a live process. */
int fake_walker_init(struct fake_py *fp, struct py_walker *w);

/* Raw memory: zeroed, 16-byte aligned. */
uint64_t fake_alloc(struct fake_py *fp, size_t size, enum fake_kind kind);
/* Local view of [addr, addr+len), or NULL when no arena holds all of it. */
void *fake_local(struct fake_py *fp, uint64_t addr, size_t len);
int fake_put(struct fake_py *fp, uint64_t addr, const void *data, size_t len);
int fake_put_u64(struct fake_py *fp, uint64_t addr, uint64_t v);
int fake_put_i32(struct fake_py *fp, uint64_t addr, int32_t v);
int fake_put_u8(struct fake_py *fp, uint64_t addr, uint8_t v);
uint64_t fake_get_u64(struct fake_py *fp, uint64_t addr);

/* A str object from UTF-8 text: 3.x compact ASCII, or compact UCS1/2/4
 * when the text needs it; on 2.7 a PyStringObject holding the bytes. */
uint64_t fake_str(struct fake_py *fp, const char *utf8);
/* A bytes object (2.7: str). */
uint64_t fake_bytes(struct fake_py *fp, const void *data, size_t len);

/* Line table in the version's format (co_lnotab, 3.10 co_linetable, or the
 * 3.11+ location table) where entry j covers code units
 * [j*units_per_entry, (j+1)*units_per_entry) at line lines[j]. Returns the
 * length, or 0 if it does not fit in cap or the format cannot say it
 * (2.7's lnotab cannot go back to an earlier line). */
size_t fake_linetable(const struct py_layout *lay, int firstlineno, const int *lines,
                      size_t nlines, unsigned units_per_entry, uint8_t *out, size_t cap);

/* Bytes a code object with n_code_units 2-byte instructions needs. */
size_t fake_code_size(const struct py_layout *lay, size_t n_code_units);

/* A code object with ob_type = fp->code_type. qualname is used from 3.11
 * (NULL: same as name); linetable is stored as co_lnotab/co_linetable; the
 * bytecode is n_code_units 2-byte units of zeros (co_code up to 3.10,
 * co_code_adaptive after). */
uint64_t fake_code(struct fake_py *fp, const char *name, const char *qualname,
                   const char *filename, int firstlineno, const uint8_t *linetable,
                   size_t linetable_len, size_t n_code_units);
/* The same, written at addr (0: allocate), which must have room for
 * fake_code_size() bytes: a new code object reusing a freed one's address. */
uint64_t fake_code_at(struct fake_py *fp, uint64_t addr, const char *name,
                      const char *qualname, const char *filename, int firstlineno,
                      const uint8_t *linetable, size_t linetable_len, size_t n_code_units);
/* A code object whose line table puts code unit u at line
 * firstlineno + 1 + u / units_per_line (see fake_line_at). */
uint64_t fake_code_lines(struct fake_py *fp, const char *name, const char *qualname,
                         const char *filename, int firstlineno, size_t n_code_units,
                         unsigned units_per_line);
uint64_t fake_code_lines_at(struct fake_py *fp, uint64_t addr, const char *name,
                            const char *qualname, const char *filename, int firstlineno,
                            size_t n_code_units, unsigned units_per_line);
/* The line a frame of a fake_code_lines() object at byte offset offset
 * (as given to fake_frame) should report. */
int fake_line_at(const struct py_layout *lay, int firstlineno, unsigned units_per_line,
                 int offset);

/* A new interpreter, appended to the interpreter list. On 3.12+ it gets
 * its own GIL, unlocked. */
uint64_t fake_interp(struct fake_py *fp);
/* A new thread state, appended to interp's thread list, with no frames. */
uint64_t fake_thread(struct fake_py *fp, uint64_t interp, uint64_t thread_id, pid_t native_tid);
/* Make tstate hold the GIL (0: nobody). Up to 3.11 that is the runtime's
 * tstate_current; from 3.12 interp's own GIL, locked. */
void fake_set_gil(struct fake_py *fp, uint64_t interp, uint64_t tstate);
/* The collector runs (on): interp's flag (3.9+), else the process's. */
void fake_set_collecting(struct fake_py *fp, uint64_t interp, int on);
/* tstate asks for the GIL (3.15+; a no-op before). */
void fake_set_gil_requested(struct fake_py *fp, uint64_t tstate, int on);
/* PyThreadState.state (3.13+: 0 detached, 1 attached, 2 suspended); no-op before. */
void fake_set_thread_state(struct fake_py *fp, uint64_t tstate, int32_t state);

/* Where a pushed frame lives. */
enum fake_where {
    FAKE_FRAME_STACK,       /* 3.11+: on the thread's data stack; before: a frame object */
    FAKE_FRAME_GENERATOR,   /* 3.11+: outside any chunk, owned by a generator */
    FAKE_FRAME_SHIM,        /* 3.12+: C-stack entry frame (owner CSTACK); 0 before */
};

/* Push a frame running code at byte offset `offset` into its bytecode
 * (-1: not started yet) as tstate's new innermost frame. Stack frames go
 * on top of the newest data-stack chunk, a new chunk being pushed when it
 * is full. */
uint64_t fake_frame(struct fake_py *fp, uint64_t tstate, uint64_t code, int offset,
                    enum fake_where where);
/* Push a new, empty data-stack chunk of size bytes (header included). */
uint64_t fake_chunk(struct fake_py *fp, uint64_t tstate, size_t size);
/* Address of the word holding tstate's innermost frame. */
uint64_t fake_frame_slot(struct fake_py *fp, uint64_t tstate);

#endif
