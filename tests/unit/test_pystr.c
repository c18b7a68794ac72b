#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "core/error.h"
#include "proc/memsrc.h"
#include "python/layout.h"
#include "python/pystr.h"
#include "unit.h"

/* String objects are built in local buffers with the generated layouts and
 * served through a fake_mem at these made-up addresses. */
#define OBJ_ADDR 0x10000u
#define DATA_ADDR 0x200000u
#define TYPE_ADDR 0x300000u
#define HOLE_ADDR 0x400000u /* never mapped */

#define STATE_COMPACT (1u << 5)
#define STATE_ASCII (1u << 6)
#define STATE_READY (1u << 7)
#define TP_STRING (1ul << 27)
#define TP_UNICODE (1ul << 28)

static uint8_t obj[PY_STR_MAX_CHARS * 4 + 256];
static uint8_t data[PY_STR_MAX_CHARS * 4 + 256];
static uint8_t type_str[176], type_uni[176], type_int[176];

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Sizes and offsets pystr.c relies on, from sizeof/offsetof probes compiled
 * against each version's headers on x86-64; the generated layouts must agree. */
static void test_layout_facts(void)
{
    for (int minor = 6; minor <= 13; minor++) {
        const struct py_layout *l = py_layout_for(3, minor);
        char what[96];
        snprintf(what, sizeof what, "3.%d layout has the string offsets pystr expects", minor);
        int ascii = minor >= 12 ? 40 : 48, compact = minor >= 12 ? 56 : 72;
        CHECK(l && l->unicode_length == 16 && l->unicode_state == 32 &&
              l->unicode_ascii_size == ascii && l->unicode_compact_size == compact &&
              l->object_type == 8 && l->type_flags == 168, what);
    }
    const struct py_layout *l = py_layout_for(2, 7);
    CHECK(l && l->varobject_size == 16 && l->bytes_sval == 36 && l->unicode2_length == 16 &&
          l->unicode2_str == 24 && l->object_type == 8 && l->type_flags == 168,
          "2.7 layout has the string offsets pystr expects");
}

/* A 3.x string object in obj[]; compact ones carry their data inline. */
static size_t build3(const struct py_layout *l, uint32_t state, int64_t length,
                     const void *chars, size_t nbytes)
{
    memset(obj, 0, sizeof obj);
    put64(obj, 1);
    put64(obj + l->object_type, 0xdead0000);
    put64(obj + l->unicode_length, (uint64_t)length);
    put64(obj + 24, (uint64_t)-1);
    if (l->minor < 12)
        state |= STATE_READY;
    put32(obj + l->unicode_state, state);
    size_t at = (state & STATE_COMPACT) ? (size_t)((state & STATE_ASCII) ? l->unicode_ascii_size
                                                                          : l->unicode_compact_size)
                                        : (size_t)l->unicode_compact_size + 8;
    if (!(state & STATE_COMPACT))
        put64(obj + l->unicode_compact_size, DATA_ADDR);
    memcpy(obj + at, chars, nbytes);
    return at + nbytes + 4;
}

struct rd {
    int rc;
    size_t len;
    unsigned long reads;
    char out[PY_STR_MAX_CHARS * 4 + 16];
};

static struct rd rd_cap(const struct py_layout *l, size_t obj_len, size_t data_len, size_t cap)
{
    static struct rd r;
    struct fake_mem m;
    fake_mem_init(&m);
    fake_mem_add(&m, OBJ_ADDR, obj, obj_len);
    fake_mem_add(&m, DATA_ADDR, data, data_len);
    fake_mem_add(&m, TYPE_ADDR, type_str, sizeof type_str);
    fake_mem_add(&m, TYPE_ADDR + 0x1000, type_uni, sizeof type_uni);
    fake_mem_add(&m, TYPE_ADDR + 0x2000, type_int, sizeof type_int);
    memset(r.out, 'Z', sizeof r.out);
    r.len = 12345;
    r.rc = py_str_read(&m.base, l, OBJ_ADDR, r.out, cap, &r.len);
    r.reads = m.base.reads;
    return r;
}

static struct rd rd(const struct py_layout *l, size_t obj_len)
{
    return rd_cap(l, obj_len, sizeof data, sizeof ((struct rd *)0)->out);
}

static void check_ok(struct rd r, const char *want, size_t want_len, const char *what)
{
    int ok = r.rc == 0 && r.len == want_len && memcmp(r.out, want, want_len + 1) == 0;
    CHECK(ok, what);
    if (!ok)
        printf("#   rc %d, len %zu (want %zu), out \"%.*s\"\n", r.rc, r.len, want_len,
               (int)(r.len < 64 ? r.len : 64), r.out);
}

static void check_err(struct rd r, int want, const char *what)
{
    int ok = r.rc == want && r.out[0] == 'Z' && r.len == 12345;
    CHECK(ok, what);
    if (!ok)
        printf("#   rc %d (%s), want %d (%s)\n", r.rc, pt_strerror(r.rc), want, pt_strerror(want));
}

#define OK(r, lit, what) check_ok((r), (lit), sizeof(lit) - 1, (what))

static void test_py3_one(const struct py_layout *l)
{
    char w[128];
#define W(s) (snprintf(w, sizeof w, "3.%d: %s", l->minor, (s)), w)
    size_t n;
    struct rd r;

    n = build3(l, STATE_COMPACT | STATE_ASCII | (1 << 2), 5, "hello", 6);
    r = rd(l, n);
    OK(r, "hello", W("compact ASCII"));
    CHECK_INT(r.reads, 2, W("one read for the header, one for the data"));

    n = build3(l, STATE_COMPACT | STATE_ASCII | (1 << 2), 0, "", 1);
    r = rd(l, n);
    OK(r, "", W("empty string"));
    CHECK_INT(r.reads, 1, W("empty string needs no data read"));

    n = build3(l, STATE_COMPACT | (1 << 2), 4, "caf\xe9", 5);
    OK(rd(l, n), "caf\xc3\xa9", W("compact UCS1 (Latin-1)"));

    const uint16_t cjk[] = { 0x65E5, 0x672C, 0x8A9E, 0 };
    n = build3(l, STATE_COMPACT | (2 << 2), 3, cjk, sizeof cjk);
    OK(rd(l, n), "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", W("compact UCS2 (CJK)"));
    OK(rd_cap(l, n, 0, 7), "\xe6\x97\xa5\xe6\x9c\xac", W("UCS2 cut at a character boundary"));
    OK(rd_cap(l, n, 0, 6), "\xe6\x97\xa5", W("UCS2 cut leaves no partial character"));
    OK(rd_cap(l, n, 0, 1), "", W("cap 1 gives the empty string"));

    const uint32_t emoji[] = { 'a', 0x1F600, 0 };
    n = build3(l, STATE_COMPACT | (4 << 2), 2, emoji, sizeof emoji);
    OK(rd(l, n), "a\xf0\x9f\x98\x80", W("compact UCS4 (emoji)"));

    const uint16_t lone[] = { 0xD800, 'x', 0xDC80, 0 };
    n = build3(l, STATE_COMPACT | (2 << 2), 3, lone, sizeof lone);
    OK(rd(l, n), "\xef\xbf\xbdx\xef\xbf\xbd", W("lone surrogates become U+FFFD"));

    /* Legacy (non-compact) string: the data lives elsewhere. */
    const uint16_t legacy[] = { 'o', 0xF6, 0x263A };
    memcpy(data, legacy, sizeof legacy);
    n = build3(l, 2 << 2, 3, "", 0);
    r = rd(l, n);
    OK(r, "o\xc3\xb6\xe2\x98\xba", W("non-compact string via its data pointer"));
    put64(obj + l->unicode_compact_size, 0);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, W("non-compact string with NULL data"));
    put64(obj + l->unicode_compact_size, HOLE_ADDR);
    check_err(rd(l, n), -EFAULT, W("non-compact string with unmapped data"));
    check_err(rd(l, (size_t)l->unicode_ascii_size), -EFAULT,
              W("non-compact string cut before its data pointer"));

    /* Header garbage */
    n = build3(l, STATE_COMPACT | STATE_ASCII | (0 << 2), 3, "abc", 4);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, W("kind 0 (wchar_t, not ready) refused"));
    n = build3(l, STATE_COMPACT | (3 << 2), 3, "abc", 4);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, W("kind 3 refused"));
    n = build3(l, STATE_COMPACT | STATE_ASCII | (2 << 2), 3, "abc", 4);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, W("ASCII with 2-byte kind refused"));
    n = build3(l, STATE_COMPACT | STATE_ASCII | (1 << 2), -1, "abc", 4);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, W("negative length refused"));
    n = build3(l, STATE_COMPACT | STATE_ASCII | (1 << 2), 3, "abc", 4);
    check_err(rd(l, (size_t)l->unicode_ascii_size - 1), -EFAULT, W("truncated header"));
    check_err(rd(l, (size_t)l->unicode_ascii_size + 2), -EFAULT, W("data past the mapping"));
    put32(obj + l->unicode_state, STATE_COMPACT | STATE_ASCII | (1 << 2));
    if (l->minor < 12)
        check_err(rd(l, n), -PT_ERR_BAD_DATA, W("not ready refused before 3.12"));
    else
        OK(rd(l, n), "abc", W("bit 7 (statically_allocated) ignored from 3.12"));
    put32(obj + l->unicode_state, STATE_COMPACT | STATE_ASCII | STATE_READY | (1 << 2) |
                                      0xffffff00u | 3u);
    OK(rd(l, n), "abc", W("interned bits and padding ignored"));

    /* Lengths beyond the cap read only PY_STR_MAX_CHARS characters. */
    char big[PY_STR_MAX_CHARS + 1];
    memset(big, 'q', sizeof big);
    n = build3(l, STATE_COMPACT | STATE_ASCII | (1 << 2), PY_STR_MAX_CHARS + 100, big, sizeof big);
    r = rd(l, n);
    CHECK(r.rc == 0 && r.len == PY_STR_MAX_CHARS && r.out[PY_STR_MAX_CHARS] == '\0',
          W("length beyond PY_STR_MAX_CHARS is cut to it"));
    put64(obj + l->unicode_length, (uint64_t)1 << 62);
    r = rd(l, n);
    CHECK(r.rc == 0 && r.len == PY_STR_MAX_CHARS, W("absurd length is cut too"));
    put64(obj + l->unicode_length, (uint64_t)1 << 63);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, W("length with the sign bit refused"));
#undef W
}

static void test_py3(void)
{
    for (int minor = 6; minor <= 13; minor++) {
        const struct py_layout *l = py_layout_for(3, minor);
        if (l)
            test_py3_one(l);
    }
}

/* A 2.7 PyStringObject in obj[]. */
static size_t build_str(const struct py_layout *l, uint64_t type, int64_t size, const void *bytes)
{
    memset(obj, 0, sizeof obj);
    put64(obj, 1);
    put64(obj + l->object_type, type);
    put64(obj + l->varobject_size, (uint64_t)size);
    put64(obj + 24, (uint64_t)-1);
    if (size > 0)
        memcpy(obj + l->bytes_sval, bytes, (size_t)size);
    return (size_t)l->bytes_sval + (size > 0 ? (size_t)size : 0) + 1;
}

static size_t build_uni(const struct py_layout *l, int64_t length, const uint32_t *chars)
{
    memset(obj, 0, sizeof obj);
    put64(obj, 1);
    put64(obj + l->object_type, TYPE_ADDR + 0x1000);
    put64(obj + l->unicode2_length, (uint64_t)length);
    put64(obj + l->unicode2_str, DATA_ADDR);
    if (length > 0)
        memcpy(data, chars, (size_t)length * 4);
    return 48;
}

static void test_py2(void)
{
    const struct py_layout *l = py_layout_for(2, 7);
    if (!l)
        return;
    struct py_layout notype = *l;
    notype.type_flags = -1;
    size_t n;
    struct rd r;

    n = build_str(l, TYPE_ADDR, 5, "hello");
    r = rd(l, n);
    OK(r, "hello", "2.7 str");
    CHECK_INT(r.reads, 3, "2.7 str: header, type flags, data");
    OK(rd(&notype, n), "hello", "2.7 str without type_flags in the layout");
    n = build_str(l, TYPE_ADDR, 0, "");
    OK(rd(l, n), "", "2.7 empty str");
    n = build_str(l, TYPE_ADDR, 5, "caf\xc3\xa9");
    OK(rd(l, n), "caf\xc3\xa9", "2.7 str holding UTF-8 is kept");
    n = build_str(l, TYPE_ADDR, 4, "caf\xe9");
    OK(rd(l, n), "caf\xc3\xa9", "2.7 str holding Latin-1 is converted");
    n = build_str(l, TYPE_ADDR, 4, "abc\xc3");
    OK(rd(l, n), "abc\xc3\x83", "2.7 str ending in half a UTF-8 sequence is Latin-1");
    n = build_str(l, TYPE_ADDR, 5, "\xed\xa0\x80xy");
    OK(rd(l, n), "\xc3\xad\xc2\xa0\xc2\x80xy", "2.7 str with an encoded surrogate is Latin-1");
    n = build_str(l, TYPE_ADDR, 4, "\xc0\xafzz");
    OK(rd(l, n), "\xc3\x80\xc2\xafzz", "2.7 str with an overlong sequence is Latin-1");
    n = build_str(l, TYPE_ADDR, 5, "caf\xc3\xa9");
    OK(rd_cap(l, n, 0, 5), "caf", "2.7 UTF-8 str cut at a character boundary");

    /* Longer than the cap: a sequence broken by the cut is dropped. */
    static char big[PY_STR_MAX_CHARS + 8];
    memset(big, 'a', sizeof big);
    big[PY_STR_MAX_CHARS - 1] = '\xc3';
    big[PY_STR_MAX_CHARS] = '\xa9';
    n = build_str(l, TYPE_ADDR, PY_STR_MAX_CHARS + 8, big);
    r = rd(l, n);
    CHECK(r.rc == 0 && r.len == PY_STR_MAX_CHARS - 1 && r.out[r.len] == '\0' &&
              r.out[r.len - 1] == 'a',
          "2.7 str beyond the cap cut, broken sequence dropped");
    put64(obj + l->varobject_size, (uint64_t)1 << 40);
    r = rd(l, n);
    CHECK(r.rc == 0 && r.len == PY_STR_MAX_CHARS - 1, "2.7 absurd str size is cut");

    n = build_str(l, TYPE_ADDR, -3, "");
    check_err(rd(l, n), -PT_ERR_BAD_DATA, "2.7 negative str size");
    n = build_str(l, TYPE_ADDR, 3, "abc");
    check_err(rd(l, 20), -EFAULT, "2.7 truncated header");
    check_err(rd(l, (size_t)l->bytes_sval + 1), -EFAULT, "2.7 str data past the mapping");
    n = build_str(l, TYPE_ADDR + 0x2000, 3, "abc");
    check_err(rd(l, n), -PT_ERR_BAD_DATA, "2.7 neither str nor unicode");
    n = build_str(l, 0, 3, "abc");
    check_err(rd(l, n), -PT_ERR_BAD_DATA, "2.7 NULL ob_type");
    n = build_str(l, HOLE_ADDR, 3, "abc");
    check_err(rd(l, n), -EFAULT, "2.7 unmapped ob_type");

    const uint32_t u[] = { 'h', 0xE9, 0x65E5, 0x1F600 };
    n = build_uni(l, 4, u);
    OK(rd(l, n), "h\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", "2.7 unicode (UCS4)");
    const uint32_t pair[] = { 0xD83D, 0xDE00, 0xDC00 };
    n = build_uni(l, 3, pair);
    OK(rd(l, n), "\xf0\x9f\x98\x80\xef\xbf\xbd", "2.7 unicode surrogate pair joined, lone one replaced");
    n = build_uni(l, 0, u);
    put64(obj + l->unicode2_str, 0);
    OK(rd(l, n), "", "2.7 empty unicode");
    n = build_uni(l, 2, u);
    put64(obj + l->unicode2_str, 0);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, "2.7 unicode with NULL buffer");
    n = build_uni(l, 2, u);
    put64(obj + l->unicode2_str, HOLE_ADDR);
    check_err(rd(l, n), -EFAULT, "2.7 unicode with unmapped buffer");
    n = build_uni(l, -1, u);
    check_err(rd(l, n), -PT_ERR_BAD_DATA, "2.7 unicode with negative length");
}

static void test_args(void)
{
    const struct py_layout *l = py_layout_for(3, 12);
    struct py_layout bad;
    char out[8];
    size_t len;
    struct fake_mem m;
    fake_mem_init(&m);
    CHECK_INT(py_str_read(&m.base, l, OBJ_ADDR, out, 0, &len), -EINVAL, "cap 0 refused");
    CHECK_INT(py_str_read(&m.base, NULL, OBJ_ADDR, out, 8, &len), -EINVAL, "NULL layout refused");
    CHECK_INT(py_str_read(&m.base, l, 0, out, 8, &len), -PT_ERR_BAD_DATA, "NULL object");
    memset(&bad, 0xff, sizeof bad);
    bad.major = 3;
    bad.minor = 12;
    CHECK_INT(py_str_read(&m.base, &bad, OBJ_ADDR, out, 8, &len), -PT_ERR_UNSUPPORTED,
              "layout without string offsets");
    bad.major = 4;
    CHECK_INT(py_str_read(&m.base, &bad, OBJ_ADDR, out, 8, &len), -PT_ERR_UNSUPPORTED,
              "unknown major version");
}

static int enc(const void *d, size_t count, int width, size_t cap, const char *want, size_t want_len)
{
    char out[64];
    memset(out, 'Z', sizeof out);
    size_t n = py_str_encode_utf8(d, count, width, out, cap);
    int ok = n == want_len && memcmp(out, want, want_len) == 0 && out[n] == '\0' &&
             (cap >= sizeof out || out[cap] == 'Z');
    if (!ok)
        printf("#   got %zu bytes \"%.*s\"\n", n, (int)n, out);
    return ok;
}

#define ENC(d, count, width, cap, lit, what) \
    CHECK(enc((d), (count), (width), (cap), (lit), sizeof(lit) - 1), (what))

static void test_encode(void)
{
    const uint8_t l1[] = { 'A', 0x80, 0xFF, 0x00, 'z' };
    ENC(l1, 5, 1, 64, "A\xc2\x80\xc3\xbf\0z", "width 1 is Latin-1, NUL kept");
    const uint16_t s[] = { 0xD83D, 0xDE00, 0xD83D, 'x', 0xDE00, 0xD800 };
    ENC(s, 6, 2, 64, "\xf0\x9f\x98\x80\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd",
        "width 2: pair joined, lone halves replaced");
    const uint32_t w[] = { 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF, 0x110000, 0xFFFFFFFF };
    ENC(w, 9, 4, 64,
        "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"
        "\xef\xbf\xbd\xef\xbf\xbd",
        "width 4: every encoding length, out-of-range replaced");
    ENC(w + 5, 1, 4, 4, "", "4-byte character needs 5 bytes of cap");
    ENC(w + 5, 1, 4, 5, "\xf0\x90\x80\x80", "4-byte character fits in cap 5");
    ENC(s, 2, 2, 4, "", "joined pair does not fit");
    ENC(w, 1, 3, 64, "", "width 3 refused");
    ENC(NULL, 0, 1, 64, "", "no characters");
    ENC(NULL, 3, 1, 64, "", "NULL data refused");
    uint8_t un[9] = { 0 };
    uint32_t e = 0x1F600;
    memcpy(un + 1, &e, 4);
    ENC(un + 1, 1, 4, 64, "\xf0\x9f\x98\x80", "unaligned data");
    char zero = 'Z';
    CHECK_INT(py_str_encode_utf8(w, 1, 4, &zero, 0), 0, "cap 0 writes nothing");
    CHECK_INT(zero, 'Z', "cap 0 leaves out alone");
}

int main(void)
{
    memset(type_str, 0, sizeof type_str);
    memset(type_uni, 0, sizeof type_uni);
    memset(type_int, 0, sizeof type_int);
    put64(type_str + 168, TP_STRING | (1ul << 9));
    put64(type_uni + 168, TP_UNICODE | (1ul << 9));
    put64(type_int + 168, (1ul << 23) | (1ul << 9));
    UNIT_RUN(test_layout_facts);
    UNIT_RUN(test_py3);
    UNIT_RUN(test_py2);
    UNIT_RUN(test_args);
    UNIT_RUN(test_encode);
    return unit_done();
}
