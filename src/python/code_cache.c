#include "config.h"

#include "python/code_cache.h"

#include "core/bytes.h"
#include "core/error.h"
#include "python/pystr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Enough for any PyCodeObject up to 3.13 (about 200 bytes). */
#define CODE_STRUCT_MAX 1024

static size_t slot_of(uint64_t addr, size_t cap)
{
    uint64_t h = addr >> 4;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (size_t)h & (cap - 1);
}

static void code_info_free(struct py_code_info *ci)
{
    if (!ci)
        return;
    free(ci->name);
    free(ci->filename);
    free(ci->linetable);
    free(ci);
}

int py_code_cache_init(struct py_code_cache *c, size_t cap)
{
    size_t p = 64;
    while (p < cap)
        p *= 2;
    memset(c, 0, sizeof *c);
    c->slots = calloc(p, sizeof *c->slots);
    if (!c->slots)
        return -ENOMEM;
    c->cap = p;
    return 0;
}

static void cache_clear(struct py_code_cache *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        code_info_free(c->slots[i]);
        c->slots[i] = NULL;
    }
    c->count = 0;
    c->retired = 0;
}

void py_code_cache_release(struct py_code_cache *c)
{
    if (c->slots)
        cache_clear(c);
    free(c->slots);
    memset(c, 0, sizeof *c);
}

/* Code objects live at 8-aligned addresses (code_read refuses others), so
 * an entry whose key has this bit set matches no lookup. */
#define RETIRED 1u

/* Empty slot i, moving the rest of its cluster so lookups stay correct. */
static void remove_slot(struct py_code_cache *c, size_t i)
{
    code_info_free(c->slots[i]);
    c->slots[i] = NULL;
    c->count--;
    size_t j = (i + 1) & (c->cap - 1);
    while (c->slots[j]) {
        struct py_code_info *moved = c->slots[j];
        c->slots[j] = NULL;
        size_t k = slot_of(moved->addr, c->cap);
        while (c->slots[k])
            k = (k + 1) & (c->cap - 1);
        c->slots[k] = moved;
        j = (j + 1) & (c->cap - 1);
    }
}

void py_code_cache_trim(struct py_code_cache *c)
{
    c->epoch++;
    /* Clearing everything is crude but bounded and rare: a target with
     * more live code objects than this runs many distinct functions. */
    if (c->count * 4 >= c->cap * 3) {
        cache_clear(c);
        c->evictions++;
        return;
    }
    /* Between walks nothing points to retired entries any more. A slot
     * refilled by the move is looked at again. Most walks retire nothing,
     * and then the scan is skipped. */
    if (c->retired == 0)
        return;
    for (size_t i = 0; i < c->cap; i++)
        while (c->slots[i] && (c->slots[i]->addr & RETIRED))
            remove_slot(c, i);
    c->retired = 0;
}

void py_code_cache_forget(struct py_code_cache *c, uint64_t addr)
{
    size_t i = slot_of(addr, c->cap);
    for (size_t n = 0; n < c->cap; n++, i = (i + 1) & (c->cap - 1)) {
        struct py_code_info *ci = c->slots[i];
        if (!ci)
            return;
        if (ci->addr != addr)
            continue;
        /* Frames decoded earlier in this walk may still point to the entry
         * (pointers stay valid until trim), so it is not freed yet: it
         * keeps its slot under a key no lookup matches until trim. */
        ci->addr |= RETIRED;
        c->retired++;
        return;
    }
}

int py_bytes_read(struct mem_source *src, const struct py_layout *lay, uint64_t addr,
                  size_t max, uint8_t **data, size_t *len)
{
    int64_t size;
    int rc = mem_read(src, addr + (uint64_t)lay->varobject_size, &size, sizeof size);
    if (rc)
        return rc;
    if (size < 0 || (uint64_t)size > max)
        return -PT_ERR_BAD_DATA;
    uint8_t *buf = malloc((size_t)size + 1);
    if (!buf)
        return -ENOMEM;
    rc = mem_read(src, addr + (uint64_t)lay->bytes_sval, buf, (size_t)size);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[size] = 0;
    *data = buf;
    *len = (size_t)size;
    return 0;
}

static int read_string(struct mem_source *src, const struct py_layout *lay, uint64_t addr,
                       char **out)
{
    char buf[PY_STR_MAX_CHARS * 4 + 1];
    size_t len;
    int rc = py_str_read(src, lay, addr, buf, sizeof buf, &len);
    if (rc)
        return rc;
    char *s = malloc(len + 1);
    if (!s)
        return -ENOMEM;
    memcpy(s, buf, len + 1);
    *out = s;
    return 0;
}

/* The fields that tell one code object from another at the same address:
 * its name, file and line table objects, its size and its first line. */
static void fingerprint(const struct py_layout *lay, const uint8_t *obj, uint64_t *name,
                        uint64_t *filename, uint64_t *table, uint64_t *size, int32_t *first)
{
    int name_off = lay->code_qualname >= 0 ? lay->code_qualname : lay->code_name;
    int table_off = lay->code_linetable >= 0 ? lay->code_linetable : lay->code_lnotab;
    *name = bytes_u64(obj + name_off);
    *filename = bytes_u64(obj + lay->code_filename);
    *table = bytes_u64(obj + table_off);
    *size = lay->code_code_adaptive >= 0 ? bytes_u64(obj + lay->varobject_size)
                                         : bytes_u64(obj + lay->code_code);
    *first = bytes_i32(obj + lay->code_firstlineno);
}

int py_code_info_current(const struct py_code_info *ci, const struct py_layout *lay,
                         uint64_t code_type, const uint8_t *obj)
{
    if (code_type && bytes_u64(obj + lay->object_type) != code_type)
        return 0;
    uint64_t name, filename, table, size;
    int32_t first;
    fingerprint(lay, obj, &name, &filename, &table, &size, &first);
    return name == ci->fp_name && filename == ci->fp_filename && table == ci->fp_table &&
           size == ci->fp_size && first == ci->fp_firstline;
}

static int code_read(struct mem_source *src, const struct py_layout *lay, uint64_t code_type,
                     uint64_t addr, struct py_code_info **out)
{
    uint8_t obj[CODE_STRUCT_MAX];
    if (lay->code_size <= 0 || lay->code_size > CODE_STRUCT_MAX)
        return -PT_ERR_UNSUPPORTED;
    if (addr == 0 || (addr & 7))
        return -PT_ERR_BAD_DATA;
    int rc = mem_read(src, addr, obj, (size_t)lay->code_size);
    if (rc)
        return rc;
    if (code_type && bytes_u64(obj + lay->object_type) != code_type)
        return -PT_ERR_BAD_DATA;

    struct py_code_info *ci = calloc(1, sizeof *ci);
    if (!ci)
        return -ENOMEM;
    ci->addr = addr;
    int32_t first;
    memcpy(&first, obj + lay->code_firstlineno, sizeof first);
    ci->firstlineno = first;
    /* 0 when the layout has no co_flags (3.11+, or a zeroed test layout). */
    if (lay->code_flags > 0 && lay->code_flags + 4 <= lay->code_size)
        ci->generator = (bytes_u32(obj + lay->code_flags) & PY_CO_GENERATOR_FLAGS) != 0;
    fingerprint(lay, obj, &ci->fp_name, &ci->fp_filename, &ci->fp_table, &ci->fp_size,
                &ci->fp_firstline);

    int name_off = lay->code_qualname >= 0 ? lay->code_qualname : lay->code_name;
    rc = read_string(src, lay, bytes_u64(obj + name_off), &ci->name);
    if (rc == 0)
        rc = read_string(src, lay, bytes_u64(obj + lay->code_filename), &ci->filename);
    if (rc == 0) {
        int table_off = lay->code_linetable >= 0 ? lay->code_linetable : lay->code_lnotab;
        rc = py_bytes_read(src, lay, bytes_u64(obj + table_off), PY_LINETABLE_MAX,
                           &ci->linetable, &ci->linetable_len);
    }
    if (rc == 0) {
        if (lay->code_code_adaptive >= 0) {
            /* 3.11+: instructions live inside the code object, whose
             * ob_size counts 2-byte code units. */
            int64_t units;
            memcpy(&units, obj + lay->varobject_size, sizeof units);
            if (units < 0 || units > (int64_t)(PY_LINETABLE_MAX * 16))
                rc = -PT_ERR_BAD_DATA;
            ci->code_start = addr + (uint64_t)lay->code_code_adaptive;
            ci->code_len = (uint64_t)units * 2;
        } else if (lay->code_code >= 0) {
            uint64_t co_code = bytes_u64(obj + lay->code_code);
            int64_t n;
            rc = mem_read(src, co_code + (uint64_t)lay->varobject_size, &n, sizeof n);
            if (rc == 0 && (n < 0 || n > (int64_t)(PY_LINETABLE_MAX * 16)))
                rc = -PT_ERR_BAD_DATA;
            ci->code_start = co_code + (uint64_t)lay->bytes_sval;
            ci->code_len = rc == 0 ? (uint64_t)n : 0;
        }
    }
    if (rc) {
        code_info_free(ci);
        /* A code object whose parts cannot be read is garbage, not gone. */
        return rc == -EFAULT ? -PT_ERR_BAD_DATA : rc;
    }
    *out = ci;
    return 0;
}

int py_code_cache_get(struct py_code_cache *c, struct mem_source *src,
                      const struct py_layout *lay, uint64_t code_type, uint64_t addr,
                      struct py_code_info **out)
{
    if (addr & 7)
        return -PT_ERR_BAD_DATA;
    size_t i = slot_of(addr, c->cap);
    for (size_t n = 0; n < c->cap; n++, i = (i + 1) & (c->cap - 1)) {
        struct py_code_info *ci = c->slots[i];
        if (!ci)
            break;
        if (ci->addr == addr) {
            c->hits++;
            *out = ci;
            return 0;
        }
    }
    c->misses++;
    struct py_code_info *ci;
    int rc = code_read(src, lay, code_type, addr, &ci);
    if (rc)
        return rc;
    if (c->count + 1 >= c->cap) {
        /* Full mid-walk: refuse rather than evict entries this walk still
         * points to; trim() between walks keeps this rare. */
        code_info_free(ci);
        return -ENOSPC;
    }
    ci->serial = ++c->next_serial;
    ci->epoch = c->epoch;
    ci->checked = c->epoch;
    ci->memo_offset = INT64_MIN;
    i = slot_of(addr, c->cap);
    while (c->slots[i])
        i = (i + 1) & (c->cap - 1);
    c->slots[i] = ci;
    c->count++;
    *out = ci;
    return 0;
}
