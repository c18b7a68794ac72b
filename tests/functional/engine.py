"""Functional tests of pytop's engine: --record against real interpreters
and --export of what it recorded, read back by each format's own consumer.

The truth every assertion compares against is set by construction in the
targets (targets/engine_*.py): CPU splits measured by the target's own
process CPU clock, a thread that only sleeps, a script that exits with a
known status. A test returns a short string of what it measured, which the
runner prints after PASS.
"""
import glob
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.dom.minidom

from harness import PY_FLAGS, PytopRun, TARGETS_DIR, TestSkip, kill_group, parse_markers, popen
from scenarios import Test

# The engine tests run on these (interpreters.EXPECTED labels), and on any
# interpreter named by --python; one named SKIP for each that is not installed.
ENGINE_INTERPRETERS = ["python2.7", "python3.8", "python3.11", "python3.12", "python3.13", "python3.11-debian",
                       "python3.15-sid", "python3.13t"]


def engine_keys():
    """{interpreter key: label} of ENGINE_INTERPRETERS."""
    import interpreters
    return dict((tuple(e[1:]), e[0]) for e in interpreters.EXPECTED if e[0] in ENGINE_INTERPRETERS)

SUMMARY_RE = re.compile(
    r"^pytop: recorded (?P<samples>\d+) samples in (?P<seconds>[\d.]+) s \((?P<achieved>[\d.]+) Hz achieved "
    r"of (?P<rate>[\d.]+) Hz; (?P<late>\d+) late, (?P<errors>\d+) errors; (?P<us>[\d.]+) us of sampler CPU "
    r"per sample\) into (?P<path>.+?)(?P<exited>; the target exited)?$")

# "function (file:line)". pytop leaves out ":line" for an instruction with
# no line, and the whole "(file:line)" for frames with no file, such as
# "[no Python frame]" and "[truncated]".
FOLDED_FRAME_RE = re.compile(r"^(?P<function>[^;]+?)(?: \((?P<file>[^;]*?)(?::(?P<line>-?\d+|\?))?\))?$")

CPU_TOLERANCE_PP = 3.0


# ---- running pytop -----------------------------------------------------------

def pytop_env():
    env = dict(os.environ)
    env.pop("PYTOP_LAYOUT_SOURCE", None)
    return env


class Recorder(object):
    """pytop --record running in the background, for tests that signal it."""

    def __init__(self, c, args, env=None):
        self.cmd = [c.pytop] + list(args)
        self.err_path = os.path.join(c.workdir, "recorder-%d.err" % len(os.listdir(c.workdir)))
        self._err = open(self.err_path, "wb")
        self.t0 = time.time()
        self.proc = popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err,
                          env=env or pytop_env(), cwd="/")

    def wait(self, timeout):
        """A finished PytopRun (killed and marked timed out after timeout)."""
        run = PytopRun(self.cmd, {})
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            run.timed_out = True
        kill_group(self.proc)
        run.rc = self.proc.returncode
        run.duration = time.time() - self.t0
        self._err.close()
        with open(self.err_path, "rb") as f:
            run.stderr = f.read().decode("utf-8", "replace")
        return run


def wait_for_file(path, proc, timeout=30.0):
    """True once path exists; False if proc ended or timeout passed first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            return True
        if proc.poll() is not None:
            return os.path.exists(path)
        time.sleep(0.01)
    return False


def summary_of(c, run, rec, target=None, exited=False):
    """The one summary line, parsed and checked against what the run was."""
    lines = [l for l in run.stderr.splitlines() if l.startswith("pytop: recorded ")]
    if len(lines) != 1:
        c.fail("%d summary lines (\"pytop: recorded N samples ...\") on stderr, want 1" % len(lines), run, target)
    m = SUMMARY_RE.match(lines[0])
    if not m:
        c.fail("summary line does not have the documented form: %r" % lines[0], run, target)
    s = m.groupdict()
    if s["path"] != rec:
        c.fail("summary names %r, want the recording %r" % (s["path"], rec), run, target)
    if int(s["samples"]) <= 0:
        c.fail("summary reports no samples", run, target)
    if bool(s["exited"]) != exited:
        c.fail("summary %s \"the target exited\", but the target %s" % (
            "says" if s["exited"] else "does not say", "did exit" if exited else "is still running"), run, target)
    return s


def record(c, tgt, args, timeout=30.0):
    """pytop --record into a new file against tgt; returns (path, run, summary)."""
    rec = os.path.join(c.workdir, "rec%d.pytop" % len(os.listdir(c.workdir)))
    run = c.pytop_run(["--record", rec] + list(args) + ["-p", str(tgt.pid)], timeout=timeout)
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --record failed", run, tgt)
    return rec, run, summary_of(c, run, rec, tgt)


def export(c, rec, fmt, mode, output=None, target=None):
    """Bytes of pytop --export (via -o when output is given)."""
    args = ["--export", rec, "--format", fmt, "--mode", mode] + (["-o", output] if output else [])
    run = c.pytop_run(args, timeout=60)
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --export --format %s --mode %s failed" % (fmt, mode), run, target)
    if output is None:
        return run.raw_stdout, run
    if run.raw_stdout:
        c.fail("pytop --export -o %s also wrote to stdout" % output, run, target)
    with open(output, "rb") as f:
        return f.read(), run


# ---- folded ------------------------------------------------------------------

class Stack(object):
    __slots__ = ("frames", "weight")

    def __init__(self, frames, weight):
        self.frames, self.weight = frames, weight   # frames root first: (function, file, line)


def parse_folded(c, data, what, run=None, target=None):
    """[Stack]; every line must be "frame;frame;... weight" with valid frames."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        c.fail("%s is not UTF-8: %s" % (what, e), run, target)
    stacks, bad = [], []
    for n, line in enumerate(text.splitlines(), 1):
        path, _, weight = line.rpartition(" ")
        frames, why = [], None
        for i, part in enumerate(path.split(";") if path else []):
            m = FOLDED_FRAME_RE.match(part)
            if not m:
                why = "frame %d is %r" % (i, part)
                break
            frames.append((m.group("function"), m.group("file"), m.group("line")))
        if not why and not re.match(r"^[1-9]\d*$", weight):
            why = "weight %r" % weight
        if not why and not frames:
            why = "no frames"
        if why:
            bad.append("line %d: %s in %r" % (n, why, line[:200] + ("..." if len(line) > 200 else "")))
            continue
        stacks.append(Stack(frames, int(weight)))
    if bad:
        c.fail("%s: %d malformed lines (want \"function (file:line);... weight\", weight a positive integer)"
               % (what, len(bad)), run, target, extra=bad[:10])
    return stacks


def shares(stacks, functions):
    """Inclusive share of the total weight, per function, each counted once per stack."""
    total = sum(s.weight for s in stacks)
    out = {}
    for key, (name, path) in functions.items():
        w = sum(s.weight for s in stacks if any(f[0] == name and f[1] == path for f in s.frames))
        out[key] = 100.0 * w / total if total else 0.0
    return out, total


# A caller's line and its callee are read from two frames of one copy of
# the target's frame stack; a call made while the copy runs (under a
# microsecond) can pair the caller's previous line with the new callee.
# Such torn stacks are rare and scattered; a misread code object (a stale
# cache entry) breaks every sample of the code it concerns.
TORN_STACK_SHARE = 0.01


def check_edges(c, stacks, path, edges, what, run=None, target=None):
    """Each edge ((caller, line), callee) must hold both ways: the caller
    (in path) at that line calls nothing but callee (a name in path, or a
    (name, file) pair), and callee is called from nowhere else. A stale or
    misread code object breaks this; at most TORN_STACK_SHARE of the
    weight may, from reads torn by a call made during the copy."""
    bad, bad_weight = [], 0
    total = sum(s.weight for s in stacks)
    for s in stacks:
        problem = _edge_problem(s.frames, path, edges)
        if problem:
            bad.append("%s: %s" % (problem, _folded_line(s)))
            bad_weight += s.weight
    if bad and bad_weight > TORN_STACK_SHARE * total:
        c.fail("%s: %d stacks the target cannot have, %.2f%% of the weight (a code object misread, e.g. a stale "
               "cache entry for a freed object whose address was reused)" % (what, len(bad), 100.0 * bad_weight / total),
               run, target, extra=bad[:10])


def _edge_problem(fr, path, edges):
    """What is wrong with one stack (root first), or None."""
    for i, (func, file, line) in enumerate(fr):
        for (caller, cline), callee in edges:
            want = callee if isinstance(callee, tuple) else (callee, path)
            if (func, file, line) == (caller, path, str(cline)) and i + 1 < len(fr) and fr[i + 1][:2] != want:
                return "%s at line %d calls %s, want %s" % (caller, cline, _label(fr[i + 1]), want[0])
            if (func, file) == want and (i == 0 or fr[i - 1] != (caller, path, str(cline))):
                return "%s is called from %s, want %s at line %d" % (
                    want[0], _label(fr[i - 1]) if i else "nothing", caller, cline)
    return None


def _label(f):
    if f[1] is None:
        return f[0]
    return "%s (%s%s)" % (f[0], f[1], "" if f[2] is None else ":" + f[2])


def _folded_line(s):
    return ";".join(_label(f) for f in s.frames) + " %d" % s.weight


def self_times(stacks):
    """Self (leaf) weight per function name."""
    out = {}
    for s in stacks:
        out[s.frames[-1][0]] = out.get(s.frames[-1][0], 0) + s.weight
    return out


def top(d):
    return max(d.items(), key=lambda kv: kv[1])[0] if d else None


def fmt_shares(d):
    return " ".join("%s=%.1f%%" % (k, v) for k, v in sorted(d.items()))


# ---- target state ------------------------------------------------------------

def proc_state(pid):
    """(state letter, utime+stime ticks) from /proc/PID/stat, or (None, None)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (IOError, OSError):
        return None, None
    fields = data[data.rindex(")") + 2:].split()
    return fields[0], int(fields[11]) + int(fields[12])


def schedstat_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def check_target_running(c, tgt, when):
    """The target is alive, not stopped, and still gets CPU time."""
    if tgt.proc.poll() is not None:
        c.fail("%s: the target exited (status %s)" % (when, tgt.proc.returncode), target=tgt)
    state, _ = proc_state(tgt.pid)
    if state in ("T", "t"):
        c.fail("%s: the target is left stopped (state %s in /proc/%d/stat)" % (when, state, tgt.pid), target=tgt)
    before = schedstat_ns(tgt.pid)
    deadline = time.time() + 5
    while time.time() < deadline:
        time.sleep(0.05)
        if schedstat_ns(tgt.pid) > before:
            return
    c.fail("%s: the target's CPU time did not grow in 5 s (state %s): is it stopped?"
           % (when, proc_state(tgt.pid)[0]), target=tgt)


# ---- recording header (docs/recording.md) --------------------------------------

def read_header(path):
    """(pid, python, command, start_unix_ns, rate_hz) from a recording's header."""
    with open(path, "rb") as f:
        data = f.read(4096)
    if data[:8] != b"PYTOPREC":
        raise ValueError("magic is %r" % data[:8])
    pos = [12]

    def uvarint():
        v, shift = 0, 0
        while True:
            b = bytearray(data[pos[0]:pos[0] + 1])[0]
            pos[0] += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    def string():
        n = uvarint()
        s = data[pos[0]:pos[0] + n]
        pos[0] += n
        return s.decode("utf-8", "replace")
    uvarint()   # meta_len
    return uvarint(), string(), string(), uvarint(), uvarint()


# ---- 1. CPU accuracy -------------------------------------------------------------

def t_cpu_accuracy(c):
    tgt = c.start("engine_cpu_split.py")
    f = tgt.path
    funcs = {"a": ("func_a", f), "b": ("func_b", f)}
    want = {"a": 75.0, "b": 25.0}
    attempts = []
    # A sampler starved by a loaded machine takes few, late samples, and each
    # carries the CPU time of many phases to one stack: the estimate stays
    # unbiased but gets noisy. One more recording settles a noisy one; a
    # pytop that attributes CPU time wrongly misses both times.
    for attempt in range(2):
        cpu0 = schedstat_ns(tgt.pid)
        rec, run, summ = record(c, tgt, ["--rate", "200", "--duration", "4"])
        cpu_used = (schedstat_ns(tgt.pid) - cpu0) / 1e9
        data, erun = export(c, rec, "folded", "cpu", target=tgt)
        stacks = parse_folded(c, data, "folded cpu export", erun, tgt)
        m = tgt.markers
        check_edges(c, stacks, f, [(("<module>", m["call-main"]), "main"), (("main", m["call-a"]), "func_a"),
                                   (("main", m["call-b"]), "func_b")], "folded cpu export", erun, tgt)
        got, total = shares(stacks, funcs)
        recorded = total / 1e6
        # CPU time on one thread cannot exceed the wall time, nor what the
        # kernel says the target used while pytop ran.
        if recorded > float(summ["seconds"]) * 1.05 + 0.02 or recorded > cpu_used * 1.05 + 0.02:
            c.fail("the export holds %.3f s of CPU time, but the recording lasted %s s and the target used "
                   "%.3f s of CPU while pytop ran" % (recorded, summ["seconds"], cpu_used), run, tgt)
        if recorded < cpu_used * 0.5:
            c.fail("the export holds %.3f s of CPU time, but the target used %.3f s while pytop ran"
                   % (recorded, cpu_used), run, tgt)
        attempts.append("%s (%.2f s of CPU over %s s, %s samples, %s late)"
                        % (fmt_shares(got), recorded, summ["seconds"], summ["samples"], summ["late"]))
        if all(abs(got[k] - want[k]) <= CPU_TOLERANCE_PP for k in want):
            return " then ".join(attempts)
    c.fail("CPU shares off by more than %.0f points from a=75%% b=25%% (inclusive, folded, --mode cpu)"
           % CPU_TOLERANCE_PP, run, tgt, extra=["attempt %d: %s" % (i + 1, a) for i, a in enumerate(attempts)])


# ---- 2. a sleeping thread in cpu and wall mode ---------------------------------------

def t_cpu_vs_wall(c):
    tgt = c.start("engine_cpu_wall.py")
    f = tgt.path
    funcs = {"sleeper": ("sleep_forever", f), "spinner": ("spin_forever", f)}
    rec, run, summ = record(c, tgt, ["--rate", "100", "--duration", "2.5"])
    got = {}
    for mode in ("cpu", "wall"):
        data, erun = export(c, rec, "folded", mode, target=tgt)
        got[mode], total = shares(parse_folded(c, data, "folded %s export" % mode, erun, tgt), funcs)
    detail = "cpu: %s; wall: %s" % (fmt_shares(got["cpu"]), fmt_shares(got["wall"]))
    if got["cpu"]["sleeper"] >= 5.0:
        c.fail("the sleeping thread holds %.1f%% of the CPU time, want < 5%% (%s)"
               % (got["cpu"]["sleeper"], detail), run, tgt)
    if not 40.0 <= got["wall"]["sleeper"] <= 60.0:
        c.fail("the sleeping thread holds %.1f%% of the wall time across two threads, want 40-60%% (%s)"
               % (got["wall"]["sleeper"], detail), run, tgt)
    if not 40.0 <= got["wall"]["spinner"] <= 60.0:
        c.fail("the spinning thread holds %.1f%% of the wall time across two threads, want 40-60%% (%s)"
               % (got["wall"]["spinner"], detail), run, tgt)
    return detail


# ---- 2b. where CPU time comes from ------------------------------------------------------

CPU_SOURCE_RE = re.compile(r"^pytop: CPU time: (.*)$", re.M)


def thread_run_ns(pid, tid):
    with open("/proc/%d/task/%d/schedstat" % (pid, tid)) as f:
        return int(f.read().split()[0])


def t_cpu_clock(c):
    """Each thread's CPU time, from its context-switch records (the
    default) and from schedstat (--schedstat), set against what the kernel
    counted for it over the recording: a thread spinning, one in bursts
    that switches out about 250 times a second, one asleep."""
    tgt = c.start("cpu_clock.py")
    f = tgt.path
    keys = {"spinner": ("MainThread", "spin_forever"), "burst": ("burst", "burst_work"),
            "sleeper": ("sleeper", "sleep_forever")}
    tids = dict((k, tgt.tid(key)) for k, (key, _) in keys.items())
    funcs = dict((k, (fn, f)) for k, (_, fn) in keys.items())
    lines = []
    for args, want_source in (([], "from context-switch records"), (["--schedstat"], "from schedstat")):
        before = dict((k, thread_run_ns(tgt.pid, t)) for k, t in tids.items())
        rec, run, summ = record(c, tgt, ["--rate", "200", "--duration", "3"] + args)
        after = dict((k, thread_run_ns(tgt.pid, t)) for k, t in tids.items())
        source = CPU_SOURCE_RE.search(run.stderr)
        if not source or not source.group(1).startswith(want_source):
            c.fail("%s: want a \"pytop: CPU time: %s ...\" line in the summary" % (" ".join(args) or "default",
                   want_source), run, tgt)
        # Threads that switch often are read from schedstat (exact for them,
        # and cheaper for the target): counted, they may take the rest.
        m = re.search(r"for ([\d.]+) % of thread samples", source.group(1))
        busy = re.search(r"; (\d+) threads switching over", source.group(1))
        if not args and (not m or not busy or (float(m.group(1)) < 95.0 and busy.group(1) == "0")):
            c.fail("CPU time from context-switch records for under 95 %% of thread samples, and no "
                   "thread said to switch too often: %s" % source.group(1), run, tgt)
        data, erun = export(c, rec, "folded", "cpu", target=tgt)
        stacks = parse_folded(c, data, "folded cpu export", erun, tgt)
        got = {}
        for k, fr in funcs.items():
            got[k] = sum(s.weight for s in stacks if fr in [(x[0], x[1]) for x in s.frames]) / 1e6
        kernel = dict((k, (after[k] - before[k]) / 1e9) for k in tids)
        # The kernel's count spans attaching and ending too: compare how the
        # CPU time splits, not how much of it there is.
        ratio_got = got["burst"] / max(got["spinner"], 1e-9)
        ratio_kernel = kernel["burst"] / max(kernel["spinner"], 1e-9)
        total = sum(got.values())
        line = ("%s: burst/spinner %.3f (kernel %.3f), sleeper %.3f s of %.2f s"
                % (" ".join(args) or "switch records", ratio_got, ratio_kernel, got["sleeper"], total))
        lines.append(line)
        if total <= 0 or got["sleeper"] > 0.01 * total:
            c.fail("the sleeping thread holds CPU time: %s" % line, run, tgt)
        if abs(ratio_got - ratio_kernel) > 0.05 + 0.1 * ratio_kernel:
            c.fail("the CPU time of the bursting thread against the spinning one is off: %s" % line,
                   run, tgt)
        if total > float(summ["seconds"]) * 2 * 1.05 + 0.05:
            c.fail("more CPU time than two threads have in %s s: %s" % (summ["seconds"], line), run, tgt)
    return "; ".join(lines)


# ---- 3. launch mode ---------------------------------------------------------------------

def t_launch(c):
    script = c.interp.stage(os.path.join(TARGETS_DIR, "engine_launch.py"))
    info_path = os.path.join(c.workdir, "launch.json")
    rec = os.path.join(c.workdir, "launch.pytop")
    run = c.pytop_run(["--record", rec, "--duration", "30", "--"] +
                      c.interp.command(PY_FLAGS + [script, c.inside(info_path)]), timeout=40)
    if run.timed_out or run.sanitizer_report():
        c.fail("pytop --record -- python engine_launch.py did not end cleanly", run)
    if not os.path.exists(info_path):
        c.fail("the launched script did not finish (no %s)" % info_path, run)
    if run.rc != 3:
        c.fail("pytop exited with %s, want 3: the launched program's sys.exit(3)" % run.rc, run)
    summary_of(c, run, rec, exited=True)
    # The script runs ~1.1 s: pytop must stop when it exits, not at --duration.
    if run.duration > 15:
        c.fail("pytop ran %.1f s for a ~1.1 s program: it did not notice the exit" % run.duration, run)
    with open(info_path) as f:
        info = json.load(f)
    pid, _, _, start_ns, _ = read_header(rec)
    if pid != info["pid"]:
        c.fail("the recording's header names pid %d, the launched script ran as %d" % (pid, info["pid"]), run)
    data, erun = export(c, rec, "folded", "wall")
    stacks = parse_folded(c, data, "folded wall export", erun)
    funcs = {"startup_phase": ("startup_phase", script), "main_phase": ("main_phase", script)}
    got, total = shares(stacks, funcs)
    covered = got["startup_phase"] * total / 100.0 / 1e6
    lasted = info["startup_end"] - info["t0"]
    first = start_ns / 1e9 - info["t0"]
    detail = "first sample %+.0f ms from the script's first line; startup_phase %.0f of %.0f ms recorded" % (
        first * 1000, covered * 1000, lasted * 1000)
    # Checked first: a misread frame would also hide startup_phase.
    markers = parse_markers(c.interp.host(script))
    check_edges(c, stacks, script, [(("<module>", markers["call-startup"]), "startup_phase"),
                                    (("<module>", markers["call-main"]), "main_phase")],
                "folded wall export (%s)" % detail, erun)
    if got["startup_phase"] == 0:
        c.fail("startup_phase(), which spins first thing for 100 ms of CPU, is not in the recording: pytop "
               "started sampling too late (%s)" % detail, erun, extra=run.describe())
    if got["main_phase"] == 0:
        c.fail("main_phase() is not in the recording (%s)" % detail, erun, extra=run.describe())
    return detail


def t_launch_missing(c):
    rec = os.path.join(c.workdir, "missing.pytop")
    run = c.pytop_run(["--record", rec, "--", "/nonexistent"], timeout=20)
    problems = []
    if run.timed_out or run.rc is None or run.rc <= 0:
        problems.append("want a non-zero exit (%s)" % ("timed out" if run.timed_out else "rc %s" % run.rc))
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    if len(lines) != 1:
        problems.append("%d lines on stderr, want exactly one" % len(lines))
    if "/nonexistent" not in run.stderr:
        problems.append("stderr does not name the program")
    if run.sanitizer_report():
        problems.append("sanitizer report")
    if problems:
        c.fail("; ".join(problems), run)
    return lines[0]


# ---- 3b. a freed code object's address reused ---------------------------------------------

def t_code_reuse(c):
    report = os.path.join(c.workdir, "reuse.json")
    switch = os.path.join(c.workdir, "switch")
    tgt = c.start("engine_code_reuse.py", args=[c.inside(report), c.inside(switch)])
    rec = os.path.join(c.workdir, "reuse.pytop")
    r = Recorder(c, ["--record", rec, "--rate", "100", "--duration", "3", "-p", str(tgt.pid)])
    try:
        if not wait_for_file(rec, r.proc):
            c.fail("pytop never created %s" % rec, r.wait(1), tgt)
        time.sleep(1.0)   # pytop sees (and decodes) old_func first
        open(switch, "w").close()
        run = r.wait(30)
    finally:
        kill_group(r.proc)
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --record failed", run, tgt)
    summ = summary_of(c, run, rec, tgt)
    if not os.path.exists(report):
        c.fail("the target did not get past the switch", run, tgt)
    with open(report) as f:
        info = json.load(f)
    if not info["reused"]:
        raise TestSkip("the interpreter put no new code object at the freed one's address in %d tries"
                       % info["attempts"])
    _, _, _, start_ns, _ = read_header(rec)
    after = start_ns / 1e9 + float(summ["seconds"]) - info["switch"]
    data, erun = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, "folded wall export", erun, tgt)
    got, total = shares(stacks, {"old": ("old_func", "<old>"), "new": ("new_func", "<new>")})
    new_s, old_s = got["new"] * total / 1e8, got["old"] * total / 1e8
    detail = "old_func %.2f s, new_func %.2f s of the %.2f s after the switch (address reused after %d copies)" % (
        old_s, new_s, after, info["attempts"])
    if after < 0.5:
        c.fail("the recording ended %.2f s after the switch: too early to tell" % after, run, tgt)
    m = tgt.markers
    check_edges(c, stacks, tgt.path, [(("main", m["call-old"]), ("old_func", "<old>")),
                                      (("main", m["call-new"]), ("new_func", "<new>"))],
                "folded wall export (%s)" % detail, erun, tgt)
    if new_s < 0.5 * after:
        c.fail("new_func, running at a freed code object's address for the last %.2f s, holds %.2f s: pytop "
               "reports the old object it decoded there (%s)" % (after, new_s, detail), erun, tgt)
    bad = [_folded_line(s) for s in stacks
           if any(f[:2] == ("new_func", "<new>") and f[2] not in ("41", "42", None) for f in s.frames)]
    if bad:
        c.fail("new_func frames with lines outside 41-42: %s" % bad[:5], erun, tgt)
    return detail


# ---- 4. --duration and signals --------------------------------------------------------

def t_duration(c):
    tgt = c.start("engine_spin.py")
    rec, run, summ = record(c, tgt, ["--duration", "1.5"], timeout=20)
    if not 1.4 <= run.duration <= 4.0:
        c.fail("pytop --duration 1.5 took %.2f s, want 1.5-4 s" % run.duration, run, tgt)
    if not 1.4 <= float(summ["seconds"]) <= 2.5:
        c.fail("the summary says %s s for --duration 1.5" % summ["seconds"], run, tgt)
    check_target_running(c, tgt, "after pytop --duration 1.5 ended")
    return "ended after %.2f s, %s samples" % (run.duration, summ["samples"])


def t_signals(c):
    tgt = c.start("engine_spin.py")
    details = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
        rec = os.path.join(c.workdir, "%s.pytop" % name)
        r = Recorder(c, ["--record", rec, "-p", str(tgt.pid)])
        try:
            if not wait_for_file(rec, r.proc):
                c.fail("%s: pytop never created %s" % (name, rec), r.wait(1), tgt)
            time.sleep(1.0)
            if r.proc.poll() is not None:
                c.fail("%s: pytop --record without --duration ended by itself" % name, r.wait(1), tgt)
            t_sig = time.time()
            r.proc.send_signal(sig)
            run = r.wait(10)
        finally:
            kill_group(r.proc)
        if run.timed_out:
            c.fail("pytop did not end within 10 s of %s" % name, run, tgt)
        if run.rc != 0 or run.sanitizer_report():
            c.fail("pytop --record ended by %s: want exit 0" % name, run, tgt)
        summ = summary_of(c, run, rec, tgt)
        data, erun = export(c, rec, "folded", "wall", target=tgt)
        stacks = parse_folded(c, data, "folded export after %s" % name, erun, tgt)
        if not any(s.frames[-1][0] == "spin_forever" for s in stacks):
            c.fail("the recording ended by %s has no spin_forever" % name, erun, tgt)
        check_target_running(c, tgt, "after pytop was ended by %s" % name)
        details.append("%s: %s samples, exit after %.0f ms" % (name, summ["samples"], (time.time() - t_sig) * 1000))
    return "; ".join(details)


# ---- 5. SIGKILL ---------------------------------------------------------------------------

def t_sigkill(c):
    tgt = c.start("engine_spin.py")
    rec = os.path.join(c.workdir, "killed.pytop")
    r = Recorder(c, ["--record", rec, "--rate", "100", "-p", str(tgt.pid)])
    try:
        if not wait_for_file(rec, r.proc):
            c.fail("pytop never created %s" % rec, r.wait(1), tgt)
        started = time.time()
        time.sleep(2.5)
        if r.proc.poll() is not None:
            c.fail("pytop --record without --duration ended by itself", r.wait(1), tgt)
        alive = time.time() - started
        r.proc.send_signal(signal.SIGKILL)
        run = r.wait(10)
    finally:
        kill_group(r.proc)
    data, erun = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, "folded wall export of a recording cut by SIGKILL", erun, tgt)
    covered = sum(s.weight for s in stacks) / 1e6
    if covered < 1.2:
        c.fail("the recording of a recorder killed after %.1f s holds %.2f s of samples, want at least 1.2 s"
               % (alive, covered), erun, tgt, extra=run.describe())
    check_target_running(c, tgt, "after the recorder was killed")
    return "%.2f s of samples readable after SIGKILL at %.1f s" % (covered, alive)


# ---- 6. every export format, read by its consumer --------------------------------------

PSTATS_LOADER = r"""
import json, pstats, sys
st = pstats.Stats(sys.argv[1])
rows = [(k[0], k[1], k[2], v[0], v[1], v[2], v[3]) for k, v in st.stats.items()]
print(json.dumps({"rows": rows, "total_tt": st.total_tt}))
"""


def consumer_python():
    return "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def parse_text_proto(text):
    """protoc's text format to nested dicts of lists: {"field": [value or dict, ...]}."""
    root = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "}":
            stack.pop()
            continue
        if line.endswith("{"):
            child = {}
            stack[-1].setdefault(line[:-1].strip(), []).append(child)
            stack.append(child)
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if value.startswith('"'):
            value = json.loads(value) if "\\" not in value else value.strip('"')
        else:
            try:
                value = int(value)
            except ValueError:
                pass
        stack[-1].setdefault(key.strip(), []).append(value)
    return root


def pprof_self_times(doc):
    """Self time per function name from a decoded perftools Profile."""
    strings = doc.get("string_table", [])
    funcs = dict((f["id"][0], strings[f.get("name", [0])[0]]) for f in doc.get("function", []))
    locs = dict((l["id"][0], funcs.get(l["line"][0]["function_id"][0])) for l in doc.get("location", []))
    out = {}
    for s in doc.get("sample", []):
        leaf = locs.get(s["location_id"][0])
        out[leaf] = out.get(leaf, 0) + s["value"][1]
    return out, strings


def check_roundtrip_mode(c, tgt, rec, mode, outdir):
    """Exports rec in every format for one mode; returns ({format: total seconds}, hot_function's
    share of the self time in %, notes on what could not be checked)."""
    f = tgt.path
    totals, notes = {}, []
    base = os.path.join(outdir, mode)
    leaf_hot = "hot_function"

    # folded
    data, erun = export(c, rec, "folded", mode, target=tgt)
    stacks = parse_folded(c, data, "folded %s" % mode, erun, tgt)
    totals["folded"] = sum(s.weight for s in stacks) / 1e6
    m = tgt.markers
    check_edges(c, stacks, f, [(("<module>", m["call-main"]), "main"), (("main", m["call-hot"]), "hot_function"),
                               (("main", m["call-cold"]), "cold_function")], "folded %s" % mode, erun, tgt)
    st = self_times(stacks)
    if mode == "cpu":
        if top(st) != leaf_hot:
            c.fail("folded cpu: the top function by self time is %r, want hot_function: %s"
                   % (top(st), sorted(st.items(), key=lambda kv: -kv[1])[:5]), erun, tgt)
        heaviest = max(stacks, key=lambda s: s.weight)
        if heaviest.frames[-1][:2] != (leaf_hot, f):
            c.fail("folded cpu: the heaviest line ends in %r, want hot_function" % (heaviest.frames[-1],), erun, tgt)
    if st.get(leaf_hot, 0) <= st.get("cold_function", 0):
        c.fail("folded %s: hot_function (%d us) is not above cold_function (%d us)"
               % (mode, st.get(leaf_hot, 0), st.get("cold_function", 0)), erun, tgt)

    # speedscope
    data, erun = export(c, rec, "speedscope", mode, output=base + ".speedscope.json", target=tgt)
    try:
        doc = json.loads(data.decode("utf-8"))
        frames = doc["shared"]["frames"]
        ss_self, ss_total, names = {}, 0.0, []
        for p in doc["profiles"]:
            names.append(p["name"])
            if p["type"] != "sampled" or len(p["samples"]) != len(p["weights"]):
                raise ValueError("profile %r: type %r, %d samples, %d weights"
                                 % (p["name"], p["type"], len(p["samples"]), len(p["weights"])))
            for stack, w in zip(p["samples"], p["weights"]):
                if not stack or any(not 0 <= i < len(frames) for i in stack):
                    raise ValueError("profile %r: bad frame indices %r" % (p["name"], stack))
                leaf = frames[stack[-1]]["name"]
                ss_self[leaf] = ss_self.get(leaf, 0.0) + w
            total = sum(p["weights"])
            if abs(total - (p["endValue"] - p["startValue"])) > 1e-6 + 1e-6 * total:
                raise ValueError("profile %r: weights add up to %r, endValue - startValue is %r"
                                 % (p["name"], total, p["endValue"] - p["startValue"]))
            ss_total += total
    except (ValueError, KeyError, TypeError, IndexError) as e:
        c.fail("speedscope %s: not a valid speedscope document: %s" % (mode, e), erun, tgt)
    totals["speedscope"] = ss_total
    if mode == "cpu" and top(ss_self) != leaf_hot:
        c.fail("speedscope cpu: the top frame by self time is %r, want hot_function" % top(ss_self), erun, tgt)
    if not any(n.startswith("MainThread") for n in names):
        c.fail("speedscope %s: no profile named after MainThread: %r" % (mode, names), erun, tgt)

    # pstats, loaded by the system's Python
    path = base + ".pstats"
    export(c, rec, "pstats", mode, output=path, target=tgt)
    py = consumer_python()
    p = subprocess.run([py, "-c", PSTATS_LOADER, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        c.fail("pstats %s: %s cannot load it: %s" % (mode, py, p.stderr.decode("utf-8", "replace")[-2000:]),
               target=tgt)
    rows = json.loads(p.stdout.decode("utf-8"))["rows"]
    totals["pstats"] = sum(r[5] for r in rows)
    by_tt = sorted(rows, key=lambda r: -r[5])
    if mode == "cpu" and (by_tt[0][2], by_tt[0][0]) != (leaf_hot, f):
        c.fail("pstats cpu: the top entry by tottime is %r, want hot_function in %s" % (by_tt[0][:3], f),
               extra=["%s:%s(%s) tottime %.3f" % (r[0], r[1], r[2], r[5]) for r in by_tt[:6]], target=tgt)

    # callgrind, read by callgrind_annotate
    path = base + ".callgrind"
    data, erun = export(c, rec, "callgrind", mode, output=path, target=tgt)
    event = "CpuNs" if mode == "cpu" else "WallNs"
    m = re.search(r"^events:\s*(.*)$", data.decode("utf-8", "replace"), re.M)
    if not m or event not in m.group(1).split():
        c.fail("callgrind %s: events line is %r, want one with %s" % (mode, m and m.group(0), event), erun, tgt)
    tm = re.search(r"^totals:\s*(.*)$", data.decode("utf-8", "replace"), re.M)
    if tm:
        totals["callgrind"] = int(tm.group(1).split()[m.group(1).split().index(event)]) / 1e9
    annotate = shutil.which("callgrind_annotate")
    if annotate:
        p = subprocess.run([annotate, "--sort=%s" % event, path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        if p.returncode != 0:
            c.fail("callgrind_annotate rejects the callgrind %s export: %s" % (
                mode, p.stderr.decode("utf-8", "replace")[-2000:]), target=tgt)
        if mode == "cpu":
            # The first row under the "file:function" header is the top function.
            rows = [l for l in out.splitlines() if re.match(r"^\s*[\d,]+ ", l) and ":" in l
                    and "PROGRAM TOTALS" not in l]
            if not rows or leaf_hot not in rows[0]:
                c.fail("callgrind_annotate --sort=%s: top row is %r, want hot_function"
                       % (event, rows[0] if rows else None), extra=out.splitlines()[:40], target=tgt)
    else:
        notes.append("callgrind_annotate not installed")

    # pprof: gzip, then protoc with the real schema
    path = base + ".pb.gz"
    data, erun = export(c, rec, "pprof", mode, output=path, target=tgt)
    if data[:2] != b"\x1f\x8b":
        c.fail("pprof %s: not gzip (starts with %r)" % (mode, data[:4]), erun, tgt)
    raw = gzip.decompress(data)
    protoc = shutil.which("protoc")
    proto = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "profile.proto")
    if protoc and os.path.exists(proto):
        p = subprocess.run([protoc, "--proto_path=" + os.path.dirname(proto),
                            "--decode=perftools.profiles.Profile", proto],
                           input=raw, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            c.fail("pprof %s: protoc --decode=perftools.profiles.Profile fails: %s"
                   % (mode, p.stderr.decode("utf-8", "replace")[-2000:]), erun, tgt)
        doc = parse_text_proto(p.stdout.decode("utf-8", "replace"))
        pp_self, strings = pprof_self_times(doc)
        kinds = [strings[t["type"][0]] for t in doc.get("sample_type", [])]
        if kinds != ["samples", mode]:
            c.fail("pprof %s: sample types %r, want ['samples', %r]" % (mode, kinds, mode), erun, tgt)
        totals["pprof"] = sum(pp_self.values()) / 1e9
        if mode == "cpu" and top(pp_self) != leaf_hot:
            c.fail("pprof cpu: the top leaf by time is %r, want hot_function" % top(pp_self), erun, tgt)
    elif protoc:
        p = subprocess.run([protoc, "--decode_raw"], input=raw, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0 or b"hot_function" not in p.stdout:
            c.fail("pprof %s: protoc --decode_raw fails or has no hot_function" % mode, erun, tgt)
    else:
        notes.append("protoc not installed")

    # svg, parsed as XML
    data, erun = export(c, rec, "svg", mode, output=base + ".svg", target=tgt)
    try:
        dom = xml.dom.minidom.parseString(data)
    except Exception as e:   # expat raises its own error types
        c.fail("svg %s: not well-formed XML: %s" % (mode, e), erun, tgt)
    if dom.documentElement.tagName != "svg":
        c.fail("svg %s: root element is <%s>" % (mode, dom.documentElement.tagName), erun, tgt)
    texts = " ".join(n.data for n in _text_nodes(dom.documentElement))
    if leaf_hot not in texts:
        c.fail("svg %s: hot_function appears in no text or title" % mode, erun, tgt)

    # One recording, one total: every format must carry the same time.
    ref = totals["folded"]
    off = dict((k, v) for k, v in totals.items() if abs(v - ref) > 0.005 * ref + 0.001)
    if off:
        c.fail("%s exports disagree on the total time: %s" % (mode, ", ".join(
            "%s %.4f s" % kv for kv in sorted(totals.items()))), target=tgt)
    return totals, 100.0 * st.get(leaf_hot, 0) / max(1, sum(st.values())), notes


def _text_nodes(node):
    for ch in node.childNodes:
        if ch.nodeType in (ch.TEXT_NODE, ch.CDATA_SECTION_NODE):
            yield ch
        else:
            for t in _text_nodes(ch):
                yield t


def t_export_roundtrip(c):
    tgt = c.start("engine_hot.py")
    rec, run, summ = record(c, tgt, ["--rate", "200", "--duration", "2"])
    outdir = c.subdir("exports")
    notes, parts = [], []
    for mode in ("cpu", "wall"):
        totals, hot, n = check_roundtrip_mode(c, tgt, rec, mode, outdir)
        notes += n
        parts.append("%s: hot_function %.1f%% self, %.2f s in each of %s" % (
            mode, hot, totals["folded"], "/".join(sorted(totals))))
    missing = sorted(set(notes))
    if missing:
        # The other formats passed; say plainly what could not be checked.
        raise TestSkip("%s; not checked: %s" % ("; ".join(parts), ", ".join(missing)))
    return "; ".join(parts)


# ---- 7. snapshots ------------------------------------------------------------------------

def t_snapshots(c):
    tgt = c.start("engine_spin.py")
    d = c.subdir("snapshots")
    rec = os.path.join(c.workdir, "snap.pytop")
    # Wall time, so each snapshot of one thread must hold about its 1 s window.
    r = Recorder(c, ["--record", rec, "--duration", "3.5", "--snapshot-every", "1", "--snapshot-dir", d,
                     "--snapshot-format", "folded", "--mode", "wall", "-p", str(tgt.pid)])
    pattern = os.path.join(d, "pytop-%d-*.folded" % tgt.pid)
    seen = {}
    try:
        while r.proc.poll() is None and time.time() - r.t0 < 30:
            for p in glob.glob(pattern):
                seen.setdefault(p, time.time() - r.t0)
            time.sleep(0.05)
        run = r.wait(5)
    finally:
        kill_group(r.proc)
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --record with snapshots failed", run, tgt)
    summary_of(c, run, rec, tgt)
    listing = ["snapshot dir: %s" % (sorted(os.listdir(d)),)]
    if len(seen) < 2:
        c.fail("%d snapshot files named pytop-%d-*.folded appeared while recording, want at least 2"
               % (len(seen), tgt.pid), run, tgt, extra=listing)
    leftovers = [n for n in os.listdir(d) if not re.match(r"^pytop-%d-.*\.folded$" % tgt.pid, n)]
    if leftovers:
        c.fail("files other than snapshots left in the snapshot dir: %s" % leftovers, run, tgt)
    windows = []
    for p in sorted(glob.glob(pattern)):
        with open(p, "rb") as fh:
            data = fh.read()
        if not data.strip():
            c.fail("snapshot %s is empty" % p, run, tgt, extra=listing)
        stacks = parse_folded(c, data, "snapshot %s" % os.path.basename(p), run, tgt)
        if not any(s.frames[-1][0] == "spin_forever" for s in stacks):
            c.fail("snapshot %s does not have spin_forever" % p, run, tgt)
        windows.append(sum(s.weight for s in stacks) / 1e6)
        if not 0.5 <= windows[-1] <= 1.25:
            c.fail("snapshot %s holds %.2f s of wall time of one thread, want its last 1 s (0.5-1.25 s)"
                   % (os.path.basename(p), windows[-1]), run, tgt, extra=listing)
    data, erun = export(c, rec, "folded", "cpu", target=tgt)
    parse_folded(c, data, "folded export", erun, tgt)
    return "%d snapshots seen at %s s while recording, holding %s s" % (
        len(seen), ", ".join("%.1f" % t for t in sorted(seen.values())), ", ".join("%.2f" % w for w in windows))


def t_snapshot_unwritable(c):
    tgt = c.start("engine_spin.py", interp=c.suite.interps[-1])
    blocker = os.path.join(c.workdir, "a-regular-file")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    rec = os.path.join(c.workdir, "rec.pytop")
    run = c.pytop_run(["--record", rec, "--duration", "2.5", "--snapshot-every", "1", "--snapshot-dir",
                       os.path.join(blocker, "snaps"), "--snapshot-format", "folded", "-p", str(tgt.pid)],
                      timeout=20)
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("a snapshot dir that cannot be written must not end the recording: want exit 0", run, tgt)
    failed = [l for l in run.stderr.splitlines() if "snapshot" in l.lower() and "fail" in l.lower()]
    if not failed:
        c.fail("no message on stderr saying the snapshot failed", run, tgt)
    summary_of(c, run, rec, tgt)
    data, erun = export(c, rec, "folded", "cpu", target=tgt)
    if not parse_folded(c, data, "folded export", erun, tgt):
        c.fail("the recording made while snapshots failed has nothing in it", erun, tgt)
    return failed[0]


# ---- 8. bad inputs ---------------------------------------------------------------------------

def expect_error(run, rc=None, words=()):
    """Problems with a run that should have failed with one line on stderr."""
    problems = []
    if run.timed_out:
        return ["timed out"]
    if rc is not None and run.rc != rc:
        problems.append("exit %s, want %d" % (run.rc, rc))
    elif rc is None and (run.rc is None or run.rc <= 0):
        problems.append("exit %s, want non-zero" % run.rc)
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    if len(lines) != 1:
        problems.append("%d lines on stderr, want one" % len(lines))
    for w in words:
        if w.lower() not in run.stderr.lower():
            problems.append("stderr does not mention %r" % w)
    if run.sanitizer_report():
        problems.append("sanitizer report")
    return problems


def t_export_not_recording(c):
    failures = []
    for name, content in (("notes.txt", b"just some text\nnot a recording\n"), ("empty.pytop", b"")):
        src = os.path.join(c.workdir, name)
        with open(src, "wb") as f:
            f.write(content)
        out = os.path.join(c.workdir, name + ".folded")
        run = c.pytop_run(["--export", src, "--format", "folded", "-o", out], timeout=20)
        problems = expect_error(run, None, ["not a pytop recording"])
        if os.path.exists(out):
            problems.append("left an output file %s behind" % out)
        if problems:
            failures.append(("%s: %s" % (name, "; ".join(problems)), run))
    if failures:
        c.fail(failures[0][0], failures[0][1], extra=["also: " + f[0] for f in failures[1:]])


def t_bad_options(c):
    rec = os.path.join(c.workdir, "never.pytop")
    cases = [
        (["--record", rec, "--rate", "0", "-p", "1"], ["--rate"]),
        (["--record", rec, "--rate", "abc", "-p", "1"], ["--rate"]),
        (["--record", rec, "--duration", "-1", "-p", "1"], ["--duration"]),
        (["--record", rec], ["target"]),
        # Not a weight the live view or a replay shows first: 'm' sorts by memory.
        (["--mode", "memory", "-p", "1"], ["--mode memory", "'m'"]),
        (["--replay", rec, "--mode", "memory"], ["--mode memory", "'m'"]),
    ]
    for args, words in cases:
        run = c.pytop_run(args, timeout=10)
        problems = expect_error(run, 2, words)
        if os.path.exists(rec):
            problems.append("created %s although the command line was refused" % rec)
        if problems:
            c.fail("pytop %s: %s" % (" ".join(args[2:]), "; ".join(problems)), run)


def t_export_memory_of_v10(c):
    # A format 1.0 recording holds no memory growth: the memory export is
    # empty, and pytop says why instead of writing an empty profile silently.
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds",
                       "recording", "v1.0-small.rec")
    out = os.path.join(c.workdir, "v10.folded")
    run = c.pytop_run(["--export", src, "--format", "folded", "--mode", "memory", "-o", out],
                      timeout=20)
    problems = []
    if run.rc != 0:
        problems.append("exit %r, want 0" % (run.rc,))
    if "no memory growth" not in run.stderr:
        problems.append("stderr does not say the recording holds no memory growth")
    if problems:
        c.fail("; ".join(problems), run)


# ---- the list ----------------------------------------------------------------------------------

PER_INTERPRETER = [
    ("engine_cpu_accuracy", t_cpu_accuracy),
    ("engine_cpu_vs_wall", t_cpu_vs_wall),
    ("engine_cpu_clock", t_cpu_clock),
    ("engine_launch", t_launch),
    ("engine_code_reuse", t_code_reuse),
    ("engine_duration", t_duration),
    ("engine_signals", t_signals),
    ("engine_sigkill", t_sigkill),
    ("engine_export_roundtrip", t_export_roundtrip),
    ("engine_snapshots", t_snapshots),
]

ONCE = [
    ("engine_launch_missing_program", t_launch_missing, False),
    ("engine_snapshot_dir_unwritable", t_snapshot_unwritable, True),
    ("engine_export_not_recording", t_export_not_recording, False),
    ("engine_bad_options", t_bad_options, False),
    ("engine_export_memory_of_v10", t_export_memory_of_v10, False),
]


def build(interps):
    keys = engine_keys()
    chosen = [i for i in interps if i.key in keys or i.selected]
    tests = []
    for key, label in sorted(keys.items(), key=lambda kv: ENGINE_INTERPRETERS.index(kv[1])):
        if not any(i.key == key for i in chosen):
            tests.append(Test("engine[%s]" % label, None, skip="no %s among the interpreters found or "
                              "selected: its engine tests did not run" % label))
    for name, fn in PER_INTERPRETER:
        for interp in chosen:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp))
    for name, fn, needs_python in ONCE:
        if needs_python and not interps:
            tests.append(Test(name, fn, skip="no Python interpreter found"))
        else:
            tests.append(Test(name, fn))
    return tests
