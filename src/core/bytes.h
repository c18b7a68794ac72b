/* Reading fields out of byte buffers copied from a target, without
 * alignment or aliasing assumptions. */
#ifndef PYTOP_CORE_BYTES_H
#define PYTOP_CORE_BYTES_H

#include <stdint.h>
#include <string.h>

static inline uint64_t bytes_u64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t bytes_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int32_t bytes_i32(const void *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#endif
