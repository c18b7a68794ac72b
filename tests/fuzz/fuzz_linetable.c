/* Fuzz the line-table decoders.
 *
 * Input: byte 0 picks the table kind (low 2 bits), bytes 1-4 co_firstlineno
 * (int32 LE), bytes 5-6 a byte offset (uint16 LE); the rest is the table,
 * left at the very end of the input buffer so any overread is caught by
 * ASan. Besides not crashing, every answer must agree with a second, much
 * plainer decoder below that first expands the whole table into address
 * ranges, and negative offsets must give co_firstlineno. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define MAX_RANGES 8192
#define NOT_LINE INT64_MIN /* marks a range whose line went out of int range */

struct range {
    int64_t start, end, line;
};

static struct range ranges[MAX_RANGES];
static size_t nranges;

static void add(int64_t start, int64_t end, int64_t line)
{
    if (nranges < MAX_RANGES && end > start) {
        ranges[nranges].start = start;
        ranges[nranges].end = end;
        ranges[nranges].line = line;
        nranges++;
    }
}

static int64_t checked(int64_t line, int *broken)
{
    if (line < INT_MIN || line > INT_MAX)
        *broken = 1;
    return *broken ? NOT_LINE : line;
}

/* Expand the whole table into ranges; a range's line is NOT_LINE once the
 * running line has left int range (or the table went bad), for good. */
static void expand(int kind, const uint8_t *t, size_t len, int first)
{
    nranges = 0;
    int broken = 0;
    if (kind <= 1) {
        /* Pairs: line applies from the accumulated address onward. */
        int64_t addr = 0, line = first, from = 0;
        for (size_t i = 0; i + 1 < len; i += 2) {
            addr += t[i];
            add(from, addr, checked(line, &broken));
            from = addr;
            line += kind == 0 ? t[i + 1] : (int8_t)t[i + 1];
            if (line < INT_MIN || line > INT_MAX)
                broken = 1;
        }
        /* lnotab has no end: the last line runs on forever. */
        add(from, INT64_MAX, checked(line, &broken));
    } else if (kind == 2) {
        int64_t addr = 0, line = first;
        for (size_t i = 0; i + 1 < len; i += 2) {
            int8_t ld = (int8_t)t[i + 1];
            if (ld != -128)
                line += ld;
            if (line < INT_MIN || line > INT_MAX)
                broken = 1;
            add(addr, addr + t[i], ld == -128 && !broken ? -1 : checked(line, &broken));
            addr += t[i];
        }
    } else {
        int64_t addr = 0, line = first;
        size_t i = 0;
        while (i < len) {
            size_t j = i + 1;
            while (j < len && t[j] < 0x80)
                j++;
            int code = (t[i] >> 3) & 15;
            int64_t delta = 0;
            if (code == 13 || code == 14) {
                uint32_t v = 0;
                size_t k = i + 1;
                int ok = 0;
                for (int chunk = 0; chunk < 6 && k < j; chunk++, k++) {
                    v |= (uint32_t)(t[k] & 63) << (6 * chunk);
                    if (!(t[k] & 64)) {
                        ok = 1;
                        break;
                    }
                }
                if (!ok)
                    broken = 1;
                delta = (v & 1) ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
            } else if (code >= 10 && code <= 12) {
                delta = code - 10;
            }
            line += delta;
            if (line < INT_MIN || line > INT_MAX)
                broken = 1;
            int64_t units = (t[i] & 7) + 1;
            add(addr, addr + 2 * units, t[i] >= 0xf8 && !broken ? -1 : checked(line, &broken));
            addr += 2 * units;
            i = j;
        }
    }
}

/* Ranges come out sorted and disjoint: binary search for the last range
 * starting at or before off (a linear scan made the fuzzer 3x slower). */
static int64_t lookup(int64_t off)
{
    size_t lo = 0, hi = nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ranges[mid].start <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || off >= ranges[lo - 1].end)
        return -1;
    return ranges[lo - 1].line == NOT_LINE ? -1 : ranges[lo - 1].line;
}

static void check(int kind, const uint8_t *t, size_t len, int first, int off)
{
    int got = py_linetable_line((enum py_linetable_kind)kind, t, len, first, off);
    int64_t want = lookup(off);
    if (got != want) {
        fprintf(stderr, "kind %d first %d offset %d: got %d, reference %lld\n", kind, first,
                off, got, (long long)want);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 7)
        return 0;
    int kind = d[0] & 3;
    int32_t first;
    memcpy(&first, d + 1, 4);
    int off = d[5] | (d[6] << 8);
    const uint8_t *t = d + 7;
    size_t len = n - 7;

    if (py_linetable_line((enum py_linetable_kind)kind, t, len, first, -1) != first ||
        py_linetable_line((enum py_linetable_kind)kind, t, len, first, INT_MIN) != first)
        abort();
    /* Kinds out of range are refused, not decoded. */
    if (py_linetable_line((enum py_linetable_kind)(4 + (d[0] >> 2)), t, len, first, off) != -1)
        abort();

    /* The reference only covers tables whose ranges all fit; that is
     * every table the fuzzer makes (at most one range per byte). */
    expand(kind, t, len, first);
    if (nranges >= MAX_RANGES)
        return 0;
    check(kind, t, len, first, off);
    check(kind, t, len, first, INT_MAX);
    /* Both edges of up to 32 ranges, spread over the table. */
    size_t step = nranges / 32 + 1;
    for (size_t r = 0; r < nranges; r += step) {
        if (ranges[r].start <= INT_MAX)
            check(kind, t, len, first, (int)ranges[r].start);
        if (ranges[r].end - 1 <= INT_MAX)
            check(kind, t, len, first, (int)(ranges[r].end - 1));
        if (ranges[r].end <= INT_MAX)
            check(kind, t, len, first, (int)ranges[r].end);
    }
    return 0;
}
