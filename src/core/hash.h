/* Hashing for pytop's tables: one 64-bit mixer and the hashes built on it,
 * and the capacity rule of the open-addressing tables. */
#ifndef PYTOP_CORE_HASH_H
#define PYTOP_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A bijective finalizer (MurmurHash3's fmix64): every input bit moves
 * every output bit, so keys that differ in a few low bits (tids, ids)
 * spread over the table. */
static inline uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Two words as one key. */
static inline uint64_t hash_pair(uint64_t a, uint64_t b)
{
    return hash_mix64(a ^ hash_mix64(b + 0x9e3779b97f4a7c15ULL));
}

/* len bytes at s, eight at a time. */
static inline uint64_t hash_bytes(const void *s, size_t len)
{
    const unsigned char *p = s;
    uint64_t h = 0x243f6a8885a308d3ULL ^ (uint64_t)len;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }
    return hash_mix64(h);
}

/* FNV-1a: byte at a time, slower than hash_bytes, but its values are
 * fixed forever, so they may show in output (an SVG's colours). */
static inline uint64_t hash_fnv1a(const void *s, size_t len)
{
    const unsigned char *p = s;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The smallest power-of-two capacity, at least 16, that holds n keys at
 * most 3/4 full (the load every table here keeps); 0 when no size_t
 * capacity does. */
static inline size_t hash_cap(size_t n)
{
    size_t cap = 16;
    while (cap - cap / 4 < n) {
        if (cap > SIZE_MAX / 2)
            return 0;
        cap *= 2;
    }
    return cap;
}

#endif
