#include "config.h"

#include "core/vec.h"

#include <stdint.h>
#include <stdlib.h>

void *vec_grow_to(void *items, size_t *cap, size_t need, size_t size, size_t min_cap)
{
    if (need == 0)
        need = 1;
    if (items && need <= *cap)
        return items;
    size_t c = *cap > min_cap ? *cap : min_cap ? min_cap : 1;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return NULL;
        c *= 2;
    }
    if (!size || c > SIZE_MAX / size)
        return NULL;
    void *v = realloc(items, c * size);
    if (!v)
        return NULL;
    *cap = c;
    return v;
}
