#!/usr/bin/env python3
"""Generate or check src/python/layouts_generated.c.

For every installed CPython (2.7, 3.6-3.13) this compiles a small C probe
against that interpreter's own headers and prints offsetof()/sizeof() for
each field of struct py_layout (src/python/layout.h). The few structures that
no installed header describes (PyModuleObject before 3.10, PyDictKeysObject
in 3.6-3.10) are written as mirror structs of CPython's private definitions.
Every table is then checked against the running interpreter itself, through
ctypes, before it is accepted.

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

EXPECTED = [(2, 7)] + [(3, m) for m in range(6, 14)]
COMMAND = "tools/gen_layouts.py --write src/python/layouts_generated.c"
HERE = os.path.dirname(os.path.abspath(__file__))
LAYOUT_H = os.path.join(HERE, "..", "src", "python", "layout.h")


class GenError(Exception):
    pass


# ---------------------------------------------------------------------------
# struct py_layout fields, read from layout.h so the two never drift apart.

def layout_fields(path=LAYOUT_H):
    with open(path) as f:
        text = f.read()
    m = re.search(r"struct py_layout \{(.*?)\n\};", text, re.S)
    if not m:
        raise GenError("struct py_layout not found in %s" % path)
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    fields = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        if not decl.startswith("int "):
            raise GenError("unexpected declaration in struct py_layout: %r" % decl)
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


def rules(v):
    py2 = v[0] == 2
    r = {}
    FR = "PyFrameObject" if v <= (3, 10) else "_PyInterpreterFrame"
    TS = "PyThreadState"
    IS = "PyInterpreterState"

    # Runtime and interpreter.
    r["runtime_interpreters_head"] = off("_PyRuntimeState", "interpreters.head") if v >= (3, 7) else None
    r["runtime_gilstate_tstate_current"] = (off("_PyRuntimeState", "gilstate.tstate_current")
                                           if (3, 7) <= v <= (3, 11) else None)
    r["interp_next"] = off(IS, "next")
    r["interp_tstate_head"] = off(IS, "threads.head" if v >= (3, 11) else "tstate_head")
    r["interp_modules"] = off(IS, "imports.modules" if v >= (3, 12) else "modules")
    r["interp_ceval_gil"] = off(IS, "ceval.gil") if v >= (3, 12) else None
    r["gil_locked"] = off("struct _gil_runtime_state", "locked") if v >= (3, 12) else None
    r["gil_last_holder"] = off("struct _gil_runtime_state", "last_holder") if v >= (3, 12) else None

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
    r["tstate_recursion_depth"] = off(TS, "recursion_depth") if v <= (3, 10) else None
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
    r["frame_owned_by_cstack"] = "FRAME_OWNED_BY_CSTACK" if v >= (3, 12) else None
    r["frame_is_entry"] = off(FR, "is_entry") if v == (3, 11) else None
    # Whether a frame object is running (a live caller) or freed, done or suspended.
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
    has_stats = v >= (3, 6)
    r["gc_stats_size"] = size(STATS) if has_stats else None
    for f in ("collections", "collected", "uncollectable"):
        r["gc_stats_" + f] = off(STATS, f) if has_stats else None
    OB = "struct _obmalloc_state"
    r["interp_obmalloc"] = off(IS, "obmalloc") if v == (3, 12) else None
    r["interp_obmalloc_ptr"] = off(IS, "obmalloc") if v >= (3, 13) else None
    r["obmalloc_narenas"] = off(OB, "mgmt.narenas_currently_allocated") if v >= (3, 12) else None
    r["obmalloc_narenas_highwater"] = off(OB, "mgmt.narenas_highwater") if v >= (3, 12) else None
    r["obmalloc_arena_bits"] = "ARENA_BITS" if v >= (3, 12) else ARENA_BITS_BEFORE_312[v <= (3, 9)]
    return r


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
sys.stdout.write('%d %d %s\n%s\n%s\n' % (sys.version_info[0], sys.version_info[1],
                 sys.version.split()[0], inc, plat))
"""


class Interp(object):
    def __init__(self, path):
        self.path = path
        self.version = None       # (major, minor)
        self.full = None          # "3.12.1"
        self.include = None
        self.platinclude = None
        self.problem = None       # why it cannot be used

    @property
    def xy(self):
        return "%d.%d" % self.version


def query(path):
    it = Interp(path)
    try:
        out = subprocess.run([path, "-c", INFO_SCRIPT], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True,
                             timeout=60, check=True).stdout.splitlines()
        major, minor, it.full = out[0].split()
        it.version = (int(major), int(minor))
        it.include, it.platinclude = out[1], out[2]
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
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
    cands = []
    for d in sorted(glob.glob(os.path.join(pyenv_root(), "versions", "*", "bin"))):
        cands += sorted(p for p in glob.glob(os.path.join(d, "python*")) if pattern.search(p))
    for d in ("/usr/bin", "/usr/local/bin"):
        cands += sorted(p for p in glob.glob(os.path.join(d, "python*")) if pattern.search(p))
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

def probe(it, fields):
    if it.version not in EXPECTED:
        raise GenError("no rules for CPython %s" % it.xy)
    r = rules(it.version)
    missing = [f for f in fields if f not in ("major", "minor") and f not in r]
    if missing:
        raise GenError("gen_layouts.py has no rule for: %s" % ", ".join(missing))
    src = [probe_source(it.version), "int main(void)", "{"]
    for f in fields:
        if f in ("major", "minor") or r[f] is None:
            continue
        src.append('    printf("%%s %%ld\\n", "%s", (long)(%s));' % (f, r[f]))
    src += ["    return 0;", "}", ""]
    tmp = tempfile.mkdtemp(prefix="pytop-layout-")
    try:
        c = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(c, "w") as fh:
            fh.write("\n".join(src))
        cc = os.environ.get("CC", "cc")
        cmd = [cc, "-I", it.include, "-I", it.platinclude, c, "-o", exe]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             universal_newlines=True)
        if res.returncode != 0:
            raise GenError("probe for %s (%s) does not compile:\n%s" % (it.xy, it.path, res.stdout))
        out = subprocess.run([exe], stdout=subprocess.PIPE, universal_newlines=True,
                             check=True).stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    table = dict((f, -1) for f in fields)
    table["major"], table["minor"] = it.version
    for line in out.splitlines():
        name, value = line.split()
        table[name] = int(value)
    return table


# Runs inside the target interpreter (2.7 and 3.x): reads its own objects
# through the table's offsets and reports every disagreement.
VERIFY_SCRIPT = r"""
import ctypes, json, sys, threading
L = json.loads(sys.stdin.read())
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
    check((st >> 2) & 7 == 1 and (st >> 5) & 3 == 3, 'unicode_state (kind 1, compact, ascii)')
    check(ctypes.string_at(id(s) + L['unicode_ascii_size'], 5) == b'hello', 'unicode_ascii_size')
    u = ''.join(['h\u20ac', 'llo'])
    st = rd(id(u) + L['unicode_state'], ctypes.c_uint32)
    check((st >> 2) & 7 == 2 and (st >> 5) & 3 == 1, 'unicode_state (kind 2, compact, not ascii)')
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
if L['interp_ceval_gil'] >= 0:
    gil = ptr(interp + L['interp_ceval_gil'])
    check(rd(gil + L['gil_locked'], ctypes.c_int) == 1, 'gil_locked')
    check(ptr(gil + L['gil_last_holder']) == ts, 'gil_last_holder')

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
    for line in open('/proc/self/maps'):
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
    got = [rd(gens + i * L['gc_generation_size'] + L['gc_generation_count'], ctypes.c_int)
           for i in range(3)]
    want = gc.get_count()
    check(got[1:] == list(want[1:]) and abs(got[0] - want[0]) < 50,
          'gc_generation_size / gc_generation_count (read %s, gc.get_count() %s)' % (got, want))
if stats:
    st = gc.get_stats()
    for i in range(3):
        b = stats + i * L['gc_stats_size']
        got = [rd(b + L['gc_stats_' + k], ctypes.c_ssize_t)
               for k in ('collections', 'collected', 'uncollectable')]
        want = [st[i]['collections'], st[i]['collected'], st[i]['uncollectable']]
        check(got == want, 'gc_stats_* of generation %d (read %s, gc.get_stats() %s)' % (i, got, want))
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
sys.stdout.write(json.dumps(bad))
"""


def verify(it, table):
    res = subprocess.run([it.path, "-c", VERIFY_SCRIPT], input=json.dumps(table),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=120)
    if res.returncode != 0:
        raise GenError("run-time check of %s (%s) failed:\n%s" % (it.xy, it.path, res.stderr))
    bad = json.loads(res.stdout)
    if bad:
        raise GenError("%s (%s): the running interpreter disagrees on: %s"
                       % (it.xy, it.path, ", ".join(bad)))


def generate(it, fields):
    table = probe(it, fields)
    verify(it, table)
    return table


# ---------------------------------------------------------------------------
# The C file.

def render(tables, sources, fields):
    out = []
    out.append("/* Generated by %s" % COMMAND)
    out.append(" * from offsetof()/sizeof() probes compiled against each interpreter's headers")
    out.append(" * and checked against the running interpreter. Do not edit by hand. */")
    out.append('#include "config.h"')
    out.append("")
    out.append('#include "python/layout.h"')
    out.append("")
    for v in sorted(tables):
        t = tables[v]
        out.append("/* CPython %d.%d, from %s */" % (v[0], v[1], ", ".join(sources[v])))
        out.append("static const struct py_layout layout_%d_%d = {" % v)
        for f in fields:
            line = "    .%s = %d," % (f, t[f])
            if f in mirrored(v):
                line += " /* mirror of %s */" % mirrored(v)[f]
            out.append(line)
        out.append("};")
        out.append("")
    out.append("const struct py_layout *const py_layouts_all[] = {")
    for v in sorted(tables):
        out.append("    &layout_%d_%d," % v)
    out.append("};")
    out.append("const size_t py_layouts_count = sizeof py_layouts_all / sizeof py_layouts_all[0];")
    out.append("")
    out.append("const struct py_layout *py_layout_for(int major, int minor)")
    out.append("{")
    out.append("    for (size_t i = 0; i < py_layouts_count; i++)")
    out.append("        if (py_layouts_all[i]->major == major && py_layouts_all[i]->minor == minor)")
    out.append("            return py_layouts_all[i];")
    out.append("    return NULL;")
    out.append("}")
    return "\n".join(out) + "\n"


def parse_file(path):
    """Tables and source notes of an existing generated file."""
    with open(path) as f:
        text = f.read()
    tables, sources = {}, {}
    for m in re.finditer(r"/\* CPython (\d+)\.(\d+), from (.*?) \*/\s*"
                         r"static const struct py_layout layout_\d+_\d+ = \{(.*?)\};", text, re.S):
        v = (int(m.group(1)), int(m.group(2)))
        tables[v] = dict((k, int(val)) for k, val in
                         re.findall(r"\.(\w+) = (-?\d+)", m.group(4)))
        sources[v] = m.group(3).split(", ")
    return tables, sources


def diff(a, b, fields):
    return ["%s: file %s, headers %s" % (f, a.get(f, "missing"), b.get(f, "missing"))
            for f in fields if a.get(f) != b.get(f)]


# ---------------------------------------------------------------------------

def interpreters(paths):
    found = [query(p) for p in (paths or discover())]
    return sorted(found, key=lambda it: (it.version or (99, 99), it.path))


def cmd_write(path, paths, fields):
    tables, sources, origin = {}, {}, {}
    for it in interpreters(paths):
        if it.problem:
            sys.stderr.write("gen_layouts: skipping %s: %s\n" % (it.path, it.problem))
            continue
        if it.version not in EXPECTED:
            sys.stderr.write("gen_layouts: skipping %s: no rules for %s\n" % (it.path, it.xy))
            continue
        t = generate(it, fields)
        if it.version in tables:
            d = diff(tables[it.version], t, fields)
            if d:
                raise GenError("%s and %s (both %s) give different layouts:\n  %s"
                               % (origin[it.version], it.path, it.xy, "\n  ".join(d)))
            sources[it.version].append(it.full)
        else:
            tables[it.version], sources[it.version], origin[it.version] = t, [it.full], it.path
    for v in sources:
        sources[v] = sorted(set(sources[v]), key=lambda s: [int(x) if x.isdigit() else x
                                                           for x in re.split(r"(\d+)", s)])
    # Keep tables of versions not installed here rather than dropping them.
    if os.path.exists(path):
        old, old_src = parse_file(path)
        for v in EXPECTED:
            if v not in tables and v in old:
                sys.stderr.write("gen_layouts: %d.%d not regenerated, keeping its table\n" % v)
                tables[v], sources[v] = dict(old[v]), old_src[v]
                for f in fields:
                    if f not in tables[v]:
                        raise GenError("kept table %d.%d lacks field %s" % (v + (f,)))
    for v in EXPECTED:
        if v not in tables:
            sys.stderr.write("gen_layouts: warning: no table for %d.%d\n" % v)
    text = render(tables, sources, fields)
    with open(path, "w") as f:
        f.write(text)
    return 0


def cmd_check(path, paths, fields):
    committed, _ = parse_file(path)
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
            print("ok %d # SKIP %s (%s): %s" % (n, it.xy if it.version else "?", it.path, it.problem))
            continue
        if it.version not in EXPECTED:
            n += 1
            print("ok %d # SKIP %s (%s): no header rules for %s (read through debug offsets)"
                  % (n, it.xy, it.path, it.xy))
            continue
        seen.add(it.version)
        what = "layout %s (%s)" % (it.xy, it.path)
        try:
            t = generate(it, fields)
        except GenError as e:
            tap(False, what + " could not be generated", str(e).splitlines())
            continue
        if it.version not in committed:
            tap(False, what + " is missing from %s" % path)
            continue
        d = diff(committed[it.version], t, fields)
        tap(not d, what + (" differs" if d else " matches"), d)
    why = "not among the interpreters given" if paths else "not installed"
    for v in EXPECTED:
        if v not in seen:
            n += 1
            print("ok %d # SKIP %d.%d %s" % ((n,) + v + (why,)))
    for v in sorted(committed):
        if v not in EXPECTED:
            tap(False, "%s has a table for %d.%d, which the generator does not know" % ((path,) + v))
    print("1..%d" % n)
    return 1 if failed else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", metavar="FILE", help="generate FILE")
    mode.add_argument("--check", metavar="FILE", help="compare FILE with a fresh generation (TAP)")
    ap.add_argument("pythons", nargs="*", metavar="PYTHON",
                    help="interpreters to use (default: every pyenv version and system python)")
    args = ap.parse_args(argv)
    try:
        fields = layout_fields()
        if args.write:
            return cmd_write(args.write, args.pythons, fields)
        return cmd_check(args.check, args.pythons, fields)
    except GenError as e:
        sys.stderr.write("gen_layouts: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())
