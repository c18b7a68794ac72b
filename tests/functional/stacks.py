"""Whole stacks: a target whose frames come and go fast must give stacks
that reach the thread's true root or say they do not (a "<torn>" or
"[truncated]" root); a recursion 10,000 deep keeps both ends; a recursion
that goes up and down cannot give a stack deeper than it ever was.
"""
import re

from engine import export, parse_folded, record
from scenarios import Test

# Shares of thread samples (wall time), over the suite's short runs. The
# goal for marked stacks is 0.5 %: release builds over 10 s gave at most
# 0.27 % and 0.57 % in two runs (docs/performance.md). The suite's
# sanitizer build on a loaded machine gave 0-0.8 %, and 3.12 up to 1.6 %
# before the last walker change: threads taken off their CPU with a
# generator's frame current and its link back already cleared stay so for
# every re-read. Above MARKED_MAX fails; above the goal is said. The same
# for unmarked stacks: the goal is 0.1 % (0.00 % in release builds); the
# suite's loaded sanitizer runs saw up to 0.32 % once in a few dozen.
# Marked stacks are honest (what a view shows is labelled), so their limit
# only guards against a proof that rejects what it should accept: the
# suite's parallel tests load the machine, and 3 % was passed in one full
# run (58 torn of 1,900 on 3.8).
UNMARKED_GOAL = 0.1
UNMARKED_MAX = 0.5
MARKED_GOAL = 0.5
MARKED_MAX = 10.0

KINDS_RE = re.compile(
    r"^pytop: thread stacks: (?P<good>[\d.]+) % good \((?P<whole>\d+) of (?P<total>\d+) whole\); "
    r"(?P<torn>\d+) torn, (?P<cut>\d+) cut at a bound, (?P<unreadable>\d+) unreadable, "
    r"(?P<nopy>\d+) without a Python frame; (?P<retries>\d+) read again, (?P<elided>\d+) with frames elided$")

MARKERS = ("<torn>", "[truncated]", "[no Python frame]")


def stack_kinds(c, run, tgt):
    """The record summary's line of thread stacks by kind, parsed and checked."""
    lines = [l for l in run.stderr.splitlines() if l.startswith("pytop: thread stacks: ")]
    m = KINDS_RE.match(lines[0]) if len(lines) == 1 else None
    if not m:
        c.fail("no line \"pytop: thread stacks: ...\" of the documented form", run, tgt)
    k = dict((key, float(v) if key == "good" else int(v)) for key, v in m.groupdict().items())
    if k["whole"] + k["torn"] + k["cut"] + k["unreadable"] + k["nopy"] != k["total"]:
        c.fail("thread stacks by kind do not add up to the total", run, tgt)
    if abs(k["good"] - 100.0 * k["whole"] / max(k["total"], 1)) > 0.01:
        c.fail("the good share is not whole / total", run, tgt)
    return k


def is_root(frame, path):
    """The true root of a fast_frames thread: its <module>, or threading's bootstrap."""
    func, file, _ = frame
    if func == "<module>" and file == path:
        return True
    return func.split(".")[-1] in ("_bootstrap", "__bootstrap") and (file or "").endswith("threading.py")


def t_fast_frames(c):
    tgt = c.start("fast_frames.py")
    summary = []
    for rate, seconds in ((500, 2), (1000, 2)):
        rec, run, _ = record(c, tgt, ["--rate", str(rate), "--duration", str(seconds)])
        kinds = stack_kinds(c, run, tgt)
        data, _ = export(c, rec, "folded", "wall", target=tgt)
        stacks = parse_folded(c, data, "folded wall export", target=tgt)
        total = sum(s.weight for s in stacks)
        marked = sum(s.weight for s in stacks if s.frames[0][0] in MARKERS)
        unmarked = [s for s in stacks if s.frames[0][0] not in MARKERS and not is_root(s.frames[0], tgt.path)]
        unmarked_w = sum(s.weight for s in unmarked)
        pu, pm = 100.0 * unmarked_w / total, 100.0 * marked / total
        if pu > UNMARKED_MAX:
            c.fail("%d Hz: %.2f %% of wall time in stacks cut short with no marker (at most %.1f %%)"
                   % (rate, pu, UNMARKED_MAX), run, tgt,
                   extra=[";".join(f[0] for f in s.frames) + " %d" % s.weight for s in unmarked[:10]])
        if pm > MARKED_MAX:
            c.fail("%d Hz: %.2f %% of wall time in marked incomplete stacks (at most %.1f %%): %d torn, %d cut, "
                   "%d unreadable, %d without a Python frame"
                   % (rate, pm, MARKED_MAX, kinds["torn"], kinds["cut"], kinds["unreadable"], kinds["nopy"]),
                   run, tgt)
        # Every marker the export may show is a kind the summary counts,
        # "[no Python frame]" among them.
        incomplete = kinds["torn"] + kinds["cut"] + kinds["unreadable"] + kinds["nopy"]
        if (marked > 0) != (incomplete > 0):
            c.fail("%d Hz: the export has %s marked stacks but the summary counts %d incomplete"
                   % (rate, "some" if marked else "no", incomplete), run, tgt)
        summary.append("%d Hz: unmarked %.2f %%%s, marked %.2f %%%s, %.2f %% good, %d read again"
                       % (rate, pu, " (over the %.1f %% goal)" % UNMARKED_GOAL if pu > UNMARKED_GOAL else "",
                          pm, " (over the %.1f %% goal)" % MARKED_GOAL if pm > MARKED_GOAL else "",
                          kinds["good"], kinds["retries"]))
    return "; ".join(summary)


def t_deep_recursion(c):
    depth = 10000
    tgt = c.start("recursion.py", args=[str(depth)])
    doc, run = c.dump(tgt)
    main = c.thread(doc, run, tgt, "MainThread")
    frames = main["frames"]
    names = [f.get("function") for f in frames]
    elided = [f for f in frames if "elided" in f]
    total = depth + 2   # recurse x depth, main, <module>
    if len(elided) != 1 or elided[0]["elided"] != total - (len(frames) - 1):
        c.fail("want one \"<N frames elided>\" marker for the %d frames not kept, got %s"
               % (total - (len(frames) - 1), [f["function"] for f in elided]), run, tgt)
    if names[-2:] != ["main", "<module>"] or names[0] != "recurse":
        c.fail("the stack does not keep both ends: innermost %s, outermost %s" % (names[:1], names[-2:]), run, tgt)
    if any(f.get("error") for f in frames):
        c.fail("a stack kept with frames elided carries an error", run, tgt)
    rec, run, s = record(c, tgt, ["--rate", "20", "--duration", "1"], timeout=60)
    kinds = stack_kinds(c, run, tgt)
    data, _ = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, "folded wall export", target=tgt)
    bad = [s for s in stacks if s.frames[0][0] != "<module>"]
    if bad or int(s["errors"]) != 0 or kinds["elided"] == 0:
        c.fail("recorded: %d stacks without <module> at the root, %s errors, %d elided (want 0, 0, > 0)"
               % (len(bad), s["errors"], kinds["elided"]), run, tgt)
    return "%d frames: %d kept, %s; %d samples recorded, all with <module>" % (
        total, len(frames) - 1, elided[0]["function"], kinds["total"])


def t_updown(c):
    tgt = c.start("updown.py")
    depth = tgt.report["info"]["depth"]
    rec, run, _ = record(c, tgt, ["--rate", "1000", "--duration", "2"])
    kinds = stack_kinds(c, run, tgt)
    data, _ = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, "folded wall export", target=tgt)
    most = max(sum(1 for f in s.frames if f[0] == "down") for s in stacks)
    total = sum(s.weight for s in stacks)
    unmarked = [s for s in stacks if s.frames[0][0] not in MARKERS and s.frames[0][:2] != ("<module>", tgt.path)]
    pu = 100.0 * sum(s.weight for s in unmarked) / total
    if pu > UNMARKED_MAX:
        c.fail("%.2f %% of wall time in stacks that do not reach <module> and carry no marker (at most %.1f %%)"
               % (pu, UNMARKED_MAX), run, tgt,
               extra=[";".join(f[0] for f in s.frames[:6]) + ";... %d" % s.weight for s in unmarked[:10]])
    if most > depth:
        deepest = max(stacks, key=lambda s: len(s.frames))
        c.fail("a stack %d calls of down() deep; the recursion never passes %d" % (most, depth), run, tgt,
               extra=[";".join(f[0] for f in deepest.frames[:8]) + ";..."])
    return "deepest %d of %d; unmarked %.2f %%; %.2f %% good, %d torn, %d read again" % (
        most, depth, pu, kinds["good"], kinds["torn"], kinds["retries"])


PER_INTERPRETER = [
    ("fast_frames", t_fast_frames),
    ("deep_recursion", t_deep_recursion),
    ("updown", t_updown),
]


def build(interps):
    tests = []
    for name, fn in PER_INTERPRETER:
        for interp in interps:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp))
    return tests
