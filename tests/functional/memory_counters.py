"""Functional tests of the memory and heap counters in pytop --dump --json.

The target (targets/memory_commands.py) answers commands through files and
reports what the interpreter itself says at that moment: gc.get_count(),
gc.get_stats() and its VmRSS. Each test compares pytop's "counters" object
with that, for every interpreter found, and checks that what a version (or
a binary stripped of .symtab) cannot give is null and the rest is not.
"""
import json
import os
import shutil
import subprocess
import time

from harness import TestSkip, elf_section_names
from scenarios import Test

PROCESS = ["rss", "peak_rss", "heap", "anon", "swap", "minflt_total", "majflt_total"]
GC_COUNTS = ["gc_count0", "gc_count1", "gc_count2"]
GC_TOTALS = ["gc_collections0_total", "gc_collections1_total", "gc_collections2_total",
             "gc_collected_total", "gc_uncollectable_total"]
PYMALLOC = ["pymalloc_arenas", "pymalloc_arenas_peak", "pymalloc_arena_bytes", "pymalloc_blocks"]
ALL = PROCESS + GC_COUNTS + GC_TOTALS + PYMALLOC

REPLY_TIMEOUT = 30.0
GEN0_TOLERANCE = 100   # objects the target's own reporting allocates after it looked


def has_symtab(interp):
    path = interp.libpython or interp.realpath
    try:
        return ".symtab" in elf_section_names(path)
    except (OSError, ValueError):
        return False


def expected_available(interp, symtab=None):
    """The counters pytop must give for interp (docs/internals.md, "Memory and
    heap counters"); every other one must be null."""
    v = interp.version[:2]
    if symtab is None:
        symtab = has_symtab(interp)
    want = set(PROCESS)
    # GC: static arrays (local symbols) in 2.7 and 3.6, runtime/interpreter after.
    if v >= (3, 7) or symtab:
        want.update(GC_COUNTS)
        if v >= (3, 6):
            want.update(GC_TOTALS)
    # pymalloc: static variables up to 3.11, interpreter state from 3.12;
    # a free-threaded build allocates with mimalloc, so none.
    if (v >= (3, 12) or symtab) and not interp.free_threaded:
        want.update(["pymalloc_arenas", "pymalloc_arena_bytes"])
        if v >= (3, 6):
            want.add("pymalloc_arenas_peak")
        if (3, 6) <= v <= (3, 8):
            want.add("pymalloc_blocks")
    return want


def status_has(pid, name):
    with open("/proc/%d/status" % pid) as f:
        return any(line.startswith(name + ":") for line in f)


class Session(object):
    """A running target and the commands sent to it."""

    def __init__(self, c, env_extra=None):
        self.c = c
        self.tgt = c.start("memory_commands.py", env_extra=env_extra)
        self.n = 0

    def command(self, word):
        d = self.tgt.workdir
        self.n += 1
        reply = os.path.join(d, "reply-%d.json" % self.n)
        tmp = os.path.join(d, "cmd.tmp")
        with open(tmp, "w") as f:
            f.write(word)
        os.rename(tmp, os.path.join(d, "cmd"))
        deadline = time.time() + REPLY_TIMEOUT
        while not os.path.exists(reply):
            if self.tgt.proc.poll() is not None:
                self.c.fail("target exited (status %s) during %r" % (self.tgt.proc.returncode, word),
                            target=self.tgt)
            if time.time() > deadline:
                self.c.fail("target did not answer %r within %.0f s" % (word, REPLY_TIMEOUT),
                            target=self.tgt)
            time.sleep(0.02)
        with open(reply) as f:
            return json.load(f)

    def counters(self, env_extra=None):
        doc, run = self.c.dump(self.tgt, env_extra)
        ctr = doc.get("counters")
        if not isinstance(ctr, dict):
            self.c.fail("no \"counters\" object in the JSON dump", run, self.tgt)
        missing = [n for n in ALL if n not in ctr]
        if missing:
            self.c.fail("\"counters\" lacks %s" % ", ".join(missing), run, self.tgt)
        bad = [n for n in ALL if ctr[n] is not None and (not isinstance(ctr[n], int) or ctr[n] < 0)]
        if bad:
            self.c.fail("counters that are neither null nor a non-negative integer: %s"
                        % ", ".join("%s=%r" % (n, ctr[n]) for n in bad), run, self.tgt)
        # A real interpreter's counters pass pytop's checks: a refusal here
        # means a wrong offset that the checks caught (a micro release that
        # moved a field), which must be fixed, not hidden.
        if doc.get("counters_rejected") != 0:
            self.c.fail("pytop refused %r counter values as implausible"
                        % doc.get("counters_rejected"), run, self.tgt)
        return ctr, run


def check_availability(c, s, ctr, run, symtab=None):
    want = expected_available(c.interp, symtab)
    if not status_has(s.tgt.pid, "VmSwap"):
        want.discard("swap")
    wrong_null = sorted(n for n in want if ctr[n] is None)
    wrong_value = sorted(n for n in ALL if n not in want and ctr[n] is not None)
    problems = []
    if wrong_null:
        problems.append("null but available on this interpreter: %s" % ", ".join(wrong_null))
    if wrong_value:
        problems.append("a value where this interpreter has none (must be null): %s"
                        % ", ".join("%s=%s" % (n, ctr[n]) for n in wrong_value))
    if problems:
        c.fail("; ".join(problems) + " (symtab: %s)" % (has_symtab(c.interp) if symtab is None else symtab),
               run, s.tgt)
    return want


def near(a, b, tol):
    return abs(a - b) <= tol


def gc_counts_differ(c, got, exp):
    """Whether pytop's generation counts disagree with gc.get_count(). A
    free-threaded build's generation 0 count goes below zero when more
    objects died than were made since the last collection; pytop's counters
    cannot be negative, so there it must be unavailable (null)."""
    if c.interp.free_threaded and exp[0] < 0:
        return got[0] is not None or got[1:] != list(exp[1:])
    if None in got:
        return True
    return not near(got[0], exp[0], GEN0_TOLERANCE) or got[1:] != list(exp[1:])


def t_memory_counters(c):
    s = Session(c)
    before = s.command("state")
    ctr, run = s.counters()
    want = check_availability(c, s, ctr, run)
    notes = []

    # RSS against the target's own VmRSS (it does nothing between the two).
    rss = ctr["rss"]
    if not rss or not near(rss, before["rss"], max(8 << 20, before["rss"] // 5)):
        c.fail("rss %s, the target's VmRSS %s: not within 20%% (or 8 MiB)" % (rss, before["rss"]), run, s.tgt)
    if ctr["peak_rss"] < rss:
        c.fail("peak_rss %d below rss %d" % (ctr["peak_rss"], rss), run, s.tgt)
    notes.append("rss %.1f MiB (VmRSS %.1f)" % (rss / 1048576.0, before["rss"] / 1048576.0))

    if "gc_count0" in want:
        got, exp = [ctr[n] for n in GC_COUNTS], before["count"]
        if gc_counts_differ(c, got, exp):
            c.fail("gc counts %s, the target's gc.get_count() %s" % (got, exp), run, s.tgt)

    # Collections increase after the target collects, and match its own stats.
    after = s.command("collect")
    ctr2, run2 = s.counters()
    if "gc_collections2_total" in want:
        stats = after["stats"]
        got = [ctr2["gc_collections%d_total" % g] for g in range(3)]
        exp = [st["collections"] for st in stats]
        if not all(near(a, b, 1) for a, b in zip(got, exp)):
            c.fail("gc collections %s, the target's gc.get_stats() %s" % (got, exp), run2, s.tgt)
        if got[2] <= ctr["gc_collections2_total"]:
            c.fail("gc_collections2_total did not increase after gc.collect(): %d then %d"
                   % (ctr["gc_collections2_total"], got[2]), run2, s.tgt)
        collected = sum(st["collected"] for st in stats)
        uncollectable = sum(st["uncollectable"] for st in stats)
        if not near(ctr2["gc_collected_total"], collected, 50) or ctr2["gc_uncollectable_total"] != uncollectable:
            c.fail("collected/uncollectable %d/%d, the target's gc.get_stats() sums %d/%d"
                   % (ctr2["gc_collected_total"], ctr2["gc_uncollectable_total"], collected, uncollectable),
                   run2, s.tgt)
        if ctr2["gc_collected_total"] < ctr["gc_collected_total"] + 2000:
            c.fail("gc_collected_total grew by %d after 1000 two-object cycles were collected"
                   % (ctr2["gc_collected_total"] - ctr["gc_collected_total"]), run2, s.tgt)
        notes.append("collections %s" % "/".join(str(x) for x in got))
    if "gc_count0" in want:
        got, exp = [ctr2[n] for n in GC_COUNTS], after["count"]
        if gc_counts_differ(c, got, exp):
            c.fail("after collecting: gc counts %s, the target's gc.get_count() %s" % (got, exp), run2, s.tgt)

    # pymalloc arenas grow with ~50 MB of small objects.
    s.command("alloc")
    ctr3, run3 = s.counters()
    if "pymalloc_arenas" in want:
        a0, a1 = ctr2["pymalloc_arenas"], ctr3["pymalloc_arenas"]
        grew = ctr3["pymalloc_arena_bytes"] - ctr2["pymalloc_arena_bytes"]
        if not a0 or a1 <= a0 or grew < (20 << 20):
            c.fail("pymalloc arenas %s -> %s (%d bytes more) after allocating ~50 MB of tuples"
                   % (a0, a1, grew), run3, s.tgt)
        if ctr3["pymalloc_arena_bytes"] % a1:
            c.fail("pymalloc_arena_bytes %d is not a multiple of %d arenas" % (ctr3["pymalloc_arena_bytes"], a1),
                   run3, s.tgt)
        if "pymalloc_arenas_peak" in want and ctr3["pymalloc_arenas_peak"] < a1:
            c.fail("arena peak %d below the current %d" % (ctr3["pymalloc_arenas_peak"], a1), run3, s.tgt)
        if "pymalloc_blocks" in want and ctr3["pymalloc_blocks"] < ctr2["pymalloc_blocks"] + 400000:
            c.fail("pymalloc_blocks %d -> %d after 400000 tuples" % (ctr2["pymalloc_blocks"], ctr3["pymalloc_blocks"]),
                   run3, s.tgt)
        notes.append("arenas %d -> %d" % (a0, a1))
    if ctr3["rss"] < ctr2["rss"] + (20 << 20):
        c.fail("rss %d -> %d after allocating ~50 MB" % (ctr2["rss"], ctr3["rss"]), run3, s.tgt)
    if ctr3["minflt_total"] <= ctr2["minflt_total"]:
        c.fail("minor faults did not increase while allocating: %d -> %d"
               % (ctr2["minflt_total"], ctr3["minflt_total"]), run3, s.tgt)
    missing = sorted(set(ALL) - want)
    notes.append("null: %s" % (", ".join(missing) if missing else "none"))
    return "; ".join(notes)


def t_memory_counters_stripped(c):
    """A libpython stripped of .symtab: what needs local symbols is null,
    the rest is still read."""
    interp = c.interp
    if not shutil.which("strip"):
        raise TestSkip("strip not installed (binutils)")
    libdir = c.subdir("lib")
    copy = os.path.join(libdir, interp.libpython_soname)
    shutil.copy(interp.libpython, copy)
    p = subprocess.run(["strip", "--strip-all", copy], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0 or ".symtab" in elf_section_names(copy):
        c.fail("strip --strip-all %s failed: %s" % (copy, p.stdout.decode("utf-8", "replace")))
    s = Session(c, {"LD_LIBRARY_PATH": libdir})
    with open("/proc/%d/maps" % s.tgt.pid) as fh:
        if copy not in fh.read():
            c.fail("the stripped copy %s is not mapped by the target" % copy, target=s.tgt)
    ctr, run = s.counters()
    want = check_availability(c, s, ctr, run, symtab=False)
    return "null: %s" % ", ".join(sorted(set(ALL) - want))


def t_memory_counters_layout_source(c):
    """3.13+: the counters read with the generated table and with the
    target's _Py_DebugOffsets are the same set, and agree on slow values."""
    s = Session(c)
    s.command("collect")
    docs = {}
    for source in ("table", "debug-offsets"):
        docs[source], run = s.counters({"PYTOP_LAYOUT_SOURCE": source})
    a, b = docs["table"], docs["debug-offsets"]
    diff = [n for n in ALL if (a[n] is None) != (b[n] is None)]
    if diff:
        c.fail("available with one layout source and not the other: %s"
               % ", ".join("%s (table %s, debug-offsets %s)" % (n, a[n], b[n]) for n in diff), run, s.tgt)
    slow = ["gc_count1", "gc_count2", "gc_collections2_total", "gc_uncollectable_total"]
    diff = [n for n in slow if a[n] != b[n]]
    if diff:
        c.fail("layout sources disagree: %s" % ", ".join("%s %s vs %s" % (n, a[n], b[n]) for n in diff),
               run, s.tgt)


def build(interps):
    tests = []
    if not interps:
        tests.append(Test("memory_counters", None, skip="no Python interpreter found"))
    for interp in interps:
        tests.append(Test("memory_counters[%s]" % interp.id, t_memory_counters, interp))
    for interp in interps:
        name = "memory_counters_stripped[%s]" % interp.id
        if interp.static:
            tests.append(Test(name, None, interp, skip="static build: no libpython to strip; "
                              "memory_counters covers its binary as it is"))
        else:
            tests.append(Test(name, t_memory_counters_stripped, interp))
    newer = [i for i in interps if i.at_least(3, 13)]
    if not newer:
        tests.append(Test("memory_counters_layout_source", None,
                          skip="no Python 3.13+ interpreter found: _Py_DebugOffsets not exercised"))
    for interp in newer:
        tests.append(Test("memory_counters_layout_source[%s]" % interp.id, t_memory_counters_layout_source,
                          interp))
    return tests
