/* Exports loaded by the programs that read them: the profile of
 * tests/unit/export_fixture.c is written in every format, in CPU, wall and
 * memory mode, and each file is loaded by its real consumer (pstats on
 * every installed Python 3, protoc against profile.proto and go tool pprof
 * when Go is there, callgrind_annotate, a JSON and an XML parser,
 * chromium). The expected numbers are computed by the fixture from the
 * same table with a plain independent method, and handed to small Python
 * checkers as JSON. Run in the functional phase (TAP on stdout); the
 * in-process checks of the same files are tests/unit/test_export.c.
 *
 * Set PYTOP_KEEP_EXPORTS=1 to keep the files (the path is printed). */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export_fixture.h"
#include "unit.h"

static void skip(const char *why)
{
    unit_count++;
    printf("ok %d # SKIP %s\n", unit_count, why);
    fflush(stdout);
}

/* ---- checkers (Python 3.6 and later) --------------------------------------------------- */

static const char speedscope_py[] =
"import json, sys\n"
"d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
"exp = json.load(open(sys.argv[2], encoding='utf-8'))\n"
"err = []\n"
"if d.get('$schema') != 'https://www.speedscope.app/file-format-schema.json': err.append('schema')\n"
"if not str(d.get('exporter', '')).startswith('pytop '): err.append('exporter')\n"
"frames = d['shared']['frames']\n"
"for f in frames:\n"
"    if not isinstance(f.get('name'), str): err.append('frame name %r' % f)\n"
"want = {}\n"
"for tid, tname, stack, samples, w in exp['stacks']:\n"
"    if w == 0: continue\n"
"    pname = '%s (tid %d)' % (tname, tid) if tname else 'tid %d' % tid\n"
"    key = tuple((n, fl, l) if l >= 0 else (n, fl, None) for n, fl, l in stack)\n"
"    want.setdefault(pname, {})\n"
"    want[pname][key] = want[pname].get(key, 0) + w / exp['div']\n"
"got = {}\n"
"heaviest, best = None, -1\n"
"for i, p in enumerate(d['profiles']):\n"
"    unit = 'bytes' if exp['mode'] == 'memory' else 'seconds'\n"
"    if p['type'] != 'sampled' or p['unit'] != unit or p['startValue'] != 0: err.append('profile header %s' % p['name'])\n"
"    if len(p['samples']) != len(p['weights']): err.append('samples/weights length')\n"
"    if abs(sum(p['weights']) - p['endValue']) > 1e-9: err.append('endValue %s' % p['name'])\n"
"    if p['endValue'] > best: heaviest, best = i, p['endValue']\n"
"    g = got.setdefault(p['name'], {})\n"
"    for s, w in zip(p['samples'], p['weights']):\n"
"        if any(not 0 <= i < len(frames) for i in s): err.append('frame index out of range'); continue\n"
"        key = tuple((frames[i]['name'], frames[i].get('file', ''), frames[i].get('line')) for i in s)\n"
"        g[key] = g.get(key, 0) + w\n"
"if d.get('activeProfileIndex') != heaviest: err.append('activeProfileIndex')\n"
"if set(got) != set(want): err.append('threads %r != %r' % (sorted(got), sorted(want)))\n"
"for t in want:\n"
"    a, b = got.get(t, {}), want[t]\n"
"    if set(a) != set(b): err.append('stacks of %s: %r != %r' % (t, sorted(a), sorted(b)))\n"
"    for k in b:\n"
"        if abs(a.get(k, 0) - b[k]) > 1e-9: err.append('weight %s %r: %r != %r' % (t, k, a.get(k), b[k]))\n"
"    tot = sum(b.values())\n"
"    end = [p['endValue'] for p in d['profiles'] if p['name'] == t]\n"
"    if not end or abs(end[0] - tot) > 1e-9: err.append('thread total %s' % t)\n"
"print('\\n'.join(err) if err else 'OK')\n";

static const char pstats_py[] =
"import io, json, pstats, sys\n"
"exp = json.load(open(sys.argv[2], encoding='utf-8'))\n"
"out = io.StringIO()\n"
"st = pstats.Stats(sys.argv[1], stream=out)\n"
"st.sort_stats('cumulative').print_stats()\n"
"st.print_callers()\n"
"st.print_callees()\n"
"err = []\n"
"def key(file, fl, name):\n"
"    return ('~', 0, name) if file == '' else (file, fl, name)\n"
"want = dict((key(*f[0:3]), f[3:]) for f in exp['funcs'])\n"
"D = exp['div']\n"
"stats = st.stats\n"
"if set(stats) != set(want): err.append('functions %r != %r' % (sorted(stats), sorted(want)))\n"
"for k, (cc, nc, tt, ct) in want.items():\n"
"    g = stats.get(k)\n"
"    if g is None: continue\n"
"    if g[0] != cc or g[1] != nc: err.append('%r counts %r != %r' % (k, g[:2], (cc, nc)))\n"
"    if abs(g[2] - tt / D) > 1e-12 or abs(g[3] - ct / D) > 1e-12:\n"
"        err.append('%r times %r != %r' % (k, g[2:4], (tt / D, ct / D)))\n"
"ncallers = dict((k, 0) for k in want)\n"
"for e in exp['callers']:\n"
"    callee, caller = key(*e[0:3]), key(*e[3:6])\n"
"    nc, cc, tt, ct = e[6:10]\n"
"    ncallers[callee] += 1\n"
"    g = stats.get(callee, (0, 0, 0, 0, {}))[4].get(caller)\n"
"    if g is None: err.append('missing caller %r of %r' % (caller, callee)); continue\n"
"    if g[0] != nc or g[1] != cc or abs(g[2] - tt / D) > 1e-12 or abs(g[3] - ct / D) > 1e-12:\n"
"        err.append('caller %r of %r: %r != %r' % (caller, callee, g, (nc, cc, tt / D, ct / D)))\n"
"for k in want:\n"
"    if k in stats and len(stats[k][4]) != ncallers[k]: err.append('callers of %r: %d' % (k, len(stats[k][4])))\n"
"if abs(st.total_tt - exp['total_ns'] / D) > 1e-9: err.append('total_tt %r' % st.total_tt)\n"
"text = out.getvalue()\n"
"if 'function calls' not in text or 'odd;name' not in text: err.append('print_stats output:\\n' + text[:2000])\n"
"print('\\n'.join(err) if err else 'OK')\n";

/* callgrind_annotate output: "<weight> <samples> <file>:<function>" lines. */
static const char callgrind_py[] =
"import json, re, subprocess, sys\n"
"path, exp, tool = sys.argv[1], json.load(open(sys.argv[2], encoding='utf-8')), sys.argv[3]\n"
"err = []\n"
"def num(s): return int(s.replace(',', ''))\n"
"def annotate(*opts):\n"
"    r = subprocess.run([tool] + list(opts) + ['--threshold=100', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
"    text = r.stdout.decode('utf-8', 'replace')\n"
"    if r.returncode != 0 or r.stderr.strip(): err.append('%s: exit %d: %s' % (opts, r.returncode, r.stderr.decode('utf-8', 'replace')))\n"
"    totals, funcs = None, {}\n"
"    for line in text.split('\\n'):\n"
"        m = re.match(r'^\\s*([\\d,]+)(?: \\([^)]*\\))?\\s+([\\d,]+)(?: \\([^)]*\\))?\\s+(.*)$', line)\n"
"        if not m: continue\n"
"        name = m.group(3).strip()\n"
"        name = re.sub(r' \\[[^\\]]*\\]$', '', name)\n"
"        if name.startswith('PROGRAM TOTALS'): totals = (num(m.group(2)), num(m.group(1)))\n"
"        else: funcs[name] = (num(m.group(2)), num(m.group(1)))\n"
"    return totals, funcs, text\n"
"def fname(f):\n"
"    file, fl, name = f\n"
"    amb = [g for g in exp['funcs'] if g[0] == file and g[2] == name and g[1] != fl]\n"
"    file = (file or '?\?\?').replace('\\n', ' ')\n"
"    return '%s:%s%s' % (file, name, ':%d' % fl if amb else '')\n"
"incl_w = dict((fname(f[0:3]), (f[3], f[6])) for f in exp['funcs'])\n"
"ev = {'cpu': 'CpuNs', 'wall': 'WallNs', 'memory': 'MemGrowBytes'}[exp['mode']]\n"
"if ('\\nevents: %s Samples\\n' % ev) not in open(path, encoding='utf-8', errors='replace').read(): err.append('events line')\n"
"tot, funcs, text = annotate()\n"
"if tot != (exp['total_samples'], exp['total_ns']): err.append('totals %r != %r' % (tot, (exp['total_samples'], exp['total_ns'])))\n"
"ftt = dict((fname(f[0:3]), f[5]) for f in exp['funcs'])\n"
"for k, tt in ftt.items():\n"
"    g = funcs.get(k, (0, 0))[1]\n"
"    if g != tt: err.append('self %s: %r != %r' % (k, g, tt))\n"
"tot2, funcs2, text2 = annotate('--inclusive=yes')\n"
"if tot2 != tot: err.append('inclusive totals %r' % (tot2,))\n"
"for k, (cc, ct) in incl_w.items():\n"
"    g = funcs2.get(k)\n"
"    if g != (cc, ct): err.append('inclusive %s: %r != %r' % (k, g, (cc, ct)))\n"
"if err: err.append(text2)\n"
"print('\\n'.join(err) if err else 'OK')\n";

/* protoc --decode's text as nested dicts of lists of values, in Python:
 * pprof_py and procs_py read it (they import codecs). */
#define PROTO_TREE_PY \
"def proto_tree(text):\n" \
"    def unq(v):\n" \
"        if v.startswith('\"'): return codecs.escape_decode(v[1:-1].encode('utf-8'))[0].decode('utf-8')\n" \
"        return v == 'true' if v in ('true', 'false') else int(v)\n" \
"    root = {}; stack = [root]\n" \
"    for line in text.split('\\n'):\n" \
"        line = line.strip()\n" \
"        if not line: continue\n" \
"        if line.endswith('{'):\n" \
"            d = {}; stack[-1].setdefault(line[:-1].strip(), []).append(d); stack.append(d)\n" \
"        elif line == '}': stack.pop()\n" \
"        else:\n" \
"            k, v = line.split(': ', 1); stack[-1].setdefault(k, []).append(unq(v))\n" \
"    return root\n"

static const char pprof_py[] =
"import codecs, gzip, json, os, re, subprocess, sys\n"
PROTO_TREE_PY
"path, exp, protoc, protodir = sys.argv[1], json.load(open(sys.argv[2], encoding='utf-8')), sys.argv[3], sys.argv[4]\n"
"err = []\n"
"if protoc == 'go':\n"
"    env = dict(os.environ, HOME=os.path.dirname(path))\n"
"    r = subprocess.run(['go', 'tool', 'pprof', '-raw', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)\n"
"    text = r.stdout.decode('utf-8', 'replace')\n"
"    rows = [tuple(int(x) for x in m.groups()) for m in re.finditer(r'^\\s+(\\d+)\\s+(\\d+): ', text, re.M)]\n"
"    tot = [sum(a for a, b in rows), sum(b for a, b in rows)]\n"
"    if r.returncode != 0: err.append('go tool pprof: ' + r.stderr.decode())\n"
"    if 'samples/count %s/%s[dflt]' % (exp['mode'], exp['unit']) not in text: err.append('sample types')\n"
"    if len(rows) != len(exp['stacks']) or tot != [exp['total_samples'], exp['total_ns']]: err.append('totals %r' % tot)\n"
"    if 'thread:[worker-1]' not in text.replace(' ', ''): err.append('thread label')\n"
"    print('\\n'.join(err + [text]) if err else 'OK')\n"
"    sys.exit(0)\n"
"with open(path, 'rb') as f: raw = f.read()\n"
"if raw[:2] != b'\\x1f\\x8b': err.append('not gzip')\n"
"pb = gzip.decompress(raw)\n"
"r = subprocess.run([protoc, '--decode_raw'], input=pb, stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
"if r.returncode != 0: err.append('decode_raw: ' + r.stderr.decode())\n"
"r = subprocess.run([protoc, '-I', protodir, '--decode=perftools.profiles.Profile', 'profile.proto'],\n"
"                   input=pb, stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
"if r.returncode != 0: err.append('decode: ' + r.stderr.decode())\n"
"root = proto_tree(r.stdout.decode('utf-8'))\n"
"one = lambda d, k, dflt=0: d.get(k, [dflt])[0]\n"
"strs = root.get('string_table', [])\n"
"if not strs or strs[0] != '': err.append('string_table[0] is not empty')\n"
"S = lambda i: strs[i] if 0 <= i < len(strs) else None\n"
"mode = exp['mode']\n"
"st = [(S(one(v, 'type')), S(one(v, 'unit'))) for v in root.get('sample_type', [])]\n"
"if st != [('samples', 'count'), (mode, exp['unit'])]: err.append('sample_type %r' % st)\n"
"pt = root.get('period_type', [{}])[0]\n"
"if mode == 'memory':\n"
"    if 'period_type' in root or one(root, 'period') != 0: err.append('memory has no period')\n"
"else:\n"
"    if (S(one(pt, 'type')), S(one(pt, 'unit'))) != (mode, 'nanoseconds'): err.append('period_type')\n"
"    if one(root, 'period') != 10000000: err.append('period')\n"
"if one(root, 'time_nanos') != 1700000000 * 10**9 or one(root, 'duration_nanos') != 10 * 10**9: err.append('times')\n"
"if S(one(root, 'default_sample_type')) != mode: err.append('default_sample_type')\n"
"maps = root.get('mapping', [])\n"
"if len(maps) != 1 or not all(one(maps[0], k, False) for k in ('has_functions', 'has_filenames', 'has_line_numbers')): err.append('mapping')\n"
"funcs = dict((one(f, 'id'), f) for f in root.get('function', []))\n"
"locs = dict((one(l, 'id'), l) for l in root.get('location', []))\n"
"got, tot = {}, [0, 0]\n"
"for s in root.get('sample', []):\n"
"    v = s.get('value', [])\n"
"    if len(v) != 2: err.append('values %r' % v); continue\n"
"    tot[0] += v[0]; tot[1] += v[1]\n"
"    lab = dict((S(one(l, 'key')), l) for l in s.get('label', []))\n"
"    tid = one(lab.get('thread_id', {}), 'num', -1)\n"
"    tname = S(one(lab['thread'], 'str')) if 'thread' in lab else ''\n"
"    frames = []\n"
"    for lid in s.get('location_id', []):\n"
"        if lid not in locs: err.append('no location %d' % lid); continue\n"
"        ln = locs[lid]['line'][0]\n"
"        fn = funcs.get(one(ln, 'function_id'))\n"
"        if fn is None: err.append('no function'); continue\n"
"        if one(fn, 'system_name') != one(fn, 'name'): err.append('system_name')\n"
"        line = one(ln, 'line')\n"
"        frames.append((S(one(fn, 'name')), S(one(fn, 'filename')), line if line > 0 else -1))\n"
"    key = (tid, tname, tuple(reversed(frames)))\n"
"    g = got.setdefault(key, [0, 0]); g[0] += v[0]; g[1] += v[1]\n"
"want = {}\n"
"for tid, tname, stack, samples, w in exp['stacks']:\n"
"    key = (tid, tname, tuple((n, f, l) for n, f, l in stack))\n"
"    g = want.setdefault(key, [0, 0]); g[0] += samples; g[1] += w\n"
"if got != want: err.append('samples %r != %r' % (sorted(got.items()), sorted(want.items())))\n"
"if tot != [exp['total_samples'], exp['total_ns']]: err.append('totals %r' % tot)\n"
"fl = dict((S(one(f, 'name')), one(f, 'start_line')) for f in funcs.values())\n"
"if fl.get('a') != 18 or fl.get('r') != 50: err.append('start_line')\n"
"print('\\n'.join(err) if err else 'OK')\n";

static const char svg_py[] =
"import json, sys, xml.dom.minidom\n"
"doc = xml.dom.minidom.parse(sys.argv[1])\n"
"exp = json.load(open(sys.argv[2], encoding='utf-8'))\n"
"err = []\n"
"svg = doc.documentElement\n"
"if svg.tagName != 'svg' or svg.getAttribute('xmlns') != 'http://www.w3.org/2000/svg': err.append('root')\n"
"gs = [g for g in doc.getElementsByTagName('g') if g.getAttribute('class') == 'f']\n"
"def title(g): return g.getElementsByTagName('title')[0].firstChild.data\n"
"def rect(g):\n"
"    r = g.getElementsByTagName('rect')[0]\n"
"    return float(r.getAttribute('x')), float(r.getAttribute('width')), int(r.getAttribute('y'))\n"
"roots = [g for g in gs if title(g).startswith('all\\n')]\n"
"if len(roots) != 1: err.append('no single root')\n"
"else:\n"
"    x, w, y = rect(roots[0])\n"
"    if abs(w - 1180) > 0.01: err.append('root width %r' % w)\n"
"    total = exp['total_ns']\n"
"    if exp['mode'] == 'memory': secs = '%d bytes' % total\n"
"    else: secs = ('%d.%09d' % (total // 10**9, total % 10**9)).rstrip('0').rstrip('.') + ' s'\n"
"    if (' %s, 100.00%%' % secs) not in title(roots[0]): err.append('root title %r (want %s)' % (title(roots[0]), secs))\n"
"    head = doc.getElementsByTagName('text')[0].firstChild.data\n"
"    if head.startswith('Memory growth') != (exp['mode'] == 'memory'): err.append('title %r' % head)\n"
"    for g in gs:\n"
"        gx, gw, gy = rect(g)\n"
"        if gx < x - 0.01 or gx + gw > x + w + 0.02 or gy > y: err.append('frame outside the root: %r' % title(g))\n"
"labels = [title(g).split('\\n')[0] for g in gs]\n"
"for want in ('b (/app/lib.py:31)', 'odd:name (/app/we\\\\nird.py:81)', '\\u8a08\\u7b97 (/app/\\u00fcn\\u00ef.py:3)'):\n"
"    if want not in labels: err.append('no frame %r in %r' % (want, labels))\n"
"if len(doc.getElementsByTagName('script')) != 1: err.append('script')\n"
"print('\\n'.join(err) if err else 'OK')\n";

/* Two processes in one profile: each kept apart, its totals intact.
 * argv: format, file, expected JSON ({"mode", "div", "procs": [[pid,
 * label, samples, total]]}), and for callgrind the tool, for pprof
 * protoc and the proto directory. */
static const char procs_py[] =
"import codecs, collections, gzip, json, re, subprocess, sys\n"
PROTO_TREE_PY
"fmt, path, exp = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3], encoding='utf-8'))\n"
"D, mem, procs = exp['div'], exp['mode'] == 'memory', exp['procs']\n"
"labels = set(p[1] for p in procs)\n"
"err = []\n"
"def close(a, b, tol=1e-9): return abs(a - b) <= tol\n"
"if fmt == 'folded':\n"
"    tot, n = collections.Counter(), 0\n"
"    for line in open(path, encoding='utf-8'):\n"
"        stack, v = line.rstrip('\\n').rsplit(' ', 1)\n"
"        tot[stack.split(';')[0]] += int(v); n += 1\n"
"    if set(tot) != labels: err.append('roots %r' % sorted(tot))\n"
"    for pid, label, samples, total in procs:\n"
"        want = total if mem else total / 1000\n"
"        if not close(tot[label], want, 0 if mem else n): err.append('%s: %r != %r' % (label, tot[label], want))\n"
"elif fmt == 'speedscope':\n"
"    d = json.load(open(path, encoding='utf-8'))\n"
"    per = collections.Counter()\n"
"    for p in d['profiles']:\n"
"        m = re.search(r'pid (\\d+), tid (\\d+)', p['name'])\n"
"        if not m: err.append('profile name %r' % p['name']); continue\n"
"        per[int(m.group(1))] += p['endValue']\n"
"    for pid, label, samples, total in procs:\n"
"        if not close(per[pid], total / D): err.append('pid %d: %r != %r' % (pid, per[pid], total / D))\n"
"elif fmt == 'pstats':\n"
"    import pstats\n"
"    st = pstats.Stats(path).stats\n"
"    for pid, label, samples, total in procs:\n"
"        g = st.get(('~', 0, label))\n"
"        if not g or g[0] != samples or not close(g[3], total / D): err.append('%s: %r' % (label, g and g[:4]))\n"
"        elif g[4]: err.append('%s has callers' % label)\n"
"elif fmt == 'callgrind':\n"
"    r = subprocess.run([sys.argv[4], '--inclusive=yes', '--threshold=100', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
"    funcs = {}\n"
"    for line in r.stdout.decode('utf-8', 'replace').split('\\n'):\n"
"        m = re.match(r'^\\s*([\\d,]+)(?: \\([^)]*\\))?\\s+([\\d,]+)(?: \\([^)]*\\))?\\s+(.*)$', line)\n"
"        if m: funcs[re.sub(r' \\[[^\\]]*\\]$', '', m.group(3).strip())] = (int(m.group(2).replace(',', '')), int(m.group(1).replace(',', '')))\n"
"    for pid, label, samples, total in procs:\n"
"        g = funcs.get('???:' + label)\n"
"        if g != (samples, total): err.append('%s: %r != %r' % (label, g, (samples, total)))\n"
"elif fmt == 'pprof':\n"
"    pb = gzip.decompress(open(path, 'rb').read())\n"
"    r = subprocess.run([sys.argv[4], '-I', sys.argv[5], '--decode=perftools.profiles.Profile', 'profile.proto'], input=pb, stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
"    if r.returncode != 0: err.append('decode: ' + r.stderr.decode())\n"
"    root = proto_tree(r.stdout.decode('utf-8'))\n"
"    strs = root.get('string_table', [])\n"
"    per = collections.defaultdict(lambda: [0, 0])\n"
"    for s in root.get('sample', []):\n"
"        lab = dict((strs[l['key'][0]], l) for l in s.get('label', []))\n"
"        pid = lab['pid']['num'][0] if 'pid' in lab and 'num' in lab['pid'] else -1\n"
"        per[pid][0] += s['value'][0]; per[pid][1] += s['value'][1]\n"
"    for pid, label, samples, total in procs:\n"
"        if per[pid] != [samples, total]: err.append('pid %d: %r' % (pid, per[pid]))\n"
"        if strs[root['comment'][0]] is None or label not in [strs[c] for c in root.get('comment', [])]: err.append('comment %s' % label)\n"
"    if set(per) != set(p[0] for p in procs): err.append('pids %r' % sorted(per))\n"
"elif fmt == 'svg':\n"
"    import xml.dom.minidom\n"
"    doc = xml.dom.minidom.parse(path)\n"
"    titles = [g.getElementsByTagName('title')[0].firstChild.data for g in doc.getElementsByTagName('g') if g.getAttribute('class') == 'f']\n"
"    for pid, label, samples, total in procs:\n"
"        v = '%d bytes' % total if mem else ('%d.%09d' % (total // 10**9, total % 10**9)).rstrip('0').rstrip('.') + ' s'\n"
"        # Paths without weight are not drawn, so only the weight is exact;\n"
"        # bytes come with a human unit first (\"1.5 MiB = 1540931 bytes\").\n"
"        ok = lambda t: (' samples, %s, ' % v) in t or (mem and (' = %s, ' % v) in t and ('iB = ' in t))\n"
"        if not any(t.startswith(label + '\\n') and ok(t) for t in titles): err.append('no frame %s with %s' % (label, v))\n"
"print('\\n'.join(err) if err else 'OK')\n";

/* ---- helpers ------------------------------------------------------------------- */

/* Run a checker; it prints OK when everything matched. */
static void check_run(const char *cmd, const char *what)
{
    char *out = NULL;
    int rc = run(cmd, &out);
    int ok = rc == 0 && strcmp(out, "OK\n") == 0;
    CHECK(ok, what);
    if (!ok) {
        printf("#   command: %s (exit %d)\n", cmd, rc);
        diag(out);
    }
    free(out);
}

/* ---- tests ------------------------------------------------------------------------ */

void fixture_check_int(long long got, long long want, const char *what)
{
    CHECK_INT(got, want, what);
}

/* The values each mode's checkers compare with. */
static void write_expected(void)
{
    for (int m = 0; m < NMODES; m++) {
        char *json = expected_json((enum export_mode)m);
        write_file(expected_file((enum export_mode)m), json);
        free(json);
    }
}

static char pyenv_root[4096];

/* pstats with every Python 3 there is: pyenv's and the system's. */
static void test_pstats(enum export_mode m)
{
    char pyenv_pattern[4200];
    snprintf(pyenv_pattern, sizeof pyenv_pattern, "%s/versions/3*/bin/python3", pyenv_root);
    const char *const patterns[] = {
        pyenv_root[0] ? pyenv_pattern : NULL, "/usr/bin/python3.[0-9]", "/usr/bin/python3.[0-9][0-9]",
    };
    int any = 0;
    for (size_t k = 0; k < sizeof patterns / sizeof patterns[0]; k++) {
        glob_t g;
        if (!patterns[k] || glob(patterns[k], 0, NULL, &g) != 0)
            continue;
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char cmd[8192], what[4400];
            const char *py = g.gl_pathv[i];
            snprintf(cmd, sizeof cmd, "%s %s %s %s", py, path_of("check_pstats.py"),
                     export_file(EXPORT_PSTATS, m), expected_file(m));
            snprintf(what, sizeof what, "pstats (%s) loads in %s: tt, ct, counts and callers", mode_name(m), py);
            check_run(cmd, what);
            any = 1;
        }
        globfree(&g);
    }
    if (!any)
        skip("pstats: no Python 3 interpreter found");
}

/* The readers of one format but pstats (test_pstats): its checker
 * (check_<format>.py) is run with python3 on the file, the expected values
 * and args. */
static const struct reader {
    enum export_format fmt;
    const char *tool;       /* what it needs besides python3, or NULL */
    const char *missing;    /* the skip without it */
    const char *args;
    int proto_dir;          /* args go on with the directory of profile.proto */
    const char *what;       /* after "<format> (<mode>): " */
} readers[] = {
    { EXPORT_SPEEDSCOPE, NULL, NULL, "", 0, "schema, frames, stacks and per-thread weights" },
    { EXPORT_CALLGRIND, "callgrind_annotate",
      "callgrind: callgrind_annotate not installed (Debian package valgrind)", "callgrind_annotate", 0,
      "callgrind_annotate totals, self and --inclusive=yes" },
    { EXPORT_PPROF, "protoc", "pprof: protoc not installed (Debian package protobuf-compiler)", "protoc", 1,
      "gzip, protoc --decode_raw and --decode against profile.proto, values" },
    /* pprof itself, when Go is installed. */
    { EXPORT_PPROF, "go", "pprof: go tool pprof not installed (Debian package golang-go, optional)", "go -", 0,
      "go tool pprof -raw reads every sample and the totals" },
    { EXPORT_SVG, NULL, NULL, "", 0, "well-formed XML, root total, frames inside the root" },
};

static void test_reader(const struct reader *r, enum export_mode m)
{
    if (r->tool && !have(r->tool)) {
        skip(r->missing);
        return;
    }
    const char *name = export_format_name(r->fmt);
    char script[64], args[4400], cmd[16384], what[256];
    snprintf(script, sizeof script, "check_%s.py", name);
    snprintf(args, sizeof args, "%s%s%s%s", r->args[0] ? " " : "", r->args, r->proto_dir ? " " : "",
             r->proto_dir ? srcdir : "");
    if (r->proto_dir)
        snprintf(args + strlen(args), sizeof args - strlen(args), "/tests/data");
    snprintf(cmd, sizeof cmd, "python3 %s %s %s%s", path_of(script), export_file(r->fmt, m), expected_file(m),
             args);
    snprintf(what, sizeof what, "%s (%s): %s", name, mode_name(m), r->what);
    check_run(cmd, what);
}

/* Every reader of mode m's files, pstats second. */
static void test_readers(enum export_mode m)
{
    test_reader(&readers[0], m);
    test_pstats(m);
    for (size_t k = 1; k < sizeof readers / sizeof readers[0]; k++)
        test_reader(&readers[k], m);
}

static void test_svg_render(void)
{
    const char *browser = have("chromium") ? "chromium" : have("chromium-browser") ? "chromium-browser" : NULL;
    if (!browser) {
        skip("svg render: chromium not installed (Debian package chromium)");
        return;
    }
    char cmd[16384];
    const char *png = path_of("flamegraph.png");
    snprintf(cmd, sizeof cmd,
             "cd %s && HOME=%s timeout 60 %s --headless --no-sandbox --disable-gpu --hide-scrollbars "
             "--window-size=1200,400 --screenshot=%s file://%s",
             tmpdir, tmpdir, browser, png, export_file(EXPORT_SVG, EXPORT_CPU));
    char *out = NULL;
    int rc = run(cmd, &out);
    struct stat st;
    int ok = rc == 0 && stat(png, &st) == 0 && st.st_size > 5000;
    CHECK(ok, "svg: chromium renders it to a PNG");
    if (!ok) {
        printf("#   command: %s (exit %d)\n", cmd, rc);
        diag(out);
    }
    free(out);
}

/* No rows at all: every format still writes something its reader takes. */
static void test_empty(void)
{
    write_empty();
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "python3 -c 'import pstats,sys; pstats.Stats(sys.argv[1]).print_stats(); print(\"OK\")' %s"
             " >/dev/null && python3 -c 'import json,sys; json.load(open(sys.argv[1])); print(\"OK\")' %s"
             " && python3 -c 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])' %s",
             path_of("empty.pstats"), path_of("empty.speedscope.json"), path_of("empty.svg"));
    check_run(cmd, "empty profile: pstats, speedscope and svg still load");
}

/* Names no Python would give, counts past 2**31 and a very deep stack:
 * every reader must still take the files. */
static void test_hostile(void)
{
    if (!write_hostile())
        return;

    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import pstats, sys\n"
             "s = pstats.Stats(sys.argv[1]); s.print_stats()\n"
             "big = [v for k, v in s.stats.items() if k[2] == \"(12) paren\"]\n"
             "assert big and big[0][0] == 3000000007 and abs(big[0][3] - 20000.000007) < 1e-9, big\n"
             "deep = [v for k, v in s.stats.items() if k[2] == \"deep\"][0]\n"
             "assert deep[0] == 7 and deep[1] == 21000, deep\n"
             "print(\"OK\")' %s >/dev/null && "
             "python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); "
             "assert len(d[\"profiles\"]) == 2; print(\"OK\")' %s && "
             "python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1]); print(\"OK\")' %s",
             path_of("hostile.pstats"), path_of("hostile.speedscope.json"), path_of("hostile.svg"));
    char *out = NULL;
    int rc = run(cmd, &out);
    int good = rc == 0 && strcmp(out, "OK\nOK\n") == 0;
    CHECK(good, "hostile names: pstats (counts past 2**31), speedscope and svg load");
    if (!good)
        diag(out);
    free(out);

    if (have("protoc")) {
        snprintf(cmd, sizeof cmd, "gzip -dc %s | protoc -I %s/tests/data --decode=perftools.profiles.Profile "
                 "profile.proto >/dev/null && echo OK", path_of("hostile.pb.gz"), srcdir);
        check_run(cmd, "hostile names: pprof decodes against profile.proto");
    } else {
        skip("hostile names: protoc not installed (Debian package protobuf-compiler)");
    }
    if (have("callgrind_annotate")) {
        snprintf(cmd, sizeof cmd, "callgrind_annotate --inclusive=yes %s >%s 2>%s && test ! -s %s && "
                 "grep -q '3,000,000,008.*PROGRAM TOTALS' %s && echo OK", path_of("hostile.callgrind"),
                 path_of("annotate.out"), path_of("annotate.err"), path_of("annotate.err"),
                 path_of("annotate.out"));
        check_run(cmd, "hostile names: callgrind_annotate reads the totals, no warnings");
    } else {
        skip("hostile names: callgrind_annotate not installed (Debian package valgrind)");
    }
}

/* Two processes: the profile's rows (process 4242) and a child's, which
 * shares one call path with it. Every format keeps them apart. */
static void test_processes(void)
{
    struct stack_weight both[NPROF + 2];
    struct process_info procs[2];
    struct export_input in = processes_input(both, procs);
    for (int m = 0; m < NMODES; m++) {
        uint64_t tot[2] = { 0, 0 }, samples[2] = { 0, 0 };
        for (size_t r = 0; r < NPROF + 2; r++) {
            const struct stack_weight *w = &both[r];
            int k = w->pid == 5151;
            samples[k] += w->samples;
            tot[k] += m == EXPORT_WALL ? w->wall_ns : m == EXPORT_MEMORY ? w->mem_grow : w->cpu_ns;
        }
        char json[1024];
        snprintf(json, sizeof json,
                 "{\"mode\":\"%s\",\"div\":%s,\"procs\":["
                 "[4242,\"process 4242: python3 app.py --fast\",%llu,%llu],"
                 "[5151,\"process 5151: python3 worker.py\",%llu,%llu]]}\n",
                 mode_name((enum export_mode)m), m == EXPORT_MEMORY ? "1" : "1e9",
                 (unsigned long long)samples[0], (unsigned long long)tot[0],
                 (unsigned long long)samples[1], (unsigned long long)tot[1]);
        char exp_path[4200];
        snprintf(exp_path, sizeof exp_path, "%s", path_of("expected-procs.json"));
        write_file(exp_path, json);
        write_processes((enum export_mode)m, &in);
        for (int fmt = EXPORT_FOLDED; fmt <= EXPORT_SVG; fmt++) {
            char what[160], cmd[16384], extra[4400] = "";
            const char *path = procs_file((enum export_format)fmt, (enum export_mode)m);
            if (fmt == EXPORT_CALLGRIND) {
                if (!have("callgrind_annotate"))
                    continue;
                snprintf(extra, sizeof extra, "callgrind_annotate");
            } else if (fmt == EXPORT_PPROF) {
                if (!have("protoc"))
                    continue;
                snprintf(extra, sizeof extra, "protoc %s/tests/data", srcdir);
            }
            snprintf(cmd, sizeof cmd, "python3 %s %s %s %s %s", path_of("check_procs.py"),
                     export_format_name((enum export_format)fmt), path, exp_path, extra);
            snprintf(what, sizeof what, "two processes, %s (%s): each apart, with its totals",
                     export_format_name((enum export_format)fmt), mode_name((enum export_mode)m));
            check_run(cmd, what);
        }
    }
}

int main(void)
{
    find_srcdir();
    unit_pyenv_root(pyenv_root, sizeof pyenv_root);
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "temporary directory");
        return unit_done();
    }
    CHECK(build_profile() == 0, "build the test profile");
    write_file(path_of("check_speedscope.py"), speedscope_py);
    write_file(path_of("check_pstats.py"), pstats_py);
    write_file(path_of("check_callgrind.py"), callgrind_py);
    write_file(path_of("check_pprof.py"), pprof_py);
    write_file(path_of("check_svg.py"), svg_py);
    write_file(path_of("check_procs.py"), procs_py);

    UNIT_RUN(write_all);
    write_expected();
    int py = have("python3");
    for (int m = 0; m < NMODES; m++) {
        printf("# %s mode\n", mode_name((enum export_mode)m));
        if (!py) {
            skip("python3 not installed: speedscope, pstats, callgrind, pprof and svg checks");
            continue;
        }
        test_readers((enum export_mode)m);
    }
    if (py)
        UNIT_RUN(test_svg_render);
    if (py) {
        UNIT_RUN(test_empty);
        UNIT_RUN(test_hostile);
        UNIT_RUN(test_processes);
    }

    release_profile();
    return unit_done();
}
