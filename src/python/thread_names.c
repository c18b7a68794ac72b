#include "config.h"

#include "python/thread_names.h"

#include "core/bytes.h"
#include "core/error.h"
#include "python/pystr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Largest dict table we copy out. sys.modules, a module's globals and
 * threading._active are far smaller in any real program. */
#define DICT_MAX_ENTRIES 65536u
/* Distinct types looked at during one call: dict, str, int, Thread classes. */
#define TYPE_CACHE_MAX 16
/* Largest prefix of a type object we copy (ht_cached_keys sits near 900). */
#define TYPE_READ_MAX 2048
/* Largest dict or dict-keys header we copy. */
#define HDR_READ_MAX 256

/* tp_flags bits, from each version's object.h; a bit keeps its meaning in
 * every version that defines it. */
#define TPF_INLINE_VALUES (1ull << 2)   /* 3.13+ */
#define TPF_MANAGED_DICT (1ull << 4)    /* 3.11+ */
#define TPF_HEAPTYPE (1ull << 9)
#define TPF_INT_SUBCLASS (1ull << 23)   /* 2.7 only: bit 23 is reused later */
#define TPF_LONG_SUBCLASS (1ull << 24)
#define TPF_UNICODE_SUBCLASS (1ull << 28)
#define TPF_DICT_SUBCLASS (1ull << 29)

/* PyASCIIObject.state bits (see pystr.c): kind:3 at bit 2, compact, ascii. */
#define STATE_KIND(s) (((s) >> 2) & 7u)
#define STATE_COMPACT (1u << 5)
#define STATE_ASCII (1u << 6)

/* dk_kind (pycore_dict.h, 3.11+): general tables hold PyDictKeyEntry
 * {hash, key, value}; unicode and split tables PyDictUnicodeEntry {key,
 * value}. Up to 3.10 every table holds {hash, key, value}. */
#define DICT_KEYS_GENERAL 0
#define DICT_KEYS_SPLIT 2

/* Long digits are 30 bits on every x86-64 build (PYLONG_BITS_IN_DIGIT
 * defaults to 30 when 64-bit integer types exist, pyport.h 2.7-3.13). */
#define LONG_SHIFT 30
#define LONG_MASK ((1u << LONG_SHIFT) - 1)

/* offsetof(PyDictValues, values): ma_values is a PyObject ** up to 3.10 and
 * a struct with only the array in 3.11-3.12; 3.13 puts capacity, size,
 * embedded and valid bytes before it (pycore_dict.h).
 * TODO(layout): dictvalues_values, dictvalues_capacity, dictvalues_valid. */
#define DICTVALUES_VALUES_313 8
#define DICTVALUES_CAPACITY_313 0
#define DICTVALUES_VALID_313 3

struct type_info {
    uint64_t addr;
    uint64_t flags;
    int64_t dictoffset, basicsize;
    uint64_t cached_keys;        /* 0 unless a 3.x heap type */
    int full;                    /* more than tp_flags was read */
};

struct kv {
    uint64_t key, value;
};

struct names_ctx {
    struct mem_source *mem;
    const struct py_layout *l;
    int ver;                     /* major * 100 + minor */
    uint64_t dict_type;          /* sys.modules' type: every dict we follow is exact */
    struct type_info types[TYPE_CACHE_MAX];
    size_t ntypes;
    /* The key object that matched a name last: attribute names are interned,
     * so every Thread's dict holds the same one and a pointer compare
     * finds it without reading any key. */
    const char *known_name;
    uint64_t known_key;
};

static int span(int acc, int off, int width)
{
    return off >= 0 && off + width > acc ? off + width : acc;
}

/* Read len bytes, or at least min of them when the longer read runs off the
 * mapping (small objects can sit at the end of an arena). Returns the
 * number of bytes read or a negative error. */
static int read_some(struct names_ctx *c, uint64_t addr, uint8_t *buf, size_t len, size_t min)
{
    int rc = mem_read(c->mem, addr, buf, len);
    if (rc == 0)
        return (int)len;
    if (rc == -ESRCH || min >= len)
        return rc;
    rc = mem_read(c->mem, addr, buf, min);
    return rc < 0 ? rc : (int)min;
}

/* The type at addr, from the per-call cache or one read. full asks for the
 * fields instance attributes need, which only heap types are read for. */
static int type_get(struct names_ctx *c, uint64_t addr, int full, const struct type_info **out)
{
    const struct py_layout *l = c->l;
    if (!mem_ptr_plausible(addr))
        return -PT_ERR_BAD_DATA;
    struct type_info *ti = NULL;
    for (size_t i = 0; i < c->ntypes; i++) {
        if (c->types[i].addr == addr) {
            ti = &c->types[i];
            if (ti->full || !full) {
                *out = ti;
                return 0;
            }
            break;
        }
    }
    if (!ti) {
        /* Evict the oldest when full; a call touches only a few types. */
        if (c->ntypes == TYPE_CACHE_MAX) {
            memmove(&c->types[0], &c->types[1], sizeof c->types[0] * (TYPE_CACHE_MAX - 1));
            c->ntypes--;
        }
        ti = &c->types[c->ntypes];
    }

    uint8_t buf[TYPE_READ_MAX];
    int n = span(0, l->type_flags, 8);
    if (full) {
        n = span(n, l->type_dictoffset, 8);
        n = span(n, l->type_basicsize, 8);
        n = span(n, l->heaptype_cached_keys, 8);
    }
    if (l->type_flags < 0 || n > TYPE_READ_MAX)
        return -PT_ERR_UNSUPPORTED;
    int rc;
    if (full)
        rc = mem_read(c->mem, addr, buf, (size_t)n);
    else
        rc = mem_read(c->mem, addr + (uint64_t)l->type_flags, buf + l->type_flags, 8);
    if (rc < 0)
        return rc;

    struct type_info t = { .addr = addr, .full = full, .dictoffset = 0, .basicsize = 0 };
    t.flags = bytes_u64(buf + l->type_flags);
    if (full) {
        if (l->type_dictoffset >= 0)
            t.dictoffset = (int64_t)bytes_u64(buf + l->type_dictoffset);
        if (l->type_basicsize >= 0)
            t.basicsize = (int64_t)bytes_u64(buf + l->type_basicsize);
        /* ht_cached_keys exists only in heap types (PyHeapTypeObject). */
        if (l->heaptype_cached_keys >= 0 && (t.flags & TPF_HEAPTYPE))
            t.cached_keys = bytes_u64(buf + l->heaptype_cached_keys);
    }
    if (ti == &c->types[c->ntypes])
        c->ntypes++;
    *ti = t;
    *out = ti;
    return 0;
}

/* Copy the (key, value) pairs of a 3.x keys object. values, when not 0,
 * is a split table's value array (at most nvalues of them): entry i's value
 * is values[i] there. Slots with a NULL key or value (deleted, or not set
 * in this instance) come out as zeros. */
static int load_keys(struct names_ctx *c, uint64_t keys, uint64_t values, size_t nvalues,
                     struct kv **out, size_t *count)
{
    const struct py_layout *l = c->l;
    uint8_t hdr[HDR_READ_MAX];
    int hsize = l->dictkeys_indices;
    if (hsize <= 0 || hsize > HDR_READ_MAX || l->dictkeys_nentries < 0 ||
        l->dictkeys_nentries + 8 > hsize || l->dictkeys_size + 8 > hsize ||
        l->dictkeys_log2_size >= hsize || l->dictkeys_log2_index_bytes >= hsize ||
        l->dictkeys_kind >= hsize)
        return -PT_ERR_UNSUPPORTED;
    if (!mem_ptr_plausible(keys))
        return -PT_ERR_BAD_DATA;
    int rc = mem_read(c->mem, keys, hdr, (size_t)hsize);
    if (rc < 0)
        return rc;

    uint64_t size, index_bytes;
    int general = 1;
    if (c->ver >= 311) {
        /* dk_log2_size and dk_log2_index_bytes: indices are 1, 2, 4 or 8
         * bytes each, so the second is the first plus 0-3 (dictobject.c). */
        if (l->dictkeys_log2_size < 0 || l->dictkeys_log2_index_bytes < 0 ||
            l->dictkeys_kind < 0 || l->dictunicodeentry_size <= 0)
            return -PT_ERR_UNSUPPORTED;
        unsigned log2 = hdr[l->dictkeys_log2_size];
        unsigned log2_ib = hdr[l->dictkeys_log2_index_bytes];
        unsigned kind = hdr[l->dictkeys_kind];
        if (log2 > 32 || log2_ib < log2 || log2_ib > log2 + 3 || kind > DICT_KEYS_SPLIT)
            return -PT_ERR_BAD_DATA;
        size = 1ull << log2;
        index_bytes = 1ull << log2_ib;
        general = kind == DICT_KEYS_GENERAL;
    } else {
        /* 3.6-3.10: dk_size, with DK_IXSIZE picking the index width. */
        if (l->dictkeys_size < 0)
            return -PT_ERR_UNSUPPORTED;
        size = bytes_u64(hdr + l->dictkeys_size);
        if (size == 0 || (size & (size - 1)) || size > (1ull << 32))
            return -PT_ERR_BAD_DATA;
        unsigned width = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffull ? 4 : 8;
        index_bytes = size * width;
    }
    int64_t nentries = (int64_t)bytes_u64(hdr + l->dictkeys_nentries);
    if (nentries < 0 || (uint64_t)nentries > size)
        return -PT_ERR_BAD_DATA;

    size_t n = (uint64_t)nentries < DICT_MAX_ENTRIES ? (size_t)nentries : DICT_MAX_ENTRIES;
    if (values && n > nvalues)
        n = nvalues;
    int esize = general ? l->dictentry_size : l->dictunicodeentry_size;
    int koff = general ? 8 : 0;
    if (esize < koff + 16)
        return -PT_ERR_UNSUPPORTED;
    *out = NULL;
    *count = 0;
    if (n == 0)
        return 0;

    uint8_t *ent = malloc(n * (size_t)esize);
    uint64_t *vals = values ? malloc(n * sizeof *vals) : NULL;
    struct kv *kv = malloc(n * sizeof *kv);
    if (!ent || !kv || (values && !vals)) {
        rc = -ENOMEM;
        goto fail;
    }
    uint64_t entries = keys + (uint64_t)hsize + index_bytes;
    rc = mem_read(c->mem, entries, ent, n * (size_t)esize);
    if (rc == 0 && values)
        rc = mem_read(c->mem, values, vals, n * sizeof *vals);
    if (rc < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *e = ent + i * (size_t)esize;
        kv[i].key = bytes_u64(e + koff);
        kv[i].value = values ? vals[i] : bytes_u64(e + koff + 8);
    }
    free(ent);
    free(vals);
    *out = kv;
    *count = n;
    return 0;
fail:
    free(ent);
    free(vals);
    free(kv);
    return rc;
}

/* Where a split table's value array starts and how many values it can
 * hold, given the address ma_values (or an object's values pointer) holds. */
static int values_array(struct names_ctx *c, uint64_t values, uint64_t *array, size_t *cap,
                        int *valid)
{
    if (!mem_ptr_plausible(values))
        return -PT_ERR_BAD_DATA;
    *valid = 1;
    if (c->ver < 313) {
        *array = values;
        *cap = DICT_MAX_ENTRIES;
        return 0;
    }
    uint8_t hdr[DICTVALUES_VALUES_313];
    int rc = mem_read(c->mem, values, hdr, sizeof hdr);
    if (rc < 0)
        return rc;
    *array = values + DICTVALUES_VALUES_313;
    *cap = hdr[DICTVALUES_CAPACITY_313];
    *valid = hdr[DICTVALUES_VALID_313] != 0;
    return 0;
}

/* Copy the (key, value) pairs of the dict at addr. */
static int load_dict(struct names_ctx *c, uint64_t addr, struct kv **out, size_t *count)
{
    const struct py_layout *l = c->l;
    uint8_t hdr[HDR_READ_MAX];
    if (!mem_ptr_plausible(addr))
        return -PT_ERR_BAD_DATA;

    if (c->ver < 300) {
        /* 2.7: an open-addressing table of mask + 1 PyDictEntry {hash, key,
         * value}; empty and dummy slots have a NULL value (dictobject.c). */
        int n = span(span(span(0, l->object_type, 8), l->dict_mask, 8), l->dict_table, 8);
        if (l->dict_mask < 0 || l->dict_table < 0 || l->dictentry_size < 24 || n > HDR_READ_MAX)
            return -PT_ERR_UNSUPPORTED;
        int rc = mem_read(c->mem, addr, hdr, (size_t)n);
        if (rc < 0)
            return rc;
        if (c->dict_type && bytes_u64(hdr + l->object_type) != c->dict_type)
            return -PT_ERR_BAD_DATA;
        uint64_t size = bytes_u64(hdr + l->dict_mask) + 1;
        uint64_t table = bytes_u64(hdr + l->dict_table);
        if (size < 8 || (size & (size - 1)) || size > (1ull << 32) || !mem_ptr_plausible(table))
            return -PT_ERR_BAD_DATA;
        size_t cnt = size < DICT_MAX_ENTRIES ? (size_t)size : DICT_MAX_ENTRIES;
        size_t es = (size_t)l->dictentry_size;
        uint8_t *ent = malloc(cnt * es);
        struct kv *kv = malloc(cnt * sizeof *kv);
        if (!ent || !kv) {
            free(ent);
            free(kv);
            return -ENOMEM;
        }
        rc = mem_read(c->mem, table, ent, cnt * es);
        if (rc < 0) {
            free(ent);
            free(kv);
            return rc;
        }
        for (size_t i = 0; i < cnt; i++) {
            kv[i].key = bytes_u64(ent + i * es + 8);
            kv[i].value = bytes_u64(ent + i * es + 16);
        }
        free(ent);
        *out = kv;
        *count = cnt;
        return 0;
    }

    int n = span(span(span(0, l->object_type, 8), l->dict_keys, 8), l->dict_values, 8);
    if (l->dict_keys < 0 || l->dict_values < 0 || n > HDR_READ_MAX)
        return -PT_ERR_UNSUPPORTED;
    int rc = mem_read(c->mem, addr, hdr, (size_t)n);
    if (rc < 0)
        return rc;
    if (c->dict_type && bytes_u64(hdr + l->object_type) != c->dict_type)
        return -PT_ERR_BAD_DATA;
    uint64_t keys = bytes_u64(hdr + l->dict_keys);
    uint64_t values = bytes_u64(hdr + l->dict_values);
    if (!values)
        return load_keys(c, keys, 0, 0, out, count);
    /* A split table: keys shared with the class, values per instance. */
    uint64_t array;
    size_t cap;
    int valid;
    rc = values_array(c, values, &array, &cap, &valid);
    if (rc < 0)
        return rc;
    return load_keys(c, keys, array, cap, out, count);
}

/* Whether the str at addr equals want (ASCII). One read rules out nearly
 * every other key; candidates are confirmed by decoding them fully. */
static int str_equals(struct names_ctx *c, uint64_t addr, const char *want)
{
    const struct py_layout *l = c->l;
    size_t wl = strlen(want);
    uint8_t buf[HDR_READ_MAX];
    if (!mem_ptr_plausible(addr) || wl > 64)
        return 0;

    if (c->ver < 300) {
        /* PyStringObject: ob_size then the bytes at ob_sval. A unicode key
         * keeps its length in the same place but its data elsewhere. */
        if (l->bytes_sval <= 0 || l->varobject_size < 0 || l->bytes_sval + wl > HDR_READ_MAX)
            return 0;
        int got = read_some(c, addr, buf, (size_t)l->bytes_sval + wl, (size_t)l->bytes_sval);
        if (got < 0 || (int64_t)bytes_u64(buf + l->varobject_size) != (int64_t)wl)
            return 0;
        if ((size_t)got < (size_t)l->bytes_sval + wl ||
            memcmp(buf + l->bytes_sval, want, wl) != 0) {
            const struct type_info *ti;
            if (type_get(c, bytes_u64(buf + l->object_type), 0, &ti) < 0 ||
                !(ti->flags & TPF_UNICODE_SUBCLASS))
                return 0;
        }
    } else {
        int hs = l->unicode_ascii_size;
        if (hs <= 0 || hs + (int)wl > HDR_READ_MAX || l->unicode_length < 0 ||
            l->unicode_state < 0 || l->unicode_length + 8 > hs || l->unicode_state + 4 > hs)
            return 0;
        int got = read_some(c, addr, buf, (size_t)hs + wl, (size_t)hs);
        if (got < 0 || (int64_t)bytes_u64(buf + l->unicode_length) != (int64_t)wl)
            return 0;
        uint32_t state = bytes_u32(buf + l->unicode_state);
        /* A compact ASCII string keeps its bytes right after the header;
         * anything else (legacy or non-ASCII) goes to the full decoder. */
        if ((state & (STATE_COMPACT | STATE_ASCII)) == (STATE_COMPACT | STATE_ASCII)) {
            if (STATE_KIND(state) != 1 || (size_t)got < (size_t)hs + wl ||
                memcmp(buf + hs, want, wl) != 0)
                return 0;
        }
    }

    char s[72];
    size_t len;
    if (py_str_read(c->mem, c->l, addr, s, wl + 2 < sizeof s ? wl + 2 : sizeof s, &len) < 0)
        return 0;
    return len == wl && memcmp(s, want, wl) == 0;
}

static int kv_find(struct names_ctx *c, const struct kv *kv, size_t n, const char *name,
                   uint64_t *value)
{
    if (c->known_name == name) {
        for (size_t i = 0; i < n; i++) {
            if (kv[i].key == c->known_key && mem_ptr_plausible(kv[i].value)) {
                *value = kv[i].value;
                return 0;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!mem_ptr_plausible(kv[i].key) || !mem_ptr_plausible(kv[i].value))
            continue;
        if (str_equals(c, kv[i].key, name)) {
            c->known_name = name;
            c->known_key = kv[i].key;
            *value = kv[i].value;
            return 0;
        }
    }
    return -ENOENT;
}

static int dict_find(struct names_ctx *c, uint64_t dict, const char *name, uint64_t *value)
{
    struct kv *kv;
    size_t n;
    int rc = load_dict(c, dict, &kv, &n);
    if (rc < 0)
        return rc;
    rc = kv_find(c, kv, n, name, value);
    free(kv);
    return rc;
}

static int keys_find(struct names_ctx *c, uint64_t keys, uint64_t values, const char *name,
                     uint64_t *value)
{
    uint64_t array;
    size_t cap;
    int valid;
    int rc = values_array(c, values, &array, &cap, &valid);
    if (rc < 0)
        return rc;
    if (!valid)
        return -ENOENT;
    struct kv *kv;
    size_t n;
    rc = load_keys(c, keys, array, cap, &kv, &n);
    if (rc < 0)
        return rc;
    rc = kv_find(c, kv, n, name, value);
    free(kv);
    return rc;
}

/* An int key of threading._active as an unsigned 64-bit ident. */
static int read_ident(struct names_ctx *c, uint64_t addr, uint64_t *out)
{
    const struct py_layout *l = c->l;
    uint8_t buf[64];
    int dig = l->long_digits;
    if (dig <= 0 || dig + 12 > (int)sizeof buf || l->object_type < 0)
        return -PT_ERR_UNSUPPORTED;
    /* Header and two digits: a whole pthread_t-sized long, and a 2.7 int. */
    size_t want = (size_t)dig + 8, min = (size_t)dig;
    if (c->ver < 300 && l->int2_ival >= 0 && (size_t)l->int2_ival + 8 < min)
        min = (size_t)l->int2_ival + 8;
    int got = read_some(c, addr, buf, want, min);
    if (got < 0)
        return got;

    const struct type_info *ti;
    int rc = type_get(c, bytes_u64(buf + l->object_type), 0, &ti);
    if (rc < 0)
        return rc;
    if (c->ver < 300 && (ti->flags & TPF_INT_SUBCLASS)) {
        /* 2.7 thread.get_ident() returns an int holding the C long. */
        if (l->int2_ival < 0 || (size_t)got < (size_t)l->int2_ival + 8)
            return -PT_ERR_BAD_DATA;
        *out = bytes_u64(buf + l->int2_ival);
        return 0;
    }
    if (!(ti->flags & TPF_LONG_SUBCLASS))
        return -PT_ERR_BAD_DATA;

    uint64_t ndigits;
    if (c->ver >= 312) {
        /* lv_tag right before the digits: ndigits << 3 | sign, sign 0 for
         * positive, 1 for zero, 2 for negative (pycore_long.h). */
        uint64_t tag = bytes_u64(buf + dig - 8);
        if ((tag & 3) == 1) {
            *out = 0;
            return 0;
        }
        if ((tag & 3) != 0)
            return -PT_ERR_BAD_DATA;
        ndigits = tag >> 3;
    } else {
        /* ob_size: the digit count, negative for negative numbers. */
        if (l->varobject_size < 0 || l->varobject_size + 8 > dig)
            return -PT_ERR_UNSUPPORTED;
        int64_t size = (int64_t)bytes_u64(buf + l->varobject_size);
        if (size < 0)
            return -PT_ERR_BAD_DATA;
        ndigits = (uint64_t)size;
    }
    /* Three 30-bit digits are more than 64 bits; the last one must fit. */
    if (ndigits > 3)
        return -PT_ERR_BAD_DATA;
    if ((size_t)got < (size_t)dig + ndigits * 4) {
        rc = mem_read(c->mem, addr + (uint64_t)dig, buf + dig, ndigits * 4);
        if (rc < 0)
            return rc;
    }
    uint64_t v = 0;
    for (uint64_t i = 0; i < ndigits; i++) {
        uint32_t d = bytes_u32(buf + dig + 4 * i);
        if (d > LONG_MASK || (i == 2 && d >= 16))
            return -PT_ERR_BAD_DATA;
        v |= (uint64_t)d << (LONG_SHIFT * i);
    }
    *out = v;
    return 0;
}

/* The value of instance attribute name on obj, or -ENOENT. */
static int instance_attr(struct names_ctx *c, uint64_t obj, const char *name, uint64_t *value)
{
    const struct py_layout *l = c->l;
    uint64_t type;
    if (!mem_ptr_plausible(obj) || l->object_type < 0)
        return -PT_ERR_BAD_DATA;
    int rc = mem_read_u64(c->mem, obj + (uint64_t)l->object_type, &type);
    if (rc < 0)
        return rc;
    const struct type_info *tp;
    rc = type_get(c, type, 1, &tp);
    if (rc < 0)
        return rc;
    /* A copy: lookups below may evict cache entries. */
    const struct type_info t = *tp, *ti = &t;

    if (c->ver >= 311 && (ti->flags & TPF_MANAGED_DICT)) {
        /* 3.13: with Py_TPFLAGS_INLINE_VALUES the values live right after
         * the object (at tp_basicsize), valid until a dict takes them over;
         * otherwise the managed dict is used (object.c,
         * _PyObject_GenericGetAttrWithDict). */
        if (c->ver >= 313 && (ti->flags & TPF_INLINE_VALUES) && ti->basicsize > 0 &&
            ti->basicsize < 4096) {
            rc = keys_find(c, ti->cached_keys, obj + (uint64_t)ti->basicsize, name, value);
            if (rc == 0 || rc == -ESRCH)
                return rc;
        }
        /* The pre-header before the GC header (pycore_object.h): 3.11 has
         * the values pointer at obj - 4 words and the dict at obj - 3
         * (_PyObject_ValuesPointer, _PyObject_ManagedDictPointer); 3.12
         * keeps one PyDictOrValues at obj - 3 words, values tagged by a set
         * low bit (stored as values - 1); 3.13 only the dict there
         * (MANAGED_DICT_OFFSET). */
        uint64_t pre[2];
        rc = mem_read(c->mem, obj - 32, pre, sizeof pre);
        if (rc < 0)
            return rc;
        uint64_t dict = pre[1];
        if (c->ver == 311 && pre[0])
            return keys_find(c, ti->cached_keys, pre[0], name, value);
        if (c->ver == 312 && (dict & 1))
            return keys_find(c, ti->cached_keys, dict + 1, name, value);
        if (!dict)
            return -ENOENT;
        return dict_find(c, dict, name, value);
    }

    /* 2.7-3.10, and types without a managed dict: a dict pointer at
     * tp_dictoffset. A negative offset counts from the end of a
     * variable-size object; Thread subclasses never are one. */
    if (ti->dictoffset <= 0 || ti->dictoffset > 4096 || (ti->dictoffset & 7))
        return -ENOENT;
    uint64_t dict;
    rc = mem_read_u64(c->mem, obj + (uint64_t)ti->dictoffset, &dict);
    if (rc < 0)
        return rc;
    if (!dict)
        return -ENOENT;
    return dict_find(c, dict, name, value);
}

static int names_read(struct py_walker *w, uint64_t interp, const uint64_t *idents, size_t n,
                      char (*names)[PY_THREAD_NAME_MAX]);

/* A lookup context on w's target, and sys.modules of interp. */
static int ctx_open(struct names_ctx *c, struct py_walker *w, uint64_t interp, uint64_t *modules)
{
    if (!w || !w->mem)
        return -EINVAL;
    memset(c, 0, sizeof *c);
    c->mem = w->mem;
    c->l = &w->layout;
    const struct py_layout *l = c->l;
    c->ver = l->major * 100 + l->minor;
    if (c->ver != 207 && (c->ver < 306 || l->major != 3))
        return -PT_ERR_UNSUPPORTED;
    if (l->interp_modules < 0 || l->module_dict < 0 || l->object_type < 0)
        return -PT_ERR_UNSUPPORTED;
    if (!mem_ptr_plausible(interp))
        return -PT_ERR_BAD_DATA;

    /* sys.modules: its type is the exact dict type every later dict has. */
    uint64_t dtype;
    int rc = mem_read_u64(c->mem, interp + (uint64_t)l->interp_modules, modules);
    if (rc < 0)
        return rc;
    if (!mem_ptr_plausible(*modules))
        return -PT_ERR_BAD_DATA;
    rc = mem_read_u64(c->mem, *modules + (uint64_t)l->object_type, &dtype);
    if (rc < 0)
        return rc;
    const struct type_info *ti;
    rc = type_get(c, dtype, 0, &ti);
    if (rc < 0)
        return rc;
    if (!(ti->flags & TPF_DICT_SUBCLASS))
        return -PT_ERR_BAD_DATA;
    c->dict_type = dtype;
    return 0;
}

/* sys.modules[module].name: -ENOENT when the module is not imported,
 * -PT_ERR_BAD_DATA when it lacks name. */
static int module_global(struct names_ctx *c, uint64_t modules, const char *module,
                         const char *name, uint64_t *value)
{
    uint64_t mod, mdict;
    int rc = dict_find(c, modules, module, &mod);
    if (rc < 0)
        return rc;
    rc = mem_read_u64(c->mem, mod + (uint64_t)c->l->module_dict, &mdict);
    if (rc < 0)
        return rc;
    rc = dict_find(c, mdict, name, value);
    return rc == -ENOENT ? -PT_ERR_BAD_DATA : rc;
}

int py_module_global(struct py_walker *w, uint64_t interp, const char *module, const char *name,
                     uint64_t *value)
{
    if (!module || !name || !value)
        return -EINVAL;
    struct names_ctx c;
    uint64_t modules;
    int rc = ctx_open(&c, w, interp, &modules);
    return rc < 0 ? rc : module_global(&c, modules, module, name, value);
}

int py_instance_attr(struct py_walker *w, uint64_t interp, uint64_t obj, const char *name,
                     uint64_t *value)
{
    if (!name || !value)
        return -EINVAL;
    struct names_ctx c;
    uint64_t modules;
    int rc = ctx_open(&c, w, interp, &modules);
    return rc < 0 ? rc : instance_attr(&c, obj, name, value);
}

int py_thread_names(struct py_walker *w, uint64_t interp, const uint64_t *idents, size_t n,
                    char (*names)[PY_THREAD_NAME_MAX])
{
    if (n && (!idents || !names))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        names[i][0] = '\0';
    if (!w || !w->mem)
        return -EINVAL;
    if (!w->mem->snap)
        return names_read(w, interp, idents, n, names);
    /* A source replaying the walks' reads (memsrc.h) replays these with a
     * snapshot of their own: the registry's objects stay where they are
     * from one refresh to the next, so about a hundred reads become one
     * batch. */
    struct mem_snap *walks = w->mem->snap;
    w->mem->snap = &w->names_snap;
    mem_sample_begin(w->mem);
    int rc = names_read(w, interp, idents, n, names);
    mem_sample_end(w->mem);
    w->mem->snap = walks;
    return rc;
}

static int names_read(struct py_walker *w, uint64_t interp, const uint64_t *idents, size_t n,
                      char (*names)[PY_THREAD_NAME_MAX])
{
    struct names_ctx c;
    uint64_t modules, active;
    int rc = ctx_open(&c, w, interp, &modules);
    if (rc < 0)
        return rc;
    const struct py_layout *l = c.l;
    rc = module_global(&c, modules, "threading", "_active", &active);
    if (rc == -ENOENT)
        return 0;              /* threading never imported: no names to find */
    if (rc < 0)
        return rc;

    struct kv *kv;
    size_t nkv;
    rc = load_dict(&c, active, &kv, &nkv);
    if (rc < 0)
        return rc;
    /* Thread.__init__ sets self._name (3.x) or the mangled private
     * self.__name (2.7). */
    const char *attr = c.ver < 300 ? "_Thread__name" : "_name";
    int found = 0;
    for (size_t k = 0; k < nkv; k++) {
        uint64_t ident;
        if (!mem_ptr_plausible(kv[k].key) || !mem_ptr_plausible(kv[k].value) || read_ident(&c, kv[k].key, &ident) < 0 ||
            ident == 0)
            continue;
        char name[PY_THREAD_NAME_MAX];
        int have = 0;
        for (size_t i = 0; i < n; i++) {
            if (idents[i] != ident || names[i][0])
                continue;
            if (!have) {
                uint64_t str;
                size_t len;
                if (instance_attr(&c, kv[k].value, attr, &str) < 0 ||
                    py_str_read(c.mem, l, str, name, sizeof name, &len) < 0)
                    break;
                have = 1;
            }
            memcpy(names[i], name, sizeof name);
            found++;
        }
    }
    free(kv);
    return found;
}
