"""Functional tests of GIL and collector time: a target keeping the cyclic
collector busy shows a "<GC>" frame in a share near what the interpreter's
own gc.callbacks timing says, and gecko marks those runs; two threads
contending for the GIL show who waits for it where the interpreter tells
(3.15), and --mode gil keeps only the holder's samples. Run on every
interpreter found.
"""
import json
import os
import time

from scenarios import Test
import subcmd
from subcmd import export


def gc_share(tgt, start, end):
    """The share of [start, end] (unix seconds) the target spent collecting,
    from its own log of (time, seconds collecting so far)."""
    log = []
    with open(tgt.ready_file + ".gc") as f:
        for line in f:
            try:
                t, acc = line.split()
                log.append((float(t), float(acc)))
            except ValueError:
                pass   # a line being written
    before = [e for e in log if e[0] <= start]
    after = [e for e in log if e[0] >= end]
    if not before or not after or after[0][0] <= before[-1][0]:
        return None
    (t0, a0), (t1, a1) = before[-1], after[0]
    return (a1 - a0) / (t1 - t0)


def record(c, tgt, name, seconds="2s", extra=()):
    return subcmd.record(c, tgt, name, seconds, extra, timeout=60)


def folded(text):
    out = []
    for line in text.splitlines():
        stack, _, w = line.rpartition(" ")
        if stack:
            out.append((stack.split(";"), int(w)))
    return out


def t_gc_frame(c):
    tgt = c.start("gc_busy.py")
    rec = record(c, tgt, "gc.pytop")
    time.sleep(0.2)   # the target's log past the recording's end
    rows = folded(export(c, rec, "folded", "--mode", "wall", tgt=tgt).stdout)
    total = sum(w for _, w in rows)
    in_gc = sum(w for s, w in rows if s[-1] == "<GC>")
    if total == 0:
        c.fail("no samples recorded", None, tgt)
    got = float(in_gc) / total
    g = json.loads(export(c, rec, "gecko", tgt=tgt).stdout)
    # The recording's own span, in the target's clock: its first sample
    # (meta.startTime) to its last.
    last_ms = max([0.0] + [row[t["samples"]["schema"]["time"]] for t in g["threads"]
                           for row in t["samples"]["data"]])
    start = g["meta"]["startTime"] / 1000.0
    want = gc_share(tgt, start, start + last_ms / 1000.0)
    marks = []
    for t in g["threads"]:
        for m in t["markers"]["data"]:
            if t["stringTable"][m[0]] == "GC":
                marks.append((t["tid"], m[1], m[2]))
    if c.interp.free_threaded:
        # The collector runs with the world stopped: which thread runs it
        # is not told, and pytop invents none.
        if in_gc or marks:
            c.fail("free-threaded: %d us under <GC> and %d GC markers, want none (not told)"
                   % (in_gc, len(marks)), None, tgt)
        return "free-threaded: no <GC> frame (which thread collects is not told)"
    # Under <GC>: the frames that called gc.collect() below it.
    bad = [s for s, _ in rows if "<GC>" in s[:-1]]
    if bad:
        c.fail("<GC> not on top of its stack: %s" % ";".join(bad[0]), None, tgt)
    under = [s for s, _ in rows if s[-1] == "<GC>"]
    if under and not any("churn" in f for f in under[0]):
        c.fail("<GC> stack %s is not under churn()" % ";".join(under[0]), None, tgt)
    if want is None:
        c.fail("the target's collection log does not cover the recording", None, tgt)
    if want < 0.05:
        c.fail("the target collected only %.1f%% of the time: no test" % (100 * want), None, tgt)
    if abs(got - want) > 0.05 + 0.2 * want:
        c.fail("<GC> is %.1f%% of wall time, gc.callbacks timing says %.1f%%" % (100 * got, 100 * want),
               None, tgt)
    main = tgt.tid("MainThread")
    if not marks or any(tid != main or end < start for tid, start, end in marks):
        c.fail("gecko GC markers %s, want intervals on MainThread %s" % (marks[:5], main), None, tgt)
    span = sum(e - s for _, s, e in marks) / 1000.0
    dur = last_ms / 1000.0
    if abs(span / dur - got) > 0.1 + 0.3 * got:
        c.fail("gecko GC markers span %.2f s of %.1f s, <GC> share %.1f%%" % (span, dur, 100 * got),
               None, tgt)
    return "<GC> %.1f%% of wall time, gc.callbacks %.1f%%; %d GC markers" % (100 * got, 100 * want, len(marks))


def t_gil(c):
    tgt = c.start("gil_contend.py")
    tids = (tgt.tid("MainThread"), tgt.tid("spinner-2"))
    # --dump: who holds the GIL and who waits, where the interpreter tells.
    tells = c.interp.at_least(3, 15) and not c.interp.free_threaded
    waits = holds = both = looks = 0
    for _ in range(20):
        doc, run = c.dump(tgt)
        for t in doc["threads"]:
            if t["tid"] not in tids:
                continue
            looks += 1
            if not tells and t.get("gil_wait") is not None:
                c.fail("gil_wait %r on %s, where the interpreter does not tell: want null"
                       % (t.get("gil_wait"), c.interp.id), run, tgt)
            waits += t.get("gil_wait") is True
            holds += t.get("gil") is True
            both += t.get("gil") is True and t.get("gil_wait") is True
    if both:
        c.fail("%d threads both held and waited for the GIL" % both, None, tgt)
    # The one not holding the GIL waits for it, but for the moments it
    # spends between dropping it and asking again (on a loaded machine,
    # runnable and not scheduled there): well over an eighth of the looks.
    if tells and waits < looks // 8:
        c.fail("GIL waiting in %d of %d thread looks, two threads contending" % (waits, looks), None, tgt)

    # Before 3.15, --native: a C stack in take_gil says the thread waits;
    # nothing says it does not (true or null, never false). pyenv's builds
    # keep take_gil's symbol; a stripped or LTO build may not (no test).
    nwaits = None
    if not tells and not c.interp.free_threaded and c.interp.at_least(3, 2):
        nwaits = 0
        for _ in range(20):
            run = c.pytop_run(["--dump", "--json", "--native", "-p", str(tgt.pid)])
            if run.rc != 0 or run.sanitizer_report():
                c.fail("pytop --dump --native failed", run, tgt)
            for t in json.loads(run.stdout)["threads"]:
                if t.get("gil_wait") is False or (t.get("gil_wait") and t.get("gil")):
                    c.fail("--native: gil %r, gil_wait %r: want waiting only as true, never with the GIL"
                           % (t.get("gil"), t.get("gil_wait")), run, tgt)
                nwaits += t.get("gil_wait") is True
        if not c.interp.flavour and nwaits == 0:
            c.fail("--native: no thread of two contending seen in take_gil in 20 looks", None, tgt)

    rec = record(c, tgt, "gil.pytop")
    wall = folded(export(c, rec, "folded", "--mode", "wall", tgt=tgt).stdout)
    gil = folded(export(c, rec, "folded", "--mode", "gil", tgt=tgt).stdout)
    w_all = sum(w for _, w in wall)
    w_gil = sum(w for _, w in gil)
    if c.interp.free_threaded:
        if w_gil:
            c.fail("--mode gil kept %d us on a free-threaded build (no GIL)" % w_gil, None, tgt)
        return "free-threaded: no GIL, --mode gil empty"
    # Two threads: one holds the GIL at a time, so about half the wall time.
    share = float(w_gil) / w_all if w_all else 0.0
    if not 0.3 <= share <= 0.7:
        c.fail("--mode gil kept %.0f%% of the two threads' wall time, want about half" % (100 * share),
               None, tgt)
    return "--mode gil %.0f%% of wall; GIL waiting %s" % (
        100 * share, "%d of %d looks" % (waits, looks) if tells else
        "not told before 3.15%s" % ("" if nwaits is None else ", --native in take_gil %d times" % nwaits))


PER_INTERPRETER = [("gc_frame", t_gc_frame), ("gil_modes", t_gil)]


def build(interps):
    tests = []
    for name, fn in PER_INTERPRETER:
        if not interps:
            tests.append(Test(name, fn, skip="no Python interpreter found"))
        for interp in interps:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp))
    return tests
