/* Decoding string objects copied out of the target into UTF-8.
 *
 * py_str_read() reads a str (3.x unicode: compact ASCII, UCS1, UCS2, UCS4;
 * 2.7: a byte string or a unicode object) at a remote address and writes at
 * most cap-1 bytes of NUL-terminated UTF-8 into out, validating the type's
 * header fields and bounding every length. Characters that cannot be
 * encoded (lone surrogates) become U+FFFD. */
#ifndef PYTOP_PYTHON_PYSTR_H
#define PYTOP_PYTHON_PYSTR_H

#include <stddef.h>
#include <stdint.h>

#include "proc/memsrc.h"
#include "python/layout.h"

/* Longest string pytop reads from a target, in characters. */
#define PY_STR_MAX_CHARS 4096

/* Returns 0 and the byte length in *out_len (excluding the NUL), or a
 * negative error. out is written only on success; cap must be >= 1. */
int py_str_read(struct mem_source *src, const struct py_layout *lay, uint64_t addr,
                char *out, size_t cap, size_t *out_len);

/* Encode count code points of the given width (1, 2 or 4 bytes each, native
 * byte order) from data into NUL-terminated UTF-8; returns the byte length.
 * Output is truncated at a character boundary to fit cap. */
size_t py_str_encode_utf8(const void *data, size_t count, int width, char *out, size_t cap);

#endif
