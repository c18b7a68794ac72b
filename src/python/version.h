/* Identifying the CPython version of a target. */
#ifndef PYTOP_PYTHON_VERSION_H
#define PYTOP_PYTHON_VERSION_H

#include <stddef.h>
#include <stdint.h>

struct py_version {
    int major, minor, micro;   /* micro is -1 when unknown */
    char text[32];             /* "3.12.1", or "3.9" when micro is unknown */
};

/* From Py_Version / PY_VERSION_HEX (3.11+): 0x030c01f0 -> 3.12.1. */
int py_version_from_hex(uint64_t hex, struct py_version *out);

/* From a file name: libpython3.9.so.1.0, libpython3.6m.so, python2.7,
 * python3.11 -> X.Y with micro unknown. -PT_ERR_NOT_PYTHON if none. */
int py_version_from_filename(const char *path, struct py_version *out);

/* Search memory copied from the target (its .data/.bss) for the buffer
 * Py_GetVersion() fills at start-up: "X.Y.Z (...". When want_major is not
 * 0, only X.want_minor matches. Returns 0 or -PT_ERR_NOT_PYTHON. */
int py_version_from_memory(const uint8_t *data, size_t len, int want_major, int want_minor,
                           struct py_version *out);

#endif
