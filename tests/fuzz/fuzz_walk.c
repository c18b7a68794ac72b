/* Fuzz the stack walker: build a fake interpreter for the layout named by
 * the first byte, in the shape the next two bytes say, then let the rest
 * of the input overwrite bytes, pointers and integers inside the fake
 * structures, walking between batches of changes (so the code cache meets
 * objects that changed under it).
 *
 * Input: layout, shape (threads, depth), flags, then 5-byte records (op,
 * object, offset lo, offset hi, value); op 0xFF walks now instead. Bits
 * of the first byte also make the outermost frame a generator's (0x20: a
 * torn stack) and give threads a recursion depth (0x40; odd threads one
 * too small: a stale chain, up to 3.10). Invariants: no crash or
 * sanitizer report, no thread with more than PY_MAX_DEPTH frames (and an
 * error marker), every frame has a code object, an error or is the
 * marker of elided frames (only after the innermost PY_KEEP_INNER), no
 * stack taken as whole that ends at a generator's frame (up to 3.10,
 * where the code says so), and threads' frames tile the sample in
 * order. An input of odd length walks through a snapshot (memsrc.h):
 * each walk after the first is served the bytes fetched at its start,
 * which the mutations between walks have changed. */
#include "config.h"

#include "../unit/fake_python.h"

#include "python/walk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define NCODES 4
/* Deep stacks cost a few thousand frames: ask for them with both flag
 * bits, the shape's top bits and a first byte of 0xF0 or more, so that
 * random inputs rarely do. */
#define SHAPE_DEEP 0xE0
#define LAYOUT_DEEP 0xF0

enum {
    F_SECOND_INTERP = 1 << 0,
    F_GENERATORS = 1 << 1,
    F_SHIMS = 1 << 2,
    F_SMALL_CHUNK = 1 << 3,
    F_DEEP = 3 << 4,         /* with SHAPE_DEEP: a stack deeper than PY_MAX_DEPTH */
    F_GIL = 1 << 6,
    F_NO_CODE_TYPE = 1 << 7,
};

static void fail(void)
{
    __builtin_trap();
}

static void check_sample(const struct py_sample *s, int rc)
{
    if (rc > 0 || s->nframes > s->cap_frames || s->nthreads > s->cap_threads)
        fail();
    size_t next = 0;
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct py_thread *t = &s->threads[i];
        if (t->first_frame != next || t->nframes > PY_MAX_DEPTH + 1)
            fail();
        next += t->nframes;
        if (next > s->nframes)
            fail();
        for (size_t k = 0; k < t->nframes; k++) {
            const struct py_frame *f = &s->frames[t->first_frame + k];
            if (!f->code && !f->error && !f->elided)
                fail();
            if (f->elided && (f->code || k != PY_KEEP_INNER))
                fail();
            if (f->code) {
                /* Touch what a caller would print, so a stale pointer
                 * shows up under ASan. */
                const struct py_code_info *ci = f->code;
                if (!ci->name || !ci->filename)
                    fail();
                volatile size_t sink = strlen(ci->name) + strlen(ci->filename);
                if (ci->linetable_len)
                    sink += ci->linetable[0] + ci->linetable[ci->linetable_len - 1];
                (void)sink;
            }
        }
    }
    if (next != s->nframes)
        fail();
    /* A generator's frame is never a thread's first: a stack ending at
     * one is torn, never whole. */
    for (size_t i = 0; i < s->nthreads; i++) {
        const struct py_thread *t = &s->threads[i];
        const struct py_frame *last = t->nframes ? &s->frames[t->first_frame + t->nframes - 1] : NULL;
        if (!t->error && last && last->code && last->code->generator)
            fail();
    }
}

static void build(struct fake_py *fp, uint8_t first, uint8_t shape, uint8_t flags)
{
    const struct py_layout *l = &fp->lay;
    uint64_t codes[NCODES];
    static const char *const names[NCODES] = { "<module>", "run", "h\xc3\xa9", "\xe5\x87\xbd" };
    for (int i = 0; i < NCODES; i++)
        codes[i] = fake_code_lines(fp, names[i], names[(i + 1) % NCODES], "/f.py", 10 * i + 1,
                                   8 + 8 * (size_t)i, (unsigned)i + 1);

    int gen_root = (first & 0x20) != 0;
    if (gen_root && l->code_flags > 0)
        fake_put_i32(fp, codes[3] + (uint64_t)l->code_flags, 0x20);   /* CO_GENERATOR */
    uint64_t interps[2] = { fake_interp(fp), 0 };
    if (flags & F_SECOND_INTERP)
        interps[1] = fake_interp(fp);
    unsigned nthreads = 1 + (shape & 3);
    unsigned depth = 1 + ((shape >> 2) & 7);
    for (unsigned t = 0; t < nthreads; t++) {
        uint64_t interp = interps[(t & 1) && interps[1] ? 1 : 0];
        uint64_t ts = fake_thread(fp, interp, 0x1000 * (t + 1), (pid_t)(100 + t));
        if (!ts)
            return;
        if ((flags & F_SHIMS) && l->frame_owned_by_cstack >= 0)
            fake_frame(fp, ts, 0, 0, FAKE_FRAME_SHIM);
        int deep = t == 0 && (flags & F_DEEP) == F_DEEP && (shape & SHAPE_DEEP) == SHAPE_DEEP &&
                   first >= LAYOUT_DEEP;
        unsigned d_max = deep ? PY_MAX_DEPTH + 2 : depth;
        for (unsigned k = 0; k < d_max; k++) {
            enum fake_where where = FAKE_FRAME_STACK;
            if ((flags & F_GENERATORS) && k % 3 == 1)
                where = FAKE_FRAME_GENERATOR;
            if ((flags & F_SHIMS) && k == depth / 2 && l->frame_owned_by_cstack >= 0)
                fake_frame(fp, ts, 0, 0, FAKE_FRAME_SHIM);
            if ((flags & F_SMALL_CHUNK) && k == depth / 2 && l->chunk_data >= 0)
                fake_chunk(fp, ts, (size_t)l->chunk_data + 3 * ((size_t)l->frame_size + 24));
            int i = (int)((k + t) % NCODES);
            if (k == 0 && gen_root) {
                i = 3;
                where = FAKE_FRAME_GENERATOR;
            }
            fake_frame(fp, ts, codes[i], k % 5 == 4 ? -1 : (int)(2 * (k % (8 + 8 * i))), where);
        }
        if ((first & 0x40) && l->tstate_recursion_depth > 0)
            fake_put_i32(fp, ts + (uint64_t)l->tstate_recursion_depth,
                         (int32_t)d_max - 2 * (int32_t)(t & 1));
        if (flags & F_GIL)
            fake_set_gil(fp, interp, ts);
    }
}

/* Apply one record to the fake structures. */
static void mutate(struct fake_py *fp, const uint8_t *r)
{
    if (fp->nobjs == 0)
        return;
    const struct fake_obj *o = &fp->objs[r[1] % fp->nobjs];
    const struct fake_obj *other = &fp->objs[r[4] % fp->nobjs];
    if (o->size == 0)
        return;
    size_t off = ((size_t)r[2] | (size_t)r[3] << 8) % o->size;
    size_t off8 = off & ~(size_t)7;
    uint64_t at = o->addr + off, at8 = o->addr + off8;
    int8_t small = (int8_t)r[4];
    unsigned arg = r[0] >> 3;
    uint64_t v;

    switch (r[0] & 7) {
    case 0:
    case 7:
        fake_put_u8(fp, at, r[4]);
        break;
    case 1:    /* a pointer to (a field of) another object */
        fake_put_u64(fp, at8, other->addr + 8 * arg);
        break;
    case 2:
        fake_put_u64(fp, at8, (uint64_t)(int64_t)small);
        break;
    case 3:
        fake_put_i32(fp, o->addr + (off & ~(size_t)3), small);
        break;
    case 4:
        fake_put_u64(fp, at8, (r[4] & 1) ? FAKE_UNMAPPED : 0);
        break;
    case 5:    /* a misaligned pointer into another object */
        fake_put_u64(fp, at8, other->addr + arg);
        break;
    case 6:    /* nudge a pointer or counter */
        v = fake_get_u64(fp, at8);
        fake_put_u64(fp, at8, v + (uint64_t)(int64_t)small);
        break;
    }
}

/* A free-threaded 3.14 layout (no binary exists here): the 3.13t table
 * with 3.14's frame and code object changes, so that mutated tlbc_index
 * words and co_tlbc arrays reach the walker's per-thread bytecode path
 * (the same derivation as tests/unit/test_free_threaded.c). */
static const struct py_layout *layout_314t(void)
{
    static struct py_layout l;
    const struct py_layout *t = py_layout_for_build(3, 13, 1);
    if (!t)
        return NULL;
    l = *t;
    l.minor = 14;
    l.frame_instr = 56;
    l.frame_tlbc_index = 72;
    l.frame_owner = 78;
    l.frame_size = 88;
    l.frame_owned_by_cstack = 3;
    l.code_tlbc = t->code_code_adaptive + 8;
    l.code_code_adaptive = t->code_code_adaptive + 16;
    l.code_size = t->code_size + 16;
    l.codearray_size = 0;
    l.codearray_entries = 8;
    l.unicode_kind_bit = 8;
    return &l;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 3 || py_layouts_count == 0)
        return 0;
    size_t pick = d[0] % (py_layouts_count + 1);
    const struct py_layout *lay = pick < py_layouts_count ? py_layouts_all[pick] : layout_314t();
    if (!lay)
        return 0;
    struct fake_py fp;
    if (fake_py_init_sized(&fp, lay, 64u << 10) != 0)
        return 0;
    build(&fp, d[0], d[1], d[2]);

    struct py_walker w;
    struct py_sample s;
    py_sample_init(&s);
    if (fake_walker_init(&fp, &w) != 0) {
        fake_py_release(&fp);
        return 0;
    }
    if (d[2] & F_NO_CODE_TYPE)
        w.code_type = 0;
    struct mem_snap snap;
    if (n & 1)
        mem_snap_attach(&fp.mem.base, &snap);

    unsigned walks = 0;
    for (size_t i = 3; i + 5 <= n; i += 5) {
        if (d[i] == 0xFF) {
            check_sample(&s, py_walk(&w, &s));
            /* Bound the work one input can ask for. */
            if (++walks >= 8)
                break;
            continue;
        }
        mutate(&fp, d + i);
    }
    /* Twice: the second walk runs on the code cache the first one filled. */
    check_sample(&s, py_walk(&w, &s));
    check_sample(&s, py_walk(&w, &s));

    py_sample_release(&s);
    py_walker_release(&w);
    if (n & 1)
        mem_snap_release(&snap);
    fake_py_release(&fp);
    return 0;
}
