#include "config.h"

#include "python/debug_offsets.h"

#include <string.h>

#include "core/error.h"

/* The raw tables as CPython lays them out: 3.13 in internal/pycore_runtime.h,
 * 3.14 in internal/pycore_debug_offsets.h. Every member is a uint64_t, so
 * there is no padding and each field's byte position is fixed. Both are
 * declared whole, so their sizes are checked against CPython's. */
struct raw313 {
    char cookie[8];
    uint64_t version, free_threaded;
    struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
    struct {
        uint64_t size, id, next, threads_head, gc, imports_modules, sysdict, builtins,
                 ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
                 gil_runtime_state_locked, gil_runtime_state_holder;
    } interpreter_state;
    struct {
        uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id,
                 datastack_chunk, status;
    } thread_state;
    struct { uint64_t size, previous, executable, instr_ptr, localsplus, owner; } interpreter_frame;
    struct {
        uint64_t size, filename, name, qualname, linetable, firstlineno, argcount,
                 localsplusnames, localspluskinds, co_code_adaptive;
    } code_object;
    struct { uint64_t size, ob_type; } pyobject;
    struct { uint64_t size, tp_name, tp_repr, tp_flags; } type_object;
    struct { uint64_t size, ob_item, ob_size; } tuple_object;
    struct { uint64_t size, ob_item, ob_size; } list_object;
    struct { uint64_t size, ma_keys, ma_values; } dict_object;
    struct { uint64_t size, ob_fval; } float_object;
    struct { uint64_t size, lv_tag, ob_digit; } long_object;
    struct { uint64_t size, ob_size, ob_sval; } bytes_object;
    struct { uint64_t size, state, length, asciiobject_size; } unicode_object;
    struct { uint64_t size, collecting; } gc;
};

/* 3.14 added threads_main, the code-object and TLBC generations, the frame's
 * stackpointer and tlbc_index, co_tlbc, and a set table before the dict one. */
struct raw314 {
    char cookie[8];
    uint64_t version, free_threaded;
    struct { uint64_t size, finalizing, interpreters_head; } runtime_state;
    struct {
        uint64_t size, id, next, threads_head, threads_main, gc, imports_modules, sysdict,
                 builtins, ceval_gil, gil_runtime_state, gil_runtime_state_enabled,
                 gil_runtime_state_locked, gil_runtime_state_holder,
                 code_object_generation, tlbc_generation;
    } interpreter_state;
    struct {
        uint64_t size, prev, next, interp, current_frame, thread_id, native_thread_id,
                 datastack_chunk, status;
    } thread_state;
    struct {
        uint64_t size, previous, executable, instr_ptr, localsplus, owner, stackpointer,
                 tlbc_index;
    } interpreter_frame;
    struct {
        uint64_t size, filename, name, qualname, linetable, firstlineno, argcount,
                 localsplusnames, localspluskinds, co_code_adaptive, co_tlbc;
    } code_object;
    struct { uint64_t size, ob_type; } pyobject;
    struct { uint64_t size, tp_name, tp_repr, tp_flags; } type_object;
    struct { uint64_t size, ob_item, ob_size; } tuple_object;
    struct { uint64_t size, ob_item, ob_size; } list_object;
    struct { uint64_t size, used, table, mask; } set_object;
    struct { uint64_t size, ma_keys, ma_values; } dict_object;
    struct { uint64_t size, ob_fval; } float_object;
    struct { uint64_t size, lv_tag, ob_digit; } long_object;
    struct { uint64_t size, ob_size, ob_sval; } bytes_object;
    struct { uint64_t size, state, length, asciiobject_size; } unicode_object;
    struct { uint64_t size, collecting; } gc;
    struct { uint64_t size, gi_name, gi_iframe, gi_frame_state; } gen_object;
    struct { uint64_t next, prev; } llist_node;
    uint64_t debugger_support[6];
};

_Static_assert(sizeof(struct raw313) == PY_DEBUG_OFFSETS_SIZE_313, "3.13 _Py_DebugOffsets size");
_Static_assert(sizeof(struct raw314) == PY_DEBUG_OFFSETS_SIZE_314, "3.14 _Py_DebugOffsets size");

/* The fields pytop uses, whatever the version's table layout. */
struct dbg {
    uint64_t rt_size, rt_interpreters_head;
    uint64_t is_size, is_next, is_threads_head, is_modules, is_ceval_gil;
    uint64_t is_gc;
    uint64_t is_gil, is_gil_locked, is_gil_holder;
    uint64_t ts_size, ts_next, ts_interp, ts_current_frame, ts_thread_id;
    uint64_t ts_native_thread_id, ts_datastack_chunk;
    uint64_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
    uint64_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno;
    uint64_t co_code_adaptive;
    uint64_t ob_size, ob_type;
    uint64_t ty_size, ty_flags;
    uint64_t tu_size, tu_ob_size;
    uint64_t di_size, di_keys, di_values;
    uint64_t lo_size, lo_digit;
    uint64_t by_size, by_ob_size, by_sval;
    uint64_t un_size, un_state, un_length, un_ascii_size;
};

/* Both raw layouts name these members alike. */
#define DBG_FROM_RAW(d, r) do { \
        (d)->rt_size = (r)->runtime_state.size; \
        (d)->rt_interpreters_head = (r)->runtime_state.interpreters_head; \
        (d)->is_size = (r)->interpreter_state.size; \
        (d)->is_next = (r)->interpreter_state.next; \
        (d)->is_threads_head = (r)->interpreter_state.threads_head; \
        (d)->is_modules = (r)->interpreter_state.imports_modules; \
        (d)->is_ceval_gil = (r)->interpreter_state.ceval_gil; \
        (d)->is_gc = (r)->interpreter_state.gc; \
        (d)->is_gil = (r)->interpreter_state.gil_runtime_state; \
        (d)->is_gil_locked = (r)->interpreter_state.gil_runtime_state_locked; \
        (d)->is_gil_holder = (r)->interpreter_state.gil_runtime_state_holder; \
        (d)->ts_size = (r)->thread_state.size; \
        (d)->ts_next = (r)->thread_state.next; \
        (d)->ts_interp = (r)->thread_state.interp; \
        (d)->ts_current_frame = (r)->thread_state.current_frame; \
        (d)->ts_thread_id = (r)->thread_state.thread_id; \
        (d)->ts_native_thread_id = (r)->thread_state.native_thread_id; \
        (d)->ts_datastack_chunk = (r)->thread_state.datastack_chunk; \
        (d)->fr_size = (r)->interpreter_frame.size; \
        (d)->fr_previous = (r)->interpreter_frame.previous; \
        (d)->fr_executable = (r)->interpreter_frame.executable; \
        (d)->fr_instr_ptr = (r)->interpreter_frame.instr_ptr; \
        (d)->fr_owner = (r)->interpreter_frame.owner; \
        (d)->co_size = (r)->code_object.size; \
        (d)->co_filename = (r)->code_object.filename; \
        (d)->co_name = (r)->code_object.name; \
        (d)->co_qualname = (r)->code_object.qualname; \
        (d)->co_linetable = (r)->code_object.linetable; \
        (d)->co_firstlineno = (r)->code_object.firstlineno; \
        (d)->co_code_adaptive = (r)->code_object.co_code_adaptive; \
        (d)->ob_size = (r)->pyobject.size; \
        (d)->ob_type = (r)->pyobject.ob_type; \
        (d)->ty_size = (r)->type_object.size; \
        (d)->ty_flags = (r)->type_object.tp_flags; \
        (d)->tu_size = (r)->tuple_object.size; \
        (d)->tu_ob_size = (r)->tuple_object.ob_size; \
        (d)->di_size = (r)->dict_object.size; \
        (d)->di_keys = (r)->dict_object.ma_keys; \
        (d)->di_values = (r)->dict_object.ma_values; \
        (d)->lo_size = (r)->long_object.size; \
        (d)->lo_digit = (r)->long_object.ob_digit; \
        (d)->by_size = (r)->bytes_object.size; \
        (d)->by_ob_size = (r)->bytes_object.ob_size; \
        (d)->by_sval = (r)->bytes_object.ob_sval; \
        (d)->un_size = (r)->unicode_object.size; \
        (d)->un_state = (r)->unicode_object.state; \
        (d)->un_length = (r)->unicode_object.length; \
        (d)->un_ascii_size = (r)->unicode_object.asciiobject_size; \
    } while (0)

/* Plausibility bounds: the runtime and interpreter states are a few hundred
 * KiB in 3.13; everything else is far smaller. */
#define MAX_BIG_SIZE   (16u << 20)
#define MAX_SMALL_SIZE (64u << 10)
#define MAX_OFFSET     (1u << 20)
#define MAX_GIL_FIELD  4096u

static int size_ok(uint64_t size, uint64_t max)
{
    return size > 0 && size <= max;
}

/* A field of width bytes at off lies inside a struct of size bytes. */
static int field_ok(uint64_t off, uint64_t width, uint64_t size)
{
    return off < MAX_OFFSET && off + width <= size;
}

static int plausible(const struct dbg *d)
{
    const uint64_t P = 8; /* pointer and Py_ssize_t width on x86-64 */

    if (!size_ok(d->rt_size, MAX_BIG_SIZE) || !size_ok(d->is_size, MAX_BIG_SIZE))
        return 0;
    if (!size_ok(d->ts_size, MAX_SMALL_SIZE) || !size_ok(d->fr_size, MAX_SMALL_SIZE) ||
        !size_ok(d->co_size, MAX_SMALL_SIZE) || !size_ok(d->ob_size, MAX_SMALL_SIZE) ||
        !size_ok(d->ty_size, MAX_SMALL_SIZE) || !size_ok(d->tu_size, MAX_SMALL_SIZE) ||
        !size_ok(d->di_size, MAX_SMALL_SIZE) || !size_ok(d->lo_size, MAX_SMALL_SIZE) ||
        !size_ok(d->by_size, MAX_SMALL_SIZE) || !size_ok(d->un_size, MAX_SMALL_SIZE))
        return 0;

    if (!field_ok(d->rt_interpreters_head, P, d->rt_size))
        return 0;
    if (!field_ok(d->is_next, P, d->is_size) || !field_ok(d->is_threads_head, P, d->is_size) ||
        !field_ok(d->is_modules, P, d->is_size) || !field_ok(d->is_ceval_gil, P, d->is_size))
        return 0;
    /* locked and last_holder are given inside the interpreter's own _gil. */
    if (!field_ok(d->is_gil, 1, d->is_size) ||
        !field_ok(d->is_gil_locked, 4, d->is_size) || !field_ok(d->is_gil_holder, P, d->is_size) ||
        d->is_gil_locked < d->is_gil || d->is_gil_locked - d->is_gil >= MAX_GIL_FIELD ||
        d->is_gil_holder < d->is_gil || d->is_gil_holder - d->is_gil >= MAX_GIL_FIELD)
        return 0;
    if (!field_ok(d->ts_next, P, d->ts_size) || !field_ok(d->ts_interp, P, d->ts_size) ||
        !field_ok(d->ts_current_frame, P, d->ts_size) || !field_ok(d->ts_thread_id, P, d->ts_size) ||
        !field_ok(d->ts_native_thread_id, P, d->ts_size) ||
        !field_ok(d->ts_datastack_chunk, P, d->ts_size))
        return 0;
    if (!field_ok(d->fr_previous, P, d->fr_size) || !field_ok(d->fr_executable, P, d->fr_size) ||
        !field_ok(d->fr_instr_ptr, P, d->fr_size) || !field_ok(d->fr_owner, 1, d->fr_size))
        return 0;
    if (!field_ok(d->co_filename, P, d->co_size) || !field_ok(d->co_name, P, d->co_size) ||
        !field_ok(d->co_qualname, P, d->co_size) || !field_ok(d->co_linetable, P, d->co_size) ||
        !field_ok(d->co_firstlineno, 4, d->co_size) || !field_ok(d->co_code_adaptive, 1, d->co_size))
        return 0;
    if (!field_ok(d->ob_type, P, d->ob_size) || !field_ok(d->ty_flags, P, d->ty_size) ||
        !field_ok(d->tu_ob_size, P, d->tu_size) || !field_ok(d->by_ob_size, P, d->by_size) ||
        !field_ok(d->by_sval, 1, d->by_size) || !field_ok(d->di_keys, P, d->di_size) ||
        !field_ok(d->di_values, P, d->di_size) || !field_ok(d->lo_digit, 4, d->lo_size))
        return 0;
    if (!field_ok(d->un_state, 4, d->un_size) || !field_ok(d->un_length, P, d->un_size) ||
        d->un_ascii_size > d->un_size || d->un_ascii_size < d->un_length + P)
        return 0;
    /* ob_size is PyVarObject's, whichever object it was measured in; the
     * header (ob_type among it) comes first. */
    if (d->tu_ob_size != d->by_ob_size || d->ob_type >= d->tu_ob_size)
        return 0;
    return 1;
}

static int from_fallback(const struct py_layout *fallback, size_t field_offset)
{
    if (!fallback)
        return -1;
    int v;
    memcpy(&v, (const char *)fallback + field_offset, sizeof v);
    return v;
}

#define FB(field) (out)->field = from_fallback(fallback, offsetof(struct py_layout, field))

static void fill(const struct dbg *d, int minor, const struct py_layout *fallback,
                 struct py_layout *out)
{
    memset(out, 0, sizeof *out);
    out->major = 3;
    out->minor = minor;

    out->runtime_interpreters_head = (int)d->rt_interpreters_head;
    out->runtime_gilstate_tstate_current = -1;

    out->interp_next = (int)d->is_next;
    out->interp_tstate_head = (int)d->is_threads_head;
    out->interp_modules = (int)d->is_modules;
    out->interp_ceval_gil = (int)d->is_ceval_gil;
    out->gil_locked = (int)(d->is_gil_locked - d->is_gil);
    out->gil_last_holder = (int)(d->is_gil_holder - d->is_gil);

    out->tstate_next = (int)d->ts_next;
    out->tstate_interp = (int)d->ts_interp;
    out->tstate_frame = -1;
    out->tstate_cframe = -1;
    out->cframe_current_frame = -1;
    out->tstate_current_frame = (int)d->ts_current_frame;
    out->tstate_thread_id = (int)d->ts_thread_id;
    out->tstate_native_thread_id = (int)d->ts_native_thread_id;
    out->tstate_datastack_chunk = (int)d->ts_datastack_chunk;

    FB(chunk_previous);
    FB(chunk_size);
    FB(chunk_top);
    FB(chunk_data);

    out->frame_size = (int)d->fr_size;
    out->frame_back = (int)d->fr_previous;
    out->frame_code = (int)d->fr_executable;
    out->frame_lasti = -1;
    out->frame_instr = (int)d->fr_instr_ptr;
    out->frame_owner = (int)d->fr_owner;
    out->frame_is_entry = -1;   /* 3.11 only */
    out->frame_executing = -1;  /* frame objects, up to 3.10 */
    out->frame_state = -1;
    /* 3.14 renamed 3.13's shim owner (3) to FRAME_OWNED_BY_INTERPRETER and
     * added FRAME_OWNED_BY_CSTACK = 4: every owner >= 3 is a shim there. */
    if (minor >= 14)
        out->frame_owned_by_cstack = 3;
    else
        FB(frame_owned_by_cstack);

    out->code_size = (int)d->co_size;
    out->code_filename = (int)d->co_filename;
    out->code_name = (int)d->co_name;
    out->code_qualname = (int)d->co_qualname;
    out->code_firstlineno = (int)d->co_firstlineno;
    out->code_lnotab = -1;
    out->code_flags = -1;           /* owners say "generator" from 3.11 */
    out->tstate_recursion_depth = -1;
    out->code_linetable = (int)d->co_linetable;
    out->code_code = -1;
    out->code_code_adaptive = (int)d->co_code_adaptive;

    out->object_type = (int)d->ob_type;
    out->varobject_size = (int)d->tu_ob_size;
    out->bytes_sval = (int)d->by_sval;
    out->unicode_length = (int)d->un_length;
    out->unicode_state = (int)d->un_state;
    out->unicode_ascii_size = (int)d->un_ascii_size;
    FB(unicode_compact_size);
    out->unicode2_length = -1;
    out->unicode2_str = -1;

    out->type_flags = (int)d->ty_flags;
    FB(type_dictoffset);
    FB(type_basicsize);
    FB(heaptype_cached_keys);
    FB(dict_used);
    out->dict_keys = (int)d->di_keys;
    out->dict_values = (int)d->di_values;
    out->dict_mask = -1;
    out->dict_table = -1;
    out->dictkeys_size = -1;
    FB(dictkeys_log2_size);
    FB(dictkeys_log2_index_bytes);
    FB(dictkeys_kind);
    FB(dictkeys_nentries);
    FB(dictkeys_indices);
    FB(dictentry_size);
    FB(dictunicodeentry_size);
    FB(module_dict);
    out->long_digits = (int)d->lo_digit;
    out->int2_ival = -1;

    /* Memory counters (heap.c). The table gives where the GC state sits in
     * the interpreter; what is inside it, and the pymalloc state, come
     * from the 3.13 table, and are unknown (-1) for later versions, whose
     * structures pytop has not seen. */
    out->runtime_gc = -1;
    out->interp_gc = d->is_gc > 0 && d->is_gc < d->is_size ? (int)d->is_gc : -1;
    out->interp_obmalloc = -1;
    out->runtime_interpreters_main = -1;
    out->gc_generations = out->gc_generation_stats = out->gc_generation_size = -1;
    out->gc_generation_count = out->gc_stats_size = out->gc_stats_collections = -1;
    out->gc_stats_collected = out->gc_stats_uncollectable = -1;
    out->interp_obmalloc_ptr = out->obmalloc_narenas = out->obmalloc_narenas_highwater = -1;
    out->obmalloc_arena_bits = -1;
    if (minor == 13) {
        FB(runtime_interpreters_main);
        FB(gc_generations);
        FB(gc_generation_stats);
        FB(gc_generation_size);
        FB(gc_generation_count);
        FB(gc_stats_size);
        FB(gc_stats_collections);
        FB(gc_stats_collected);
        FB(gc_stats_uncollectable);
        FB(interp_obmalloc_ptr);
        FB(obmalloc_narenas);
        FB(obmalloc_narenas_highwater);
        FB(obmalloc_arena_bits);
    }
}

int py_debug_offsets_read(struct mem_source *src, uint64_t runtime_addr,
                          const struct py_layout *fallback, struct py_layout *out,
                          uint64_t *version_hex)
{
    /* Room for the largest known table; 3.13 needs only its own size. */
    union {
        unsigned char bytes[PY_DEBUG_OFFSETS_SIZE_314];
        struct raw313 r313;
        struct raw314 r314;
    } raw;
    struct dbg d;

    *version_hex = 0;
    int rc = mem_read(src, runtime_addr, raw.bytes, PY_DEBUG_OFFSETS_SIZE_313);
    if (rc < 0)
        return rc;
    if (memcmp(raw.r313.cookie, "xdebugpy", 8) != 0)
        return -PT_ERR_BAD_DATA;

    uint64_t version = raw.r313.version;
    *version_hex = version;
    /* PY_VERSION_HEX fits in 32 bits, and the table only exists from 3.13. */
    if (version >> 32 || (version >> 24) != 3 || ((version >> 16) & 0xff) < 13)
        return -PT_ERR_BAD_DATA;
    int minor = (int)((version >> 16) & 0xff);
    if (minor > 14)
        return -PT_ERR_UNSUPPORTED;
    if (raw.r313.free_threaded == 1)
        return -PT_ERR_UNSUPPORTED;
    if (raw.r313.free_threaded != 0)
        return -PT_ERR_BAD_DATA;

    if (minor == 13) {
        DBG_FROM_RAW(&d, &raw.r313);
    } else {
        rc = mem_read(src, runtime_addr, raw.bytes, PY_DEBUG_OFFSETS_SIZE_314);
        if (rc < 0)
            return rc;
        /* The process may have been replaced between the two reads. */
        if (memcmp(raw.r314.cookie, "xdebugpy", 8) != 0 || raw.r314.version != version ||
            raw.r314.free_threaded != 0)
            return -PT_ERR_BAD_DATA;
        DBG_FROM_RAW(&d, &raw.r314);
    }
    if (!plausible(&d))
        return -PT_ERR_BAD_DATA;
    fill(&d, minor, fallback, out);
    return 0;
}
