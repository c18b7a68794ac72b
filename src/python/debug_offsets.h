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

/* The largest _Py_DebugOffsets accepted (3.15's is 888 bytes). */
#define PY_DEBUG_OFFSETS_MAX 4096

/* Whether the _Py_DebugOffsets at runtime_addr describe a free-threaded
 * build (Py_GIL_DISABLED): 1, 0, -PT_ERR_BAD_DATA when there is no table
 * there, or a read error. */
int py_debug_offsets_free_threaded(struct mem_source *src, uint64_t runtime_addr);

/* Fill *out from the _Py_DebugOffsets at runtime_addr (the address of
 * _PyRuntime), decoded through the table layout generated for the version
 * it names (py_debug_layout_for). micro is the target's micro release, or
 * -1 when unknown. Returns 0; -PT_ERR_BAD_DATA when the cookie is wrong or
 * an offset is implausible; -PT_ERR_TOO_NEW for a version newer than
 * pytop's tables; or a read error. A free-threaded build's table gives a
 * layout with free_threaded set (see fill_free_threaded), its other fields
 * taken from that version's free-threaded tables only. *version_hex gets the version field (e.g. 0x030d00f0) once the
 * cookie matched, else 0. Fields the debug offsets do not carry (stack
 * chunks, dict internals, module dict, ...) come from the generated X.Y
 * table nearest micro; the GC and pymalloc fields only from a table whose
 * sizeof(PyInterpreterState) is the target's (else -1: those counters are
 * unavailable). *out is written only on success. */
int py_debug_offsets_read(struct mem_source *src, uint64_t runtime_addr, int micro,
                          struct py_layout *out, uint64_t *version_hex);

/* sizeof(PyInterpreterState) as the target's own table gives it, to pick
 * the generated table made for that very build (py_layout_match) when
 * pytop's tables are used instead of the debug offsets. 0 or an error. */
int py_debug_offsets_interp_size(struct mem_source *src, uint64_t runtime_addr, int *size);

#endif
