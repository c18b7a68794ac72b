"""Functional tests of the timeline exports (gecko, chrometrace), the
annotated source (annotate, heatmap) and the diff against a baseline, end
to end: a real interpreter running idle_running.py (MainThread spinning,
two threads asleep) is recorded, and each export is read back and checked
against what the target did. Run on the oldest and the newest interpreter
found.
"""
import json
import os
import re
from html.parser import HTMLParser

from scenarios import Test
import subcmd
from subcmd import export


def record(c, tgt, name="r.pytop", seconds="1s"):
    return subcmd.record(c, tgt, name, seconds, timeout=30)


def folded_total_us(text):
    return sum(int(line.rpartition(" ")[2]) for line in text.splitlines() if line)


def t_timeline(c):
    tgt = c.start("idle_running.py")
    rec = record(c, tgt)
    spin = "spin_main (%s:%d)" % (tgt.path, tgt.markers["spin"])
    main_tid, idler = tgt.tid("MainThread"), tgt.tid("idler-1")

    # gecko: a track per thread, the main thread's samples on spin_main, the
    # CPU deltas adding up to the folded export's total.
    g = json.loads(export(c, rec, "gecko", tgt=tgt).stdout)
    threads = {t["tid"]: t for t in g["threads"]}
    if main_tid not in threads or idler not in threads:
        c.fail("gecko: tracks %s, want MainThread %s and idler-1 %s" % (sorted(threads), main_tid, idler),
               None, tgt)
    t = threads[main_tid]
    sc = t["samples"]["schema"]
    data = t["samples"]["data"]
    leaves = []
    for row in data:
        s = row[sc["stack"]]
        fr = t["stackTable"]["data"][s][1]
        leaves.append(t["stringTable"][t["frameTable"]["data"][fr][0]])
    if leaves.count(spin) < len(leaves) * 0.8:
        c.fail("gecko: %d of %d main-thread samples end in %s" % (leaves.count(spin), len(leaves), spin),
               None, tgt)
    times = [row[sc["time"]] for row in data]
    if times != sorted(times) or not times or times[-1] - times[0] < 500:
        c.fail("gecko: sample times %s..%s (want ordered, over about a second)" % (times[:1], times[-1:]),
               None, tgt)
    cpu_ns = sum(r[t["samples"]["schema"]["threadCPUDelta"]] for t in g["threads"] for r in t["samples"]["data"])
    folded = export(c, rec, "folded", tgt=tgt).stdout
    lines = len(folded.splitlines())
    if abs(cpu_ns / 1000.0 - folded_total_us(folded)) > lines + 1:
        c.fail("gecko CPU deltas %.0f us, folded total %d us" % (cpu_ns / 1000.0, folded_total_us(folded)),
               None, tgt)

    # chrometrace: the spinning thread is one long spin_main; the sleepers
    # show in wall mode and not in cpu mode.
    for mode in ("wall", "cpu"):
        tr = json.loads(export(c, rec, "chrometrace", "--mode", mode, tgt=tgt).stdout)
        x = [e for e in tr["traceEvents"] if e["ph"] == "X"]
        spins = [e for e in x if e["tid"] == main_tid and e["name"] == "spin_main"]
        longest = max((e["dur"] for e in spins), default=0)
        if longest < 500e3 * 0.5:
            c.fail("chrometrace (%s): the longest spin_main event is %.0f us" % (mode, longest), None, tgt)
        sleepers = [e for e in x if e["tid"] == idler and e["name"] == "idle_forever"]
        if mode == "wall" and not sleepers:
            c.fail("chrometrace (wall): no idle_forever event on idler-1", None, tgt)
        if mode == "cpu" and sleepers:
            c.fail("chrometrace (cpu): idler-1's sleep is drawn: %s" % sleepers[:2], None, tgt)
        names = [e for e in tr["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"]
        if not any(e["tid"] == idler and "idler-1" in e["args"]["name"] for e in names):
            c.fail("chrometrace: no thread_name for idler-1", None, tgt)

    # record -o NAME picks the format by the name's suffix.
    for name, key in (("t.gecko.json", '"threads":'), ("t.trace.json", '"traceEvents":'),
                      ("t.annotate.txt", "\nFile: "), ("t.html", "<input id=q type=search")):
        out = os.path.join(c.workdir, name)
        run = c.pytop_run(["record", "-d", "0.3s", "-o", out, "-p", str(tgt.pid)], timeout=30)
        if run.rc != 0 or key not in open(out).read():
            c.fail("pytop record -o %s did not write that format" % name, run, tgt)
    # The live view's snapshots have no samples one by one: refused.
    run = c.pytop_run(["-p", str(tgt.pid), "--snapshot-format", "gecko"], timeout=10)
    if run.rc == 0 or "recording" not in run.stderr:
        c.fail("--snapshot-format gecko is not refused with a word on recording", run, tgt)
    return "%d main-thread samples, spin_main %.0f%%" % (len(leaves), 100.0 * leaves.count(spin) / len(leaves))


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.files, self.search = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.files.append(a.get("data-file"))
        if tag == "input" and a.get("type") == "search":
            self.search += 1


def t_annotate(c):
    tgt = c.start("idle_running.py")
    rec = record(c, tgt)
    text = export(c, rec, "annotate", tgt=tgt).stdout
    line = tgt.markers["spin"]
    want = "File: %s" % tgt.path
    if want not in text:
        c.fail("annotate: no section for the target's file %s" % tgt.path, None, tgt, [text[:2000]])
    body = text.split(want, 1)[1].split("\nFile: ", 1)[0]
    rows = {}
    for l in body.splitlines():
        cols = l.split("|")
        if len(cols) >= 6 and cols[0].strip().isdigit():
            rows[int(cols[0])] = (int(cols[1]), float(cols[3].strip(" %")), float(cols[4].strip(" %")),
                                  "|".join(cols[5:])[1:])
    if line not in rows or rows[line][1] < 50:
        c.fail("annotate: line %d (the spin) has %r, want over 50%% own" % (line, rows.get(line)), None, tgt)
    best = max(rows.items(), key=lambda kv: kv[1][1])[0]
    if best != line:
        c.fail("annotate: the heaviest line is %d, not the spin's %d" % (best, line), None, tgt)
    if os.path.exists(tgt.path) and "@spin" not in rows[line][3]:
        c.fail("annotate: line %d's source is %r" % (line, rows[line][3]), None, tgt)
    call = tgt.markers["call-spin"]
    if rows.get(call, (0, 0, 0))[2] < rows[line][2] - 0.01:
        c.fail("annotate: the caller's line %d total %r is below the spin's %r"
               % (call, rows.get(call), rows[line]), None, tgt)

    html = export(c, rec, "heatmap", tgt=tgt).stdout
    p = _Sections()
    p.feed(html)
    if p.search != 1 or not p.files or p.files[0] != tgt.path:
        c.fail("heatmap: sections %s (want the target's file first), %d search boxes" % (p.files[:3], p.search),
               None, tgt)
    if re.search(r"<(script|link|img)[^>]+(src|href)=", html):
        c.fail("heatmap: refers to an outside resource", None, tgt)
    return "spin line %d: own %.1f%%, total %.1f%%" % (line, rows[line][1], rows[line][2])


def t_baseline(c):
    tgt = c.start("idle_running.py")
    rec = record(c, tgt)
    rec2 = record(c, tgt, "r2.pytop", "0.5s")
    # A recording against itself: equal columns.
    out = export(c, rec, "folded", "--baseline", rec, tgt=tgt).stdout
    bad = []
    for l in out.splitlines():
        stack, old, new = l.rsplit(" ", 2)
        if old != new:
            bad.append(l)
    if bad or not out:
        c.fail("--baseline itself: %d lines differ (%s)" % (len(bad), bad[:3]), None, tgt)
    # Another recording: each column is the path's time per second of its
    # own recording (its first to last sample, as the gecko times give it).
    out = export(c, rec2, "folded", "--baseline", rec, tgt=tgt).stdout
    spin_old = spin_new = 0.0
    for l in out.splitlines():
        stack, old, new = l.rsplit(" ", 2)
        if stack.split(";")[-1].startswith("spin_main "):
            spin_old += float(old)
            spin_new += float(new)

    def per_second(r):
        g = json.loads(export(c, r, "gecko", tgt=tgt).stdout)
        times = [row[1] for t in g["threads"] for row in t["samples"]["data"]]
        span_s = (max(times) - min(times)) / 1e3
        us = sum(int(l.rpartition(" ")[2]) for l in export(c, r, "folded", tgt=tgt).stdout.splitlines()
                 if l.rpartition(" ")[0].split(";")[-1].startswith("spin_main "))
        return us / 1e6 / span_s

    want_old, want_new = per_second(rec), per_second(rec2)
    if not spin_new or abs(spin_old - want_old) > 0.01 * want_old + 1e-5 or \
            abs(spin_new - want_new) > 0.01 * want_new + 1e-5:
        c.fail("--baseline: spin_main %.4f s/s before, %.4f s/s after; the recordings say %.4f and %.4f"
               % (spin_old, spin_new, want_old, want_new), None, tgt, [out[:2000]])
    # svg --baseline: a differential flame graph whose hover text gives both.
    svg = export(c, rec2, "svg", "--baseline", rec, tgt=tgt).stdout
    titles = re.findall(r"<title>(.*?)</title>", svg, re.S)
    spin_t = [t for t in titles if t.startswith("spin_main ")]
    if not spin_t or not re.search(r"baseline [\d.]+ s/s, now [\d.]+ s/s", spin_t[0]):
        c.fail("svg --baseline: spin_main's hover text is %r" % spin_t[:1], None, tgt)
    run = c.pytop_run(["export", rec2, "--format", "pstats", "--baseline", rec], timeout=20)
    if run.rc == 0 or "folded" not in run.stderr:
        c.fail("--baseline with pstats is not refused with a word on folded and svg", run, tgt)
    return "spin_main %.3f s/s then %.3f s/s" % (spin_old, spin_new)


PER_INTERPRETER = [("export_timeline", t_timeline), ("export_annotate", t_annotate),
                   ("export_baseline", t_baseline)]


def build(interps):
    tests = []
    chosen = sorted(interps, key=lambda i: i.version)
    chosen = chosen[:1] + chosen[-1:] if len(chosen) > 1 else chosen
    for name, fn in PER_INTERPRETER:
        if not chosen:
            tests.append(Test(name, fn, skip="no Python interpreter found"))
        for interp in chosen:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp))
    return tests
