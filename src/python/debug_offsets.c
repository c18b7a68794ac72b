#include "config.h"

#include "python/debug_offsets.h"

#include <string.h>

#include "core/error.h"

/* The members pytop uses, whatever the version's table layout: the values
 * found in the target's table, NONE where the version has no such member. */
#define NONE UINT64_MAX

struct dbg {
    uint64_t rt_size, rt_interpreters_head;
    uint64_t is_size, is_next, is_threads_head, is_gc, is_imports_modules, is_ceval_gil;
    uint64_t is_gil_runtime_state, is_gil_locked, is_gil_holder;
    uint64_t ts_size, ts_next, ts_interp, ts_current_frame, ts_thread_id, ts_native_thread_id;
    uint64_t ts_datastack_chunk, ts_holds_gil, ts_gil_requested, ts_base_frame;
    /* Free-threaded builds only (0 elsewhere): see fill_free_threaded. The
     * GIL's enabled flag is an offset inside _gil_runtime_state, not the
     * interpreter; tlbc_index and co_tlbc are 3.14+. */
    uint64_t is_gil_enabled, fr_tlbc_index, co_tlbc;
    uint64_t fr_size, fr_previous, fr_executable, fr_instr_ptr, fr_owner;
    uint64_t co_size, co_filename, co_name, co_qualname, co_linetable, co_firstlineno;
    uint64_t co_code_adaptive;
    uint64_t ob_size, ob_type;
    uint64_t ty_size, ty_flags, ty_basicsize, ty_dictoffset;
    uint64_t ht_size, ht_cached_keys;
    uint64_t tu_size, tu_ob_size;
    uint64_t di_size, di_keys, di_values;
    uint64_t lo_size, lo_digit;
    uint64_t by_size, by_ob_size, by_sval;
    uint64_t un_size, un_state, un_length, un_ascii_size, un_compact_size;
    uint64_t gc_size, gc_generation_stats, gc_collecting;
};

/* Each struct dbg member and where the generated py_debug_layout says it
 * sits in the raw table; the names are the same in both. */
#define MEMBER(name) { offsetof(struct py_debug_layout, name), offsetof(struct dbg, name) }
static const struct { size_t pos, val; } members[] = {
    MEMBER(rt_size), MEMBER(rt_interpreters_head),
    MEMBER(is_size), MEMBER(is_next), MEMBER(is_threads_head), MEMBER(is_gc),
    MEMBER(is_imports_modules), MEMBER(is_ceval_gil), MEMBER(is_gil_runtime_state),
    MEMBER(is_gil_locked), MEMBER(is_gil_holder),
    MEMBER(ts_size), MEMBER(ts_next), MEMBER(ts_interp), MEMBER(ts_current_frame),
    MEMBER(ts_thread_id), MEMBER(ts_native_thread_id), MEMBER(ts_datastack_chunk),
    MEMBER(ts_holds_gil), MEMBER(ts_gil_requested), MEMBER(ts_base_frame),
    MEMBER(is_gil_enabled), MEMBER(fr_tlbc_index), MEMBER(co_tlbc),
    MEMBER(fr_size), MEMBER(fr_previous), MEMBER(fr_executable), MEMBER(fr_instr_ptr),
    MEMBER(fr_owner),
    MEMBER(co_size), MEMBER(co_filename), MEMBER(co_name), MEMBER(co_qualname),
    MEMBER(co_linetable), MEMBER(co_firstlineno), MEMBER(co_code_adaptive),
    MEMBER(ob_size), MEMBER(ob_type),
    MEMBER(ty_size), MEMBER(ty_flags), MEMBER(ty_basicsize), MEMBER(ty_dictoffset),
    MEMBER(ht_size), MEMBER(ht_cached_keys),
    MEMBER(tu_size), MEMBER(tu_ob_size),
    MEMBER(di_size), MEMBER(di_keys), MEMBER(di_values),
    MEMBER(lo_size), MEMBER(lo_digit),
    MEMBER(by_size), MEMBER(by_ob_size), MEMBER(by_sval),
    MEMBER(un_size), MEMBER(un_state), MEMBER(un_length), MEMBER(un_ascii_size),
    MEMBER(un_compact_size),
    MEMBER(gc_size), MEMBER(gc_generation_stats), MEMBER(gc_collecting),
};

static int layout_int(const struct py_debug_layout *dl, size_t pos)
{
    int v;
    memcpy(&v, (const char *)dl + pos, sizeof v);
    return v;
}

/* Decode raw (table_size bytes) through dl. Every member must lie inside
 * the table; a member the version lacks is NONE. */
static int decode(const struct py_debug_layout *dl, const unsigned char *raw, struct dbg *d)
{
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        int pos = layout_int(dl, members[i].pos);
        uint64_t v = NONE;
        if (pos >= 0) {
            if (pos % 8 || pos + 8 > dl->table_size)
                return -PT_ERR_BAD_DATA;
            memcpy(&v, raw + pos, sizeof v);
        }
        memcpy((char *)d + members[i].val, &v, sizeof v);
    }
    return 0;
}

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
        !field_ok(d->is_imports_modules, P, d->is_size) || !field_ok(d->is_ceval_gil, P, d->is_size))
        return 0;
    /* locked and last_holder are given inside the interpreter's own _gil. */
    uint64_t gil = d->is_gil_runtime_state;
    if (!field_ok(gil, 1, d->is_size) ||
        !field_ok(d->is_gil_locked, 4, d->is_size) || !field_ok(d->is_gil_holder, P, d->is_size) ||
        d->is_gil_locked < gil || d->is_gil_locked - gil >= MAX_GIL_FIELD ||
        d->is_gil_holder < gil || d->is_gil_holder - gil >= MAX_GIL_FIELD)
        return 0;
    /* Members only some versions have: checked when there. */
    if ((d->ts_holds_gil != NONE && !field_ok(d->ts_holds_gil, 4, d->ts_size)) ||
        (d->ts_gil_requested != NONE && !field_ok(d->ts_gil_requested, 4, d->ts_size)) ||
        (d->ts_base_frame != NONE && !field_ok(d->ts_base_frame, P, d->ts_size)) ||
        (d->is_gc != NONE && d->gc_size != NONE && !field_ok(d->is_gc, d->gc_size, d->is_size)) ||
        (d->gc_generation_stats != NONE &&
         (d->gc_size == NONE || !field_ok(d->gc_generation_stats, P, d->gc_size))))
        return 0;
    if ((d->ty_basicsize != NONE && !field_ok(d->ty_basicsize, P, d->ty_size)) ||
        (d->ty_dictoffset != NONE && !field_ok(d->ty_dictoffset, P, d->ty_size)) ||
        (d->ht_cached_keys != NONE &&
         (d->ht_size == NONE || !field_ok(d->ht_cached_keys, P, d->ht_size) ||
          d->ht_cached_keys < d->ty_size)) ||
        (d->un_compact_size != NONE &&
         (d->un_compact_size < d->un_ascii_size || d->un_compact_size > d->un_size)))
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
#define EXACT(field) (out)->field = from_fallback(exact, offsetof(struct py_layout, field))

/* The GC and pymalloc state (heap.c) as tables alone describe it: taken
 * only from the table made for this very build (its interpreter state has
 * the target's size), since a micro release moved them (3.13.18 aligns
 * PyGC_Head to 4 bytes: generations[] starts 4 bytes earlier than in
 * 3.13.0). With no such table they are unknown and the counters
 * unavailable. 3.15's table gives where generation_stats hangs itself. */
static void fill_counters(const struct dbg *d, const struct py_layout *exact,
                          struct py_layout *out)
{
    out->runtime_gc = -1;
    out->interp_gc = d->is_gc != NONE && d->is_gc > 0 && d->is_gc < d->is_size ? (int)d->is_gc : -1;
    out->interp_obmalloc = -1;
    EXACT(runtime_interpreters_main);
    EXACT(gc_generations);
    EXACT(gc_generation_stats);
    if (exact && d->gc_generation_stats != NONE)
        out->gc_generation_stats = (int)d->gc_generation_stats;
    EXACT(gc_generation_size);
    EXACT(gc_generation_count);
    EXACT(gc_generation_threshold);
    EXACT(gc_stats_size);
    EXACT(gc_stats_collections);
    EXACT(gc_stats_collected);
    EXACT(gc_stats_uncollectable);
    EXACT(gc_stats_young);
    EXACT(gc_stats_young_index);
    EXACT(gc_stats_young_len);
    EXACT(gc_stats_old);
    EXACT(gc_stats_old_size);
    EXACT(gc_stats_old_index);
    EXACT(gc_stats_old_len);
    /* 3.14+ give the collector's flag; 3.13 only in the headers. */
    EXACT(gc_collecting);
    if (d->gc_collecting != NONE && d->gc_size != NONE && out->interp_gc >= 0 &&
        field_ok(d->gc_collecting, 4, d->gc_size))
        out->gc_collecting = (int)d->gc_collecting;
    EXACT(interp_obmalloc_ptr);
    EXACT(obmalloc_narenas);
    EXACT(obmalloc_narenas_highwater);
    EXACT(obmalloc_arena_bits);
}

/* What a free-threaded build (Py_GIL_DISABLED, "3.13t") changes in *out,
 * which fill() made as for a build with the GIL. The table's own offsets
 * already account for the larger object header (ob_tid, ob_ref_local,
 * ob_ref_shared...). There is no GIL holder unless the GIL's "enabled"
 * says it was turned back on (PYTHON_GIL=1, or an extension that needs
 * it); pymalloc's arenas are unused (mimalloc allocates), so their
 * counters are unavailable; from 3.14 a frame may run a thread's own copy
 * of the bytecode (tlbc_index into the code object's co_tlbc array), and
 * PyASCIIObject.interned is a whole byte. Fields not in the debug offsets
 * came from free-threaded tables only (fallback and exact are chosen among
 * them): a GIL build's header size would misplace them. */
static void fill_free_threaded(const struct dbg *d, int minor, struct py_layout *out)
{
    out->free_threaded = 1;
    out->gil_enabled = d->is_gil_enabled != NONE && d->is_gil_enabled < MAX_GIL_FIELD
                           ? (int)d->is_gil_enabled : -1;
    if (out->gil_enabled < 0)
        out->interp_ceval_gil = out->gil_locked = out->gil_last_holder = -1;
    out->interp_obmalloc = out->interp_obmalloc_ptr = -1;
    out->obmalloc_narenas = out->obmalloc_narenas_highwater = out->obmalloc_arena_bits = -1;
    if (minor >= 14) {
        out->unicode_kind_bit = 8;
        out->frame_tlbc_index = (int)d->fr_tlbc_index;
        out->code_tlbc = (int)d->co_tlbc;
        /* _PyCodeArray { Py_ssize_t size; char *entries[]; } (pycore_code.h),
         * which the table does not describe. */
        out->codearray_size = 0;
        out->codearray_entries = 8;
    }
}

/* The tlbc fields of a 3.14+ free-threaded table lie inside their structs
 * (neither is ever at offset 0). */
static int free_threaded_plausible(const struct dbg *d)
{
    return d->fr_tlbc_index != NONE && d->fr_tlbc_index > 0 &&
           field_ok(d->fr_tlbc_index, 4, d->fr_size) && d->co_tlbc != NONE && d->co_tlbc > 0 &&
           field_ok(d->co_tlbc, 8, d->co_size);
}

int py_debug_offsets_free_threaded(struct mem_source *src, uint64_t runtime_addr)
{
    struct { char cookie[8]; uint64_t version, free_threaded; } head;
    int rc = mem_read(src, runtime_addr, &head, sizeof head);
    if (rc < 0)
        return rc;
    if (memcmp(head.cookie, "xdebugpy", 8) != 0 || head.free_threaded > 1)
        return -PT_ERR_BAD_DATA;
    return (int)head.free_threaded;
}

/* A member the table has, as an offset; else the table's value (fb). */
static int or_table(uint64_t v, int fb)
{
    return v == NONE ? fb : (int)v;
}

/* Everything a walk and the thread names need. fallback is the X.Y table
 * nearest the target's micro release, for what the debug offsets lack and
 * no micro release has moved (stack chunks, dict internals, the module
 * dict); exact the table whose interpreter-state size is the target's, or
 * NULL. */
static void fill(const struct dbg *d, int minor, const struct py_layout *fallback,
                 const struct py_layout *exact, struct py_layout *out)
{
    memset(out, 0, sizeof *out);
    out->major = 3;
    out->minor = minor;
    out->micro = fallback ? fallback->micro : 0;
    out->interp_size = (int)d->is_size;
    EXACT(debug_build);

    out->runtime_interpreters_head = (int)d->rt_interpreters_head;
    out->runtime_gilstate_tstate_current = -1;

    out->interp_next = (int)d->is_next;
    out->interp_tstate_head = (int)d->is_threads_head;
    out->interp_modules = (int)d->is_imports_modules;
    out->interp_ceval_gil = (int)d->is_ceval_gil;
    out->gil_locked = (int)(d->is_gil_locked - d->is_gil_runtime_state);
    out->gil_last_holder = (int)(d->is_gil_holder - d->is_gil_runtime_state);

    out->tstate_next = (int)d->ts_next;
    out->tstate_interp = (int)d->ts_interp;
    out->tstate_frame = -1;
    out->tstate_cframe = -1;
    out->cframe_current_frame = -1;
    out->tstate_current_frame = (int)d->ts_current_frame;
    out->tstate_thread_id = (int)d->ts_thread_id;
    out->tstate_native_thread_id = (int)d->ts_native_thread_id;
    out->tstate_datastack_chunk = (int)d->ts_datastack_chunk;
    /* 3.15's table gives holds_gil; 3.14 has it only in the headers. */
    out->tstate_holds_gil = d->ts_holds_gil != NONE ? (int)d->ts_holds_gil : -1;
    if (d->ts_holds_gil == NONE)
        EXACT(tstate_holds_gil);
    out->tstate_gil_requested = d->ts_gil_requested != NONE ? (int)d->ts_gil_requested : -1;
    out->tstate_base_frame = d->ts_base_frame != NONE ? (int)d->ts_base_frame : -1;
    /* Not in the table; next to the thread state's first fields, which
     * no micro release has moved. */
    FB(tstate_state);

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
     * added FRAME_OWNED_BY_CSTACK = 4 (gone again in 3.15): every owner
     * from 3 up is no Python function's frame. */
    out->frame_owned_by_cstack = 3;

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
    out->unicode_compact_size = or_table(d->un_compact_size,
                                         from_fallback(fallback, offsetof(struct py_layout,
                                                                          unicode_compact_size)));
    out->unicode2_length = -1;
    out->unicode2_str = -1;

    out->type_flags = (int)d->ty_flags;
    out->type_dictoffset = or_table(d->ty_dictoffset,
                                    from_fallback(fallback, offsetof(struct py_layout,
                                                                     type_dictoffset)));
    out->type_basicsize = or_table(d->ty_basicsize,
                                   from_fallback(fallback, offsetof(struct py_layout,
                                                                    type_basicsize)));
    out->heaptype_cached_keys = or_table(d->ht_cached_keys,
                                         from_fallback(fallback, offsetof(struct py_layout,
                                                                          heaptype_cached_keys)));
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

    fill_counters(d, exact, out);

    /* Builds with the GIL: fill_free_threaded() changes these for the others. */
    out->free_threaded = 0;
    out->gil_enabled = -1;
    out->unicode_kind_bit = 2;
    out->frame_tlbc_index = out->code_tlbc = -1;
    out->codearray_size = out->codearray_entries = -1;
}

int py_debug_offsets_read(struct mem_source *src, uint64_t runtime_addr, int micro,
                          struct py_layout *out, uint64_t *version_hex)
{
    /* The cookie, version and free_threaded members open every version's
     * table; the rest is read once the version's layout is known. */
    unsigned char raw[PY_DEBUG_OFFSETS_MAX];
    struct dbg d;

    *version_hex = 0;
    int rc = mem_read(src, runtime_addr, raw, 24);
    if (rc < 0)
        return rc;
    if (memcmp(raw, "xdebugpy", 8) != 0)
        return -PT_ERR_BAD_DATA;
    uint64_t version, free_threaded;
    memcpy(&version, raw + 8, 8);
    memcpy(&free_threaded, raw + 16, 8);
    *version_hex = version;
    /* PY_VERSION_HEX fits in 32 bits, and the table only exists from 3.13. */
    if (version >> 32 || (version >> 24) != 3 || ((version >> 16) & 0xff) < 13)
        return -PT_ERR_BAD_DATA;
    int minor = (int)((version >> 16) & 0xff);
    const struct py_debug_layout *dl = py_debug_layout_for(3, minor);
    if (!dl)
        return -PT_ERR_TOO_NEW;
    if (dl->version != 8 || dl->free_threaded != 16 || dl->table_size < 24 ||
        dl->table_size > PY_DEBUG_OFFSETS_MAX)
        return -PT_ERR_BAD_DATA;
    if (free_threaded > 1)
        return -PT_ERR_BAD_DATA;

    rc = mem_read(src, runtime_addr, raw, (size_t)dl->table_size);
    if (rc < 0)
        return rc;
    /* The process may have been replaced between the two reads. */
    uint64_t again;
    memcpy(&again, raw + 8, 8);
    uint64_t ft_again;
    memcpy(&ft_again, raw + 16, 8);
    if (memcmp(raw, "xdebugpy", 8) != 0 || again != version || ft_again != free_threaded)
        return -PT_ERR_BAD_DATA;
    rc = decode(dl, raw, &d);
    if (rc)
        return rc;
    if (!plausible(&d))
        return -PT_ERR_BAD_DATA;
    if (free_threaded && minor >= 14 && !free_threaded_plausible(&d))
        return -PT_ERR_BAD_DATA;
    /* A free-threaded build borrows only from free-threaded tables. */
    int ft = (int)free_threaded;
    const struct py_layout *fallback = py_layout_select(3, minor, micro, -1, ft);
    const struct py_layout *exact = py_layout_select(3, minor, micro, (int)d.is_size, ft);
    /* 3.14t and 3.15t have no table of their own (no such binary was at
     * hand): stack chunks and dict internals come from the newest older
     * free-threaded table, which they did not change; counters stay
     * unavailable (exact is NULL). */
    for (int m = minor - 1; ft && !fallback && !exact && m >= 13; m--)
        fallback = py_layout_for_build(3, m, 1);
    fill(&d, minor, fallback ? fallback : exact, exact, out);
    if (ft)
        fill_free_threaded(&d, minor, out);
    return 0;
}

int py_debug_offsets_interp_size(struct mem_source *src, uint64_t runtime_addr, int *size)
{
    unsigned char raw[PY_DEBUG_OFFSETS_MAX];
    int rc = mem_read(src, runtime_addr, raw, 24);
    if (rc < 0)
        return rc;
    uint64_t version;
    memcpy(&version, raw + 8, 8);
    if (memcmp(raw, "xdebugpy", 8) != 0 || version >> 32 || (version >> 24) != 3)
        return -PT_ERR_BAD_DATA;
    const struct py_debug_layout *dl = py_debug_layout_for(3, (int)((version >> 16) & 0xff));
    if (!dl)
        return -PT_ERR_TOO_NEW;
    if (dl->is_size < 0 || dl->is_size + 8 > dl->table_size || dl->table_size > PY_DEBUG_OFFSETS_MAX)
        return -PT_ERR_BAD_DATA;
    rc = mem_read(src, runtime_addr + (uint64_t)dl->is_size, raw, 8);
    if (rc < 0)
        return rc;
    uint64_t v;
    memcpy(&v, raw, 8);
    if (!size_ok(v, MAX_BIG_SIZE))
        return -PT_ERR_BAD_DATA;
    *size = (int)v;
    return 0;
}
