#include "config.h"

#include "python/linetable.h"

#include <limits.h>

/* Each decoder mirrors the walk CPython's PyCode_Addr2Line() does for that
 * version, so pytop reports exactly the line a traceback or f_lineno would.
 * Where CPython relies on the table being well formed (asserts, or reading
 * past the end), we stop at the end of the buffer and answer -1 instead. */

enum py_linetable_kind py_linetable_kind_for(int major, int minor)
{
    if (major < 3 || (major == 3 && minor < 6))
        return PY_LINETABLE_LNOTAB_UNSIGNED;
    if (major == 3 && minor < 10)
        return PY_LINETABLE_LNOTAB;
    if (major == 3 && minor == 10)
        return PY_LINETABLE_310;
    return PY_LINETABLE_LOCATIONS;
}

static int to_line(int64_t line)
{
    /* A line outside int range only comes from a garbage table. */
    if (line < INT_MIN || line > INT_MAX)
        return -1;
    return (int)line;
}

/* co_lnotab: (address delta, line delta) byte pairs; a trailing odd byte is
 * ignored, as CPython does (size = len / 2). The line applies from the
 * entry's address up to the next entry's, and an offset past the last entry
 * keeps the last line: the table never "ends". */
static int lnotab_line(const uint8_t *t, size_t len, int firstlineno, int off, int is_signed)
{
    int64_t line = firstlineno;
    int64_t addr = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        addr += t[i];
        if (addr > off)
            break;
        line += is_signed ? (int8_t)t[i + 1] : t[i + 1];
        /* Unbounded tables could overflow int64 only after ~2^56 pairs; the
         * check keeps the result meaningful long before that. */
        if (line < INT_MIN || line > INT_MAX)
            return -1;
    }
    return to_line(line);
}

/* 3.10 co_linetable: (unsigned byte-offset delta, signed line delta) pairs,
 * line delta -128 meaning "no line" without moving the running line.
 * Zero-length ranges are skipped (their line delta still counts), and an
 * offset beyond the last range has no line. */
static int linetable310_line(const uint8_t *t, size_t len, int firstlineno, int off)
{
    int64_t computed = firstlineno;
    int64_t start, end = 0;
    int64_t line = -1;
    size_t i = 0;
    while (end <= off) {
        do {
            /* CPython asserts here; a half pair counts as the end too. */
            if (len - i < 2)
                return -1;
            start = end;
            end += t[i];
            int ldelta = (int8_t)t[i + 1];
            i += 2;
            if (ldelta == -128) {
                line = -1;
            } else {
                computed += ldelta;
                if (computed < INT_MIN || computed > INT_MAX)
                    return -1;
                line = computed;
            }
        } while (start == end);
    }
    return to_line(line);
}

/* Location-table codes (Objects/locations.md). */
enum {
    LOC_ONE_LINE0 = 10,
    LOC_ONE_LINE1 = 11,
    LOC_ONE_LINE2 = 12,
    LOC_NO_COLUMNS = 13,
    LOC_LONG = 14,
    LOC_NONE = 15,
};

/* A signed varint inside one entry's bytes [p, lim). CPython reads 6-bit
 * chunks into an unsigned int while bit 6 is set; six chunks reach bit 35,
 * of which the unsigned int keeps bits 0-31, so we do the same and call a
 * longer (or unterminated) varint malformed. */
static int read_svarint(const uint8_t *p, const uint8_t *lim, int64_t *out)
{
    uint32_t val = 0;
    unsigned shift = 0;
    for (;;) {
        if (p >= lim || shift > 30)
            return -1;
        uint8_t b = *p++;
        val |= (uint32_t)(b & 63) << shift;
        if (!(b & 64))
            break;
        shift += 6;
    }
    *out = (val & 1) ? -(int64_t)(val >> 1) : (int64_t)(val >> 1);
    return 0;
}

/* 3.11+ location table: each entry starts with a byte with bit 7 set
 * (bits 3-6 code, bits 0-2 length-1 in 2-byte code units) and runs to the
 * next such byte. Only the start line matters here: it moves for the
 * one-line forms (code-10), the no-column and long forms (leading svarint),
 * and the "no location" code keeps the running line but reports -1. Like
 * CPython, an entry start without bit 7 is decoded as if it had it, except
 * that it cannot be the no-location marker. */
static int locations_line(const uint8_t *t, size_t len, int firstlineno, int off)
{
    int64_t line = firstlineno;
    int64_t end = 0;
    size_t i = 0;
    while (i < len) {
        uint8_t first = t[i];
        size_t next = i + 1;
        while (next < len && !(t[next] & 0x80))
            next++;
        int code = (first >> 3) & 15;
        int64_t delta = 0;
        if (code == LOC_NO_COLUMNS || code == LOC_LONG) {
            if (read_svarint(t + i + 1, t + next, &delta) < 0)
                return -1;
        } else if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2) {
            delta = code - LOC_ONE_LINE0;
        }
        line += delta;
        if (line < INT_MIN || line > INT_MAX)
            return -1;
        end += ((first & 7) + 1) * 2;
        if (off < end)
            return (first >> 3) == 0x1f ? -1 : (int)line;
        i = next;
    }
    return -1;
}

int py_linetable_line(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                      int firstlineno, int byte_offset)
{
    /* Every version answers co_firstlineno for a frame that has not run an
     * instruction yet (f_lasti == -1). */
    if (byte_offset < 0)
        return firstlineno;
    if (!table)
        len = 0;
    switch (kind) {
    case PY_LINETABLE_LNOTAB_UNSIGNED:
        return lnotab_line(table, len, firstlineno, byte_offset, 0);
    case PY_LINETABLE_LNOTAB:
        return lnotab_line(table, len, firstlineno, byte_offset, 1);
    case PY_LINETABLE_310:
        return linetable310_line(table, len, firstlineno, byte_offset);
    case PY_LINETABLE_LOCATIONS:
        return locations_line(table, len, firstlineno, byte_offset);
    }
    return -1;
}
