/* libFuzzer target for proc_maps_parse: the input is maps text. Besides
 * not crashing, the result must keep the invariants the rest of pytop
 * relies on: every range non-empty, the list sorted and disjoint, each
 * mapping found by its own first and last byte, and every path a string
 * that fits in the input. */
#include "config.h"

#include "proc/maps.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proc_maps m;
    if (proc_maps_parse((const char *)data, size, &m) != 0)
        return 0;   /* -ENOMEM only */
    for (size_t i = 0; i < m.count; i++) {
        const struct proc_map *p = &m.maps[i];
        if (p->start >= p->end)
            abort();
        if (i > 0 && m.maps[i - 1].end > p->start)
            abort();
        if (proc_maps_find(&m, p->start) != p || proc_maps_find(&m, p->end - 1) != p)
            abort();
        if (!p->path || strlen(p->path) > size)
            abort();
        if (p->perms & ~(unsigned)(PROC_MAP_R | PROC_MAP_W | PROC_MAP_X | PROC_MAP_P))
            abort();
    }
    /* Addresses in gaps and around the list must not be found. */
    for (size_t i = 0; i < m.count; i++) {
        const struct proc_map *p = &m.maps[i];
        int adjacent = i + 1 < m.count && m.maps[i + 1].start == p->end;
        if (!adjacent && proc_maps_find(&m, p->end))
            abort();
    }
    if (m.count > 0 && m.maps[0].start > 0 && proc_maps_find(&m, m.maps[0].start - 1))
        abort();
    proc_maps_release(&m);
    return 0;
}
