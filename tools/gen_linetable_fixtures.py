#!/usr/bin/python3
"""Generate tests/unit/linetable_fixtures.h from real code objects.

Every installed interpreter (pyenv versions plus /usr/bin/python3.*) compiles
the same fixture source in a subprocess and reports, for each code object,
its raw line table (co_lnotab up to 3.9, co_linetable from 3.10), its
co_firstlineno and the line CPython's own PyCode_Addr2Line() gives for every
byte offset from -1 to len(co_code)+3. PyCode_Addr2Line is what frame.f_lineno
reports when no tracer is active, and the child checks that on live frames.
The child also cross-checks against co_lines() (3.10+) or
dis.findlinestarts() (older) and warns on stderr if they disagree.

The output is deterministic for a given set of interpreters. It also writes
a few fuzz seeds (tests/fuzz/seeds/linetable/) in the fuzz_linetable input
format: kind byte, firstlineno (int32 LE), offset (uint16 LE), table.

Usage: tools/gen_linetable_fixtures.py [--srcdir DIR] [--python PATH ...] [--check]

--check writes nothing and exits 1 if the committed files differ from what
the installed interpreters produce now.
"""

import argparse
import glob
import json
import os
import struct
import subprocess
import sys

# Must stay valid Python 2.7 and 3.6-3.13: no f-strings, no print statement.
CHILD = r'''
import sys, json, ctypes, types, binascii, dis

src = sys.stdin.read()
a2l = ctypes.pythonapi.PyCode_Addr2Line
a2l.argtypes = [ctypes.py_object, ctypes.c_int]
a2l.restype = ctypes.c_int
V = sys.version_info

def table_of(co):
    if V >= (3, 10):
        return co.co_linetable
    return co.co_lnotab

def warn(msg):
    sys.stderr.write("warning: %d.%d: %s\n" % (V[0], V[1], msg))

def crosscheck(name, co, lines):
    n = len(co.co_code)
    if V >= (3, 10):
        for start, end, line in co.co_lines():
            want = -1 if line is None else line
            for off in range(start, end):
                # 3.11's co_lines() says None for any negative line.
                got = lines[off + 1]
                if got != want and not (line is None and got < 0):
                    warn("%s: co_lines says %d at %d, Addr2Line %d"
                         % (name, want, off, lines[off + 1]))
                    return
    else:
        starts = list(dis.findlinestarts(co))
        for off in range(0, n):
            want = None
            for s, l in starts:
                if s <= off:
                    want = l
            if want is not None and lines[off + 1] != want:
                warn("%s: findlinestarts says %d at %d, Addr2Line %d"
                     % (name, want, off, lines[off + 1]))
                return

def frame_check():
    # f_lasti is in bytes from Python code on every version; f_lineno with
    # no tracer is PyCode_Addr2Line(f_code, f_lasti).
    f = sys._getframe(1)
    if f.f_lineno != a2l(f.f_code, f.f_lasti):
        raise SystemExit("f_lineno %d != Addr2Line %d" % (f.f_lineno, a2l(f.f_code, f.f_lasti)))
    return f.f_lineno

def probe():
    x = [frame_check(),
         frame_check()]
    return x

probe()

out = []
def walk(co, path):
    n = len(co.co_code)
    lines = [a2l(co, off) for off in range(-1, n + 4)]
    crosscheck(path, co, lines)
    out.append({
        "name": path,
        "firstlineno": co.co_firstlineno,
        "code_len": n,
        "table": binascii.hexlify(table_of(co)).decode("ascii"),
        "lines": lines,
    })
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            walk(c, path + "." + c.co_name)

def with_table(co, code, table, first):
    # A code object that is never run, only asked for line numbers: its
    # table is hand-made to reach encodings the compiler rarely emits.
    if hasattr(co, "replace"):
        if V >= (3, 10):
            return co.replace(co_code=code, co_linetable=table, co_firstlineno=first)
        return co.replace(co_code=code, co_lnotab=table, co_firstlineno=first)
    args = [co.co_argcount, co.co_nlocals, co.co_stacksize, co.co_flags, code,
            co.co_consts, co.co_names, co.co_varnames, co.co_filename, co.co_name,
            first, table, co.co_freevars, co.co_cellvars]
    if V[0] >= 3:
        args.insert(1, co.co_kwonlyargcount)
    return types.CodeType(*args)

def b(seq):
    return bytes(bytearray(seq))

def entry(code, units, extra):
    return [0x80 | (code << 3) | (units - 1)] + list(extra)

def synthetic():
    nop = dis.opmap["NOP"]
    if V < (3, 6):
        tables = [
            (1, [0, 1, 255, 0, 45, 200, 11, 1, 0, 5, 3, 255, 7]),
            (100, [3, 1, 0, 0, 1, 128, 250, 254, 200, 3]),
        ]
        return [(t, first, b([nop] * 600)) for first, t in tables]
    if V < (3, 10):
        tables = [
            (1, [0, 1, 255, 0, 45, 127, 0, 73, 11, 0xff, 2, 0x80, 4, 0x81, 6, 5, 0, 3, 9]),
            (500, [2, 0x80, 0, 0x80, 2, 0x80, 4, 0x7f, 254, 0x81, 8, 0xfe]),
        ]
        return [(t, first, b([nop, 0] * 300)) for first, t in tables]
    if V < (3, 11):
        pairs = [(0, 1), (2, 0), (4, -128), (6, 5), (0, 3), (0, -128), (8, -2),
                 (254, 0), (10, 127), (2, -128), (12, -127), (0, 100), (3, 1), (2, 1)]
        t = []
        for sd, ld in pairs:
            t += [sd, ld & 0xff]
        n = sum(p[0] for p in pairs)
        return [(t, 1, b([nop, 0] * ((n + 1) // 2))), (t, 70000, b([nop, 0] * ((n + 1) // 2)))]
    t = []
    for c in range(10):
        t += entry(c, 1 + c % 8, [((c & 7) << 4) | c])
    t += entry(10, 2, [3, 9]) + entry(11, 1, [0, 127]) + entry(12, 8, [5, 6])
    t += entry(13, 3, [0x58, 0x09])            # +300, two chunks
    t += entry(14, 4, [0x75, 0x07, 2, 1, 0x48, 0x03])  # -250, cols 0-199
    t += entry(15, 5, [])                       # no location
    t += entry(13, 1, [0x0b])                   # -5
    t += entry(15, 1, []) + entry(12, 2, [1, 2])
    t += entry(14, 1, [0, 0, 0, 0])             # long form, no move
    t += entry(13, 2, [0x40 | 0x00, 0x40 | 0x35, 0x30])  # +100000, three chunks
    t += entry(14, 8, [0x41, 0x40 | 0x3f, 0x3f, 1, 1, 1])  # -2016
    units = 0
    i = 0
    while i < len(t):
        units += (t[i] & 7) + 1
        i += 1
        while i < len(t) and not t[i] & 0x80:
            i += 1
    return [(t, 1, b([nop, 0] * units)), (t, 3000, b([nop, 0] * units))]

for i, (t, first, code) in enumerate(synthetic()):
    name = "synthetic%d" % i
    walk(with_table(compile("pass", name, "exec"), code, b(t), first), name)

for unit, first in (("fixture.py", 0), ("<string>", 40)):
    text = src if unit == "fixture.py" else SNIPPET
    # Leading newlines move co_firstlineno away from 1.
    walk(compile("\n" * first + text, unit, "exec"), unit)

json.dump({"version": list(V[:3]), "codes": out}, sys.stdout)
'''

SNIPPET = '''x = 1
if x:
    y = [i * 2
         for i in range(3)]
else:
    y = None
'''


def fixture_source():
    """The source compiled by every interpreter; valid 2.7 and 3.x."""
    s = []
    s.append('''import sys

def empty():
    pass

def docstring_only():
    """Nothing but a docstring."""

def loop(n):
    total = 0
    for i in range(n):
        if i % 2:
            total += i
        else:
            total -= 1
    while total > 10:
        total //= 2
    return total

def helper(a, b=1):
    return a + b

def nested_calls(x):
    return helper(helper(x, helper(2)),
                  helper(3,
                         helper(4)))

def multiline(a, b,
              c):
    value = (a +
             b *
             c)
    data = {
        'a': a,
        'b': [b,
              c],
    }
    return (value,
            data)

def gen(n):
    i = 0
    while i < n:
        yield i
        i += 1
    yield -1

lam = lambda x: (x +
                 1)

def try_except(x):
    try:
        y = 1 / x
    except ZeroDivisionError as e:
        y = -1
    except (TypeError, ValueError):
        y = -2
    finally:
        x = None
    return y

def comprehensions(n):
    a = [i for i in range(n) if i]
    b = dict((k, k) for k in a)
    c = {k: v for k, v in b.items()}
    return a, b, c

class Klass(object):
    attr = 1

    def method(self, v):
        with open(v) as f:
            return f.read()

@staticmethod
def decorated(
        a,
        b):
    return a
''')
    # Columns past 127 force the 3.11+ long form even on one line.
    s.append('def long_line(a):\n    return [' + ', '.join(['a'] * 45) +
             ', helper(a, a)]\n\n')
    # Line jumps of more than 127 and 255 lines, forwards and backwards.
    s.append('def big(x):\n    y = x\n')
    s.append('    # filler\n' * 300)
    s.append('    y = y + 1\n')
    s.append('\n' * 130)
    s.append('    if y:\n        z = 2\n    return y\n\n')
    s.append('def big_loop(n):\n    t = 0\n    while t < n:\n        t += 1\n')
    s.append('        # filler\n' * 140)
    s.append('        t += 2\n    for i in range(n):\n        t -= i\n')
    s.append('        # filler\n' * 260)
    s.append('        t -= 1\n    return t\n\n')
    s.append('def big_call(x):\n    return helper(\n        x,\n')
    s.append('        # filler\n' * 150)
    s.append('        1)\n\n')
    s.append('def after_big():\n    return 1\n')
    return ''.join(s)


def interpreters(extra):
    root = os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
    found = sorted(glob.glob(os.path.join(root, 'versions', '*', 'bin', 'python')))
    found += sorted(p for p in glob.glob('/usr/bin/python[23].*')
                    if os.path.basename(p).replace('python', '').replace('.', '').isdigit())
    return found + list(extra)


def run(python, src, flags):
    child = CHILD.replace('SNIPPET', repr(SNIPPET))
    p = subprocess.run([python] + flags + ['-c', child], input=src.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    sys.stderr.write(p.stderr.decode(errors='replace'))
    if p.returncode != 0:
        raise SystemExit('%s failed (%d)' % (python, p.returncode))
    return json.loads(p.stdout.decode())


def runs_of(lines):
    """Compress per-offset lines (from offset -1) into [start, end, line]."""
    out = []
    for i, line in enumerate(lines):
        off = i - 1
        if out and out[-1][2] == line:
            out[-1][1] = off + 1
        else:
            out.append([off, off + 1, line])
    return out


def c_bytes(data, indent='    '):
    rows = []
    for i in range(0, len(data), 16):
        rows.append(indent + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',')
    return '\n'.join(rows)


def kind_for(major, minor):
    if (major, minor) < (3, 6):
        return 0
    if (major, minor) < (3, 10):
        return 1
    if (major, minor) == (3, 10):
        return 2
    return 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--srcdir', default=os.path.normpath(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')))
    ap.add_argument('--python', action='append', default=[],
                    help='another interpreter to include')
    ap.add_argument('--check', action='store_true',
                    help='compare with the committed files instead of writing')
    args = ap.parse_args()

    src = fixture_source()
    sets = []
    seen = set()
    for py in interpreters(args.python):
        res = run(py, src, [])
        major, minor, micro = res['version']
        label = '%d.%d.%d' % (major, minor, micro)
        if label in seen:
            continue
        seen.add(label)
        sets.append((label, major, minor, res['codes']))
        if (major, minor) >= (3, 11):
            # Without debug ranges the compiler uses the no-column form.
            res = run(py, src, ['-X', 'no_debug_ranges'])
            sets.append((label + ' -X no_debug_ranges', major, minor, res['codes']))
    sets.sort(key=lambda s: (s[1], s[2], s[0]))

    h = []
    h.append('/* Generated by tools/gen_linetable_fixtures.py from real code objects;')
    h.append(' * do not edit. For each interpreter and code object: the raw line table,')
    h.append(' * co_firstlineno, and the line PyCode_Addr2Line() returned for every byte')
    h.append(' * offset from -1 to len(co_code)+3, as runs [start, end) of equal lines. */')
    h.append('#ifndef PYTOP_TESTS_LINETABLE_FIXTURES_H')
    h.append('#define PYTOP_TESTS_LINETABLE_FIXTURES_H')
    h.append('')
    h.append('#include <stddef.h>')
    h.append('#include <stdint.h>')
    h.append('')
    h.append('struct lt_run { int start, end, line; };')
    h.append('')
    h.append('struct lt_fixture {')
    h.append('    const char *python;      /* interpreter version (and flags) */')
    h.append('    int major, minor;')
    h.append('    const char *name;        /* compile unit and co_name path */')
    h.append('    int firstlineno;')
    h.append('    int code_len;            /* len(co_code) in bytes */')
    h.append('    const uint8_t *table;')
    h.append('    size_t table_len;')
    h.append('    const struct lt_run *runs;')
    h.append('    size_t nruns;')
    h.append('};')
    h.append('')
    entries = []
    seeds = []
    idx = 0
    for label, major, minor, codes in sets:
        for code in codes:
            table = bytes.fromhex(code['table'])
            runs = runs_of(code['lines'])
            tname = 'NULL'
            if table:
                tname = 'lt_table_%d' % idx
                h.append('static const uint8_t %s[%d] = {' % (tname, len(table)))
                h.append(c_bytes(table))
                h.append('};')
            rname = 'lt_runs_%d' % idx
            h.append('static const struct lt_run %s[%d] = {' % (rname, len(runs)))
            for i in range(0, len(runs), 6):
                h.append('    ' + ' '.join('{%d, %d, %d},' % tuple(r) for r in runs[i:i + 6]))
            h.append('};')
            entries.append('    { "%s", %d, %d, "%s", %d, %d, %s, %d, %s, %d },' % (
                label, major, minor, code['name'], code['firstlineno'], code['code_len'],
                tname, len(table), rname, len(runs)))
            if code['name'].split('.')[-1] in ('big', 'try_except', 'synthetic0') \
                    and 'no_debug' not in label:
                seeds.append(('%s_%s' % (label, code['name'].split('.')[-1]),
                              kind_for(major, minor), code['firstlineno'],
                              code['code_len'] // 2, table))
            idx += 1
    h.append('')
    h.append('static const struct lt_fixture lt_fixtures[] = {')
    h.extend(entries)
    h.append('};')
    h.append('#define LT_FIXTURE_COUNT (sizeof lt_fixtures / sizeof lt_fixtures[0])')
    h.append('')
    h.append('#endif')

    path = os.path.join(args.srcdir, 'tests', 'unit', 'linetable_fixtures.h')
    seeddir = os.path.join(args.srcdir, 'tests', 'fuzz', 'seeds', 'linetable')
    files = {path: ('\n'.join(h) + '\n').encode()}
    for name, kind, first, off, table in seeds:
        files[os.path.join(seeddir, name)] = struct.pack('<BiH', kind, first, off) + table
    if args.check:
        stale = []
        for fpath, content in sorted(files.items()):
            try:
                with open(fpath, 'rb') as f:
                    same = f.read() == content
            except OSError:
                same = False
            if not same:
                stale.append(fpath)
        for fpath in stale:
            sys.stderr.write('%s is out of date\n' % fpath)
        sys.exit(1 if stale else 0)
    os.makedirs(seeddir, exist_ok=True)
    for fpath, content in sorted(files.items()):
        with open(fpath, 'wb') as f:
            f.write(content)
    sys.stderr.write('%s: %d code objects from %d interpreter runs, %d seeds\n'
                     % (path, len(entries), len(sets), len(seeds)))


if __name__ == '__main__':
    main()
