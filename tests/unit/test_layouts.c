/* Sanity of the generated layout tables, and the _Py_DebugOffsets reader on
 * tables built in local memory. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "proc/memsrc.h"
#include "python/debug_offsets.h"
#include "python/layout.h"
#include "unit.h"

#define V(maj, min) ((maj) * 100 + (min))
#define FIELD(name) #name, offsetof(struct py_layout, name)

static int get(const struct py_layout *l, size_t off)
{
    int v;
    memcpy(&v, (const char *)l + off, sizeof v);
    return v;
}

static int vers(const struct py_layout *l)
{
    return V(l->major, l->minor);
}

/* Every int field of struct py_layout after major/minor, for whole-table
 * comparisons. */
static const struct { const char *name; size_t off; } all_fields[] = {
    { FIELD(runtime_interpreters_head) }, { FIELD(runtime_gilstate_tstate_current) },
    { FIELD(interp_next) }, { FIELD(interp_tstate_head) }, { FIELD(interp_modules) },
    { FIELD(interp_ceval_gil) }, { FIELD(gil_locked) }, { FIELD(gil_last_holder) },
    { FIELD(tstate_next) }, { FIELD(tstate_interp) }, { FIELD(tstate_frame) },
    { FIELD(tstate_cframe) }, { FIELD(cframe_current_frame) }, { FIELD(tstate_current_frame) },
    { FIELD(tstate_thread_id) }, { FIELD(tstate_native_thread_id) },
    { FIELD(tstate_datastack_chunk) }, { FIELD(chunk_previous) }, { FIELD(chunk_size) },
    { FIELD(chunk_top) }, { FIELD(chunk_data) }, { FIELD(frame_size) }, { FIELD(frame_back) },
    { FIELD(frame_code) }, { FIELD(frame_lasti) }, { FIELD(frame_instr) }, { FIELD(frame_owner) },
    { FIELD(frame_owned_by_cstack) }, { FIELD(code_size) }, { FIELD(code_filename) },
    { FIELD(code_name) }, { FIELD(code_qualname) }, { FIELD(code_firstlineno) },
    { FIELD(code_lnotab) }, { FIELD(code_linetable) }, { FIELD(code_code) },
    { FIELD(code_code_adaptive) }, { FIELD(object_type) }, { FIELD(varobject_size) },
    { FIELD(bytes_sval) }, { FIELD(unicode_length) }, { FIELD(unicode_state) },
    { FIELD(unicode_ascii_size) }, { FIELD(unicode_compact_size) }, { FIELD(unicode2_length) },
    { FIELD(unicode2_str) }, { FIELD(type_flags) }, { FIELD(type_dictoffset) },
    { FIELD(type_basicsize) }, { FIELD(heaptype_cached_keys) }, { FIELD(dict_used) },
    { FIELD(dict_keys) }, { FIELD(dict_values) }, { FIELD(dict_mask) }, { FIELD(dict_table) },
    { FIELD(dictkeys_size) }, { FIELD(dictkeys_log2_size) }, { FIELD(dictkeys_log2_index_bytes) },
    { FIELD(dictkeys_kind) }, { FIELD(dictkeys_nentries) }, { FIELD(dictkeys_indices) },
    { FIELD(dictentry_size) }, { FIELD(dictunicodeentry_size) }, { FIELD(module_dict) },
    { FIELD(long_digits) }, { FIELD(int2_ival) },
};
#define N_FIELDS (sizeof all_fields / sizeof all_fields[0])

/* Which versions have each field; outside [from, to] it must be -1. */
static const struct { const char *name; size_t off; int from, to; } presence[] = {
    { FIELD(runtime_interpreters_head), V(3, 7), V(9, 99) },
    { FIELD(runtime_gilstate_tstate_current), V(3, 7), V(3, 11) },
    { FIELD(interp_ceval_gil), V(3, 12), V(9, 99) },
    { FIELD(gil_locked), V(3, 12), V(9, 99) },
    { FIELD(gil_last_holder), V(3, 12), V(9, 99) },
    { FIELD(tstate_frame), V(2, 7), V(3, 10) },
    { FIELD(tstate_cframe), V(3, 11), V(3, 12) },
    { FIELD(cframe_current_frame), V(3, 11), V(3, 12) },
    { FIELD(tstate_current_frame), V(3, 13), V(9, 99) },
    { FIELD(tstate_native_thread_id), V(3, 11), V(9, 99) },
    { FIELD(tstate_datastack_chunk), V(3, 11), V(9, 99) },
    { FIELD(chunk_previous), V(3, 11), V(9, 99) },
    { FIELD(chunk_size), V(3, 11), V(9, 99) },
    { FIELD(chunk_top), V(3, 11), V(9, 99) },
    { FIELD(chunk_data), V(3, 11), V(9, 99) },
    { FIELD(frame_lasti), V(2, 7), V(3, 10) },
    { FIELD(frame_instr), V(3, 11), V(9, 99) },
    { FIELD(frame_owner), V(3, 11), V(9, 99) },
    { FIELD(frame_owned_by_cstack), V(3, 12), V(9, 99) },
    { FIELD(code_qualname), V(3, 11), V(9, 99) },
    { FIELD(code_lnotab), V(2, 7), V(3, 9) },
    { FIELD(code_linetable), V(3, 10), V(9, 99) },
    { FIELD(code_code), V(2, 7), V(3, 10) },
    { FIELD(code_code_adaptive), V(3, 11), V(9, 99) },
    { FIELD(unicode_length), V(3, 0), V(9, 99) },
    { FIELD(unicode_state), V(3, 0), V(9, 99) },
    { FIELD(unicode_ascii_size), V(3, 0), V(9, 99) },
    { FIELD(unicode_compact_size), V(3, 0), V(9, 99) },
    { FIELD(unicode2_length), V(2, 7), V(2, 7) },
    { FIELD(unicode2_str), V(2, 7), V(2, 7) },
    { FIELD(heaptype_cached_keys), V(3, 6), V(9, 99) },
    { FIELD(dict_keys), V(3, 0), V(9, 99) },
    { FIELD(dict_values), V(3, 0), V(9, 99) },
    { FIELD(dict_mask), V(2, 7), V(2, 7) },
    { FIELD(dict_table), V(2, 7), V(2, 7) },
    { FIELD(dictkeys_size), V(3, 6), V(3, 10) },
    { FIELD(dictkeys_log2_size), V(3, 11), V(9, 99) },
    { FIELD(dictkeys_log2_index_bytes), V(3, 11), V(9, 99) },
    { FIELD(dictkeys_kind), V(3, 11), V(9, 99) },
    { FIELD(dictkeys_nentries), V(3, 6), V(9, 99) },
    { FIELD(dictkeys_indices), V(3, 6), V(9, 99) },
    { FIELD(dictunicodeentry_size), V(3, 11), V(9, 99) },
    { FIELD(int2_ival), V(2, 7), V(2, 7) },
};

static void test_versions(void)
{
    /* One table at least for every version with the GIL; the
     * free-threaded 3.13t table as well. */
    static const struct { int v, ft; } want[] = {
        { V(2, 7), 0 }, { V(3, 6), 0 }, { V(3, 7), 0 }, { V(3, 8), 0 }, { V(3, 9), 0 },
        { V(3, 10), 0 }, { V(3, 11), 0 }, { V(3, 12), 0 }, { V(3, 13), 0 }, { V(3, 13), 1 },
        { V(3, 14), 0 }, { V(3, 15), 0 },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const struct py_layout *l = py_layout_for_build(want[i].v / 100, want[i].v % 100, want[i].ft);
        char what[64];
        snprintf(what, sizeof what, "py_layout_for_build(%d, %d, %d) finds its table",
                 want[i].v / 100, want[i].v % 100, want[i].ft);
        CHECK(l && vers(l) == want[i].v && l->free_threaded == want[i].ft && !l->debug_build, what);
        if (!want[i].ft)
            CHECK(py_layout_for(want[i].v / 100, want[i].v % 100) == l,
                  "py_layout_for gives the build with the GIL");
    }
    for (size_t i = 1; i < py_layouts_count; i++) {
        const struct py_layout *a = py_layouts_all[i - 1], *b = py_layouts_all[i];
        CHECK(vers(a) < vers(b) || (vers(a) == vers(b) && a->micro <= b->micro),
              "py_layouts_all is in version, micro order");
    }
    CHECK(py_layout_for_build(3, 12, 1) == NULL, "no free-threaded 3.12");
    CHECK(py_layout_for(3, 5) == NULL, "no table for 3.5");
    CHECK(py_layout_for(3, 16) == NULL, "no table for 3.16");
    CHECK(py_layout_for(4, 0) == NULL, "no table for 4.0");

    /* 3.13.18 aligns PyGC_Head to 4 bytes: generations[] moved. */
    const struct py_layout *a = py_layout_for_micro(3, 13, 0), *b = py_layout_for_micro(3, 13, 18);
    CHECK(a && b && a != b && a->micro == 0 && b->micro == 18, "3.13.0 and 3.13.18 tables");
    CHECK(a && b && a->gc_generations == b->gc_generations + 4, "3.13.18 GC generations 4 bytes earlier");
    CHECK(py_layout_for_micro(3, 13, 5) == a, "3.13.5 takes the 3.13.0 table");
    CHECK(py_layout_for_micro(3, 13, 30) == b && py_layout_for(3, 13) == b, "3.13.30: the newest");
    CHECK(py_layout_for_micro(3, 13, -1) == a, "micro unknown: the oldest");
    CHECK(py_layout_match(3, 13, 5, b->interp_size) == b, "matched by interpreter size");
    CHECK(py_layout_match(3, 13, 0, 12345) == NULL, "no table of that size");
    /* The 3.13t table is never taken for a build with the GIL, nor the
     * other way round, even by size. */
    const struct py_layout *t = py_layout_for_build(3, 13, 1);
    CHECK(t && t->interp_size != b->interp_size, "3.13t's interpreter state has its own size");
    CHECK(t && py_layout_match(3, 13, t->micro, t->interp_size) == NULL,
          "the 3.13t table is not matched for a GIL build");
    CHECK(t && py_layout_select(3, 13, t->micro, t->interp_size, 1) == t,
          "the 3.13t table is matched by its size among free-threaded tables");
    CHECK(py_layout_select(3, 13, 18, b->interp_size, 1) == NULL,
          "a GIL table is not matched for a free-threaded build");
    CHECK(t && py_layout_select(3, 13, 30, -1, 1) == t, "3.13t by version alone");
    CHECK(t && t->gil_enabled >= 0 && t->obmalloc_narenas < 0 && b->gil_enabled < 0,
          "3.13t: the GIL's enabled flag, no pymalloc arenas");
    int found_debug = 0;
    for (size_t i = 0; i < py_layouts_count; i++) {
        const struct py_layout *l = py_layouts_all[i];
        if (l->debug_build) {
            found_debug = 1;
            CHECK(py_layout_match(l->major, l->minor, l->micro, l->interp_size) == l,
                  "a debug build's table is found by its size");
            CHECK(py_layout_for_micro(l->major, l->minor, l->micro) != l,
                  "never taken for a release build by version alone");
        }
    }
    CHECK(found_debug, "a debug build table (3.14d)");
    for (int minor = 13; minor <= 15; minor++) {
        const struct py_debug_layout *dl = py_debug_layout_for(3, minor);
        CHECK(dl && dl->version == 8 && dl->free_threaded == 16 && dl->table_size > 500,
              "a _Py_DebugOffsets layout for 3.13-3.15");
    }
    CHECK(py_debug_layout_for(3, 12) == NULL && py_debug_layout_for(3, 16) == NULL,
          "no _Py_DebugOffsets layout before 3.13 or after 3.15");
}

static void test_presence(void)
{
    for (size_t i = 0; i < py_layouts_count; i++) {
        const struct py_layout *l = py_layouts_all[i];
        int bad = 0;
        for (size_t j = 0; j < sizeof presence / sizeof presence[0]; j++) {
            int v = get(l, presence[j].off);
            int want = vers(l) >= presence[j].from && vers(l) <= presence[j].to;
            if ((v >= 0) != want) {
                printf("#   %d.%d: %s = %d\n", l->major, l->minor, presence[j].name, v);
                bad++;
            }
        }
        char what[80];
        snprintf(what, sizeof what, "%d.%d: fields present exactly in their versions",
                 l->major, l->minor);
        CHECK(bad == 0, what);

        bad = 0;
        for (size_t j = 0; j < N_FIELDS; j++) {
            int v = get(l, all_fields[j].off);
            if (v < -1 || v >= (1 << 20)) {
                printf("#   %d.%d: %s = %d\n", l->major, l->minor, all_fields[j].name, v);
                bad++;
            }
        }
        snprintf(what, sizeof what, "%d.%d: every field is -1 or a small offset",
                 l->major, l->minor);
        CHECK(bad == 0, what);
    }
}

/* Offsets that must lie inside the struct whose size the table gives. */
static void test_inside(void)
{
    for (size_t i = 0; i < py_layouts_count; i++) {
        const struct py_layout *l = py_layouts_all[i];
        char what[80];
        int ok = l->frame_size > 0 &&
                 l->frame_back >= 0 && l->frame_back + 8 <= l->frame_size &&
                 l->frame_code >= 0 && l->frame_code + 8 <= l->frame_size &&
                 l->frame_lasti + 4 <= l->frame_size && l->frame_instr + 8 <= l->frame_size &&
                 l->frame_owner + 1 <= l->frame_size;
        snprintf(what, sizeof what, "%d.%d: frame fields inside the frame", l->major, l->minor);
        CHECK(ok, what);

        ok = l->code_filename >= 0 && l->code_filename + 8 <= l->code_size &&
             l->code_name >= 0 && l->code_name + 8 <= l->code_size &&
             l->code_firstlineno >= 0 && l->code_firstlineno + 4 <= l->code_size &&
             l->code_qualname + 8 <= l->code_size && l->code_lnotab + 8 <= l->code_size &&
             l->code_linetable + 8 <= l->code_size && l->code_code + 8 <= l->code_size &&
             l->code_code_adaptive < l->code_size;
        snprintf(what, sizeof what, "%d.%d: code fields inside the code object",
                 l->major, l->minor);
        CHECK(ok, what);
        /* Either a line table or an lnotab, and a way to the bytecode. */
        CHECK((l->code_lnotab >= 0) != (l->code_linetable >= 0), "exactly one line table field");
        CHECK((l->code_code >= 0) != (l->code_code_adaptive >= 0), "exactly one bytecode field");

        /* Exactly one way from a thread to its newest frame. */
        int ways = (l->tstate_frame >= 0) + (l->tstate_cframe >= 0) + (l->tstate_current_frame >= 0);
        CHECK_INT(ways, 1, "one way from thread state to its frame");
        CHECK((l->frame_lasti >= 0) != (l->frame_instr >= 0), "lasti or an instruction pointer");
        if (l->frame_owned_by_cstack >= 0)
            CHECK_INT(l->frame_owned_by_cstack, 3, "FRAME_OWNED_BY_CSTACK is 3");
        if (l->chunk_data >= 0)
            CHECK(l->chunk_previous < l->chunk_size && l->chunk_size < l->chunk_top &&
                  l->chunk_top < l->chunk_data, "stack chunk fields in order");
        if (l->gil_locked >= 0)
            CHECK(l->gil_last_holder >= 0 && l->gil_last_holder != l->gil_locked,
                  "gil locked and last_holder distinct");
        CHECK((l->gil_enabled >= 0) == (l->free_threaded != 0),
              "the GIL's enabled flag exactly in free-threaded tables");

        /* x86-64 object header: refcount, type, then ob_size; a
         * free-threaded build puts ob_tid, flags, mutex, GC bits and two
         * reference counts before the type (Include/object.h). */
        int head = l->free_threaded ? 16 : 0;
        CHECK_INT(l->object_type, 8 + head, "ob_type after the refcount");
        CHECK_INT(l->varobject_size, 16 + head, "ob_size after the object header");
        CHECK_INT(l->module_dict, 16 + head, "md_dict right after the object header");
        CHECK(l->bytes_sval > l->varobject_size, "byte data after ob_size");
        CHECK(l->long_digits >= 24 + head, "long digits after the header");
        CHECK_INT(l->dictentry_size, 24, "dict entry is hash, key, value");
        if (l->major == 3) {
            CHECK(l->unicode_length > l->object_type && l->unicode_state > l->unicode_length &&
                  l->unicode_ascii_size > l->unicode_state &&
                  l->unicode_compact_size > l->unicode_ascii_size, "unicode fields in order");
            CHECK(l->interp_tstate_head >= 0 && l->interp_modules >= 0 && l->tstate_interp >= 0 &&
                  l->tstate_thread_id >= 0 && l->dict_used >= 0, "thread and interpreter fields");
        } else {
            CHECK(l->unicode2_str > l->unicode2_length, "2.7 unicode length then str");
            CHECK(l->dict_table > l->dict_mask, "2.7 dict mask then table");
        }
        if (l->dictunicodeentry_size >= 0)
            CHECK_INT(l->dictunicodeentry_size, 16, "unicode dict entry is key, value");
    }
}

/* ---- _Py_DebugOffsets built in local memory ---------------------------- */

/* Positions (in 8-byte slots) of the fields pytop reads, counted here from
 * CPython's declarations independently of debug_offsets.c. */
struct slots {
    int total;
    int rt_size, rt_head;
    int is_size, is_next, is_threads_head, is_modules, is_ceval_gil, is_gil, is_locked, is_holder;
    int ts_size, ts_next, ts_interp, ts_current_frame, ts_thread_id, ts_native, ts_chunk;
    int fr_size, fr_prev, fr_exec, fr_instr, fr_owner;
    int co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno, co_adaptive;
    int ob_size, ob_type, ty_size, ty_flags, tu_size, tu_ob_size, di_size, di_keys, di_values;
    int lo_size, lo_digit, by_size, by_ob_size, by_sval;
    int un_size, un_state, un_length, un_ascii;
};

static const struct slots slots313 = {
    73, 3, 5, 6, 8, 9, 11, 14, 15, 17, 18, 19, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 33,
    34, 35, 36, 37, 38, 39, 43, 44, 45, 46, 49, 50, 52, 56, 57, 58, 61, 63, 64, 65, 66,
    67, 68, 69, 70,
};
static const struct slots slots314 = {
    95, 3, 5, 6, 8, 9, 12, 15, 16, 18, 19, 22, 24, 25, 26, 27, 28, 29, 31, 32, 33, 34, 36,
    39, 40, 41, 42, 43, 44, 48, 50, 51, 52, 55, 56, 58, 66, 67, 68, 71, 73, 74, 75, 76,
    77, 78, 79, 80,
};

#define RUNTIME_ADDR 0x7f0000001000ull
#define GIL_BASE 4000   /* offset of the interpreter's own _gil, made up */

static void put(unsigned char *buf, int slot, uint64_t v)
{
    memcpy(buf + 8 * (size_t)slot, &v, sizeof v);
}

/* A table carrying l's offsets, with made-up but plausible struct sizes. */
static size_t build(unsigned char *buf, const struct slots *s, const struct py_layout *l,
                    uint64_t version)
{
    /* A free-threaded object header is 16 bytes longer. */
    uint64_t head = l->free_threaded ? 16 : 0;
    memset(buf, 0, 8 * (size_t)s->total);
    memcpy(buf, "xdebugpy", 8);
    put(buf, 1, version);
    put(buf, 2, 0);
    put(buf, s->rt_size, 300000);
    put(buf, s->rt_head, (uint64_t)l->runtime_interpreters_head);
    put(buf, s->is_size, (uint64_t)l->interp_size);
    put(buf, s->is_next, (uint64_t)l->interp_next);
    put(buf, s->is_threads_head, (uint64_t)l->interp_tstate_head);
    put(buf, s->is_modules, (uint64_t)l->interp_modules);
    put(buf, s->is_ceval_gil, (uint64_t)l->interp_ceval_gil);
    put(buf, s->is_gil, GIL_BASE);
    put(buf, s->is_locked, GIL_BASE + (uint64_t)l->gil_locked);
    put(buf, s->is_holder, GIL_BASE + (uint64_t)l->gil_last_holder);
    put(buf, s->ts_size, 304);
    put(buf, s->ts_next, (uint64_t)l->tstate_next);
    put(buf, s->ts_interp, (uint64_t)l->tstate_interp);
    put(buf, s->ts_current_frame, (uint64_t)l->tstate_current_frame);
    put(buf, s->ts_thread_id, (uint64_t)l->tstate_thread_id);
    put(buf, s->ts_native, (uint64_t)l->tstate_native_thread_id);
    put(buf, s->ts_chunk, (uint64_t)l->tstate_datastack_chunk);
    put(buf, s->fr_size, (uint64_t)l->frame_size);
    put(buf, s->fr_prev, (uint64_t)l->frame_back);
    put(buf, s->fr_exec, (uint64_t)l->frame_code);
    put(buf, s->fr_instr, (uint64_t)l->frame_instr);
    put(buf, s->fr_owner, (uint64_t)l->frame_owner);
    put(buf, s->co_size, (uint64_t)l->code_size);
    put(buf, s->co_filename, (uint64_t)l->code_filename);
    put(buf, s->co_name, (uint64_t)l->code_name);
    put(buf, s->co_qualname, (uint64_t)l->code_qualname);
    put(buf, s->co_linetable, (uint64_t)l->code_linetable);
    put(buf, s->co_firstlineno, (uint64_t)l->code_firstlineno);
    put(buf, s->co_adaptive, (uint64_t)l->code_code_adaptive);
    put(buf, s->ob_size, 16 + head);
    put(buf, s->ob_type, (uint64_t)l->object_type);
    put(buf, s->ty_size, 408);
    put(buf, s->ty_flags, (uint64_t)l->type_flags);
    put(buf, s->tu_size, 32 + head);
    put(buf, s->tu_ob_size, (uint64_t)l->varobject_size);
    put(buf, s->di_size, 48 + head);
    put(buf, s->di_keys, (uint64_t)l->dict_keys);
    put(buf, s->di_values, (uint64_t)l->dict_values);
    put(buf, s->lo_size, 32 + head);
    put(buf, s->lo_digit, (uint64_t)l->long_digits);
    put(buf, s->by_size, (uint64_t)l->bytes_sval + 1);
    put(buf, s->by_ob_size, (uint64_t)l->varobject_size);
    put(buf, s->by_sval, (uint64_t)l->bytes_sval);
    put(buf, s->un_size, (uint64_t)l->unicode_compact_size + 8);
    put(buf, s->un_state, (uint64_t)l->unicode_state);
    put(buf, s->un_length, (uint64_t)l->unicode_length);
    put(buf, s->un_ascii, (uint64_t)l->unicode_ascii_size);
    return 8 * (size_t)s->total;
}

/* The table of l's version, as the target of micro release l->micro. */
static int read_table(const unsigned char *buf, size_t len, const struct py_layout *l,
                      struct py_layout *out, uint64_t *version)
{
    struct fake_mem m;
    fake_mem_init(&m);
    fake_mem_add(&m, RUNTIME_ADDR, buf, len);
    return py_debug_offsets_read(&m.base, RUNTIME_ADDR, l->micro, out, version);
}

/* Fields the debug offsets themselves carry (the rest come from fallback). */
static const char *const carried[] = {
    "runtime_interpreters_head", "interp_next", "interp_tstate_head", "interp_modules",
    "interp_ceval_gil", "gil_locked", "gil_last_holder", "tstate_next", "tstate_interp",
    "tstate_current_frame", "tstate_thread_id", "tstate_native_thread_id",
    "tstate_datastack_chunk", "frame_size", "frame_back", "frame_code", "frame_instr",
    "frame_owner", "code_size", "code_filename", "code_name", "code_qualname",
    "code_firstlineno", "code_linetable", "code_code_adaptive", "object_type",
    "varobject_size", "bytes_sval", "unicode_length", "unicode_state", "unicode_ascii_size",
    "type_flags", "dict_keys", "dict_values", "long_digits",
};

static int is_carried(const char *name)
{
    for (size_t i = 0; i < sizeof carried / sizeof carried[0]; i++)
        if (strcmp(carried[i], name) == 0)
            return 1;
    return 0;
}

/* Compare out with want on every field (carried_only: only the carried
 * ones, and the others must be -1); prints the differences. */
static int same(const struct py_layout *out, const struct py_layout *want, int carried_only)
{
    int bad = 0;
    for (size_t j = 0; j < N_FIELDS; j++) {
        int got = get(out, all_fields[j].off);
        int exp = get(want, all_fields[j].off);
        if (carried_only && !is_carried(all_fields[j].name))
            exp = -1;
        if (got != exp) {
            printf("#   %s: got %d, want %d\n", all_fields[j].name, got, exp);
            bad++;
        }
    }
    return bad == 0;
}

/* The hand-counted slots agree with the generated table of the table. */
static void check_positions(const struct slots *s, const struct py_debug_layout *dl)
{
    CHECK(dl != NULL, "a generated _Py_DebugOffsets layout");
    if (!dl)
        return;
    CHECK_INT(dl->table_size, 8 * s->total, "table size");
    CHECK(dl->rt_interpreters_head == 8 * s->rt_head && dl->is_threads_head == 8 * s->is_threads_head &&
          dl->is_imports_modules == 8 * s->is_modules && dl->is_gil_holder == 8 * s->is_holder &&
          dl->ts_current_frame == 8 * s->ts_current_frame && dl->ts_datastack_chunk == 8 * s->ts_chunk &&
          dl->fr_owner == 8 * s->fr_owner && dl->co_code_adaptive == 8 * s->co_adaptive &&
          dl->di_values == 8 * s->di_values && dl->un_state == 8 * s->un_state &&
          dl->un_ascii_size == 8 * s->un_ascii, "generated positions equal the counted ones");
}

static void test_debug_offsets_313(void)
{
    const struct py_layout *l = py_layout_for_micro(3, 13, 0);
    unsigned char buf[PY_DEBUG_OFFSETS_MAX];
    struct py_layout out;
    uint64_t version = 1;

    check_positions(&slots313, py_debug_layout_for(3, 13));
    size_t len = build(buf, &slots313, l, 0x030d00f0);
    CHECK_INT(len, 584, "3.13 table is 584 bytes");
    int rc = read_table(buf, len, l, &out, &version);
    CHECK_INT(rc, 0, "3.13 debug offsets accepted");
    CHECK_INT(version, 0x030d00f0, "version field returned");
    CHECK(out.major == 3 && out.minor == 13, "3.13 from the version field");
    CHECK(same(&out, l, 0), "3.13 debug offsets + fallback equal the generated table");

    /* 3.13.18's interpreter size: its own GC offsets, not 3.13.0's. */
    const struct py_layout *l18 = py_layout_for_micro(3, 13, 18);
    len = build(buf, &slots313, l18, 0x030d12f0);
    rc = read_table(buf, len, l18, &out, &version);
    CHECK(rc == 0 && out.gc_generations == l18->gc_generations, "3.13.18 GC offsets");
    /* A size no table has: stacks yes, table-only counters no. */
    put(buf, slots313.is_size, (uint64_t)l->interp_size + 8);
    rc = read_table(buf, len, l, &out, &version);
    CHECK_INT(rc, 0, "an unknown 3.13 build accepted");
    CHECK(out.tstate_current_frame == l->tstate_current_frame && out.chunk_data == l->chunk_data,
          "its stacks are read");
    CHECK(out.gc_generations == -1 && out.interp_obmalloc_ptr == -1 &&
          out.gc_generation_count == -1, "its GC and pymalloc counters unavailable");
    CHECK_INT(out.frame_lasti, -1, "no lasti in 3.13");
    len = build(buf, &slots313, l, 0x030d00f0);

    /* A short region: the one read fails and nothing is written. */
    struct py_layout untouched = out;
    rc = read_table(buf, len - 8, l, &out, &version);
    CHECK_INT(rc, -EFAULT, "a table cut short is a read error");
    CHECK(memcmp(&out, &untouched, sizeof out) == 0, "out untouched on error");
    struct fake_mem m;
    fake_mem_init(&m);
    rc = py_debug_offsets_read(&m.base, RUNTIME_ADDR, 0, &out, &version);
    CHECK_INT(rc, -EFAULT, "unmapped runtime address is a read error");
    CHECK_INT(version, 0, "no version without a table");
    fake_mem_add(&m, RUNTIME_ADDR, buf, len);
    m.base.reads = 0;
    rc = py_debug_offsets_read(&m.base, RUNTIME_ADDR, 0, &out, &version);
    CHECK(rc == 0 && m.base.reads == 2, "two reads: the version, then its table");
}

static void test_debug_offsets_314(void)
{
    const struct py_layout *l = py_layout_for(3, 14);
    unsigned char buf[PY_DEBUG_OFFSETS_MAX];
    struct py_layout out;
    uint64_t version = 0;

    check_positions(&slots314, py_debug_layout_for(3, 14));
    size_t len = build(buf, &slots314, l, 0x030e0af0);
    CHECK_INT(len, 760, "3.14 table is 760 bytes");
    int rc = read_table(buf, len, l, &out, &version);
    CHECK_INT(rc, 0, "3.14 debug offsets accepted");
    CHECK_INT(version, 0x030e0af0, "3.14 version returned");
    CHECK(same(&out, l, 0), "3.14 positions parsed, the rest from the 3.14 table");
    CHECK_INT(out.frame_owned_by_cstack, 3, "3.14 shim owners start at 3");

    rc = read_table(buf, 584, l, &out, &version);
    CHECK_INT(rc, -EFAULT, "3.14 needs its whole table");
}

static void test_debug_offsets_refused(void)
{
    const struct py_layout *l = py_layout_for(3, 13);
    unsigned char buf[PY_DEBUG_OFFSETS_MAX];
    struct py_layout out;
    uint64_t version = 0;
    size_t len;

    len = build(buf, &slots313, l, 0x030d00f0);
    buf[0] = 'X';
    CHECK_INT(read_table(buf, len, l, &out, &version), -PT_ERR_BAD_DATA, "wrong cookie refused");
    CHECK_INT(version, 0, "no version with a wrong cookie");

    len = build(buf, &slots313, l, 0x030c00f0);
    CHECK_INT(read_table(buf, len, l, &out, &version), -PT_ERR_BAD_DATA, "3.12 never has the table");
    len = build(buf, &slots313, l, 0x1030d00f0ull);
    CHECK_INT(read_table(buf, len, l, &out, &version), -PT_ERR_BAD_DATA, "version beyond 32 bits");
    len = build(buf, &slots314, l, 0x031000a0);
    CHECK_INT(read_table(buf, len, l, &out, &version), -PT_ERR_TOO_NEW, "3.16: newer than pytop");
    CHECK_INT(version, 0x031000a0, "3.16 version still returned");

    len = build(buf, &slots313, l, 0x030d00f0);
    put(buf, 2, 7);
    CHECK_INT(read_table(buf, len, l, &out, &version), -PT_ERR_BAD_DATA, "free_threaded not 0/1");

    /* One absurd value at a time, each must be refused. */
    static const struct { int slot_off; uint64_t value; const char *what; } absurd[] = {
        { offsetof(struct slots, fr_prev), 1ull << 40, "frame previous far out" },
        { offsetof(struct slots, fr_exec), 80, "frame executable at the frame's end" },
        { offsetof(struct slots, fr_size), 0, "zero frame size" },
        { offsetof(struct slots, is_size), 1ull << 30, "gigantic interpreter state" },
        { offsetof(struct slots, is_threads_head), 200000, "threads head past the interpreter" },
        { offsetof(struct slots, rt_head), 1ull << 21, "interpreters head beyond 1 MiB" },
        { offsetof(struct slots, is_locked), GIL_BASE - 8, "gil locked before the gil" },
        { offsetof(struct slots, is_holder), GIL_BASE + 100000, "gil holder far from the gil" },
        { offsetof(struct slots, co_filename), 4096, "code filename past the code object" },
        { offsetof(struct slots, ts_thread_id), UINT64_MAX, "thread id offset -1" },
        { offsetof(struct slots, ob_type), 16, "ob_type at the end of the object" },
        { offsetof(struct slots, tu_ob_size), 24, "tuple and bytes ob_size disagree" },
        { offsetof(struct slots, un_ascii), 8, "ascii object smaller than its fields" },
    };
    for (size_t i = 0; i < sizeof absurd / sizeof absurd[0]; i++) {
        int slot;
        memcpy(&slot, (const char *)&slots313 + absurd[i].slot_off, sizeof slot);
        len = build(buf, &slots313, l, 0x030d00f0);
        put(buf, slot, absurd[i].value);
        CHECK_INT(read_table(buf, len, l, &out, &version), -PT_ERR_BAD_DATA, absurd[i].what);
    }
}

/* Free-threaded builds: the table says free_threaded = 1 and gives their
 * larger objects' offsets. No GIL holder, no pymalloc counters (mimalloc
 * allocates), and from 3.14 per-thread bytecode (tlbc_index, co_tlbc). */
static void test_debug_offsets_free_threaded(void)
{
    const struct py_layout *ft = py_layout_for_build(3, 13, 1);
    const struct py_layout *gil = py_layout_for(3, 13);
    CHECK(ft != NULL, "a generated 3.13t table");
    if (!ft)
        return;
    struct py_layout src = *ft;
    unsigned char buf[PY_DEBUG_OFFSETS_MAX];
    struct py_layout out;
    uint64_t version = 0;

    size_t len = build(buf, &slots313, &src, 0x030d05f0);
    put(buf, 2, 1);
    CHECK_INT(read_table(buf, len, ft, &out, &version), 0, "3.13t debug offsets accepted");
    CHECK(same(&out, ft, 0), "3.13t debug offsets + fallback equal the generated 3.13t table");
    CHECK_INT(out.free_threaded, 1, "3.13t: free_threaded");
    CHECK(out.gil_enabled == 0 && out.gil_locked == ft->gil_locked &&
          out.gil_last_holder == ft->gil_last_holder,
          "3.13t: a holder only when the GIL's enabled (first in _gil) says so");
    CHECK(out.interp_obmalloc_ptr == -1 && out.obmalloc_narenas == -1 &&
          out.obmalloc_arena_bits == -1, "3.13t: pymalloc counters unavailable");
    CHECK(out.gc_generations == ft->gc_generations && out.gc_stats_size == ft->gc_stats_size,
          "3.13t: GC state from the 3.13t table");
    CHECK_INT(out.unicode_kind_bit, 2, "3.13t keeps interned:2");
    CHECK(out.frame_tlbc_index == -1 && out.code_tlbc == -1, "3.13t: no per-thread bytecode");

    /* A table made for an object header 16 bytes shorter would misplace
     * what the debug offsets do not carry: only free-threaded tables are
     * borrowed from, even when no table has this build's size. */
    CHECK(gil && gil->module_dict != ft->module_dict, "3.13 and 3.13t place md_dict apart");
    put(buf, slots313.is_size, (uint64_t)ft->interp_size + 8);
    CHECK_INT(read_table(buf, len, gil, &out, &version), 0, "3.13t of an unknown size");
    CHECK(out.object_type == 24 && out.module_dict == ft->module_dict &&
          out.dict_used == ft->dict_used && out.chunk_data == ft->chunk_data,
          "3.13t of an unknown size: the rest from the 3.13t table");
    CHECK(out.gc_generations == -1 && out.obmalloc_narenas == -1,
          "3.13t of an unknown size: its counters unavailable");
    put(buf, slots313.is_size, (uint64_t)ft->interp_size);

    struct fake_mem m;
    fake_mem_init(&m);
    fake_mem_add(&m, RUNTIME_ADDR, buf, len);
    CHECK_INT(py_debug_offsets_free_threaded(&m.base, RUNTIME_ADDR), 1, "free_threaded probe: 1");
    put(buf, 2, 0);
    CHECK_INT(py_debug_offsets_free_threaded(&m.base, RUNTIME_ADDR), 0, "free_threaded probe: 0");
    put(buf, 2, 2);
    CHECK_INT(py_debug_offsets_free_threaded(&m.base, RUNTIME_ADDR), -PT_ERR_BAD_DATA,
              "free_threaded probe: 2 refused");
    buf[0] = 'X';
    CHECK_INT(py_debug_offsets_free_threaded(&m.base, RUNTIME_ADDR), -PT_ERR_BAD_DATA,
              "free_threaded probe: wrong cookie");

    /* 3.14t (no binary here): the 3.14 table with tlbc_index (slot 38) and
     * co_tlbc (slot 49), at their places in 3.14's headers: the frame's
     * tlbc_index follows stackpointer (offset 72), co_tlbc comes just
     * before co_code_adaptive. */
    const struct py_debug_layout *dl = py_debug_layout_for(3, 14);
    CHECK(dl && dl->fr_tlbc_index == 8 * 38 && dl->co_tlbc == 8 * 49 &&
          py_debug_layout_for(3, 13)->is_gil_enabled == 8 * 16 && dl->is_gil_enabled == 8 * 17,
          "generated positions of the free-threaded members equal the counted ones");
    len = build(buf, &slots314, &src, 0x030e00f0);
    put(buf, 2, 1);
    put(buf, 38, 72);
    put(buf, 49, (uint64_t)src.code_code_adaptive - 8);
    CHECK_INT(read_table(buf, len, ft, &out, &version), 0, "3.14t debug offsets accepted");
    CHECK(out.free_threaded == 1 && out.minor == 14, "3.14t: free-threaded 3.14");
    CHECK_INT(out.frame_tlbc_index, 72, "3.14t: frame tlbc_index");
    CHECK_INT(out.code_tlbc, src.code_code_adaptive - 8, "3.14t: co_tlbc");
    CHECK(out.codearray_size == 0 && out.codearray_entries == 8, "3.14t: _PyCodeArray size, entries");
    CHECK_INT(out.unicode_kind_bit, 8, "3.14t: interned is a byte, kind starts at bit 8");
    CHECK(out.gil_enabled == 0 && out.obmalloc_narenas == -1, "3.14t: GIL enabled flag, no pymalloc");
    put(buf, 38, 0);
    CHECK_INT(read_table(buf, len, ft, &out, &version), -PT_ERR_BAD_DATA,
              "3.14t without a tlbc_index offset refused");
    put(buf, 38, (uint64_t)src.frame_size);
    CHECK_INT(read_table(buf, len, ft, &out, &version), -PT_ERR_BAD_DATA,
              "3.14t tlbc_index past the frame refused");
    put(buf, 38, 72);
    put(buf, 49, (uint64_t)src.code_size);
    CHECK_INT(read_table(buf, len, ft, &out, &version), -PT_ERR_BAD_DATA,
              "3.14t co_tlbc past the code object refused");
}

int main(void)
{
    UNIT_RUN(test_versions);
    UNIT_RUN(test_presence);
    UNIT_RUN(test_inside);
    UNIT_RUN(test_debug_offsets_313);
    UNIT_RUN(test_debug_offsets_314);
    UNIT_RUN(test_debug_offsets_refused);
    UNIT_RUN(test_debug_offsets_free_threaded);
    return unit_done();
}
