#include "config.h"

#include <limits.h>

#include "python/linetable.h"
#include "unit.h"
#include "linetable_fixtures.h"

#define LINE(kind, bytes, first, off) \
    py_linetable_line((kind), (const uint8_t *)(bytes), sizeof(bytes) - 1, (first), (off))

/* Every offset of every real code object must give what the interpreter's
 * own PyCode_Addr2Line() gave: one test point per code object. */
static void test_fixtures(void)
{
    for (size_t i = 0; i < LT_FIXTURE_COUNT; i++) {
        const struct lt_fixture *f = &lt_fixtures[i];
        enum py_linetable_kind kind = py_linetable_kind_for(f->major, f->minor);
        int bad_off = 0, got = 0, want = 0, checked = 0, ok = 1;
        for (size_t r = 0; r < f->nruns && ok; r++) {
            for (int off = f->runs[r].start; off < f->runs[r].end; off++) {
                got = py_linetable_line(kind, f->table, f->table_len, f->firstlineno, off);
                checked++;
                if (got != f->runs[r].line) {
                    ok = 0;
                    bad_off = off;
                    want = f->runs[r].line;
                    break;
                }
            }
        }
        /* The runs must cover -1 .. code_len+3, or the fixture is broken. */
        if (ok && checked != f->code_len + 5)
            ok = 0;
        char what[160];
        snprintf(what, sizeof what, "Python %s %s (firstlineno %d, %d offsets)", f->python,
                 f->name, f->firstlineno, checked);
        CHECK(ok, what);
        if (!ok)
            printf("#   offset %d: got %d, want %d (table %zu bytes)\n", bad_off, got, want,
                   f->table_len);
    }
}

static void test_kind_for(void)
{
    CHECK_INT(py_linetable_kind_for(2, 7), PY_LINETABLE_LNOTAB_UNSIGNED, "2.7 uses unsigned lnotab");
    CHECK_INT(py_linetable_kind_for(3, 5), PY_LINETABLE_LNOTAB_UNSIGNED, "3.5 uses unsigned lnotab");
    CHECK_INT(py_linetable_kind_for(3, 6), PY_LINETABLE_LNOTAB, "3.6 uses signed lnotab");
    CHECK_INT(py_linetable_kind_for(3, 9), PY_LINETABLE_LNOTAB, "3.9 uses signed lnotab");
    CHECK_INT(py_linetable_kind_for(3, 10), PY_LINETABLE_310, "3.10 uses co_linetable");
    CHECK_INT(py_linetable_kind_for(3, 11), PY_LINETABLE_LOCATIONS, "3.11 uses locations");
    CHECK_INT(py_linetable_kind_for(3, 13), PY_LINETABLE_LOCATIONS, "3.13 uses locations");
}

static void test_empty_and_negative(void)
{
    for (int k = PY_LINETABLE_LNOTAB_UNSIGNED; k <= PY_LINETABLE_LOCATIONS; k++) {
        CHECK_INT(py_linetable_line(k, NULL, 0, 42, -1), 42, "offset -1 is co_firstlineno");
        CHECK_INT(py_linetable_line(k, (const uint8_t *)"\xff\xff", 2, 42, INT_MIN), 42,
                  "any negative offset is co_firstlineno");
    }
    /* lnotab has no end: an empty one maps everything to co_firstlineno. */
    CHECK_INT(py_linetable_line(PY_LINETABLE_LNOTAB, NULL, 0, 7, 0), 7, "empty lnotab");
    CHECK_INT(py_linetable_line(PY_LINETABLE_LNOTAB_UNSIGNED, NULL, 5, 7, 100), 7,
              "NULL table is empty");
    CHECK_INT(py_linetable_line(PY_LINETABLE_310, NULL, 0, 7, 0), -1, "empty 3.10 table");
    CHECK_INT(py_linetable_line(PY_LINETABLE_LOCATIONS, NULL, 0, 7, 0), -1, "empty 3.11 table");
    CHECK_INT(py_linetable_line((enum py_linetable_kind)99, (const uint8_t *)"\x02\x01", 2, 7, 0),
              -1, "unknown kind");
}

static void test_lnotab(void)
{
    const int U = PY_LINETABLE_LNOTAB_UNSIGNED, S = PY_LINETABLE_LNOTAB;
    CHECK_INT(LINE(U, "\x00\xff", 10, 0), 265, "unsigned line delta 255");
    CHECK_INT(LINE(S, "\x00\xff", 10, 0), 9, "signed line delta -1");
    CHECK_INT(LINE(S, "\x00\x80", 200, 0), 72, "signed line delta -128");
    /* The entry's line starts at its address: offset 3 is still line 1. */
    CHECK_INT(LINE(S, "\x04\x01\x04\x02", 1, 3), 1, "before first address delta");
    CHECK_INT(LINE(S, "\x04\x01\x04\x02", 1, 4), 2, "at first address delta");
    CHECK_INT(LINE(S, "\x04\x01\x04\x02", 1, 8), 4, "at second address delta");
    CHECK_INT(LINE(S, "\x04\x01\x04\x02", 1, 100000), 4, "past the end keeps the last line");
    CHECK_INT(LINE(S, "\x04\x01\x04", 1, 100), 2, "odd trailing byte ignored");
    CHECK_INT(LINE(S, "\xff\x00\x2d\x05", 1, 299), 1, "split address delta: before");
    CHECK_INT(LINE(S, "\xff\x00\x2d\x05", 1, 300), 6, "split address delta: at");
    CHECK_INT(LINE(U, "\x00\xff\x00\xff", INT_MAX - 300, 0), -1, "line past INT_MAX is garbage");
    CHECK_INT(LINE(S, "\x00\x80\x00\x80", INT_MIN + 200, 0), -1, "line below INT_MIN is garbage");
    CHECK_INT(LINE(U, "\x00\xff", INT_MAX - 300, 0), INT_MAX - 45, "large line still fine");
}

static void test_310(void)
{
    const int K = PY_LINETABLE_310;
    CHECK_INT(LINE(K, "\x02\x00\x04\x01", 5, 0), 5, "3.10 first range");
    CHECK_INT(LINE(K, "\x02\x00\x04\x01", 5, 1), 5, "3.10 odd offset in first range");
    CHECK_INT(LINE(K, "\x02\x00\x04\x01", 5, 2), 6, "3.10 second range");
    CHECK_INT(LINE(K, "\x02\x00\x04\x01", 5, 5), 6, "3.10 end of second range");
    CHECK_INT(LINE(K, "\x02\x00\x04\x01", 5, 6), -1, "3.10 past the table");
    CHECK_INT(LINE(K, "\x02\x80\x02\x01", 5, 0), -1, "3.10 -128 is no line");
    CHECK_INT(LINE(K, "\x02\x80\x02\x01", 5, 2), 6, "3.10 -128 keeps the running line");
    CHECK_INT(LINE(K, "\x00\x03\x02\x01", 5, 0), 9, "3.10 zero-length range still moves the line");
    CHECK_INT(LINE(K, "\x02\x01\x00\x05", 5, 1), 6, "3.10 before a trailing empty range");
    CHECK_INT(LINE(K, "\x02\x01\x00\x05", 5, 2), -1, "3.10 trailing empty range is the end");
    CHECK_INT(LINE(K, "\x00\x05", 5, 0), -1, "3.10 only an empty range");
    CHECK_INT(LINE(K, "\x02\x01\x02", 5, 2), -1, "3.10 half pair is the end");
    CHECK_INT(LINE(K, "\x02\x01\x02", 5, 1), 6, "3.10 half pair after a good one");
}

static void test_locations(void)
{
    const int K = PY_LINETABLE_LOCATIONS;
    /* short form (code 3), 2 code units: same line, columns only */
    CHECK_INT(LINE(K, "\x99\x12", 10, 0), 10, "short form keeps the line");
    CHECK_INT(LINE(K, "\x99\x12", 10, 3), 10, "short form covers 2 units");
    CHECK_INT(LINE(K, "\x99\x12", 10, 4), -1, "past the last entry");
    /* one-line forms: line += code - 10 */
    CHECK_INT(LINE(K, "\xd0\x01\x02\xd8\x01\x02\xe0\x01\x02", 10, 0), 10, "one-line form 0");
    CHECK_INT(LINE(K, "\xd0\x01\x02\xd8\x01\x02\xe0\x01\x02", 10, 2), 11, "one-line form 1");
    CHECK_INT(LINE(K, "\xd0\x01\x02\xd8\x01\x02\xe0\x01\x02", 10, 4), 13, "one-line form 2");
    /* no-column form with svarint deltas: +300 is 600 = 0x58 0x09 */
    CHECK_INT(LINE(K, "\xe8\x58\x09", 1, 0), 301, "no-column form, two-chunk varint");
    CHECK_INT(LINE(K, "\xe8\x0b", 10, 0), 5, "no-column form, negative delta");
    /* long form: line delta, end line delta, column+1, end column+1 */
    CHECK_INT(LINE(K, "\xf0\x75\x07\x02\x01\x48\x03", 1000, 0), 750, "long form, -250");
    /* no location: -1, and the running line does not move */
    CHECK_INT(LINE(K, "\xd8\x01\x02\xf8\xd8\x01\x02", 10, 2), -1, "no-location entry");
    CHECK_INT(LINE(K, "\xd8\x01\x02\xf8\xd8\x01\x02", 10, 4), 12, "after a no-location entry");
    /* Lengths: 3 low bits are units-1, units are 2 bytes. */
    CHECK_INT(LINE(K, "\x87\x00\xd8\x00\x00", 1, 15), 1, "8-unit entry: last byte");
    CHECK_INT(LINE(K, "\x87\x00\xd8\x00\x00", 1, 16), 2, "8-unit entry: next entry");
    /* A six-chunk varint keeps only the bits an unsigned int holds. */
    CHECK_INT(LINE(K, "\xe8\x40\x40\x40\x40\x40\x03", 1, 0), 1 + 0x60000000, "six-chunk varint");
    CHECK_INT(LINE(K, "\xe8\x40\x40\x40\x40\x40\x43\x00", 1, 0), -1, "seven-chunk varint");
    CHECK_INT(LINE(K, "\xe8\x40\x40\x40\x40\x40\x03\xe8\x40\x40\x40\x40\x40\x03", 1, 2), -1,
              "line past INT_MAX is garbage");
    /* A varint cut short by the table end or by the next entry. */
    CHECK_INT(LINE(K, "\x80\x00\xe8\x58", 1, 0), 1, "entry before a cut varint");
    CHECK_INT(LINE(K, "\x80\x00\xe8\x58", 1, 2), -1, "varint cut by the table end");
    CHECK_INT(LINE(K, "\xe8\x58\x80\x00", 1, 0), -1, "varint cut by the next entry");
    CHECK_INT(LINE(K, "\xe8", 1, 0), -1, "no-column entry with no varint");
    /* An opening byte without bit 7 decodes like CPython's release build. */
    CHECK_INT(LINE(K, "\x58\x09", 1, 0), 2, "first byte without bit 7");
    CHECK_INT(LINE(K, "\x78\x80\x00", 1, 0), 1, "0x78 is not the no-location marker");
    CHECK_INT(LINE(K, "\x80\x00", 1, INT_MAX), -1, "offset INT_MAX");
}

int main(void)
{
    UNIT_RUN(test_fixtures);
    UNIT_RUN(test_kind_for);
    UNIT_RUN(test_empty_and_negative);
    UNIT_RUN(test_lnotab);
    UNIT_RUN(test_310);
    UNIT_RUN(test_locations);
    return unit_done();
}
