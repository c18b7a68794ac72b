/* Reading CPython's own _Py_DebugOffsets (3.13+).
 *
 * From 3.13 on, _PyRuntime starts with a table of the offsets an
 * out-of-process reader needs, filled in by the interpreter itself. Reading
 * it lets pytop follow a build whose layout is not exactly the one the
 * generated tables were made from (a patched distribution build, a later
 * micro release). */
#ifndef PYTOP_PYTHON_DEBUG_OFFSETS_H
#define PYTOP_PYTHON_DEBUG_OFFSETS_H

#include <stdint.h>

#include "proc/memsrc.h"
#include "python/layout.h"

/* Bytes of _Py_DebugOffsets in 3.13 (the first read) and in 3.14. */
#define PY_DEBUG_OFFSETS_SIZE_313 584
#define PY_DEBUG_OFFSETS_SIZE_314 760

/* Whether the _Py_DebugOffsets at runtime_addr describe a free-threaded
 * build (Py_GIL_DISABLED): 1, 0, -PT_ERR_BAD_DATA when there is no table
 * there, or a read error. */
int py_debug_offsets_free_threaded(struct mem_source *src, uint64_t runtime_addr);

/* Fill *out from the _Py_DebugOffsets at runtime_addr (the address of
 * _PyRuntime). Returns 0, -PT_ERR_BAD_DATA when the cookie is wrong or an
 * offset is implausible, -PT_ERR_UNSUPPORTED for a version whose table
 * layout pytop does not know (3.15+), or a read error. A free-threaded
 * build's table gives a layout with free_threaded set (and no GIL fields);
 * its fallback should be the free-threaded table of that version.
 * *version_hex gets the version field (e.g. 0x030d00f0) once the cookie
 * matched, else 0. Fields the debug offsets do not carry (stack chunks, dict
 * internals, module dict, compact unicode size, ...) are copied from
 * fallback, the nearest generated table, or are -1 when it is NULL. *out is
 * written only on success. */
int py_debug_offsets_read(struct mem_source *src, uint64_t runtime_addr,
                          const struct py_layout *fallback, struct py_layout *out,
                          uint64_t *version_hex);

#endif
