#include "config.h"

#include "python/thread_names.h"

#include "core/error.h"

#include <string.h>

/* Until the registry reader lands, every name is unknown. */
int py_thread_names(struct py_walker *w, uint64_t interp, const uint64_t *idents, size_t n,
                    char (*names)[PY_THREAD_NAME_MAX])
{
    (void)w; (void)interp; (void)idents;
    for (size_t i = 0; i < n; i++)
        names[i][0] = '\0';
    return -PT_ERR_UNSUPPORTED;
}
