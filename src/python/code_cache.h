/* Decoded code objects, cached by their address in the target.
 *
 * A code object is read once: its name (co_qualname from 3.11), file name,
 * first line and line table are copied out and kept. Since a freed code
 * object's address can be reused, each frame also checks that its
 * instruction position falls inside the cached bytecode range; a miss
 * there re-reads the object. */
#ifndef PYTOP_PYTHON_CODE_CACHE_H
#define PYTOP_PYTHON_CODE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "proc/memsrc.h"
#include "python/layout.h"

struct py_code_info {
    uint64_t addr;
    uint64_t serial;          /* unique per decoded object, never reused */
    char *name;               /* owned, UTF-8 */
    char *filename;           /* owned, UTF-8 */
    int firstlineno;
    int generator;            /* a generator, coroutine or async generator (up to 3.10) */
    uint8_t *linetable;       /* owned copy of co_lnotab / co_linetable */
    size_t linetable_len;
    uint64_t code_start;      /* remote address of the first instruction */
    uint64_t code_len;        /* bytecode length in bytes */
    /* The last position asked about and its line: most frames sit at the
     * same place from one sample to the next. */
    int64_t memo_offset;
    int memo_line;
    /* What identifies the object: if these fields no longer hold the same
     * values, another code object has been allocated at this address. */
    uint64_t fp_name, fp_filename, fp_table, fp_size;
    int32_t fp_firstline;
    uint64_t epoch;           /* walk in which it was decoded */
    uint64_t checked;         /* walk in which it was last verified */
};

struct py_code_cache {
    struct py_code_info **slots;   /* open addressing by address */
    size_t cap;                    /* power of two */
    size_t count;
    uint64_t next_serial;
    size_t retired;                /* entries forgotten but not yet freed */
    uint64_t epoch;                /* advanced by every trim, i.e. every walk */
    unsigned long hits, misses, evictions;
};

/* Largest line table pytop copies out of a target (and, times 16, the
 * largest bytecode it accepts); strings are bounded by PY_STR_MAX_CHARS. */
#define PY_LINETABLE_MAX (1u << 20)
/* CO_GENERATOR | CO_COROUTINE | CO_ITERABLE_COROUTINE | CO_ASYNC_GENERATOR */
#define PY_CO_GENERATOR_FLAGS 0x3a0u

int py_code_cache_init(struct py_code_cache *c, size_t cap);
void py_code_cache_release(struct py_code_cache *c);

/* Drop everything if the cache is too full. Call only between walks: the
 * pointers handed out by py_code_cache_get stay valid until then. */
void py_code_cache_trim(struct py_code_cache *c);

/* Whether obj, lay->code_size bytes just read from ci->addr, is still the
 * object ci was decoded from. */
int py_code_info_current(const struct py_code_info *ci, const struct py_layout *lay,
                         uint64_t code_type, const uint8_t *obj);

/* Forget one entry (its object was seen to be stale). */
void py_code_cache_forget(struct py_code_cache *c, uint64_t addr);

/* The decoded code object at addr, reading it on a miss. code_type is the
 * target's &PyCode_Type (0 skips the type check). The result is owned by
 * the cache. Returns 0 or a negative error. */
int py_code_cache_get(struct py_code_cache *c, struct mem_source *src,
                      const struct py_layout *lay, uint64_t code_type, uint64_t addr,
                      struct py_code_info **out);

/* Read a bytes (or 2.7 str) object's content into a malloc'd buffer, at
 * most max bytes. */
int py_bytes_read(struct mem_source *src, const struct py_layout *lay, uint64_t addr,
                  size_t max, uint8_t **data, size_t *len);

#endif
