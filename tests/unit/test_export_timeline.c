/* The timeline exports (gecko, chrometrace), the annotated source
 * (annotate, heatmap) and the folded diff against a baseline, from a
 * hand-built run of two threads whose every number is known here. Each
 * file is checked by a small Python program against the structure the
 * formats publish (the Firefox Profiler's gecko-profile-format.md, the
 * Trace Event Format's complete events) and against the weights this
 * file computes; the heatmap is rendered by headless Chromium. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stacks.h"
#include "core/strbuf.h"
#include "record/export.h"
#include "unit.h"

#define MS 1000000ull

static char tmpdir[] = "/tmp/pytop-timeline-XXXXXX";
static char src_py[4200];
static struct stack_table *dict;

static const char *path_of(const char *name)
{
    static char buf[8][4200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static uint32_t str_id(const char *s)
{
    uint32_t id = 0;
    if (stack_table_string(dict, s, strlen(s), &id) != 0)
        abort();
    return id;
}

/* A call path of (function, line) pairs in file, root first. */
static uint32_t stack_of(const char *file, int n, const char *const *fn, const int *line,
                         const int *first)
{
    uint32_t node = 0;
    for (int d = 0; d < n; d++) {
        struct stack_frame f = { str_id(fn[d]), str_id(file), line[d], first[d] };
        uint32_t fid;
        if (stack_table_frame(dict, &f, &fid) != 0 || stack_table_node(dict, node, fid, &node) != 0)
            abort();
    }
    return node;
}

/* The run: thread 100 (MainThread) samples every 10 ms, on main>hot>leaf
 * (lines 8, 2, 3 of src.py) then main>cold (line 9, 5); thread 200 on
 * work (line 12) in /nonexistent/gone.py, idle in its third sample, with
 * a carried CPU time at its fourth. */
#define NT 12
static struct stack_weight trows[NT];
static uint64_t ttimes[NT];
static struct thread_label tlabels[1];
static uint64_t cpu_total, wall_total, wall_main, wall_worker_running;

static void build(void)
{
    dict = stack_table_new();
    static const char *const hot_fn[] = { "main", "hot", "leaf" };
    static const int hot_line[] = { 8, 2, 3 }, hot_first[] = { 7, 1, 3 };
    static const char *const cold_fn[] = { "main", "cold" };
    static const int cold_line[] = { 9, 5 }, cold_first[] = { 7, 4 };
    static const char *const work_fn[] = { "work" };
    static const int work_line[] = { 12 }, work_first[] = { 11 };
    uint32_t hot = stack_of(src_py, 3, hot_fn, hot_line, hot_first);
    uint32_t cold = stack_of(src_py, 2, cold_fn, cold_line, cold_first);
    uint32_t work = stack_of("/nonexistent/gone.py", 1, work_fn, work_line, work_first);
    int n = 0;
    for (int s = 0; s < 6; s++) {
        uint64_t t = (uint64_t)(s + 1) * 10 * MS;
        trows[n] = (struct stack_weight){ .pid = 4242, .tid = 100, .stack = s < 4 ? hot : cold,
                                          .samples = 1, .running = 1, .cpu_ns = 9 * MS + s,
                                          .wall_ns = 10 * MS };
        ttimes[n++] = t;
        if (s < 5) {
            int idle = s == 2;
            trows[n] = (struct stack_weight){ .pid = 4242, .tid = 200, .stack = work,
                                              .samples = 1, .running = !idle,
                                              .cpu_ns = idle ? 0 : 4 * MS, .wall_ns = 10 * MS };
            ttimes[n++] = t;
            if (!idle)
                wall_worker_running += 10 * MS;
        }
        if (s == 3) {       /* CPU carried to work's stack: no sample */
            trows[n] = (struct stack_weight){ .pid = 4242, .tid = 200, .stack = work,
                                              .cpu_ns = 1 * MS };
            ttimes[n++] = t;
        }
    }
    if (n != NT)
        abort();
    for (int i = 0; i < NT; i++) {
        cpu_total += trows[i].cpu_ns;
        wall_total += trows[i].wall_ns;
        if (trows[i].tid == 100)
            wall_main += trows[i].wall_ns;
    }
    tlabels[0] = (struct thread_label){ .pid = 4242, .tid = 100, .name = str_id("MainThread") };
}

static struct export_input input(void)
{
    return (struct export_input){
        .dict = dict, .rows = trows, .nrows = NT, .threads = tlabels, .nthreads = 1,
        .pid = 4242, .python = "3.12.1", .command = "python3 src.py",
        .start_unix_ns = 1700000000000000000ull, .duration_ns = 60 * MS, .rate_hz = 100,
        .row_time_ns = ttimes,
    };
}

static int write_export(const char *name, enum export_format fmt, enum export_mode mode,
                        const struct export_input *in)
{
    FILE *f = fopen(path_of(name), "wb");
    if (!f)
        return -errno;
    int rc = export_write(f, fmt, mode, in);
    fclose(f);
    return rc;
}

/* Run a command; 1 when it exits 0 and its output ends in "OK". */
static int check_cmd(const char *cmd, const char *what)
{
    FILE *p = popen(cmd, "r");
    struct strbuf out;
    strbuf_init(&out);
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0)
        strbuf_append(&out, buf, n);
    int st = p ? pclose(p) : -1;
    const char *s = strbuf_str(&out);
    int ok = st == 0 && out.len >= 3 && strcmp(s + out.len - 3, "OK\n") == 0;
    CHECK(ok, what);
    if (!ok)
        printf("#   %s\n#   -> %s\n", cmd, s);
    strbuf_release(&out);
    return ok;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char gecko_py[] =
"import json, sys\n"
"p = json.load(open(sys.argv[1])); want_cpu = int(sys.argv[2]); err = []\n"
"m = p['meta']\n"
"for k in ('version', 'interval', 'startTime', 'processType', 'product', 'categories', 'markerSchema', 'sampleUnits'):\n"
"    if k not in m: err.append('meta lacks ' + k)\n"
"if m['sampleUnits'].get('threadCPUDelta') != 'ns': err.append('threadCPUDelta unit')\n"
"if abs(m['startTime'] - 1700000000000.0) > 1e-3: err.append('startTime %r' % m['startTime'])\n"
"th = {t['tid']: t for t in p['threads']}\n"
"if sorted(th) != [100, 200]: err.append('threads %r' % sorted(th))\n"
"cpu = 0\n"
"def names(t, s):\n"
"    out = []\n"
"    while s is not None:\n"
"        pre, fr = t['stackTable']['data'][s]\n"
"        if pre is not None and pre >= s: err.append('prefix after its stack')\n"
"        loc = t['frameTable']['data'][fr][t['frameTable']['schema']['location']]\n"
"        out.append(t['stringTable'][loc]); s = pre\n"
"    return out[::-1]\n"
"for tid, t in th.items():\n"
"    sc = t['samples']['schema']; d = t['samples']['data']\n"
"    times = [r[sc['time']] for r in d]\n"
"    if times != sorted(times): err.append('times out of order')\n"
"    cpu += sum(r[sc['threadCPUDelta']] for r in d)\n"
"    if tid == 100:\n"
"        if t['name'] != 'MainThread (tid 100)': err.append('name %r' % t['name'])\n"
"        if [round(x, 6) for x in times] != [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]: err.append('times %r' % times)\n"
"        leaves = [names(t, r[sc['stack']])[-1] for r in d]\n"
"        if leaves[0] != 'leaf (%s:3)' % sys.argv[3] or leaves[5] != 'cold (%s:5)' % sys.argv[3]: err.append('leaves %r' % leaves)\n"
"        if len(names(t, d[0][sc['stack']])) != 3: err.append('depth')\n"
"    else:\n"
"        if len(d) != 6: err.append('thread 200 has %d samples, want 6 (5 and a carry)' % len(d))\n"
"if t['markers']['data']: err.append('markers')\n"
"if cpu != want_cpu: err.append('cpu %d != %d' % (cpu, want_cpu))\n"
"print('\\n'.join(err) if err else 'OK')\n";

static const char chrome_py[] =
"import json, sys\n"
"p = json.load(open(sys.argv[1])); err = []\n"
"want = {100: float(sys.argv[2]) / 1e3, 200: float(sys.argv[3]) / 1e3}\n"
"ev = p['traceEvents']\n"
"meta = [e for e in ev if e['ph'] == 'M']\n"
"if not any(e['name'] == 'thread_name' and e['args']['name'] == 'MainThread (tid 100)' for e in meta): err.append('thread_name')\n"
"x = [e for e in ev if e['ph'] == 'X']\n"
"for e in x:\n"
"    for k in ('name', 'ts', 'dur', 'pid', 'tid', 'cat'):\n"
"        if k not in e: err.append('X lacks ' + k)\n"
"    if e['dur'] < 0: err.append('negative dur')\n"
"roots = {'main': 100, 'work': 200}\n"
"for tid in (100, 200):\n"
"    es = sorted((e for e in x if e['tid'] == tid), key=lambda e: (e['ts'], -e['dur']))\n"
"    got = sum(e['dur'] for e in es if e['name'] in roots)\n"
"    if abs(got - want[tid]) > 1e-6: err.append('tid %d roots %r us, want %r' % (tid, got, want[tid]))\n"
"    st = []\n"
"    for e in es:\n"
"        while st and st[-1]['ts'] + st[-1]['dur'] <= e['ts'] + 1e-9: st.pop()\n"
"        if st and e['ts'] + e['dur'] > st[-1]['ts'] + st[-1]['dur'] + 1e-6: err.append('%s overlaps %s' % (e['name'], st[-1]['name']))\n"
"        if not st and e['name'] not in roots: err.append('%s has no parent' % e['name'])\n"
"        st.append(e)\n"
"m = [e for e in x if e['tid'] == 100 and e['name'] == 'main']\n"
"if len(m) != 1 or abs(m[0]['ts'] - 0) > 1e-6: err.append('main once from 0: %r' % m)\n"
"h = [e for e in x if e['name'] == 'hot']\n"
"if len(h) != 1 or abs(h[0]['dur'] - 40000) > 1e-6: err.append('hot: %r' % h)\n"
"print('\\n'.join(err) if err else 'OK')\n";

static const char annotate_py[] =
"import sys\n"
"t = open(sys.argv[1]).read(); err = []\n"
"rows = {}\n"
"cur = None\n"
"for l in t.splitlines():\n"
"    if l.startswith('File: '): cur = l[6:]; continue\n"
"    c = l.split('|')\n"
"    if cur and len(c) >= 6 and c[0].strip().isdigit():\n"
"        rows[(cur, int(c[0]))] = (int(c[1]), float(c[3].strip(' %')), float(c[4].strip(' %')), '|'.join(c[5:])[1:])\n"
"src = sys.argv[2]\n"
"tot = float(sys.argv[3])\n"
"def pct(x): return round(100.0 * x / tot, 2)\n"
"exp = {3: (4, pct(4*9e6+6), pct(4*9e6+6)), 8: (0, 0.0, pct(4*9e6+6)), 5: (2, pct(2*9e6+9), pct(2*9e6+9)), 1: (0, 0.0, 0.0)}\n"
"for ln, (hits, own, total) in exp.items():\n"
"    r = rows.get((src, ln))\n"
"    if not r: err.append('no line %d' % ln); continue\n"
"    if (r[0], r[1], r[2]) != (hits, own, total): err.append('line %d: %r want %r' % (ln, r[:3], (hits, own, total)))\n"
"if rows.get((src, 3), (0,0,0,''))[3] != '    return 3  # leaf': err.append('source of line 3: %r' % (rows.get((src, 3)),))\n"
"n = sum(1 for k in rows if k[0] == src)\n"
"if n != 12: err.append('%d lines of src, want 12' % n)\n"
"g = rows.get(('/nonexistent/gone.py', 12))\n"
"if not g or g[3] != '' or g[0] != 5: err.append('gone.py line 12: %r' % (g,))\n"
"if 'source not readable' not in t: err.append('no word on the unreadable file')\n"
"print('\\n'.join(err) if err else 'OK')\n";

static const char heatmap_py[] =
"import sys\n"
"from html.parser import HTMLParser\n"
"class P(HTMLParser):\n"
"    def __init__(s): super().__init__(); s.tags = []; s.inputs = 0; s.sections = []; s.ext = 0\n"
"    def handle_starttag(s, tag, a):\n"
"        a = dict(a)\n"
"        if tag == 'input' and a.get('type') == 'search': s.inputs += 1\n"
"        if tag == 'section': s.sections.append(a.get('data-file'))\n"
"        if tag in ('script', 'link', 'img') and (a.get('src') or a.get('href')): s.ext += 1\n"
"p = P(); p.feed(open(sys.argv[1]).read()); err = []\n"
"if p.inputs != 1: err.append('search box')\n"
"if p.ext: err.append('external resources')\n"
"if p.sections != [sys.argv[2], '/nonexistent/gone.py']: err.append('sections %r' % p.sections)\n"
"print('\\n'.join(err) if err else 'OK')\n";

static const char diff_py[] =
"import sys\n"
"err = []; n = 0\n"
"for l in open(sys.argv[1]):\n"
"    stack, old, new = l.rsplit(' ', 2); n += 1\n"
"    if abs(float(old) * float(sys.argv[2]) - float(new)) > 1e-6: err.append(l)\n"
"if n != int(sys.argv[3]): err.append('%d lines' % n)\n"
"print('\\n'.join(err) if err else 'OK')\n";

static void test_refusals(void)
{
    struct export_input in = input();
    in.row_time_ns = NULL;
    FILE *f = fopen("/dev/null", "w");
    CHECK(export_write(f, EXPORT_GECKO, EXPORT_CPU, &in) == -ENOTSUP,
          "gecko without sample times: -ENOTSUP");
    CHECK(export_write(f, EXPORT_CHROMETRACE, EXPORT_WALL, &in) == -ENOTSUP,
          "chrometrace without sample times: -ENOTSUP");
    struct export_input base = input();
    in.baseline = &base;
    CHECK(export_write(f, EXPORT_SPEEDSCOPE, EXPORT_CPU, &in) == -ENOTSUP,
          "a baseline with speedscope: -ENOTSUP");
    fclose(f);
    CHECK(export_format_is_timeline(EXPORT_GECKO) && !export_format_is_timeline(EXPORT_ANNOTATE),
          "timeline formats");
    static const char *const names[] = { "gecko", "chrometrace", "annotate", "heatmap" };
    static const char *const sfx[] = { ".gecko.json", ".trace.json", ".annotate.txt", ".html" };
    for (int i = 0; i < 4; i++) {
        enum export_format fmt;
        CHECK(export_format_parse(names[i], &fmt) == 0, names[i]);
        CHECK_STR(export_format_suffix(fmt), sfx[i], "suffix");
    }
}

static void test_gecko(void)
{
    struct export_input in = input();
    CHECK_INT(write_export("p.gecko.json", EXPORT_GECKO, EXPORT_CPU, &in), 0, "gecko written");
    /* The folded export of the same rows: its total is the gecko CPU sum. */
    CHECK_INT(write_export("p.folded", EXPORT_FOLDED, EXPORT_CPU, &in), 0, "folded written");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "python3 %s %s %llu %s", path_of("gecko.py"), path_of("p.gecko.json"),
             (unsigned long long)cpu_total, src_py);
    check_cmd(cmd, "gecko: meta, two threads, sample times, stacks, CPU deltas sum to the total");
    snprintf(cmd, sizeof cmd, "awk '{s+=$NF} END {print (s*1000 >= %llu - 2000 && s*1000 <= %llu + 2000) ? \"OK\" : s}' %s",
             (unsigned long long)cpu_total, (unsigned long long)cpu_total, path_of("p.folded"));
    check_cmd(cmd, "folded total equals the gecko CPU sum (to the microsecond per path)");
}

static void test_chrometrace(void)
{
    struct export_input in = input();
    char cmd[16384];
    CHECK_INT(write_export("w.trace.json", EXPORT_CHROMETRACE, EXPORT_WALL, &in), 0, "chrometrace (wall)");
    snprintf(cmd, sizeof cmd, "python3 %s %s %llu %llu", path_of("chrome.py"), path_of("w.trace.json"),
             (unsigned long long)wall_main, (unsigned long long)(wall_total - wall_main));
    check_cmd(cmd, "chrometrace (wall): events nest, roots cover each thread's wall time");
    CHECK_INT(write_export("c.trace.json", EXPORT_CHROMETRACE, EXPORT_CPU, &in), 0, "chrometrace (cpu)");
    snprintf(cmd, sizeof cmd, "python3 %s %s %llu %llu", path_of("chrome.py"), path_of("c.trace.json"),
             (unsigned long long)wall_main, (unsigned long long)wall_worker_running);
    check_cmd(cmd, "chrometrace (cpu): the idle sample is left out");
}

static void test_annotate(void)
{
    struct export_input in = input();
    CHECK_INT(write_export("p.annotate.txt", EXPORT_ANNOTATE, EXPORT_CPU, &in), 0, "annotate written");
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "python3 %s %s %s %llu", path_of("annotate.py"),
             path_of("p.annotate.txt"), src_py, (unsigned long long)cpu_total);
    check_cmd(cmd, "annotate: hits, own and total per line, source text, the unreadable file");

    CHECK_INT(write_export("p.html", EXPORT_HEATMAP, EXPORT_CPU, &in), 0, "heatmap written");
    snprintf(cmd, sizeof cmd, "python3 %s %s %s", path_of("heatmap.py"), path_of("p.html"), src_py);
    check_cmd(cmd, "heatmap: one search box, a section per file, heaviest first, nothing external");

    if (access("/usr/bin/chromium", X_OK) != 0) {
        unit_count++;
        printf("ok %d # SKIP heatmap render: chromium not installed (Debian package chromium)\n",
               unit_count);
        return;
    }
    snprintf(cmd, sizeof cmd,
             "cd %s && HOME=%s timeout 60 chromium --headless --no-sandbox --disable-gpu "
             "--window-size=1000,700 --virtual-time-budget=2000 --dump-dom 'file://%s' 2>/dev/null "
             "| grep -c 'rgba(255,80,0,0.850)' | sed 's/^[1-9][0-9]*$/OK/'",
             tmpdir, tmpdir, path_of("p.html"));
    check_cmd(cmd, "heatmap: chromium loads it; the hottest line has the full colour");
    /* A search (page#text): only the matching line, of one file, stays. */
    snprintf(cmd, sizeof cmd,
             "cd %s && HOME=%s timeout 60 chromium --headless --no-sandbox --disable-gpu "
             "--virtual-time-budget=2000 --dump-dom 'file://%s#%%23%%20leaf' > %s 2>/dev/null; "
             "python3 -c \"import re,sys; d=open(sys.argv[1]).read(); "
             "rows=re.findall(r'<tr style=\\\"([^\\\"]*)\\\">(.*?)</tr>', d); "
             "shown=[r for s,r in rows if 'display: none' not in s]; "
             "ok=len(rows)==13 and len(shown)==1 and '# leaf' in shown[0] and '1 lines match' in d; "
             "print('OK' if ok else (len(rows), shown))\" %s",
             tmpdir, tmpdir, path_of("p.html"), path_of("searched.html"), path_of("searched.html"));
    check_cmd(cmd, "heatmap: the search box keeps only the matching line");
    snprintf(cmd, sizeof cmd,
             "cd %s && HOME=%s timeout 60 chromium --headless --no-sandbox --disable-gpu "
             "--window-size=1000,700 --screenshot=%s 'file://%s' >/dev/null 2>&1; "
             "test $(stat -c %%s %s) -gt 10000 && echo OK",
             tmpdir, tmpdir, path_of("heatmap.png"), path_of("p.html"), path_of("heatmap.png"));
    check_cmd(cmd, "heatmap: chromium renders it to a PNG");
}

static void test_diff(void)
{
    struct export_input in = input(), base = input();
    in.baseline = &base;
    char cmd[16384];
    CHECK_INT(write_export("same.diff", EXPORT_FOLDED, EXPORT_CPU, &in), 0, "diff written");
    snprintf(cmd, sizeof cmd, "python3 %s %s 1 3", path_of("diff.py"), path_of("same.diff"));
    check_cmd(cmd, "diff against itself: old equals new on every line");
    /* The same profile over half the time: twice the seconds per second. */
    base.duration_ns = in.duration_ns * 2;
    CHECK_INT(write_export("half.diff", EXPORT_FOLDED, EXPORT_CPU, &in), 0, "diff written");
    snprintf(cmd, sizeof cmd, "python3 %s %s 2 3", path_of("diff.py"), path_of("half.diff"));
    check_cmd(cmd, "diff: weights per second of each profile's duration");
    /* A path only in one of them has 0 in the other column. */
    base.nrows = 2;
    CHECK_INT(write_export("part.diff", EXPORT_FOLDED, EXPORT_CPU, &in), 0, "diff written");
    snprintf(cmd, sizeof cmd, "grep -c ' 0.000000000 ' %s | sed 's/^1$/OK/'", path_of("part.diff"));
    check_cmd(cmd, "diff: a path missing from the baseline has 0 there");

    /* svg: against itself every frame has the colour of no change; with
     * the baseline over twice the time, every frame grew (red). */
    base = input();
    CHECK_INT(write_export("same.svg", EXPORT_SVG, EXPORT_CPU, &in), 0, "svg diff written");
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import re,sys; d=open(sys.argv[1]).read(); "
             "f=re.findall(r'<rect x=[^>]*fill=.(rgb[^\\\"]*)', d); "
             "t=re.findall(r'<title>([^<]*)</title>', d); "
             "ok=len(f)==len(t)>=5 and set(f)=={'rgb(255,240,240)'} and all('baseline' in x and 'now' in x for x in t); "
             "print('OK' if ok else (set(f), t[:2]))\" %s", path_of("same.svg"));
    check_cmd(cmd, "svg diff against itself: no change anywhere, both values on hover");
    base.duration_ns = in.duration_ns * 2;
    CHECK_INT(write_export("grew.svg", EXPORT_SVG, EXPORT_CPU, &in), 0, "svg diff written");
    snprintf(cmd, sizeof cmd,
             "python3 -c \"import re,sys; d=open(sys.argv[1]).read(); "
             "f=re.findall(r'<rect x=[^>]*fill=.rgb.(\\\\d+),(\\\\d+),(\\\\d+)', d); "
             "ok=len(f)>=5 and all(r=='255' and int(g)<240 for r,g,b in f) and '(+100.0%%)' in d; "
             "print('OK' if ok else f)\" %s", path_of("grew.svg"));
    check_cmd(cmd, "svg diff: every frame grew (red), +100%% on hover");
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "temporary directory");
        return unit_done();
    }
    snprintf(src_py, sizeof src_py, "%s/src.py", tmpdir);
    write_text(src_py, "def hot():\n    return leaf()\n    return 3  # leaf\ndef cold():\n"
                       "    pass\n\ndef main():\n    hot()\n    cold()\n\ndef work():\n"
                       "    pass\n");
    write_text(path_of("gecko.py"), gecko_py);
    write_text(path_of("chrome.py"), chrome_py);
    write_text(path_of("annotate.py"), annotate_py);
    write_text(path_of("heatmap.py"), heatmap_py);
    write_text(path_of("diff.py"), diff_py);
    build();
    UNIT_RUN(test_refusals);
    if (system("python3 -c 1 >/dev/null 2>&1") != 0) {
        unit_count++;
        printf("ok %d # SKIP python3 not installed: format checks\n", unit_count);
    } else {
        UNIT_RUN(test_gecko);
        UNIT_RUN(test_chrometrace);
        UNIT_RUN(test_annotate);
        UNIT_RUN(test_diff);
    }
    stack_table_free(dict);
    if (!getenv("PYTOP_KEEP_EXPORTS")) {
        char cmd[4300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmpdir);
    } else {
        printf("# files kept in %s\n", tmpdir);
    }
    return unit_done();
}
