#!/usr/bin/env python3
"""Generate or check src/python/layouts_generated.c.

For every installed CPython (2.7, 3.6-3.15, free-threaded 3.13t) this compiles a small C probe
against that interpreter's own headers and prints offsetof()/sizeof() for
each field of struct py_layout (src/python/layout.h) and, from 3.13 on, the
position of each _Py_DebugOffsets member of struct py_debug_layout. The few
structures that no installed header describes (PyModuleObject before 3.10,
PyDictKeysObject in 3.6-3.10) are written as mirror structs of CPython's
private definitions. Every table is then checked against the running
interpreter itself, through ctypes, before it is accepted.

Where a micro release moved a field (3.13.18 against 3.13.0), X.Y gets one
table per layout, each marked with the first micro release it was made from.
A debug build (python3.Xd) and a free-threaded build (Py_GIL_DISABLED,
python3.Xt) get tables of their own: tables are keyed by (major, minor,
micro, debug, free-threaded).

Interpreters: every pyenv version, /usr/bin and /usr/local/bin, and the
python3.X and python3.Xd of a Debian root at ${PYTOP_CACHE:-/var/cache/pytop}/sid
(scripts/install-sid-root.sh), run as `chroot ROOT python3.X` with its
headers under ROOT; and the free-threaded python3.13t that
scripts/build-python-ft.sh installs at ${PYTOP_CACHE:-/var/cache/pytop}/python3.13t.

  gen_layouts.py --write src/python/layouts_generated.c [PYTHON...]
  gen_layouts.py --check src/python/layouts_generated.c [PYTHON...]

--check prints TAP and exits non-zero on any mismatch.
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

EXPECTED = [(2, 7)] + [(3, m) for m in range(6, 16)]
# Versions whose _Py_DebugOffsets pytop decodes (struct py_debug_layout).
DEBUG_EXPECTED = [(3, m) for m in range(13, 16)]
# Versions whose free-threaded build (Py_GIL_DISABLED) has a table: its
# objects are laid out differently (a larger header). Newer ones are read
# through their debug offsets and this version's table.
FT_EXPECTED = [(3, 13)]


def known(v):
    """A version the rules cover: the expected ones, and any newer 3.X,
    taken as the newest (adding one is running --write with it installed;
    where its headers differ, the probe or the run-time check says so)."""
    return v in EXPECTED or (v[0] == 3 and v > EXPECTED[-1])


def known_build(v, ft):
    return known(v) and (not ft or v in FT_EXPECTED or v > FT_EXPECTED[-1])


def has_debug_table(v):
    return v >= DEBUG_EXPECTED[0]
COMMAND = "tools/gen_layouts.py --write src/python/layouts_generated.c"
HERE = os.path.dirname(os.path.abspath(__file__))
LAYOUT_H = os.path.join(HERE, "..", "src", "python", "layout.h")


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------
# struct py_layout fields, read from layout.h so the two never drift apart.

def layout_fields(path=LAYOUT_H, struct="py_layout"):
    with open(path) as f:
        text = f.read()
    m = re.search(r"struct %s \{(.*?)\n\};" % struct, text, re.S)
    if not m:
        raise GenError("struct %s not found in %s" % (struct, path))
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    fields = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        if not decl.startswith("int "):
            raise GenError("unexpected declaration in struct %s: %r" % (struct, decl))
        fields += [name.strip() for name in decl[4:].split(",")]
    return fields


# ---------------------------------------------------------------------------
# Per-version rules: field -> C expression (None: absent in that version).

def off(typ, member):
    return "offsetof(%s, %s)" % (typ, member)


def size(typ):
    return "sizeof(%s)" % typ


# Private structures pytop reads but no installed header defines. Each is a
# mirror of CPython's own definition, cited, and checked at run time below.
MIRROR_MODULE = """\
/* PyModuleObject is private to Objects/moduleobject.c before 3.10; md_dict
   has always been the first member after the object header. */
struct pt_module { PyObject_HEAD PyObject *md_dict; };
"""
MIRROR_DICT_36 = """\
/* PyDictKeysObject and PyDictKeyEntry as in Objects/dict-common.h of 3.6
   (not installed): dk_indices is a union of small arrays. */
struct pt_dictkeys { Py_ssize_t dk_refcnt; Py_ssize_t dk_size; void *dk_lookup;
    Py_ssize_t dk_usable; Py_ssize_t dk_nentries;
    union { int8_t as_1[8]; int16_t as_2[4]; int32_t as_4[2]; int64_t as_8[1]; } dk_indices; };
struct pt_dictentry { Py_hash_t me_hash; PyObject *me_key; PyObject *me_value; };
"""
MIRROR_DICT_37 = """\
/* PyDictKeysObject and PyDictKeyEntry as in Objects/dict-common.h of
   3.7-3.10 (not installed): dk_indices is a flexible char array. */
struct pt_dictkeys { Py_ssize_t dk_refcnt; Py_ssize_t dk_size; void *dk_lookup;
    Py_ssize_t dk_usable; Py_ssize_t dk_nentries; char dk_indices[]; };
struct pt_dictentry { Py_hash_t me_hash; PyObject *me_key; PyObject *me_value; };
"""

MIRROR_GC = """\
/* struct gc_generation (2.7, 3.6) and gc_generation_stats (3.6) as in
   Modules/gcmodule.c, which installs no header for them. */
struct pt_gc_generation { PyGC_Head head; int threshold; int count; };
struct pt_gc_generation_stats { Py_ssize_t collections; Py_ssize_t collected;
    Py_ssize_t uncollectable; };
"""

# ARENA_BITS where no installed header defines it (Objects/obmalloc.c):
# 256 KiB arenas up to 3.9; 3.10 made them 1 MiB on 64-bit builds, which use
# the radix tree. 3.12+ take the macro from internal/pycore_obmalloc.h.
ARENA_BITS_BEFORE_312 = {True: "18", False: "20"}

# Fields whose value comes from a mirror struct above, flagged in the output.
def mirrored(v):
    m = {}
    if v < (3, 10):
        m["module_dict"] = "private PyModuleObject (Objects/moduleobject.c)"
    if (3, 6) <= v <= (3, 10):
        for f in ("dictkeys_size", "dictkeys_nentries", "dictkeys_indices"):
            m[f] = "private PyDictKeysObject (Objects/dict-common.h)"
        m["dictentry_size"] = "private PyDictKeyEntry (Objects/dict-common.h)"
    if v <= (3, 6):
        for f in ("gc_generation_size", "gc_generation_count"):
            m[f] = "private struct gc_generation (Modules/gcmodule.c)"
    if v == (3, 6):
        for f in ("gc_stats_size", "gc_stats_collections", "gc_stats_collected",
                  "gc_stats_uncollectable"):
            m[f] = "private struct gc_generation_stats (Modules/gcmodule.c)"
    if v <= (3, 11):
        m["obmalloc_arena_bits"] = "ARENA_BITS of Objects/obmalloc.c"
    return m


def probe_source(v):
    """C prelude (includes, mirrors) for version v."""
    major, minor = v
    lines = []
    if v >= (3, 7):
        # The interpreter/runtime/frame structs are internal from 3.7 on.
        lines.append("#define Py_BUILD_CORE 1")
    lines.append("#include <Python.h>")
    lines.append("#include <frameobject.h>")
    if v <= (3, 10):
        lines.append("#include <longintrepr.h>")
    if v == (3, 7):
        lines.append('#include "internal/pystate.h"')
    elif v == (3, 8):
        lines.append('#include "internal/pycore_pystate.h"')
    elif v >= (3, 9):
        lines.append('#include "internal/pycore_interp.h"')
        lines.append('#include "internal/pycore_runtime.h"')
    if v >= (3, 10):
        lines.append('#include "internal/pycore_moduleobject.h"')
    if v >= (3, 11):
        lines.append('#include "internal/pycore_frame.h"')
        lines.append('#include "internal/pycore_dict.h"')
    if v >= (3, 12):
        lines.append('#include "internal/pycore_gil.h"')
    if v >= (3, 14):
        # _Py_DebugOffsets left pycore_runtime.h for its own header in 3.14.
        lines.append('#include "internal/pycore_debug_offsets.h"')
    lines += ["#include <stddef.h>", "#include <stdint.h>", "#include <stdio.h>", ""]
    if v < (3, 10):
        lines.append(MIRROR_MODULE)
    if v == (3, 6):
        lines.append(MIRROR_DICT_36)
    elif (3, 7) <= v <= (3, 10):
        lines.append(MIRROR_DICT_37)
    if v <= (3, 6):
        lines.append(MIRROR_GC)
    return "\n".join(lines)


def rules(v, ft=0):
    py2 = v[0] == 2
    r = {}
    FR = "PyFrameObject" if v <= (3, 10) else "_PyInterpreterFrame"
    TS = "PyThreadState"
    IS = "PyInterpreterState"

    # Runtime and interpreter.
    r["runtime_interpreters_head"] = off("_PyRuntimeState", "interpreters.head") if v >= (3, 7) else None
    r["runtime_gilstate_tstate_current"] = (off("_PyRuntimeState", "gilstate.tstate_current")
                                           if (3, 7) <= v <= (3, 11) else None)
    r["interp_size"] = size(IS)
    r["interp_next"] = off(IS, "next")
    r["interp_tstate_head"] = off(IS, "threads.head" if v >= (3, 11) else "tstate_head")
    r["interp_modules"] = off(IS, "imports.modules" if v >= (3, 12) else "modules")
    # A free-threaded build keeps the GIL struct, and a GIL holder only
    # while "enabled" says the GIL was turned back on.
    has_gil = v >= (3, 12)
    r["interp_ceval_gil"] = off(IS, "ceval.gil") if has_gil else None
    r["gil_locked"] = off("struct _gil_runtime_state", "locked") if has_gil else None
    r["gil_last_holder"] = off("struct _gil_runtime_state", "last_holder") if has_gil else None
    r["gil_enabled"] = off("struct _gil_runtime_state", "enabled") if ft else None

    # Thread state.
    r["tstate_next"] = off(TS, "next")
    r["tstate_interp"] = off(TS, "interp")
    r["tstate_frame"] = off(TS, "frame") if v <= (3, 10) else None
    r["tstate_cframe"] = off(TS, "cframe") if (3, 11) <= v <= (3, 12) else None
    r["cframe_current_frame"] = off("_PyCFrame", "current_frame") if (3, 11) <= v <= (3, 12) else None
    r["tstate_current_frame"] = off(TS, "current_frame") if v >= (3, 13) else None
    r["tstate_thread_id"] = off(TS, "thread_id")
    r["tstate_native_thread_id"] = off(TS, "native_thread_id") if v >= (3, 11) else None
    r["tstate_datastack_chunk"] = off(TS, "datastack_chunk") if v >= (3, 11) else None
    # 3.13 has holds_gil as a bit field, which offsetof cannot give.
    r["tstate_holds_gil"] = off(TS, "holds_gil") if v >= (3, 14) else None
    r["tstate_gil_requested"] = off(TS, "gil_requested") if v >= (3, 15) else None
    r["tstate_state"] = off(TS, "state") if v >= (3, 13) else None
    r["tstate_base_frame"] = off(TS, "base_frame") if v >= (3, 15) else None
    for f in ("previous", "size", "top", "data"):
        r["chunk_" + f] = off("_PyStackChunk", f) if v >= (3, 11) else None

    # Frames.
    r["frame_size"] = size(FR)
    if v <= (3, 10):
        r["frame_back"] = off(FR, "f_back")
        r["frame_code"] = off(FR, "f_code")
        r["frame_lasti"] = off(FR, "f_lasti")
        r["frame_instr"] = None
        r["frame_owner"] = None
    else:
        r["frame_back"] = off(FR, "previous")
        r["frame_code"] = off(FR, "f_executable" if v >= (3, 13) else "f_code")
        r["frame_lasti"] = None
        r["frame_instr"] = off(FR, "instr_ptr" if v >= (3, 13) else "prev_instr")
        r["frame_owner"] = off(FR, "owner")
    # 3.11 marks C-stack entry frames with is_entry, not with an owner value.
    # 3.14 renumbered: FRAME_OWNED_BY_INTERPRETER (3) took the shim's place and
    # 3.15 dropped FRAME_OWNED_BY_CSTACK (4); every owner from 3 up is no
    # Python function's frame.
    r["frame_owned_by_cstack"] = ("FRAME_OWNED_BY_INTERPRETER" if v >= (3, 14) else
                                  "FRAME_OWNED_BY_CSTACK" if v >= (3, 12) else None)
    r["frame_is_entry"] = off(FR, "is_entry") if v == (3, 11) else None

    # Whole-stack proof up to 3.10 (walk.c): whether a frame object is running
    # (a live caller) or freed, done or suspended, and the thread's depth.
    r["tstate_recursion_depth"] = off(TS, "recursion_depth") if v <= (3, 10) else None
    r["frame_executing"] = off(FR, "f_executing") if (3, 6) <= v <= (3, 9) else None
    r["frame_state"] = off(FR, "f_state") if v == (3, 10) else None

    # Code objects.
    CO = "PyCodeObject"
    r["code_size"] = size(CO)
    r["code_filename"] = off(CO, "co_filename")
    r["code_name"] = off(CO, "co_name")
    r["code_qualname"] = off(CO, "co_qualname") if v >= (3, 11) else None
    r["code_firstlineno"] = off(CO, "co_firstlineno")
    r["code_flags"] = off(CO, "co_flags") if v <= (3, 10) else None
    r["code_lnotab"] = off(CO, "co_lnotab") if v <= (3, 9) else None
    r["code_linetable"] = off(CO, "co_linetable") if v >= (3, 10) else None
    r["code_code"] = off(CO, "co_code") if v <= (3, 10) else None
    r["code_code_adaptive"] = off(CO, "co_code_adaptive") if v >= (3, 11) else None

    # Generic objects and strings.
    r["object_type"] = off("PyObject", "ob_type")
    r["varobject_size"] = off("PyVarObject", "ob_size")
    r["bytes_sval"] = off("PyStringObject" if py2 else "PyBytesObject", "ob_sval")
    r["unicode_length"] = None if py2 else off("PyASCIIObject", "length")
    r["unicode_state"] = None if py2 else off("PyASCIIObject", "state")
    r["unicode_ascii_size"] = None if py2 else size("PyASCIIObject")
    r["unicode_compact_size"] = None if py2 else size("PyCompactUnicodeObject")
    r["unicode2_length"] = off("PyUnicodeObject", "length") if py2 else None
    r["unicode2_str"] = off("PyUnicodeObject", "str") if py2 else None

    # Types, dicts, modules, ints.
    r["type_flags"] = off("PyTypeObject", "tp_flags")
    r["type_dictoffset"] = off("PyTypeObject", "tp_dictoffset")
    r["type_basicsize"] = off("PyTypeObject", "tp_basicsize")
    r["heaptype_cached_keys"] = None if py2 else off("PyHeapTypeObject", "ht_cached_keys")
    r["dict_used"] = off("PyDictObject", "ma_used")
    r["dict_keys"] = None if py2 else off("PyDictObject", "ma_keys")
    r["dict_values"] = None if py2 else off("PyDictObject", "ma_values")
    r["dict_mask"] = off("PyDictObject", "ma_mask") if py2 else None
    r["dict_table"] = off("PyDictObject", "ma_table") if py2 else None
    for f in ("size", "log2_size", "log2_index_bytes", "kind", "nentries", "indices"):
        r["dictkeys_" + f] = None
    if py2:
        r["dictentry_size"] = size("PyDictEntry")
        r["dictunicodeentry_size"] = None
    elif v <= (3, 10):
        for f in ("size", "nentries", "indices"):
            r["dictkeys_" + f] = off("struct pt_dictkeys", "dk_" + f)
        r["dictentry_size"] = size("struct pt_dictentry")
        r["dictunicodeentry_size"] = None
    else:
        for f in ("log2_size", "log2_index_bytes", "kind", "nentries", "indices"):
            r["dictkeys_" + f] = off("PyDictKeysObject", "dk_" + f)
        r["dictentry_size"] = size("PyDictKeyEntry")
        r["dictunicodeentry_size"] = size("PyDictUnicodeEntry")
    r["module_dict"] = off("PyModuleObject" if v >= (3, 10) else "struct pt_module", "md_dict")
    r["long_digits"] = off("PyLongObject", "long_value.ob_digit" if v >= (3, 12) else "ob_digit")
    r["int2_ival"] = off("PyIntObject", "ob_ival") if py2 else None

    # Memory counters: the main interpreter, the GC and pymalloc state.
    RT = "_PyRuntimeState"
    r["runtime_interpreters_main"] = off(RT, "interpreters.main") if v >= (3, 7) else None
    r["runtime_gc"] = off(RT, "gc") if (3, 7) <= v <= (3, 8) else None
    r["interp_gc"] = off(IS, "gc") if v >= (3, 9) else None
    GCS = "struct _gc_runtime_state"
    GEN = "struct gc_generation" if v >= (3, 7) else "struct pt_gc_generation"
    STATS = "struct gc_generation_stats" if v >= (3, 7) else "struct pt_gc_generation_stats"
    r["gc_generations"] = off(GCS, "generations") if v >= (3, 7) else None
    r["gc_generation_stats"] = off(GCS, "generation_stats") if v >= (3, 7) else None
    r["gc_generation_size"] = size(GEN)
    r["gc_generation_count"] = off(GEN, "count")
    r["gc_generation_threshold"] = off(GEN, "threshold")
    has_stats = v >= (3, 6)
    r["gc_stats_size"] = size(STATS) if has_stats else None
    for f in ("collections", "collected", "uncollectable"):
        r["gc_stats_" + f] = off(STATS, f) if has_stats else None
    # 3.15: generation_stats is a pointer to ring buffers of those structs.
    ring = v >= (3, 15)
    r["gc_stats_young"] = off("struct gc_stats", "young") if ring else None
    r["gc_stats_young_index"] = off("struct gc_young_stats_buffer", "index") if ring else None
    r["gc_stats_young_len"] = "GC_YOUNG_STATS_SIZE" if ring else None
    r["gc_stats_old"] = off("struct gc_stats", "old") if ring else None
    r["gc_stats_old_size"] = size("struct gc_old_stats_buffer") if ring else None
    r["gc_stats_old_index"] = off("struct gc_old_stats_buffer", "index") if ring else None
    r["gc_stats_old_len"] = "GC_OLD_STATS_SIZE" if ring else None
    r["gc_collecting"] = off(GCS, "collecting") if v >= (3, 7) else None
    OB = "struct _obmalloc_state"
    # Free-threaded builds allocate with mimalloc: pymalloc's arenas are
    # never used there, so its counters are unavailable, not zero.
    pym = not ft
    r["interp_obmalloc"] = off(IS, "obmalloc") if v == (3, 12) else None
    r["interp_obmalloc_ptr"] = off(IS, "obmalloc") if v >= (3, 13) and pym else None
    r["obmalloc_narenas"] = (off(OB, "mgmt.narenas_currently_allocated")
                             if v >= (3, 12) and pym else None)
    r["obmalloc_narenas_highwater"] = off(OB, "mgmt.narenas_highwater") if v >= (3, 12) and pym else None
    r["obmalloc_arena_bits"] = (None if not pym else "ARENA_BITS" if v >= (3, 12)
                                else ARENA_BITS_BEFORE_312[v <= (3, 9)])

    # PyASCIIObject.state: interned is a whole byte in free-threaded 3.14+.
    r["unicode_kind_bit"] = None if py2 else "8" if ft and v >= (3, 14) else "2"
    # Per-thread bytecode copies, free-threaded 3.14+.
    tlbc = ft and v >= (3, 14)
    r["frame_tlbc_index"] = off("_PyInterpreterFrame", "tlbc_index") if tlbc else None
    r["code_tlbc"] = off(CO, "co_tlbc") if tlbc else None
    r["codearray_size"] = off("_PyCodeArray", "size") if tlbc else None
    r["codearray_entries"] = off("_PyCodeArray", "entries") if tlbc else None
    return r


def debug_rules(v):
    """struct py_debug_layout field -> C expression: where the member sits in
    _Py_DebugOffsets (None: the version's table lacks it)."""
    DO = "_Py_DebugOffsets"
    r = {"table_size": size(DO)}

    def at(field, member, since=(3, 13)):
        r[field] = off(DO, member) if v >= since else None

    at("version", "version")
    at("free_threaded", "free_threaded")
    at("rt_size", "runtime_state.size")
    at("rt_interpreters_head", "runtime_state.interpreters_head")
    for f, m in (("size", "size"), ("next", "next"), ("threads_head", "threads_head"),
                 ("gc", "gc"), ("imports_modules", "imports_modules"),
                 ("ceval_gil", "ceval_gil"), ("gil_runtime_state", "gil_runtime_state"),
                 ("gil_locked", "gil_runtime_state_locked"),
                 ("gil_holder", "gil_runtime_state_holder")):
        at("is_" + f, "interpreter_state." + m)
    for f in ("size", "next", "interp", "current_frame", "thread_id", "native_thread_id",
              "datastack_chunk"):
        at("ts_" + f, "thread_state." + f)
    at("ts_holds_gil", "thread_state.holds_gil", (3, 15))
    at("ts_gil_requested", "thread_state.gil_requested", (3, 15))
    at("ts_base_frame", "thread_state.base_frame", (3, 15))
    # Set in free-threaded builds only (0 in the others): the GIL's enabled
    # flag, and from 3.14 a frame's own bytecode copy.
    at("is_gil_enabled", "interpreter_state.gil_runtime_state_enabled")
    at("fr_tlbc_index", "interpreter_frame.tlbc_index", (3, 14))
    at("co_tlbc", "code_object.co_tlbc", (3, 14))
    for f in ("size", "previous", "executable", "instr_ptr", "owner"):
        at("fr_" + f, "interpreter_frame." + f)
    for f in ("size", "filename", "name", "qualname", "linetable", "firstlineno"):
        at("co_" + f, "code_object." + f)
    at("co_code_adaptive", "code_object.co_code_adaptive")
    at("ob_size", "pyobject.size")
    at("ob_type", "pyobject.ob_type")
    at("ty_size", "type_object.size")
    at("ty_flags", "type_object.tp_flags")
    at("ty_basicsize", "type_object.tp_basicsize", (3, 15))
    at("ty_dictoffset", "type_object.tp_dictoffset", (3, 15))
    at("ht_size", "heap_type_object.size", (3, 15))
    at("ht_cached_keys", "heap_type_object.ht_cached_keys", (3, 15))
    at("tu_size", "tuple_object.size")
    at("tu_ob_size", "tuple_object.ob_size")
    for f, m in (("size", "size"), ("keys", "ma_keys"), ("values", "ma_values")):
        at("di_" + f, "dict_object." + m)
    at("lo_size", "long_object.size")
    at("lo_digit", "long_object.ob_digit")
    for f, m in (("size", "size"), ("ob_size", "ob_size"), ("sval", "ob_sval")):
        at("by_" + f, "bytes_object." + m)
    for f, m in (("size", "size"), ("state", "state"), ("length", "length"),
                 ("ascii_size", "asciiobject_size")):
        at("un_" + f, "unicode_object." + m)
    at("un_compact_size", "unicode_object.compactunicodeobject_size", (3, 15))
    at("gc_size", "gc.size")
    at("gc_generation_stats", "gc.generation_stats", (3, 15))
    at("gc_collecting", "gc.collecting", (3, 14))
    return r


# What each debug-table member must say, as py_layout fields: checked in the
# running interpreter (the value read at the generated position).
DEBUG_MEANS = {
    "rt_interpreters_head": "runtime_interpreters_head", "is_next": "interp_next",
    "is_threads_head": "interp_tstate_head", "is_gc": "interp_gc",
    "is_imports_modules": "interp_modules", "is_ceval_gil": "interp_ceval_gil",
    "ts_next": "tstate_next", "ts_interp": "tstate_interp",
    "ts_current_frame": "tstate_current_frame", "ts_thread_id": "tstate_thread_id",
    "ts_native_thread_id": "tstate_native_thread_id",
    "ts_datastack_chunk": "tstate_datastack_chunk", "ts_holds_gil": "tstate_holds_gil",
    "fr_size": "frame_size", "fr_previous": "frame_back", "fr_executable": "frame_code",
    "fr_instr_ptr": "frame_instr", "fr_owner": "frame_owner", "co_size": "code_size",
    "co_filename": "code_filename", "co_name": "code_name", "co_qualname": "code_qualname",
    "co_linetable": "code_linetable", "co_firstlineno": "code_firstlineno",
    "co_code_adaptive": "code_code_adaptive", "ob_type": "object_type",
    "ty_flags": "type_flags", "ty_basicsize": "type_basicsize",
    "ty_dictoffset": "type_dictoffset", "ht_cached_keys": "heaptype_cached_keys",
    "tu_ob_size": "varobject_size", "di_keys": "dict_keys", "di_values": "dict_values",
    "lo_digit": "long_digits", "by_ob_size": "varobject_size", "by_sval": "bytes_sval",
    "un_state": "unicode_state", "un_length": "unicode_length",
    "un_ascii_size": "unicode_ascii_size", "un_compact_size": "unicode_compact_size",
    "gc_generation_stats": "gc_generation_stats", "gc_collecting": "gc_collecting",
    "ts_gil_requested": "tstate_gil_requested", "ts_base_frame": "tstate_base_frame",
    "fr_tlbc_index": "frame_tlbc_index", "co_tlbc": "code_tlbc",
    # enabled is given inside _gil_runtime_state, unlike locked and holder.
    "is_gil_enabled": "gil_enabled",
}


# ---------------------------------------------------------------------------
# Interpreters.

INFO_SCRIPT = r"""
import sys
try:
    import sysconfig
    paths = sysconfig.get_paths()
    inc, plat = paths['include'], paths.get('platinclude', paths['include'])
except Exception:
    from distutils import sysconfig
    inc, plat = sysconfig.get_python_inc(), sysconfig.get_python_inc(plat_specific=1)
try:
    ft = int(bool(sysconfig.get_config_var('Py_GIL_DISABLED')))
except Exception:
    ft = 0
sys.stdout.write('%d %d %s %d %d\n%s\n%s\n' % (sys.version_info[0], sys.version_info[1],
                 sys.version.split()[0], hasattr(sys, 'gettotalrefcount'), ft, inc, plat))
"""


# Interpreters in a root that scripts/install-sid-root.sh completed run as
# chroot ROOT python3.X, with the root's /proc mounted in a private mount
# namespace (gone with the process); their headers are ROOT/usr/include/...
CACHE = os.environ.get("PYTOP_CACHE") or "/var/cache/pytop"
ROOTS = [os.path.join(CACHE, "sid")]
ROOT_MARKER = ".pytop-root-complete"


def root_of(path):
    d = os.path.dirname(os.path.abspath(path))
    while d != "/":
        if os.path.exists(os.path.join(d, ROOT_MARKER)):
            return d
        d = os.path.dirname(d)
    return None


class Interp(object):
    def __init__(self, path):
        self.path = path
        self.root = root_of(path)
        self.cmd = [path]         # argv prefix that runs it
        if self.root:
            self.cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                        'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', self.root,
                        path[len(self.root):]]
        self.version = None       # (major, minor)
        self.micro = None
        self.debug = 0            # a Py_DEBUG build
        self.ft = 0               # a free-threaded build (Py_GIL_DISABLED)
        self.full = None          # "3.12.1"
        self.include = None       # on this machine (root prefixed)
        self.platinclude = None
        self.problem = None       # why it cannot be used

    @property
    def xy(self):
        return "%d.%d%s" % (self.version + ("t" if self.ft else "",))

    @property
    def key(self):
        return self.version + (self.micro, self.debug, self.ft)

    @property
    def label(self):
        return self.full + (" debug build" if self.debug else "") + (" free-threaded" if self.ft else "")

    @property
    def name(self):
        return self.path


def query(path):
    it = Interp(path)
    try:
        out = subprocess.run(it.cmd + ["-c", INFO_SCRIPT], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True,
                             timeout=60, check=True).stdout.splitlines()
        major, minor, it.full, debug, ft = out[0].split()
        it.debug, it.ft = int(debug), int(ft)
        it.version = (int(major), int(minor))
        it.micro = int(re.match(r"\d+\.\d+\.(\d+)", it.full).group(1))
        it.include, it.platinclude = out[1], out[2]
        if it.root:
            it.include, it.platinclude = it.root + it.include, it.root + it.platinclude
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, AttributeError) as e:
        it.problem = "cannot query interpreter: %s" % e
        return it
    if not os.path.isfile(os.path.join(it.include, "Python.h")):
        it.problem = "headers not installed (%s)" % it.include
    return it


def pyenv_root():
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True,
                             timeout=30).stdout.strip()
        if out:
            return out
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")


def discover():
    pattern = re.compile(r"python\d\.\d+$")
    debug_pattern = re.compile(r"python\d\.\d+d?$")
    cands = []
    for d in sorted(glob.glob(os.path.join(pyenv_root(), "versions", "*", "bin"))):
        cands += sorted(p for p in glob.glob(os.path.join(d, "python*")) if pattern.search(p))
    for d in ("/usr/bin", "/usr/local/bin"):
        cands += sorted(p for p in glob.glob(os.path.join(d, "python*")) if pattern.search(p))
    for root in ROOTS:
        if os.path.exists(os.path.join(root, ROOT_MARKER)):
            d = os.path.join(root, "usr", "bin")
            cands += sorted(p for p in glob.glob(os.path.join(d, "python*")) if debug_pattern.search(p))
    # scripts/build-python-ft.sh installs the free-threaded 3.13t here (its
    # python3.13 is the same build under another name).
    cands += sorted(glob.glob(os.path.join(CACHE, "python3.13t", "bin", "python3.*t")))
    seen, result = set(), []
    for p in cands:
        real = os.path.realpath(p)
        if real in seen or not os.access(p, os.X_OK):
            continue
        seen.add(real)
        result.append(p)
    return result


# ---------------------------------------------------------------------------
# Probe and run-time verification.

def compile_and_run(it, src):
    tmp = tempfile.mkdtemp(prefix="pytop-layout-")
    try:
        c = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(c, "w") as fh:
            fh.write("\n".join(src))
        cc = os.environ.get("CC", "cc")
        cmd = [cc, "-I", it.include, "-I", it.platinclude, c, "-o", exe]
        if it.root:
            # Debian's pyconfig.h includes <x86_64-linux-gnu/python3.X/pyconfig.h>
            # from the root's /usr/include; after ours, so libc's headers stay ours.
            cmd[1:1] = ["-idirafter", os.path.join(it.root, "usr", "include")]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
        if res.returncode != 0:
            raise GenError("probe for %s (%s) does not compile:\n%s" % (it.xy, it.name, res.stdout))
        return subprocess.run([exe], stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


NOT_PROBED = ("major", "minor", "micro", "debug_build", "free_threaded")


def probe(it, fields, dfields):
    """(py_layout table, py_debug_layout table or None) from it's headers."""
    if not known_build(it.version, it.ft):
        raise GenError("no rules for CPython %s" % it.xy)
    r = rules(it.version, it.ft)
    dr = debug_rules(it.version) if has_debug_table(it.version) else {}
    missing = [f for f in fields if f not in NOT_PROBED and f not in r]
    if dr:
        missing += ["debug " + f for f in dfields if f not in ("major", "minor") and f not in dr]
    if missing:
        raise GenError("gen_layouts.py has no rule for: %s" % ", ".join(missing))
    src = [probe_source(it.version), "int main(void)", "{"]
    for prefix, rr in (("", r), ("debug.", dr)):
        for f, expr in sorted(rr.items()):
            if expr is not None:
                src.append('    printf("%%s %%ld\\n", "%s%s", (long)(%s));' % (prefix, f, expr))
    src += ["    return 0;", "}", ""]
    out = compile_and_run(it, src)
    table = dict((f, -1) for f in fields)
    table["major"], table["minor"] = it.version
    table["micro"] = it.micro
    table["debug_build"] = it.debug
    table["free_threaded"] = it.ft
    dtable = None
    if dr:
        dtable = dict((f, -1) for f in dfields)
        dtable["major"], dtable["minor"] = it.version
    for line in out.splitlines():
        name, value = line.split()
        if name.startswith("debug."):
            dtable[name[6:]] = int(value)
        else:
            table[name] = int(value)
    return table, dtable


# Runs inside the target interpreter (2.7 and 3.x): reads its own objects
# through the table's offsets and reports every disagreement.
VERIFY_SCRIPT = r"""
import ctypes, json, sys, threading
L, D = json.loads(sys.stdin.read())
live = {}
V = sys.version_info[:2]
P = ctypes.c_void_p
bad = []

def rd(addr, ct):
    return ct.from_address(addr).value or 0

def ptr(addr):
    return rd(addr, P)

def check(cond, what):
    if not cond:
        bad.append(what)

api = ctypes.pythonapi
for fn in ('PyThreadState_Get', 'PyInterpreterState_Next', 'PyThreadState_Next',
           'PyInterpreterState_ThreadHead'):
    getattr(api, fn).restype = P
for fn in ('PyInterpreterState_Next', 'PyThreadState_Next', 'PyInterpreterState_ThreadHead'):
    getattr(api, fn).argtypes = [P]

# Objects.
t = (1, 2, 3)
check(ptr(id(t) + L['object_type']) == id(tuple), 'object_type')
check(rd(id(t) + L['varobject_size'], ctypes.c_ssize_t) == 3, 'varobject_size')
b = b'xyz\x00'
check(ctypes.string_at(id(b) + L['bytes_sval'], 4) == b, 'bytes_sval')
class K(object):
    def __init__(self):
        self.a = 1
K()
tk = type(K)
check(rd(id(K) + L['type_flags'], ctypes.c_ulong) == K.__flags__, 'type_flags')
check(rd(id(K) + L['type_basicsize'], ctypes.c_ssize_t) == K.__basicsize__, 'type_basicsize')
check(rd(id(K) + L['type_dictoffset'], ctypes.c_ssize_t) == K.__dictoffset__, 'type_dictoffset')
if L['heaptype_cached_keys'] >= 0:
    check(L['type_basicsize'] < L['heaptype_cached_keys'] < tk.__basicsize__, 'heaptype_cached_keys')
check(ptr(id(sys) + L['module_dict']) == id(sys.__dict__), 'module_dict')
n = 12345
if V[0] == 2:
    n = long(n)
    i = int('424242')
    check(rd(id(i) + L['int2_ival'], ctypes.c_long) == 424242, 'int2_ival')
check(rd(id(n) + L['long_digits'], ctypes.c_uint16) == 12345, 'long_digits')

# Strings.
if V[0] == 2:
    s = 'hello'
    check(ctypes.string_at(id(s) + L['bytes_sval'], 5) == s, 'PyStringObject.ob_sval')
    u = u'h\u20acllo'
    check(rd(id(u) + L['unicode2_length'], ctypes.c_ssize_t) == 5, 'unicode2_length')
    data = ptr(id(u) + L['unicode2_str'])
    w = ctypes.sizeof(ctypes.c_wchar)
    check(ctypes.string_at(data, 5 * w) == u.encode('utf-32-le' if w == 4 else 'utf-16-le'), 'unicode2_str')
else:
    s = ''.join(['hel', 'lo'])
    check(rd(id(s) + L['unicode_length'], ctypes.c_ssize_t) == 5, 'unicode_length')
    st = rd(id(s) + L['unicode_state'], ctypes.c_uint32)
    kb = L['unicode_kind_bit']
    check((st >> kb) & 7 == 1 and (st >> (kb + 3)) & 3 == 3, 'unicode_state (kind 1, compact, ascii)')
    check(ctypes.string_at(id(s) + L['unicode_ascii_size'], 5) == b'hello', 'unicode_ascii_size')
    u = ''.join(['h\u20ac', 'llo'])
    st = rd(id(u) + L['unicode_state'], ctypes.c_uint32)
    check((st >> kb) & 7 == 2 and (st >> (kb + 3)) & 3 == 1, 'unicode_state (kind 2, compact, not ascii)')
    check(ctypes.string_at(id(u) + L['unicode_compact_size'], 10) == u.encode('utf-16-le'),
          'unicode_compact_size')

# Dicts: str keys (unicode kind from 3.11) and int keys (general kind).
keys = ['k1', 'k2', 'k3']
d = dict((k, 1) for k in keys)
d2 = {10001: 1, 10002: 2}
check(rd(id(d) + L['dict_used'], ctypes.c_ssize_t) == 3, 'dict_used')
if V[0] == 2:
    mask = rd(id(d) + L['dict_mask'], ctypes.c_ssize_t)
    table = ptr(id(d) + L['dict_table'])
    check(mask == 7, 'dict_mask')
    found = [ptr(table + j * L['dictentry_size'] + 8) for j in range(mask + 1)]
    check(all(id(k) in found for k in keys), 'dict_table / dictentry_size')
else:
    check(ptr(id(d) + L['dict_values']) == 0, 'dict_values (combined table)')
    def entries(dd):
        k = ptr(id(dd) + L['dict_keys'])
        n = rd(k + L['dictkeys_nentries'], ctypes.c_ssize_t)
        if V >= (3, 11):
            check(rd(k + L['dictkeys_log2_size'], ctypes.c_uint8) == 3, 'dictkeys_log2_size')
            ib = rd(k + L['dictkeys_log2_index_bytes'], ctypes.c_uint8)
            check(ib == 3, 'dictkeys_log2_index_bytes')
            unicode = rd(k + L['dictkeys_kind'], ctypes.c_uint8) == 1
            base = k + L['dictkeys_indices'] + (1 << ib)
        else:
            dk_size = rd(k + L['dictkeys_size'], ctypes.c_ssize_t)
            check(dk_size == 8, 'dictkeys_size')
            unicode = False
            base = k + L['dictkeys_indices'] + dk_size
        if unicode:
            return n, [ptr(base + j * L['dictunicodeentry_size']) for j in range(n)]
        return n, [ptr(base + j * L['dictentry_size'] + 8) for j in range(n)]
    n, got = entries(d)
    check(n == 3, 'dictkeys_nentries')
    check(got == [id(k) for k in keys], 'dict entries (str keys)')
    n, got = entries(d2)
    check(got == [id(k) for k in d2], 'dict entries (int keys)')

# Threads, interpreters, frames.
ts = api.PyThreadState_Get()
interp = ptr(ts + L['tstate_interp'])
check(api.PyThreadState_Next(ts) == (ptr(ts + L['tstate_next']) or None), 'tstate_next')
check(api.PyInterpreterState_Next(interp) == (ptr(interp + L['interp_next']) or None), 'interp_next')
check(api.PyInterpreterState_ThreadHead(interp) == ptr(interp + L['interp_tstate_head']), 'interp_tstate_head')
check(ptr(interp + L['interp_modules']) == id(sys.modules), 'interp_modules')
get_ident = getattr(threading, 'get_ident', None) or __import__('thread').get_ident
check(rd(ts + L['tstate_thread_id'], ctypes.c_ulong) == get_ident() % (1 << 64), 'tstate_thread_id')
if L['tstate_native_thread_id'] >= 0:
    check(rd(ts + L['tstate_native_thread_id'], ctypes.c_ulong) == threading.get_native_id(),
          'tstate_native_thread_id')
if L['runtime_interpreters_head'] >= 0:
    rt = ctypes.addressof(ctypes.c_char.in_dll(api, '_PyRuntime'))
    check(ptr(rt + L['runtime_interpreters_head']) == interp, 'runtime_interpreters_head')
    if L['runtime_gilstate_tstate_current'] >= 0:
        check(ptr(rt + L['runtime_gilstate_tstate_current']) == ts, 'runtime_gilstate_tstate_current')
else:
    api.PyInterpreterState_Head.restype = P
    check(api.PyInterpreterState_Head() == interp, 'interp_head')
gil_on = L['gil_enabled'] < 0 or getattr(sys, '_is_gil_enabled', lambda: True)()
if L['interp_ceval_gil'] >= 0:
    gil = ptr(interp + L['interp_ceval_gil'])
    if L['gil_enabled'] >= 0:
        check((rd(gil + L['gil_enabled'], ctypes.c_int) != 0) == gil_on, 'gil_enabled')
    if gil_on:
        check(rd(gil + L['gil_locked'], ctypes.c_int) == 1, 'gil_locked')
        check(ptr(gil + L['gil_last_holder']) == ts, 'gil_last_holder')
if L.get('tstate_holds_gil', -1) >= 0 and gil_on:
    check(rd(ts + L['tstate_holds_gil'], ctypes.c_int) == 1, 'tstate_holds_gil')
if L.get('tstate_state', -1) >= 0:
    check(rd(ts + L['tstate_state'], ctypes.c_int) == 1, 'tstate_state')   # attached: it runs this

# The interpreter's own _Py_DebugOffsets, read at the generated positions,
# must say what the headers said (3.13+).
if D:
    rt = ctypes.addressof(ctypes.c_char.in_dll(api, '_PyRuntime'))
    check(ctypes.string_at(rt, 8) == b'xdebugpy', 'debug offsets cookie')
    check(rd(rt + D['version'], ctypes.c_uint64) == sys.hexversion, 'debug offsets version')
    check(rd(rt + D['free_threaded'], ctypes.c_uint64) == L['free_threaded'],
          'debug offsets free_threaded')
    # sizeof(PyInterpreterState) as this interpreter was built: the probe's
    # compiler may pad its tail otherwise, and pytop matches on this value.
    live['interp_size'] = rd(rt + D['is_size'], ctypes.c_uint64)
    for k, lk in MEANS.items():
        if D.get(k, -1) >= 0 and L.get(lk, -1) >= 0:
            got = rd(rt + D[k], ctypes.c_uint64)
            check(got == L[lk], 'debug offsets %s (read %d, headers %d)' % (k, got, L[lk]))
    if D['is_ceval_gil'] >= 0 and L['interp_ceval_gil'] >= 0:
        # locked and holder are given inside the interpreter's _gil.
        base = rd(rt + D['is_gil_runtime_state'], ctypes.c_uint64)
        check(base + L['gil_locked'] == rd(rt + D['is_gil_locked'], ctypes.c_uint64)
              and base + L['gil_last_holder'] == rd(rt + D['is_gil_holder'], ctypes.c_uint64),
              'debug offsets gil_runtime_state_locked / holder')

def inner():
    # Read the current frame inline: calling a helper would push its frame.
    if L['tstate_frame'] >= 0:
        f = P.from_address(ts + L['tstate_frame']).value
    elif L['tstate_current_frame'] >= 0:
        f = P.from_address(ts + L['tstate_current_frame']).value
    else:
        f = P.from_address(P.from_address(ts + L['tstate_cframe']).value
                           + L['cframe_current_frame']).value
    me = sys._getframe()
    co = inner.__code__
    check(ptr(f + L['frame_code']) == id(co), 'frame_code')
    if L['tstate_frame'] >= 0:
        check(f == id(me), 'tstate_frame')
        check(ptr(f + L['frame_back']) == id(me.f_back), 'frame_back')
        if L['frame_executing'] >= 0:
            check(rd(f + L['frame_executing'], ctypes.c_int8) == 1, 'frame_executing')
        if L['frame_state'] >= 0:
            check(rd(f + L['frame_state'], ctypes.c_int8) == 0, 'frame_state')
        lasti = rd(f + L['frame_lasti'], ctypes.c_int)
        # 3.10 counts code units, the attribute bytes; lasti is past the read.
        want = me.f_lasti // 2 if V >= (3, 10) else me.f_lasti
        check(0 < lasti < want, 'frame_lasti')
    else:
        check(rd(f + L['frame_owner'], ctypes.c_int8) == 0, 'frame_owner')
        prev = ptr(f + L['frame_back'])
        check(ptr(prev + L['frame_code']) == id(outer.__code__), 'frame_back')
        ip = ptr(f + L['frame_instr'])
        start = id(co) + L['code_code_adaptive']
        check(start <= ip < start + len(co.co_code), 'frame_instr')
        ch = ptr(ts + L['tstate_datastack_chunk'])
        csize = rd(ch + L['chunk_size'], ctypes.c_size_t)
        check(ch + L['chunk_data'] <= f < ch + csize, 'chunk_data / chunk_size')
        # top counts slots, and is only written when a newer chunk is pushed
        check(rd(ch + L['chunk_top'], ctypes.c_size_t) * 8 <= csize, 'chunk_top')
        check(L['chunk_previous'] < L['chunk_data'], 'chunk_previous')

def outer():
    inner()
outer()

# Code objects, on a function never run (no quickened instructions), nested
# so that its qualname differs from its name.
def make():
    def probe_fn(a):
        return a + 1
    return probe_fn
co = make().__code__
check(ptr(id(co) + L['code_filename']) == id(co.co_filename), 'code_filename')
check(ptr(id(co) + L['code_name']) == id(co.co_name), 'code_name')
check(rd(id(co) + L['code_firstlineno'], ctypes.c_int) == co.co_firstlineno, 'code_firstlineno')
if L['code_flags'] >= 0:
    check(rd(id(co) + L['code_flags'], ctypes.c_int) == co.co_flags, 'code_flags')
if L['code_qualname'] >= 0:
    check(ptr(id(co) + L['code_qualname']) == id(co.co_qualname), 'code_qualname')
if L['code_lnotab'] >= 0:
    check(ptr(id(co) + L['code_lnotab']) == id(co.co_lnotab), 'code_lnotab')
if L['code_linetable'] >= 0:
    check(ptr(id(co) + L['code_linetable']) == id(co.co_linetable), 'code_linetable')
if L['code_code'] >= 0:
    check(ptr(id(co) + L['code_code']) == id(co.co_code), 'code_code')
if L['code_code_adaptive'] >= 0:
    check(ctypes.string_at(id(co) + L['code_code_adaptive'], 2) == co.co_code[:2], 'code_code_adaptive')

# Memory counters, read the way heap.c reads them: the GC state and
# pymalloc's arena counts. Static variables (2.7-3.11) are found with nm.
import gc, os, re, subprocess, tempfile

def local_symbols():
    path = None
    try:
        maps = open('/proc/self/maps').read().splitlines()
    except (IOError, OSError):
        maps = []   # a root without /proc: no static variables to find
    for line in maps:
        f = line.split()
        if len(f) >= 6 and os.path.basename(f[5]).startswith('libpython'):
            path = f[5]
            break
    path = path or os.path.realpath(sys.executable)
    try:
        devnull = open(os.devnull, 'w')
        out = subprocess.Popen(['nm', path], stdout=subprocess.PIPE, stderr=devnull).communicate()[0]
    except OSError:
        return {}
    syms = {}
    for line in out.decode('ascii', 'replace').splitlines():
        p = line.split()
        if len(p) == 3:
            syms.setdefault(p[2], int(p[0], 16))
    if 'Py_Initialize' not in syms:
        return {}   # stripped: no .symtab
    bias = ctypes.cast(api.Py_Initialize, P).value - syms['Py_Initialize']
    return dict((k, a + bias) for k, a in syms.items())

def malloc_stats():
    if not hasattr(sys, '_debugmallocstats'):
        return {}
    saved, tmp = os.dup(2), tempfile.TemporaryFile()
    os.dup2(tmp.fileno(), 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tmp.seek(0)
    text = tmp.read().decode('ascii', 'replace')
    got = {}
    for key, pat in (('current', r'# arenas allocated current\s*=\s*([\d,]+)'),
                     ('highwater', r'# arenas highwater mark\s*=\s*([\d,]+)'),
                     ('arena_size', r'\d+ arenas \* ([\d,]+) bytes/arena')):
        m = re.search(pat, text)
        if m:
            got[key] = int(m.group(1).replace(',', ''))
    return got

syms = local_symbols()
rt = ctypes.addressof(ctypes.c_char.in_dll(api, '_PyRuntime')) if L['runtime_interpreters_head'] >= 0 else None
if L['runtime_interpreters_main'] >= 0:
    check(ptr(rt + L['runtime_interpreters_main']) == interp, 'runtime_interpreters_main')
if L['runtime_gc'] >= 0:
    gcs = rt + L['runtime_gc']
elif L['interp_gc'] >= 0:
    gcs = interp + L['interp_gc']
else:
    gcs = None
if gcs is not None:
    gens, stats = gcs + L['gc_generations'], gcs + L['gc_generation_stats']
else:
    gens = syms.get('generations')
    stats = syms.get('generation_stats') if L['gc_stats_size'] >= 0 else None
gc.disable()
# Make every generation's count non-zero: (small, 3, 2) on every version.
for g in (2, 1, 1, 0, 0, 0):
    gc.collect(g)
if gens:
    # A free-threaded build counts allocations per thread and adds them to
    # generation 0 when gc.get_count() asks: ask first, then read.
    if L['free_threaded']:
        want = gc.get_count()
    got = [rd(gens + i * L['gc_generation_size'] + L['gc_generation_count'], ctypes.c_int)
           for i in range(3)]
    if not L['free_threaded']:
        want = gc.get_count()
    check(got[1:] == list(want[1:]) and abs(got[0] - want[0]) < 50,
          'gc_generation_size / gc_generation_count (read %s, gc.get_count() %s)' % (got, want))
    got = [rd(gens + i * L['gc_generation_size'] + L['gc_generation_threshold'], ctypes.c_int)
           for i in range(3)]
    want = gc.get_threshold()
    check(got[:len(want)] == list(want),
          'gc_generation_threshold (read %s, gc.get_threshold() %s)' % (got, want))
if stats and L.get('gc_stats_young', -1) >= 0:
    # 3.15: ring buffers; each generation's newest entry holds its totals.
    ring = ptr(stats)
    st = gc.get_stats()
    for i in range(3):
        if i == 0:
            buf, idx, n = ring + L['gc_stats_young'], L['gc_stats_young_index'], L['gc_stats_young_len']
        else:
            buf = ring + L['gc_stats_old'] + (i - 1) * L['gc_stats_old_size']
            idx, n = L['gc_stats_old_index'], L['gc_stats_old_len']
        j = rd(buf + idx, ctypes.c_int8)
        check(0 <= j < n, 'gc_stats_*_index of generation %d (%d of %d)' % (i, j, n))
        b = buf + (j % n) * L['gc_stats_size']
        got = [rd(b + L['gc_stats_' + k], ctypes.c_ssize_t)
               for k in ('collections', 'collected', 'uncollectable')]
        want = [st[i]['collections'], st[i]['collected'], st[i]['uncollectable']]
        check(got == want, 'gc_stats ring of generation %d (read %s, gc.get_stats() %s)' % (i, got, want))
elif stats:
    st = gc.get_stats()
    for i in range(3):
        b = stats + i * L['gc_stats_size']
        got = [rd(b + L['gc_stats_' + k], ctypes.c_ssize_t)
               for k in ('collections', 'collected', 'uncollectable')]
        want = [st[i]['collections'], st[i]['collected'], st[i]['uncollectable']]
        check(got == want, 'gc_stats_* of generation %d (read %s, gc.get_stats() %s)' % (i, got, want))
# collecting: 0 now, 1 inside a collection (its callbacks run in it).
coll = (gcs + L['gc_collecting'] if gcs is not None and L['gc_collecting'] >= 0
        else syms.get('collecting'))
if coll:
    seen = []
    check(rd(coll, ctypes.c_int) == 0, 'gc_collecting outside a collection')
    if hasattr(gc, 'callbacks'):
        cb = lambda phase, info: seen.append(rd(coll, ctypes.c_int)) if phase == 'start' else None
        gc.callbacks.append(cb)
        gc.collect()
        gc.callbacks.remove(cb)
        check(seen == [1], 'gc_collecting inside a collection (read %s)' % seen)
gc.enable()
# Allocate and free some arenas, so the current count, the high-water mark
# and the number ever allocated all differ.
for _ in range(2):
    junk = [[i] for i in range(300000)]
    del junk
ms = malloc_stats()
if 'arena_size' in ms:
    check(ms['arena_size'] == 1 << L['obmalloc_arena_bits'],
          'obmalloc_arena_bits (%d bytes/arena)' % ms['arena_size'])
if L['interp_obmalloc'] >= 0:
    ob = interp + L['interp_obmalloc']
elif L['interp_obmalloc_ptr'] >= 0:
    ob = ptr(interp + L['interp_obmalloc_ptr'])
else:
    ob = None
if ob is not None:
    narenas, high = ob + L['obmalloc_narenas'], ob + L['obmalloc_narenas_highwater']
else:
    narenas, high = syms.get('narenas_currently_allocated'), syms.get('narenas_highwater')
if narenas and 'current' in ms:
    got = rd(narenas, ctypes.c_size_t)
    check(abs(got - ms['current']) <= 1, 'obmalloc_narenas (read %d, _debugmallocstats %d)'
          % (got, ms['current']))
if high and 'highwater' in ms:
    got = rd(high, ctypes.c_size_t)
    check(abs(got - ms['highwater']) <= 1, 'obmalloc_narenas_highwater (read %d, _debugmallocstats %d)'
          % (got, ms['highwater']))
sys.stdout.write(json.dumps([bad, live]))
"""


def verify(it, table, dtable):
    script = VERIFY_SCRIPT.replace("MEANS.items()", repr(sorted(DEBUG_MEANS.items())))
    # A free-threaded build is checked twice: without a GIL, and with the
    # GIL turned back on (PYTHON_GIL=1), when it has a holder.
    envs = [None]
    if table.get("free_threaded"):
        envs.append(dict(os.environ, PYTHON_GIL="1"))
    for env in envs:
        res = subprocess.run(it.cmd + ["-c", script], input=json.dumps([table, dtable]),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, timeout=120, env=env)
        if res.returncode != 0:
            raise GenError("run-time check of %s (%s) failed:\n%s" % (it.xy, it.name, res.stderr))
        bad, live = json.loads(res.stdout)
        table.update(live)
        if bad:
            raise GenError("%s (%s%s): the running interpreter disagrees on: %s"
                           % (it.xy, it.name, ", PYTHON_GIL=1" if env else "", ", ".join(bad)))


def generate(it, fields, dfields):
    table, dtable = probe(it, fields, dfields)
    verify(it, table, dtable)
    return table, dtable


# ---------------------------------------------------------------------------
# The C file.

def cname(k):
    return "layout_%d_%d_%d%s%s" % (k[:3] + ("d" if k[3] else "", "t" if k[4] else ""))


def build_text(k):
    return (" debug build" if k[3] else "") + (" free-threaded" if k[4] else "")


def vkey(full):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", full)]


def render(tables, sources, fields, dtables, dsources, dfields):
    out = []
    out.append("/* Generated by %s" % COMMAND)
    out.append(" * from offsetof()/sizeof() probes compiled against each interpreter's headers")
    out.append(" * and checked against the running interpreter. Do not edit by hand. */")
    out.append('#include "config.h"')
    out.append("")
    out.append('#include "python/layout.h"')
    out.append("")
    for k in sorted(tables):
        t = tables[k]
        v = k[:2]
        out.append("/* CPython %d.%d.%d+%s, from %s */"
                   % (k[:3] + (build_text(k), ", ".join(sources[k]))))
        out.append("static const struct py_layout %s = {" % cname(k))
        for f in fields:
            line = "    .%s = %d," % (f, t[f])
            if f in mirrored(v):
                line += " /* mirror of %s */" % mirrored(v)[f]
            out.append(line)
        out.append("};")
        out.append("")
    out.append("const struct py_layout *const py_layouts_all[] = {")
    for k in sorted(tables):
        out.append("    &%s," % cname(k))
    out.append("};")
    out.append("const size_t py_layouts_count = sizeof py_layouts_all / sizeof py_layouts_all[0];")
    out.append("")
    out.append("const struct py_layout *py_layout_for(int major, int minor)")
    out.append("{")
    out.append("    return py_layout_select(major, minor, 1 << 30, -1, 0);")
    out.append("}")
    out.append("")
    out.append("const struct py_layout *py_layout_for_build(int major, int minor, int free_threaded)")
    out.append("{")
    out.append("    return py_layout_select(major, minor, 1 << 30, -1, free_threaded);")
    out.append("}")
    out.append("")
    out.append("const struct py_layout *py_layout_for_micro(int major, int minor, int micro)")
    out.append("{")
    out.append("    return py_layout_select(major, minor, micro, -1, 0);")
    out.append("}")
    out.append("")
    out.append("const struct py_layout *py_layout_match(int major, int minor, int micro, int interp_size)")
    out.append("{")
    out.append("    return py_layout_select(major, minor, micro, interp_size, 0);")
    out.append("}")
    out.append("")
    out.append("/* interp_size -1: release builds' tables only. */")
    out.append("const struct py_layout *py_layout_select(int major, int minor, int micro, int interp_size,")
    out.append("                                         int free_threaded)")
    out.append("{")
    out.append("    const struct py_layout *best = NULL;")
    out.append("    for (size_t i = 0; i < py_layouts_count; i++) {")
    out.append("        const struct py_layout *l = py_layouts_all[i];")
    out.append("        if (l->major != major || l->minor != minor || !l->free_threaded != !free_threaded)")
    out.append("            continue;")
    out.append("        if (interp_size < 0 ? l->debug_build : l->interp_size != interp_size)")
    out.append("            continue;")
    out.append("        /* In micro order: keep the last one not after micro, or the first. */")
    out.append("        if (!best || l->micro <= micro)")
    out.append("            best = l;")
    out.append("    }")
    out.append("    return best;")
    out.append("}")
    out.append("")
    for v in sorted(dtables):
        t = dtables[v]
        out.append("/* _Py_DebugOffsets of CPython %d.%d, from %s */" % (v + (", ".join(dsources[v]),)))
        out.append("static const struct py_debug_layout debug_layout_%d_%d = {" % v)
        for f in dfields:
            out.append("    .%s = %d," % (f, t[f]))
        out.append("};")
        out.append("")
    out.append("const struct py_debug_layout *const py_debug_layouts_all[] = {")
    for v in sorted(dtables):
        out.append("    &debug_layout_%d_%d," % v)
    out.append("};")
    out.append("const size_t py_debug_layouts_count =")
    out.append("    sizeof py_debug_layouts_all / sizeof py_debug_layouts_all[0];")
    out.append("")
    out.append("const struct py_debug_layout *py_debug_layout_for(int major, int minor)")
    out.append("{")
    out.append("    for (size_t i = 0; i < py_debug_layouts_count; i++)")
    out.append("        if (py_debug_layouts_all[i]->major == major && py_debug_layouts_all[i]->minor == minor)")
    out.append("            return py_debug_layouts_all[i];")
    out.append("    return NULL;")
    out.append("}")
    return "\n".join(out) + "\n"


def parse_file(path):
    """Tables and source notes of an existing generated file: layouts keyed
    by (major, minor, micro), debug-offsets layouts by (major, minor)."""
    with open(path) as f:
        text = f.read()
    tables, sources, dtables, dsources = {}, {}, {}, {}
    for m in re.finditer(r"/\* CPython (\d+)\.(\d+)(?:\.(\d+)\+)?( debug build)?( free-threaded)?,"
                         r" from (.*?) \*/\s*"
                         r"static const struct py_layout layout_\w+ = \{(.*?)\};", text, re.S):
        vals = dict((k, int(val)) for k, val in re.findall(r"\.(\w+) = (-?\d+)", m.group(7)))
        micro = int(m.group(3)) if m.group(3) else vals.get("micro", 0)
        k = (int(m.group(1)), int(m.group(2)), micro, 1 if m.group(4) else 0, 1 if m.group(5) else 0)
        tables[k] = vals
        sources[k] = m.group(6).split(", ")
    for m in re.finditer(r"/\* _Py_DebugOffsets of CPython (\d+)\.(\d+), from (.*?) \*/\s*"
                         r"static const struct py_debug_layout \w+ = \{(.*?)\};", text, re.S):
        v = (int(m.group(1)), int(m.group(2)))
        dtables[v] = dict((k, int(val)) for k, val in re.findall(r"\.(\w+) = (-?\d+)", m.group(4)))
        dsources[v] = m.group(3).split(", ")
    return tables, sources, dtables, dsources


def diff(a, b, fields):
    return ["%s: file %s, headers %s" % (f, a.get(f, "missing"), b.get(f, "missing"))
            for f in fields if f != "micro" and a.get(f) != b.get(f)]


def variant(k):
    """(major, minor, debug, free-threaded): the tables of one build kind."""
    return (k[0], k[1], k[3], k[4])


def table_for(tables, key):
    """The committed table py_layout_for_micro would pick for key."""
    cands = sorted(k for k in tables if variant(k) == variant(key))
    best = None
    for k in cands:
        if best is None or k[2] <= key[2]:
            best = k
    return best


# ---------------------------------------------------------------------------

def interpreters(paths):
    found = [query(p) for p in (paths or discover())]
    return sorted(found, key=lambda it: (it.version or (99, 99), it.micro or 0, it.ft, it.name))


def merge_micros(entries, fields):
    """entries: [(micro, table, sources)] of one X.Y. One table per run of
    equal layouts, in micro order, each marked with its first micro."""
    out = []
    for micro, t, src in sorted(entries, key=lambda e: e[0]):
        if out and not diff(out[-1][1], t, fields):
            out[-1][2].extend(src)
            continue
        t = dict(t)
        t["micro"] = micro
        out.append((micro, t, list(src)))
    return out


def complete_kept(k, table, fields):
    """A kept table made before a field was added: a field the version's
    rules give as a constant (or leave out, -1) is filled in; any other
    missing field needs the interpreter itself."""
    t = dict(table)
    t.setdefault("free_threaded", k[4])
    r = rules(k[:2], k[4])
    missing = []
    for f in fields:
        if f in t:
            continue
        if r.get(f, "x") is None:
            t[f] = -1
        elif re.match(r"-?\d+$", r.get(f, "x")):
            t[f] = int(r[f])
        else:
            missing.append(f)
    if missing:
        raise GenError("kept table %s lacks %s" % (cname(k), ", ".join(missing)))
    return t


def cmd_write(path, paths, fields, dfields):
    fresh, dfresh = {}, {}          # key -> (table, sources, origin)
    for it in interpreters(paths):
        if it.problem:
            sys.stderr.write("gen_layouts: skipping %s: %s\n" % (it.name, it.problem))
            continue
        if not known_build(it.version, it.ft):
            sys.stderr.write("gen_layouts: skipping %s: no rules for %s\n" % (it.name, it.xy))
            continue
        t, dt = generate(it, fields, dfields)
        for store, k, tab, fl in ((fresh, it.key, t, fields), (dfresh, it.version, dt, dfields)):
            if tab is None:
                continue
            if k in store:
                d = diff(store[k][0], tab, fl)
                if d:
                    raise GenError("%s and %s (both %s) give different layouts:\n  %s"
                                   % (store[k][2], it.name, it.label, "\n  ".join(d)))
                store[k][1].append(it.full)
            else:
                store[k] = (tab, [it.full], it.name)
    old, old_src, dold, dold_src = parse_file(path) if os.path.exists(path) else ({}, {}, {}, {})
    tables, sources = {}, {}
    variants = set(variant(k) for k in list(fresh) + list(old) if known_build(k[:2], k[4]))
    wanted = set(v + (0, 0) for v in EXPECTED) | set(v + (0, 1) for v in FT_EXPECTED)
    for var in sorted(variants | wanted):
        entries = [(k[2], t, src) for k, (t, src, _) in fresh.items() if variant(k) == var]
        have = set(e[0] for e in entries)
        # Keep the tables of micro releases (or versions) not installed here.
        for k in old:
            # (A table without .micro predates micro keys: any fresh one replaces it.)
            if variant(k) == var and k[2] not in have and not (entries and "micro" not in old[k]):
                if not entries:
                    sys.stderr.write("gen_layouts: %s not regenerated, keeping its table\n" % cname(k))
                entries.append((k[2], complete_kept(k, old[k], fields), old_src[k]))
        if not entries:
            if not var[2]:
                sys.stderr.write("gen_layouts: warning: no table for %d.%d%s\n"
                                 % (var[:2] + ("t" if var[3] else "",)))
            continue
        for micro, t, src in merge_micros(entries, fields):
            k = var[:2] + (micro, var[2], var[3])
            tables[k] = t
            sources[k] = sorted(set(src), key=vkey)
    dtables, dsources = {}, {}
    for v in sorted(set(DEBUG_EXPECTED) | set(dfresh)):
        if v in dfresh:
            dtables[v], dsources[v] = dfresh[v][0], sorted(set(dfresh[v][1]), key=vkey)
        elif v in dold:
            missing = [f for f in dfields if f not in dold[v]]
            if missing:
                raise GenError("kept debug table %d.%d lacks %s" % (v + (", ".join(missing),)))
            dtables[v], dsources[v] = dold[v], dold_src[v]
    text = render(tables, sources, fields, dtables, dsources, dfields)
    with open(path, "w") as f:
        f.write(text)
    return 0


def cmd_check(path, paths, fields, dfields):
    committed, _, dcommitted, _ = parse_file(path)
    n, failed, seen = 0, 0, set()

    def tap(ok, msg, extra=()):
        nonlocal n, failed
        n += 1
        if not ok:
            failed += 1
        print("%sok %d - %s" % ("" if ok else "not ", n, msg))
        for line in extra:
            print("#   " + line)

    for it in interpreters(paths):
        if it.problem:
            n += 1
            print("ok %d # SKIP %s (%s): %s" % (n, it.xy if it.version else "?", it.name, it.problem))
            continue
        if not known_build(it.version, it.ft):
            n += 1
            print("ok %d # SKIP %s (%s): no header rules for %s" % (n, it.xy, it.name, it.xy))
            continue
        seen.add(it.version + (it.ft,))
        what = "layout %s (%s)" % (it.label, it.name)
        try:
            t, dt = generate(it, fields, dfields)
        except GenError as e:
            tap(False, what + " could not be generated", str(e).splitlines())
            continue
        k = table_for(committed, it.key)
        if k is None:
            tap(False, what + " is missing from %s" % path)
            continue
        d = diff(committed[k], t, fields)
        tap(not d, what + (" differs from %s (a micro release moved a field? run %s)"
                           % (cname(k), COMMAND) if d else " matches"), d)
        if dt is not None:
            dwhat = "_Py_DebugOffsets layout %s (%s)" % (it.full, it.name)
            if it.version not in dcommitted:
                tap(False, dwhat + " is missing from %s" % path)
                continue
            d = diff(dcommitted[it.version], dt, dfields)
            tap(not d, dwhat + (" differs" if d else " matches"), d)
    why = "not among the interpreters given" if paths else "not installed"
    for v in [e + (0,) for e in EXPECTED] + [e + (1,) for e in FT_EXPECTED]:
        if v not in seen:
            n += 1
            print("ok %d # SKIP %d.%d%s %s" % (n, v[0], v[1], "t" if v[2] else "", why))
    for k in sorted(committed):
        if not known_build(k[:2], k[4]):
            tap(False, "%s has a table for %d.%d, which the generator does not know" % ((path,) + k[:2]))
    print("1..%d" % n)
    return 1 if failed else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE", help="generate FILE")
    mode.add_argument("--check", metavar="FILE", help="compare FILE with a fresh generation (TAP)")
    ap.add_argument("pythons", nargs="*", metavar="PYTHON",
                    help="interpreters to use (default: every pyenv version, system python and the sid root's)")
    args = ap.parse_args(argv)
    try:
        fields = layout_fields()
        dfields = layout_fields(struct="py_debug_layout")
        if args.write:
            return cmd_write(args.write, args.pythons, fields, dfields)
        return cmd_check(args.check, args.pythons, fields, dfields)
    except GenError as e:
        sys.stderr.write("gen_layouts: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
