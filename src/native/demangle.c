#include "config.h"

#include "native/demangle.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_CXA_DEMANGLE
/* libstdc++'s demangler, declared here so that C code can call it. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);
#endif

char *native_demangle(const char *name)
{
    /* Only "_Z..." names are mangled; everything else (C symbols) is
     * returned as it is by the caller without a call into libstdc++. */
    if (!name || strncmp(name, "_Z", 2) != 0)
        return NULL;
#ifdef HAVE_CXA_DEMANGLE
    int status = 0;
    char *out = __cxa_demangle(name, NULL, NULL, &status);
    if (status != 0) {
        free(out);
        return NULL;
    }
    return out;
#else
    return NULL;
#endif
}
