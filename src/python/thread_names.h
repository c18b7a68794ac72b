/* Python-level thread names, read from the threading module's registry.
 *
 * threading._active maps each thread's ident (its pthread_t, the value
 * Python stores in the thread state's thread_id) to its Thread object,
 * whose name attribute is what users set and see. Reading it means
 * following sys.modules -> threading -> _active -> Thread -> _name
 * through dicts and instance attributes whose layout changes with each
 * version; any step that fails leaves that name unknown. */
#ifndef PYTOP_PYTHON_THREAD_NAMES_H
#define PYTOP_PYTHON_THREAD_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "python/walk.h"

#define PY_THREAD_NAME_MAX 64

/* For each idents[i], write its NUL-terminated name into names[i], or ""
 * when unknown. interp is the interpreter whose sys.modules is searched.
 * Returns the number of names found, or a negative error when the
 * registry could not be reached at all. */
int py_thread_names(struct py_walker *w, uint64_t interp, const uint64_t *idents, size_t n,
                    char (*names)[PY_THREAD_NAME_MAX]);

/* The object sys.modules[module].name of interp's target (module by its
 * full dotted name): 0, -ENOENT when the module is not imported,
 * -PT_ERR_BAD_DATA when it has no such global, or a read error. */
int py_module_global(struct py_walker *w, uint64_t interp, const char *module, const char *name,
                     uint64_t *value);

/* The instance attribute name of obj (its __dict__ or inline values),
 * read as the Thread names are: 0, -ENOENT, or an error. */
int py_instance_attr(struct py_walker *w, uint64_t interp, uint64_t obj, const char *name,
                     uint64_t *value);

#endif
