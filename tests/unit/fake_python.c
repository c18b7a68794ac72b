#include "config.h"

#include "fake_python.h"

#include <stdlib.h>
#include <string.h>

/* PyASCIIObject.state bits (see pystr.c): kind:3 at bit 2, then compact,
 * ascii and, before 3.12, ready. */
#define STATE_COMPACT (1u << 5)
#define STATE_ASCII (1u << 6)
#define STATE_READY (1u << 7)
/* tp_flags telling str (2.7), unicode and bytes types apart. */
#define TPFLAGS_BYTES_SUBCLASS (1ul << 27)   /* 2.7: Py_TPFLAGS_STRING_SUBCLASS */
#define TPFLAGS_UNICODE_SUBCLASS (1ul << 28)

static size_t max_field(size_t acc, int off, size_t width)
{
    return off >= 0 && (size_t)off + width > acc ? (size_t)off + width : acc;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

/* ---- arenas ------------------------------------------------------------ */

static int note_obj(struct fake_py *fp, uint64_t addr, size_t size, enum fake_kind kind)
{
    if (fp->nobjs == fp->cap_objs) {
        size_t cap = fp->cap_objs ? fp->cap_objs * 2 : 64;
        struct fake_obj *o = realloc(fp->objs, cap * sizeof *o);
        if (!o)
            return -1;
        fp->objs = o;
        fp->cap_objs = cap;
    }
    fp->objs[fp->nobjs++] = (struct fake_obj){ addr, size, kind };
    return 0;
}

uint64_t fake_alloc(struct fake_py *fp, size_t size, enum fake_kind kind)
{
    size_t need = round_up(size ? size : 1, 16);
    struct fake_arena *a = fp->narenas ? &fp->arenas[fp->narenas - 1] : NULL;
    if (!a || a->len - a->used < need) {
        size_t len = need > fp->arena_size ? need : fp->arena_size;
        if (fp->narenas >= FAKE_MEM_MAX_REGIONS || len > FAKE_REMOTE_STRIDE / 2)
            goto fail;
        a = &fp->arenas[fp->narenas];
        a->buf = calloc(1, len);
        if (!a->buf)
            goto fail;
        a->len = len;
        a->used = 0;
        a->remote = FAKE_REMOTE_BASE + fp->narenas * FAKE_REMOTE_STRIDE;
        a->region = fp->mem.count;
        /* The region grows with the arena's used part, so reads past the
         * last object fail like reads of an unmapped page. */
        if (fake_mem_add(&fp->mem, a->remote, a->buf, 0) != 0) {
            free(a->buf);
            a->buf = NULL;
            goto fail;
        }
        fp->narenas++;
    }
    uint64_t addr = a->remote + a->used;
    a->used += need;
    fp->mem.regions[a->region].len = a->used;
    if (note_obj(fp, addr, size, kind) != 0)
        goto fail;
    return addr;
fail:
    fp->failed = 1;
    return 0;
}

void *fake_local(struct fake_py *fp, uint64_t addr, size_t len)
{
    for (size_t i = 0; i < fp->narenas; i++) {
        struct fake_arena *a = &fp->arenas[i];
        if (addr >= a->remote && addr - a->remote <= a->used &&
            len <= a->used - (addr - a->remote))
            return a->buf + (addr - a->remote);
    }
    return NULL;
}

int fake_put(struct fake_py *fp, uint64_t addr, const void *data, size_t len)
{
    void *p = fake_local(fp, addr, len);
    if (!p) {
        fp->failed = 1;
        return -1;
    }
    memcpy(p, data, len);
    return 0;
}

int fake_put_u64(struct fake_py *fp, uint64_t addr, uint64_t v)
{
    return fake_put(fp, addr, &v, sizeof v);
}

int fake_put_i32(struct fake_py *fp, uint64_t addr, int32_t v)
{
    return fake_put(fp, addr, &v, sizeof v);
}

int fake_put_u8(struct fake_py *fp, uint64_t addr, uint8_t v)
{
    return fake_put(fp, addr, &v, sizeof v);
}

uint64_t fake_get_u64(struct fake_py *fp, uint64_t addr)
{
    uint64_t v = 0;
    const void *p = fake_local(fp, addr, sizeof v);
    if (p)
        memcpy(&v, p, sizeof v);
    return v;
}

/* A fake type object with the given tp_flags. */
static uint64_t fake_type(struct fake_py *fp, unsigned long flags)
{
    const struct py_layout *l = &fp->lay;
    size_t size = 64;
    size = max_field(size, l->type_flags, 8);
    size = max_field(size, l->type_basicsize, 8);
    size = max_field(size, l->type_dictoffset, 8);
    uint64_t t = fake_alloc(fp, size, FAKE_OBJ_TYPE);
    if (t && l->type_flags >= 0)
        fake_put_u64(fp, t + (uint64_t)l->type_flags, flags);
    return t;
}

/* Refcount 1 and a type: what every object starts with. */
static void object_head(struct fake_py *fp, uint64_t obj, uint64_t type)
{
    fake_put_u64(fp, obj, 1);
    fake_put_u64(fp, obj + (uint64_t)fp->lay.object_type, type);
}

int fake_py_init_sized(struct fake_py *fp, const struct py_layout *lay, size_t arena_size)
{
    memset(fp, 0, sizeof *fp);
    fake_mem_init(&fp->mem);
    fp->lay = *lay;
    fp->arena_size = arena_size ? arena_size : FAKE_ARENA_SIZE;
    fp->frame_extra_words = 3;

    int py2 = lay->major == 2;
    fp->code_type = fake_type(fp, 0);
    fp->str_type = fake_type(fp, py2 ? TPFLAGS_BYTES_SUBCLASS : TPFLAGS_UNICODE_SUBCLASS);
    fp->bytes_type = py2 ? fp->str_type : fake_type(fp, TPFLAGS_BYTES_SUBCLASS);
    fp->other_type = fake_type(fp, 0);
    /* A bare object: 16 bytes, 32 in a free-threaded build. */
    fp->none_obj = fake_alloc(fp, (size_t)lay->object_type + 8, FAKE_OBJ_OTHER);
    if (fp->none_obj)
        object_head(fp, fp->none_obj, fp->other_type);

    if (lay->runtime_interpreters_head >= 0) {
        /* 3.7+: both words live in _PyRuntime. */
        size_t size = max_field(0, lay->runtime_interpreters_head, 8);
        size = max_field(size, lay->runtime_gilstate_tstate_current, 8);
        int gc_rt = lay->runtime_gc >= 0 && lay->gc_collecting >= 0;
        if (gc_rt)
            size = max_field(size, lay->runtime_gc + lay->gc_collecting, 4);
        uint64_t rt = fake_alloc(fp, size, FAKE_OBJ_RUNTIME);
        if (rt) {
            if (gc_rt)
                fp->gc_collecting_ptr = rt + (uint64_t)(lay->runtime_gc + lay->gc_collecting);
            fp->interp_head_ptr = rt + (uint64_t)lay->runtime_interpreters_head;
            if (lay->runtime_gilstate_tstate_current >= 0)
                fp->tstate_current_ptr = rt + (uint64_t)lay->runtime_gilstate_tstate_current;
        }
    } else {
        /* 2.7 and 3.6: the static interp_head, _PyThreadState_Current
         * and gcmodule.c's collecting. */
        uint64_t words = fake_alloc(fp, 24, FAKE_OBJ_RUNTIME);
        if (words) {
            fp->interp_head_ptr = words;
            fp->tstate_current_ptr = words + 8;
            fp->gc_collecting_ptr = words + 16;
        }
    }
    if (fp->failed) {
        fake_py_release(fp);
        return -1;
    }
    return 0;
}

int fake_py_init(struct fake_py *fp, const struct py_layout *lay)
{
    return fake_py_init_sized(fp, lay, 0);
}

void fake_py_release(struct fake_py *fp)
{
    for (size_t i = 0; i < fp->narenas; i++)
        free(fp->arenas[i].buf);
    free(fp->objs);
    memset(fp, 0, sizeof *fp);
}

int fake_walker_init(struct fake_py *fp, struct py_walker *w)
{
    int rc = py_walker_init(w, &fp->mem.base, &fp->lay);
    if (rc)
        return rc;
    w->interp_head_ptr = fp->interp_head_ptr;
    w->tstate_current_ptr = fp->tstate_current_ptr;
    w->gc_collecting_ptr = fp->gc_collecting_ptr;
    w->code_type = fp->code_type;
    w->pid = 0;
    return 0;
}

/* ---- strings ----------------------------------------------------------- */

/* Decode UTF-8 leniently (a stray byte stands for itself): tests pass
 * well-formed text, this only has to be safe. */
static size_t utf8_decode(const char *s, uint32_t *out)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t n = 0;
    while (*p) {
        uint32_t c = *p;
        int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        int ok = 1;
        for (int k = 1; k <= extra; k++)
            if ((p[k] & 0xC0) != 0x80)
                ok = 0;
        if (extra && ok) {
            c &= 0x3Fu >> extra;
            for (int k = 1; k <= extra; k++)
                c = (c << 6) | (p[k] & 0x3F);
            p += extra + 1;
        } else {
            p++;
        }
        out[n++] = c;
    }
    return n;
}

uint64_t fake_bytes(struct fake_py *fp, const void *data, size_t len)
{
    const struct py_layout *l = &fp->lay;
    uint64_t b = fake_alloc(fp, (size_t)l->bytes_sval + len + 1, FAKE_OBJ_BYTES);
    if (!b)
        return 0;
    object_head(fp, b, fp->bytes_type);
    fake_put_u64(fp, b + (uint64_t)l->varobject_size, len);
    if (len)
        fake_put(fp, b + (uint64_t)l->bytes_sval, data, len);
    return b;
}

uint64_t fake_str(struct fake_py *fp, const char *utf8)
{
    const struct py_layout *l = &fp->lay;
    size_t blen = strlen(utf8);
    if (l->major == 2) {
        uint64_t s = fake_bytes(fp, utf8, blen);
        if (s)
            fake_put_u64(fp, s + (uint64_t)l->object_type, fp->str_type);
        return s;
    }

    uint32_t *cps = malloc((blen + 1) * sizeof *cps);
    if (!cps) {
        fp->failed = 1;
        return 0;
    }
    size_t n = utf8_decode(utf8, cps);
    uint32_t maxc = 0;
    for (size_t i = 0; i < n; i++)
        if (cps[i] > maxc)
            maxc = cps[i];
    int ascii = maxc < 0x80;
    unsigned kind = maxc < 0x100 ? 1 : maxc < 0x10000 ? 2 : 4;
    size_t hdr = (size_t)(ascii ? l->unicode_ascii_size : l->unicode_compact_size);

    uint64_t s = fake_alloc(fp, hdr + (n + 1) * kind, FAKE_OBJ_STR);
    if (s) {
        object_head(fp, s, fp->str_type);
        fake_put_u64(fp, s + (uint64_t)l->unicode_length, n);
        uint32_t state = (kind << 2) | STATE_COMPACT | (ascii ? STATE_ASCII : 0);
        if (l->major == 3 && l->minor < 12)
            state |= STATE_READY;
        if (l->unicode_kind_bit > 2)
            state <<= l->unicode_kind_bit - 2;
        fake_put(fp, s + (uint64_t)l->unicode_state, &state, sizeof state);
        uint8_t *data = fake_local(fp, s + hdr, n * kind);
        for (size_t i = 0; data && i < n; i++) {
            if (kind == 1) {
                data[i] = (uint8_t)cps[i];
            } else if (kind == 2) {
                uint16_t v = (uint16_t)cps[i];
                memcpy(data + 2 * i, &v, 2);
            } else {
                memcpy(data + 4 * i, &cps[i], 4);
            }
        }
    }
    free(cps);
    return s;
}

/* ---- line tables ------------------------------------------------------- */

struct tbl {
    uint8_t *out;
    size_t cap, n;
    int overflow;
};

static void emit(struct tbl *t, int byte)
{
    if (t->n < t->cap)
        t->out[t->n++] = (uint8_t)byte;
    else
        t->overflow = 1;
}

static int clamp(int v, int lim)
{
    return v > lim ? lim : v < -lim ? -lim : v;
}

/* co_lnotab: (address delta, line delta) pairs; big deltas are split, the
 * address first, as CPython's compiler does. */
static void lnotab(struct tbl *t, int is_signed, int first, const int *lines, size_t n,
                   unsigned upe)
{
    long cur_addr = 0;
    int cur_line = first;
    int lim = is_signed ? 127 : 255;
    for (size_t j = 0; j < n; j++) {
        long addr = (long)(j * upe * 2);
        long ad = addr - cur_addr;
        int ld = lines[j] - cur_line;
        if (!is_signed && ld < 0) {
            t->overflow = 1;
            return;
        }
        for (; ad > 255; ad -= 255)
            emit(t, 255), emit(t, 0);
        int step = clamp(ld, lim);
        emit(t, (int)ad);
        emit(t, step & 0xFF);
        for (ld -= step; ld; ld -= step) {
            step = clamp(ld, lim);
            emit(t, 0);
            emit(t, step & 0xFF);
        }
        cur_addr = addr;
        cur_line = lines[j];
    }
}

/* 3.10 co_linetable: (byte length, line delta) per range; zero-length
 * ranges carry line deltas too big for one byte. */
static void linetable310(struct tbl *t, int first, const int *lines, size_t n, unsigned upe)
{
    int cur = first;
    for (size_t j = 0; j < n; j++) {
        int ld = lines[j] - cur;
        while (ld > 127 || ld < -127) {
            int step = clamp(ld, 127);
            emit(t, 0);
            emit(t, step & 0xFF);
            ld -= step;
        }
        unsigned len = upe * 2;
        unsigned chunk = len < 254 ? len : 254;
        emit(t, (int)chunk);
        emit(t, ld & 0xFF);
        for (len -= chunk; len; len -= chunk) {
            chunk = len < 254 ? len : 254;
            emit(t, (int)chunk);
            emit(t, 0);
        }
        cur = lines[j];
    }
}

static void svarint(struct tbl *t, int v)
{
    uint32_t u = v < 0 ? ((uint32_t)-v << 1) | 1 : (uint32_t)v << 1;
    for (; u >= 64; u >>= 6)
        emit(t, 64 | (int)(u & 63));
    emit(t, (int)u);
}

/* 3.11+ location table: a one-line entry (codes 10-12) when the line moves
 * by 0-2, else a no-columns entry (code 13) with a signed varint; entries
 * cover at most 8 code units, so long ranges continue with delta 0. */
static void locations(struct tbl *t, int first, const int *lines, size_t n, unsigned upe)
{
    int cur = first;
    for (size_t j = 0; j < n; j++) {
        int d = lines[j] - cur;
        unsigned left = upe;
        for (int k = 0; left; k++) {
            unsigned len = left < 8 ? left : 8;
            int dd = k == 0 ? d : 0;
            if (dd >= 0 && dd <= 2) {
                emit(t, 0x80 | ((10 + dd) << 3) | (int)(len - 1));
                emit(t, 1);     /* start column */
                emit(t, 5);     /* end column */
            } else {
                emit(t, 0x80 | (13 << 3) | (int)(len - 1));
                svarint(t, dd);
            }
            left -= len;
        }
        cur = lines[j];
    }
}

size_t fake_linetable(const struct py_layout *lay, int firstlineno, const int *lines,
                      size_t nlines, unsigned units_per_entry, uint8_t *out, size_t cap)
{
    struct tbl t = { out, cap, 0, 0 };
    if (units_per_entry == 0)
        return 0;
    if (lay->major < 3 || (lay->major == 3 && lay->minor < 6))
        lnotab(&t, 0, firstlineno, lines, nlines, units_per_entry);
    else if (lay->minor < 10)
        lnotab(&t, 1, firstlineno, lines, nlines, units_per_entry);
    else if (lay->minor == 10)
        linetable310(&t, firstlineno, lines, nlines, units_per_entry);
    else
        locations(&t, firstlineno, lines, nlines, units_per_entry);
    return t.overflow ? 0 : t.n;
}

/* ---- code objects ------------------------------------------------------ */

size_t fake_code_size(const struct py_layout *lay, size_t n_code_units)
{
    size_t size = lay->code_size > 0 ? (size_t)lay->code_size : 0;
    if (lay->code_code_adaptive >= 0)
        size = max_field(size, lay->code_code_adaptive, n_code_units * 2);
    return size;
}

uint64_t fake_code_at(struct fake_py *fp, uint64_t addr, const char *name,
                      const char *qualname, const char *filename, int firstlineno,
                      const uint8_t *linetable, size_t linetable_len, size_t n_code_units)
{
    const struct py_layout *l = &fp->lay;
    size_t size = fake_code_size(l, n_code_units);
    if (addr) {
        void *p = fake_local(fp, addr, size);
        if (!p)
            return 0;
        memset(p, 0, size);
    } else {
        addr = fake_alloc(fp, size, FAKE_OBJ_CODE);
        if (!addr)
            return 0;
    }
    object_head(fp, addr, fp->code_type);
    fake_put_u64(fp, addr + (uint64_t)l->code_name, fake_str(fp, name));
    if (l->code_qualname >= 0)
        fake_put_u64(fp, addr + (uint64_t)l->code_qualname,
                     fake_str(fp, qualname ? qualname : name));
    fake_put_u64(fp, addr + (uint64_t)l->code_filename, fake_str(fp, filename));
    fake_put_i32(fp, addr + (uint64_t)l->code_firstlineno, firstlineno);
    int table_off = l->code_linetable >= 0 ? l->code_linetable : l->code_lnotab;
    fake_put_u64(fp, addr + (uint64_t)table_off, fake_bytes(fp, linetable, linetable_len));
    if (l->code_code_adaptive >= 0) {
        /* 3.11+: a variable-size object whose ob_size counts code units. */
        fake_put_u64(fp, addr + (uint64_t)l->varobject_size, n_code_units);
    } else if (l->code_code >= 0) {
        uint8_t *zeros = calloc(1, n_code_units * 2 + 1);
        if (!zeros) {
            fp->failed = 1;
            return 0;
        }
        fake_put_u64(fp, addr + (uint64_t)l->code_code, fake_bytes(fp, zeros, n_code_units * 2));
        free(zeros);
    }
    return fp->failed ? 0 : addr;
}

uint64_t fake_code(struct fake_py *fp, const char *name, const char *qualname,
                   const char *filename, int firstlineno, const uint8_t *linetable,
                   size_t linetable_len, size_t n_code_units)
{
    return fake_code_at(fp, 0, name, qualname, filename, firstlineno, linetable, linetable_len,
                        n_code_units);
}

uint64_t fake_code_lines(struct fake_py *fp, const char *name, const char *qualname,
                         const char *filename, int firstlineno, size_t n_code_units,
                         unsigned units_per_line)
{
    return fake_code_lines_at(fp, 0, name, qualname, filename, firstlineno, n_code_units,
                              units_per_line);
}

uint64_t fake_code_lines_at(struct fake_py *fp, uint64_t addr, const char *name,
                            const char *qualname, const char *filename, int firstlineno,
                            size_t n_code_units, unsigned units_per_line)
{
    if (units_per_line == 0)
        return 0;
    size_t n = (n_code_units + units_per_line - 1) / units_per_line;
    int *lines = calloc(n + 1, sizeof *lines);
    /* Each entry takes a few bytes, plus one pair per 254 bytes of range. */
    size_t cap = (n + 1) * (16 + units_per_line / 64);
    uint8_t *table = malloc(cap);
    uint64_t code = 0;
    if (lines && table) {
        for (size_t j = 0; j < n; j++)
            lines[j] = firstlineno + 1 + (int)j;
        size_t len = fake_linetable(&fp->lay, firstlineno, lines, n, units_per_line, table, cap);
        if (len || n == 0)
            code = fake_code_at(fp, addr, name, qualname, filename, firstlineno, table, len,
                                n_code_units);
    } else {
        fp->failed = 1;
    }
    free(lines);
    free(table);
    return code;
}

int fake_line_at(const struct py_layout *lay, int firstlineno, unsigned units_per_line,
                 int offset)
{
    /* A frame that has not started: f_lasti -1 or prev_instr one unit
     * before the code, but 3.13's instr_ptr already points at unit 0. */
    if (offset < 0) {
        if (lay->major == 3 && lay->minor >= 13)
            offset = 0;
        else
            return firstlineno;
    }
    return firstlineno + 1 + offset / 2 / (int)units_per_line;
}

/* ---- interpreters and threads ------------------------------------------ */

/* Follow a singly linked list from the word at slot to its last link. */
static uint64_t list_tail(struct fake_py *fp, uint64_t slot, int next_off)
{
    /* Bounded in case a test has already tied the list into a loop. */
    for (int i = 0; i < 100000; i++) {
        uint64_t node = fake_get_u64(fp, slot);
        if (!node || !fake_local(fp, node + (uint64_t)next_off, 8))
            break;
        slot = node + (uint64_t)next_off;
    }
    return slot;
}

uint64_t fake_interp(struct fake_py *fp)
{
    const struct py_layout *l = &fp->lay;
    size_t size = max_field(0, l->interp_next, 8);
    size = max_field(size, l->interp_tstate_head, 8);
    size = max_field(size, l->interp_modules, 8);
    size = max_field(size, l->interp_ceval_gil, 8);
    if (l->interp_gc >= 0 && l->gc_collecting >= 0)
        size = max_field(size, l->interp_gc + l->gc_collecting, 4);
    uint64_t interp = fake_alloc(fp, size, FAKE_OBJ_INTERP);
    if (!interp || !fp->interp_head_ptr)
        return 0;
    if (l->interp_ceval_gil >= 0 && l->gil_locked >= 0 && l->gil_last_holder >= 0) {
        size_t gsize = max_field(max_field(0, l->gil_locked, 4), l->gil_last_holder, 8);
        uint64_t gil = fake_alloc(fp, gsize, FAKE_OBJ_GIL);
        if (!gil)
            return 0;
        fake_put_u64(fp, interp + (uint64_t)l->interp_ceval_gil, gil);
    }
    fake_put_u64(fp, list_tail(fp, fp->interp_head_ptr, l->interp_next), interp);
    return interp;
}

uint64_t fake_thread(struct fake_py *fp, uint64_t interp, uint64_t thread_id, pid_t native_tid)
{
    const struct py_layout *l = &fp->lay;
    size_t size = max_field(0, l->tstate_next, 8);
    size = max_field(size, l->tstate_interp, 8);
    size = max_field(size, l->tstate_frame, 8);
    size = max_field(size, l->tstate_cframe, 8);
    size = max_field(size, l->tstate_current_frame, 8);
    size = max_field(size, l->tstate_thread_id, 8);
    size = max_field(size, l->tstate_native_thread_id, 8);
    size = max_field(size, l->tstate_datastack_chunk, 8);
    size = max_field(size, l->tstate_gil_requested, 4);
    size = max_field(size, l->tstate_base_frame, 8);
    size = max_field(size, l->tstate_state, 4);
    uint64_t ts = fake_alloc(fp, size, FAKE_OBJ_TSTATE);
    if (!ts)
        return 0;
    fake_put_u64(fp, ts + (uint64_t)l->tstate_interp, interp);
    fake_put_u64(fp, ts + (uint64_t)l->tstate_thread_id, thread_id);
    if (l->tstate_native_thread_id >= 0)
        fake_put_u64(fp, ts + (uint64_t)l->tstate_native_thread_id, (uint64_t)native_tid);
    if (l->tstate_cframe >= 0 && l->cframe_current_frame >= 0) {
        /* 3.11-3.12: the innermost frame hangs off the current _PyCFrame. */
        uint64_t cf = fake_alloc(fp, max_field(16, l->cframe_current_frame, 8), FAKE_OBJ_CFRAME);
        if (!cf)
            return 0;
        fake_put_u64(fp, ts + (uint64_t)l->tstate_cframe, cf);
    }
    fake_put_u64(fp, list_tail(fp, interp + (uint64_t)l->interp_tstate_head, l->tstate_next), ts);
    return fp->failed ? 0 : ts;
}

void fake_set_collecting(struct fake_py *fp, uint64_t interp, int on)
{
    const struct py_layout *l = &fp->lay;
    if (fp->gc_collecting_ptr)
        fake_put_i32(fp, fp->gc_collecting_ptr, on);
    else if (l->interp_gc >= 0 && l->gc_collecting >= 0)
        fake_put_i32(fp, interp + (uint64_t)(l->interp_gc + l->gc_collecting), on);
}

void fake_set_gil_requested(struct fake_py *fp, uint64_t tstate, int on)
{
    if (fp->lay.tstate_gil_requested >= 0)
        fake_put_i32(fp, tstate + (uint64_t)fp->lay.tstate_gil_requested, on);
}

void fake_set_thread_state(struct fake_py *fp, uint64_t tstate, int32_t state)
{
    if (fp->lay.tstate_state >= 0)
        fake_put_i32(fp, tstate + (uint64_t)fp->lay.tstate_state, state);
}

void fake_set_gil(struct fake_py *fp, uint64_t interp, uint64_t tstate)
{
    const struct py_layout *l = &fp->lay;
    if (fp->tstate_current_ptr) {
        fake_put_u64(fp, fp->tstate_current_ptr, tstate);
    } else if (l->interp_ceval_gil >= 0) {
        uint64_t gil = fake_get_u64(fp, interp + (uint64_t)l->interp_ceval_gil);
        if (!gil)
            return;
        fake_put_i32(fp, gil + (uint64_t)l->gil_locked, tstate != 0);
        /* Dropping the GIL leaves last_holder as it was, as CPython does. */
        if (tstate)
            fake_put_u64(fp, gil + (uint64_t)l->gil_last_holder, tstate);
    }
}

/* ---- frames -------------------------------------------------------------- */

uint64_t fake_frame_slot(struct fake_py *fp, uint64_t tstate)
{
    const struct py_layout *l = &fp->lay;
    if (l->tstate_frame >= 0)
        return tstate + (uint64_t)l->tstate_frame;
    if (l->tstate_current_frame >= 0)
        return tstate + (uint64_t)l->tstate_current_frame;
    if (l->tstate_cframe >= 0 && l->cframe_current_frame >= 0) {
        uint64_t cf = fake_get_u64(fp, tstate + (uint64_t)l->tstate_cframe);
        return cf ? cf + (uint64_t)l->cframe_current_frame : 0;
    }
    return 0;
}

uint64_t fake_chunk(struct fake_py *fp, uint64_t tstate, size_t size)
{
    const struct py_layout *l = &fp->lay;
    if (l->tstate_datastack_chunk < 0 || l->chunk_data < 0)
        return 0;
    size = round_up(size, 8);
    if (size < (size_t)l->chunk_data + 8)
        return 0;
    uint64_t chunk = fake_alloc(fp, size, FAKE_OBJ_CHUNK);
    if (!chunk)
        return 0;
    uint64_t prev = fake_get_u64(fp, tstate + (uint64_t)l->tstate_datastack_chunk);
    fake_put_u64(fp, chunk + (uint64_t)l->chunk_previous, prev);
    fake_put_u64(fp, chunk + (uint64_t)l->chunk_size, size);
    /* The root chunk skips data[0] so that it is never popped. */
    fake_put_u64(fp, chunk + (uint64_t)l->chunk_top, prev ? 0 : 1);
    fake_put_u64(fp, tstate + (uint64_t)l->tstate_datastack_chunk, chunk);
    return chunk;
}

/* Room for an interpreter frame on the data stack of tstate. */
static uint64_t chunk_frame(struct fake_py *fp, uint64_t tstate, size_t fsize)
{
    const struct py_layout *l = &fp->lay;
    size_t words = fsize / 8;
    uint64_t chunk = fake_get_u64(fp, tstate + (uint64_t)l->tstate_datastack_chunk);
    uint64_t top = 0, cap = 0;
    if (chunk) {
        top = fake_get_u64(fp, chunk + (uint64_t)l->chunk_top);
        cap = (fake_get_u64(fp, chunk + (uint64_t)l->chunk_size) - (uint64_t)l->chunk_data) / 8;
    }
    if (!chunk || top + words > cap) {
        size_t need = (size_t)l->chunk_data + fsize + 8;
        chunk = fake_chunk(fp, tstate, need > FAKE_CHUNK_SIZE ? need : FAKE_CHUNK_SIZE);
        if (!chunk)
            return 0;
        top = fake_get_u64(fp, chunk + (uint64_t)l->chunk_top);
    }
    fake_put_u64(fp, chunk + (uint64_t)l->chunk_top, top + words);
    uint64_t frame = chunk + (uint64_t)l->chunk_data + top * 8;
    note_obj(fp, frame, fsize, FAKE_OBJ_FRAME);
    return frame;
}

uint64_t fake_frame(struct fake_py *fp, uint64_t tstate, uint64_t code, int offset,
                    enum fake_where where)
{
    const struct py_layout *l = &fp->lay;
    uint64_t slot = fake_frame_slot(fp, tstate);
    if (!slot)
        return 0;
    uint64_t back = fake_get_u64(fp, slot);
    uint64_t frame;

    if (l->tstate_frame >= 0) {
        /* Up to 3.10: heap frame objects, f_lasti in bytes, or in code
         * units from 3.10. */
        if (where == FAKE_FRAME_SHIM)
            return 0;
        frame = fake_alloc(fp, (size_t)l->frame_size, FAKE_OBJ_FRAME);
        if (!frame)
            return 0;
        object_head(fp, frame, fp->other_type);
        int32_t lasti = offset < 0 ? -1 : (l->major == 3 && l->minor >= 10) ? offset / 2 : offset;
        fake_put_i32(fp, frame + (uint64_t)l->frame_lasti, lasti);
        /* A frame on a thread's chain is running (f_state 0 on 3.10). */
        if (l->frame_executing > 0)
            fake_put_u8(fp, frame + (uint64_t)l->frame_executing, 1);
    } else {
        size_t fsize = round_up((size_t)l->frame_size, 8) + fp->frame_extra_words * 8u;
        int owner = FAKE_OWNED_BY_THREAD;
        if (where == FAKE_FRAME_STACK) {
            frame = chunk_frame(fp, tstate, fsize);
        } else if (where == FAKE_FRAME_GENERATOR) {
            frame = fake_alloc(fp, fsize, FAKE_OBJ_FRAME);
            owner = FAKE_OWNED_BY_GENERATOR;
        } else {
            if (l->frame_owned_by_cstack < 0)
                return 0;
            frame = fake_alloc(fp, fsize, FAKE_OBJ_FRAME);
            owner = l->frame_owned_by_cstack;
            /* 3.13's entry frame runs no code: f_executable is None. */
            code = fp->none_obj;
        }
        if (!frame)
            return 0;
        uint64_t instr = 0;
        if (where != FAKE_FRAME_SHIM && l->code_code_adaptive >= 0) {
            /* prev_instr is one unit before the code until the frame starts;
             * 3.13's instr_ptr points at the next instruction instead. */
            int64_t pos = offset >= 0 ? offset : l->minor >= 13 ? 0 : -2;
            instr = code + (uint64_t)l->code_code_adaptive + (uint64_t)pos;
        }
        fake_put_u64(fp, frame + (uint64_t)l->frame_instr, instr);
        if (l->frame_owner >= 0)
            fake_put_u8(fp, frame + (uint64_t)l->frame_owner, (uint8_t)owner);
    }
    fake_put_u64(fp, frame + (uint64_t)l->frame_back, back);
    fake_put_u64(fp, frame + (uint64_t)l->frame_code, code);
    fake_put_u64(fp, slot, frame);
    return fp->failed ? 0 : frame;
}
