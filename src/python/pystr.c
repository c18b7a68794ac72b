#include "config.h"

#include "python/pystr.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "core/bytes.h"
#include "core/error.h"

/* PyASCIIObject.state bits on x86-64, identical in 3.3-3.13 (checked with
 * the bit-field declarations in each version's cpython/unicodeobject.h):
 * interned:2, kind:3, compact:1, ascii:1, then ready:1 up to 3.11 (which is
 * statically_allocated:1 from 3.12, when "ready" went away). Free-threaded
 * 3.14+ make interned a whole byte: the rest starts at lay->unicode_kind_bit. */
#define STATE_KIND_SHIFT 2
#define STATE_KIND_MASK 7u
#define STATE_COMPACT (1u << 5)
#define STATE_ASCII (1u << 6)
#define STATE_READY (1u << 7)

/* tp_flags bits telling 2.7's str and unicode apart (object.h). */
#define TPFLAGS_STRING_SUBCLASS (1ul << 27)
#define TPFLAGS_UNICODE_SUBCLASS (1ul << 28)

/* Big enough for any header we read: sizeof(PyASCIIObject) is 48 at most,
 * and 2.7's PyStringObject header (up to ob_sval) is 36 bytes. */
#define HDR_MAX 128

static uint32_t get_unit(const uint8_t *p, size_t i, int width)
{
    if (width == 1)
        return p[i];
    if (width == 2) {
        uint16_t v;
        memcpy(&v, p + 2 * i, sizeof v);
        return v;
    }
    return bytes_u32(p + 4 * i);
}

static size_t put_utf8(uint32_t c, uint8_t *b)
{
    if (c < 0x80) {
        b[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        b[0] = (uint8_t)(0xC0 | (c >> 6));
        b[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        b[0] = (uint8_t)(0xE0 | (c >> 12));
        b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    b[0] = (uint8_t)(0xF0 | (c >> 18));
    b[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    b[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    b[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

size_t py_str_encode_utf8(const void *data, size_t count, int width, char *out, size_t cap)
{
    if (!out || cap == 0)
        return 0;
    size_t o = 0;
    if ((width == 1 || width == 2 || width == 4) && (data || count == 0)) {
        const uint8_t *p = data;
        for (size_t i = 0; i < count; i++) {
            uint32_t c = get_unit(p, i, width);
            size_t used = 1;
            /* A high+low pair is one character to any reader (and to 2.7's
             * own UTF-8 encoder); only unpaired halves are unencodable. */
            if (c >= 0xD800 && c <= 0xDBFF && i + 1 < count) {
                uint32_t lo = get_unit(p, i + 1, width);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                    used = 2;
                }
            }
            if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
                c = 0xFFFD;
            uint8_t b[4];
            size_t n = put_utf8(c, b);
            if (n > cap - 1 - o)
                break;
            memcpy(out + o, b, n);
            o += n;
            i += used - 1;
        }
    }
    out[o] = '\0';
    return o;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
 * no surrogates, nothing above U+10FFFF); 0 if it is ill-formed, or -1 if
 * it is a valid beginning cut short by the end of the buffer. */
static int utf8_seq(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    int n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    for (int k = 1; k < n; k++) {
        if ((size_t)k >= avail)
            return -1;
        uint8_t b = p[k];
        if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80)
            return 0;
    }
    return n;
}

/* A 2.7 byte string: kept as is when it is UTF-8, else taken as Latin-1.
 * When the data was cut short (cut != 0) a sequence broken by the cut
 * does not make it Latin-1; it is dropped. */
static size_t encode_bytes(const uint8_t *p, size_t n, int cut, char *out, size_t cap)
{
    size_t i = 0;
    while (i < n) {
        int k = utf8_seq(p + i, n - i);
        if (k == 0 || (k < 0 && !cut))
            return py_str_encode_utf8(p, n, 1, out, cap);
        if (k < 0)
            break;
        i += (size_t)k;
    }
    size_t valid = i, o = 0;
    while (o < valid) {
        size_t k = (size_t)utf8_seq(p + o, valid - o);
        if (k > cap - 1 - o)
            break;
        o += k;
    }
    memcpy(out, p, o);
    out[o] = '\0';
    return o;
}

static int field_ok(int off, size_t width, size_t hdr_len)
{
    return off >= 0 && (size_t)off + width <= hdr_len;
}

static int read_py3(struct mem_source *src, const struct py_layout *lay, uint64_t addr,
                    char *out, size_t cap, size_t *out_len)
{
    uint8_t hdr[HDR_MAX];
    if (lay->unicode_ascii_size <= 0 || lay->unicode_ascii_size > HDR_MAX ||
        lay->unicode_compact_size <= 0)
        return -PT_ERR_UNSUPPORTED;
    size_t hdr_len = (size_t)lay->unicode_ascii_size;
    if (!field_ok(lay->unicode_length, 8, hdr_len) || !field_ok(lay->unicode_state, 4, hdr_len))
        return -PT_ERR_UNSUPPORTED;
    int rc = mem_read(src, addr, hdr, hdr_len);
    if (rc < 0)
        return rc;

    int64_t length = (int64_t)bytes_u64(hdr + lay->unicode_length);
    uint32_t state = bytes_u32(hdr + lay->unicode_state);
    /* Free-threaded 3.14+ moves kind and what follows up to bit 8. */
    if (lay->unicode_kind_bit > STATE_KIND_SHIFT && lay->unicode_kind_bit < 24)
        state >>= lay->unicode_kind_bit - STATE_KIND_SHIFT;
    unsigned kind = (state >> STATE_KIND_SHIFT) & STATE_KIND_MASK;
    if (length < 0 || (kind != 1 && kind != 2 && kind != 4))
        return -PT_ERR_BAD_DATA;
    if ((state & STATE_ASCII) && kind != 1)
        return -PT_ERR_BAD_DATA;
    /* Before 3.12 a string still in its legacy wchar_t form is not ready;
     * compact strings always are, so this also weeds out garbage. */
    if (lay->major == 3 && lay->minor < 12 && !(state & STATE_READY))
        return -PT_ERR_BAD_DATA;

    uint64_t data;
    if (state & STATE_COMPACT) {
        data = addr + (uint64_t)((state & STATE_ASCII) ? lay->unicode_ascii_size
                                                        : lay->unicode_compact_size);
    } else {
        /* Legacy (e.g. str subclass instances): PyUnicodeObject.data.any
         * follows the PyCompactUnicodeObject part. */
        rc = mem_read_u64(src, addr + (uint64_t)lay->unicode_compact_size, &data);
        if (rc < 0)
            return rc;
        if (data == 0)
            return -PT_ERR_BAD_DATA;
    }

    /* Every character needs at least one output byte, so cap-1 of them are
     * all that can show. */
    size_t n = (uint64_t)length < PY_STR_MAX_CHARS ? (size_t)length : PY_STR_MAX_CHARS;
    if (n > cap - 1)
        n = cap - 1;
    static_assert(PY_STR_MAX_CHARS <= 65536, "buffer below lives on the stack");
    uint8_t buf[PY_STR_MAX_CHARS * 4];
    if (n > 0) {
        rc = mem_read(src, data, buf, n * kind);
        if (rc < 0)
            return rc;
    }
    *out_len = py_str_encode_utf8(buf, n, (int)kind, out, cap);
    return 0;
}

static int read_py2(struct mem_source *src, const struct py_layout *lay, uint64_t addr,
                    char *out, size_t cap, size_t *out_len)
{
    uint8_t hdr[HDR_MAX];
    if (lay->bytes_sval <= 0 || lay->bytes_sval > HDR_MAX)
        return -PT_ERR_UNSUPPORTED;
    size_t hdr_len = (size_t)lay->bytes_sval;
    if (!field_ok(lay->varobject_size, 8, hdr_len))
        return -PT_ERR_UNSUPPORTED;
    /* Unicode fields fit in the str header on 2.7 (length 16, str 24 < 36);
     * if a layout says otherwise, unicode support is off. */
    int have_unicode = field_ok(lay->unicode2_length, 8, hdr_len) &&
                       field_ok(lay->unicode2_str, 8, hdr_len);
    int rc = mem_read(src, addr, hdr, hdr_len);
    if (rc < 0)
        return rc;

    /* Code object names are always str, but thread names and other values
     * may be unicode: the type's flags say which (one extra small read). */
    int is_unicode = 0;
    if (lay->type_flags >= 0 && field_ok(lay->object_type, 8, hdr_len)) {
        uint64_t type = bytes_u64(hdr + lay->object_type), flags;
        if (type == 0)
            return -PT_ERR_BAD_DATA;
        rc = mem_read_u64(src, type + (uint64_t)lay->type_flags, &flags);
        if (rc < 0)
            return rc;
        if (flags & TPFLAGS_UNICODE_SUBCLASS)
            is_unicode = 1;
        else if (!(flags & TPFLAGS_STRING_SUBCLASS))
            return -PT_ERR_BAD_DATA;
    }

    static_assert(PY_STR_MAX_CHARS <= 65536, "buffer below lives on the stack");
    uint8_t buf[PY_STR_MAX_CHARS * 4];
    if (is_unicode) {
        if (!have_unicode)
            return -PT_ERR_UNSUPPORTED;
        int64_t length = (int64_t)bytes_u64(hdr + lay->unicode2_length);
        uint64_t data = bytes_u64(hdr + lay->unicode2_str);
        if (length < 0 || (length > 0 && data == 0))
            return -PT_ERR_BAD_DATA;
        size_t n = (uint64_t)length < PY_STR_MAX_CHARS ? (size_t)length : PY_STR_MAX_CHARS;
        if (n > cap - 1)
            n = cap - 1;
        /* Py_UNICODE is 4 bytes on Linux builds (Py_UNICODE_SIZE 4). */
        if (n > 0) {
            rc = mem_read(src, data, buf, n * 4);
            if (rc < 0)
                return rc;
        }
        *out_len = py_str_encode_utf8(buf, n, 4, out, cap);
        return 0;
    }

    int64_t size = (int64_t)bytes_u64(hdr + lay->varobject_size);
    if (size < 0)
        return -PT_ERR_BAD_DATA;
    /* Read the whole (capped) string whatever cap is, so the UTF-8 versus
     * Latin-1 decision does not depend on the caller's buffer. */
    size_t n = (uint64_t)size < PY_STR_MAX_CHARS ? (size_t)size : PY_STR_MAX_CHARS;
    if (n > 0) {
        rc = mem_read(src, addr + (uint64_t)lay->bytes_sval, buf, n);
        if (rc < 0)
            return rc;
    }
    *out_len = encode_bytes(buf, n, (uint64_t)size > n, out, cap);
    return 0;
}

int py_str_read(struct mem_source *src, const struct py_layout *lay, uint64_t addr,
                char *out, size_t cap, size_t *out_len)
{
    if (!src || !lay || !out || cap < 1 || !out_len)
        return -EINVAL;
    if (addr == 0)
        return -PT_ERR_BAD_DATA;
    if (lay->major == 2)
        return read_py2(src, lay, addr, out, cap, out_len);
    if (lay->major == 3)
        return read_py3(src, lay, addr, out, cap, out_len);
    return -PT_ERR_UNSUPPORTED;
}
