/* Line numbers from a code object's line table.
 *
 * Pure functions over bytes copied out of the target: they never read
 * remote memory, bound every loop by the input length, and return -1 for a
 * table that does not cover the offset or is malformed. Offsets are in
 * bytes from the start of the bytecode. */
#ifndef PYTOP_PYTHON_LINETABLE_H
#define PYTOP_PYTHON_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

enum py_linetable_kind {
    PY_LINETABLE_LNOTAB_UNSIGNED, /* co_lnotab, 2.7 to 3.5: unsigned line deltas */
    PY_LINETABLE_LNOTAB,          /* co_lnotab, 3.6 to 3.9: signed line deltas */
    PY_LINETABLE_310,             /* co_linetable, 3.10 */
    PY_LINETABLE_LOCATIONS,       /* co_linetable location table, 3.11+ */
};

/* The table kind a given CPython version uses. */
enum py_linetable_kind py_linetable_kind_for(int major, int minor);

/* The line executing at byte_offset, or -1. */
int py_linetable_line(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                      int firstlineno, int byte_offset);

#endif
