"""Functional tests of when pytop samples and how it credits CPU time:
shares of a target whose work repeats on a fixed cycle stay true whatever
the cycle is against the sampling period (the sampler cannot lock onto
it), and a target's CPU shares stay true with CPU-bound processes beside
it on the machine.

The truth is set by construction in targets/timing_periodic.py: func_a
for 75 % of every cycle, func_b for the rest, and the target's own count
of the time spent in each (its status file), compared with what pytop
recorded over the same time. Wall mode is checked on a target that sleeps
through a wall-clock cycle (a timer loop, whose phase nothing on the
machine disturbs), CPU mode on one that spins through a cycle of its own
CPU clock. Where it is allowed, the recorders run under SCHED_FIFO (chrt
-f 1) so that their instants are the ones the sampler chose, not the
ones a loaded machine gives it: a sampler that locks onto a period is
then caught whatever the load.

Statistics: a share estimated from n samples taken at random instants
varies by about sqrt(p (1 - p) / n): 1.4 points for 1,000 samples (10 s
at 100 Hz), 0.45 for 10,000 (10 s at 1 kHz). A fixed bound of 2 points on
one 10 s recording at 100 Hz would fail one run in six however right the
sampler is, so at 100 Hz several recorders run at once, each bounded at
3.5 standard errors, and their pooled share is held to 2 points (3 on a
busy machine). A sampler locked onto the cycle reads anything from 0 to 100 (before
random instants, with the recorders under SCHED_FIFO: 99.6, 1.2, 98.6 and
98.3 for a 10 ms cycle at 100 Hz; 13.7 for a 1 ms cycle at 1 kHz). The
CPU-mode targets, whose cycle follows their own CPU clock, drift against
the wall clock whenever they wait for a CPU, so on a loaded machine they
do not catch a lock; the wall-mode ones do.
"""
import math
import os
import re
import subprocess
import time

from engine import export, parse_folded, pytop_env, summary_of
from harness import TestSkip, kill_group, popen
from scenarios import Test

RECORD_SECONDS = 10
LOW_RATE_RECORDERS = 4
A_SHARE = 75.0

# (label, cycle in ms): 10 ms is the period at 100 Hz and a multiple of it at
# 1 kHz; 1 ms the period at 1 kHz and divides 10 ms; 20 ms a multiple of
# both; 0.5 ms divides both.
# Bound in points: on cycles of a millisecond or less, some runs read
# func_a 1-2 points off at both rates (so not a lock: at 100 Hz the cycle
# divides the period); a call and the clock reads around it are then a
# noticeable part of the cycle. They get 3 points, the 0.5 ms cycle 4 (one
# suite run of about a dozen on a loaded machine read just over 3).
CYCLES = [("cycle=period@100Hz", 10.0, 2.0), ("cycle=period@1kHz", 1.0, 3.0),
          ("cycle=2periods@100Hz", 20.0, 2.0), ("cycle=period/2@1kHz", 0.5, 4.0)]

# The CPU-hog tests run on these (major, minor); one named SKIP for each missing.
BUSY_INTERPRETERS = [(2, 7), (3, 8), (3, 12), (3, 13)]


def read_status(c, path, tgt):
    """(cpu_a, cpu_b, wall_a, wall_b) in seconds, as the target counted them."""
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            with open(path) as f:
                values = tuple(float(x) for x in f.read().split())
            if len(values) == 4:
                return values
        except (IOError, OSError, ValueError):
            pass
        time.sleep(0.05)
    c.fail("the target wrote no status file %s" % path, target=tgt)


_REALTIME = []


def realtime_prefix():
    """["chrt", "-f", "1"] when this user may run pytop under SCHED_FIFO, else []."""
    if not _REALTIME:
        try:
            ok = subprocess.call(["chrt", "-f", "1", "true"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) == 0
        except OSError:
            ok = False
        _REALTIME.append(["chrt", "-f", "1"] if ok else [])
    return _REALTIME[0]


def start_recorders(c, tgt, rates, seconds, prefix=(), args=()):
    """pytop --record at each rate, all at once; [(rate, path, proc, err path, command)]."""
    out = []
    for i, rate in enumerate(rates):
        rec = os.path.join(c.workdir, "rec-%d-%d.pytop" % (rate, i))
        err = os.path.join(c.workdir, "rec-%d-%d.err" % (rate, i))
        cmd = list(prefix) + [c.pytop, "--record", rec, "--rate", str(rate), "--duration", str(seconds), "-p", str(tgt.pid)] + list(args)
        with open(err, "wb") as ef:
            p = popen(cmd, stdin=subprocess.DEVNULL, stdout=ef, stderr=ef, env=pytop_env(), cwd="/")
        out.append((rate, rec, p, err, cmd))
    return out


class _Run(object):
    """Enough of a PytopRun for summary_of and c.fail."""

    def __init__(self, cmd, rc, stderr, timed_out):
        self.cmd, self.rc, self.stderr, self.timed_out = cmd, rc, stderr, timed_out

    def describe(self):
        return ["command: %s" % " ".join(self.cmd), "exit: %s%s" % (self.rc, " (timed out)" if self.timed_out else "")] + \
            ["  | " + l for l in self.stderr.rstrip("\n").split("\n")[-20:]]

    def sanitizer_report(self):
        return "Sanitizer" in self.stderr or "runtime error:" in self.stderr


def wait_recorders(c, tgt, recs, seconds):
    runs = []
    for rate, rec, p, err, cmd in recs:
        timed_out = False
        try:
            p.wait(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            timed_out = True
        kill_group(p)
        with open(err, "rb") as f:
            stderr = f.read().decode("utf-8", "replace")
        run = _Run(cmd, p.returncode, stderr, timed_out)
        if timed_out or p.returncode != 0 or run.sanitizer_report():
            c.fail("pytop --record --rate %d failed" % rate, run, tgt)
        runs.append((rate, rec, run, summary_of(c, run, rec, tgt)))
    return runs


def share_a(c, rec, mode, tgt):
    """(func_a's share of func_a + func_b in percent, samples weight) from the folded export."""
    data, erun = export(c, rec, "folded", mode, target=tgt)
    a = b = 0
    for s in parse_folded(c, data, "folded %s export" % mode, erun, tgt):
        names = [f[0] for f in s.frames]
        if "func_a" in names:
            a += s.weight
        elif "func_b" in names:
            b += s.weight
    if a + b == 0:
        c.fail("no time in func_a or func_b in the %s export" % mode, erun, tgt)
    return 100.0 * a / (a + b)


def stderr_pp(p, n):
    return 100.0 * math.sqrt(max(p, 1.0) / 100.0 * max(100.0 - p, 1.0) / 100.0 / max(n, 1))


def measure(c, tgt, status, rates, seconds, modes, prefix=()):
    """{mode: [(rate, share, samples, summary)]} and {mode: the target's own share of func_a}."""
    s0 = read_status(c, status, tgt)
    recs = start_recorders(c, tgt, rates, seconds, prefix)
    runs = wait_recorders(c, tgt, recs, seconds)
    time.sleep(0.6)   # the status file is rewritten twice a second
    s1 = read_status(c, status, tgt)
    if tgt.proc.poll() is not None:
        c.fail("the target exited during the recording", target=tgt)
    d = [b - a for a, b in zip(s0, s1)]
    truth = {"cpu": 100.0 * d[0] / max(d[0] + d[1], 1e-9), "wall": 100.0 * d[2] / max(d[2] + d[3], 1e-9)}
    got = {}
    for mode in modes:
        got[mode] = [(rate, share_a(c, rec, mode, tgt), int(s["samples"]), s) for rate, rec, run, s in runs]
    return got, truth


def check_shares(c, tgt, got, truth, bound_pp, what):
    """Each recorder within 3.5 standard errors (at least bound_pp); each
    rate's pooled share within bound_pp. Returns a line of figures."""
    lines, problems = [], []
    for mode, results in sorted(got.items()):
        want = truth[mode]
        for rate in sorted(set(r for r, _, _, _ in results)):
            mine = [(share, n, s) for r, share, n, s in results if r == rate]
            n_all = sum(n for _, n, _ in mine)
            pooled = sum(share * n for share, n, _ in mine) / max(n_all, 1)
            for share, n, s in mine:
                tol = max(bound_pp, 3.5 * stderr_pp(want, n))
                if abs(share - want) > tol:
                    problems.append("%s %d Hz: func_a %.1f%% in one recording of %d samples (%s late), want %.1f +- %.1f"
                                    % (mode, rate, share, n, s["late"], want, tol))
            if abs(pooled - want) > bound_pp:
                problems.append("%s %d Hz: func_a %.1f%% over %d recordings (%d samples), want %.1f +- %.1f"
                                % (mode, rate, pooled, len(mine), n_all, want, bound_pp))
            lines.append("%s %d Hz %.1f (want %.1f; %s)" % (
                mode, rate, pooled, want, "/".join("%.1f" % sh for sh, _, _ in mine)))
    if problems:
        c.fail("%s: func_a's share is off" % what, target=tgt, extra=problems + lines)
    return "; ".join(lines)


def t_periodic(mode, cycle_ms, bound_pp):
    def run(c):
        status = os.path.join(c.workdir, "status")
        clock = "sleep" if mode == "wall" else "cpu"
        tgt = c.start("timing_periodic.py", args=[str(cycle_ms), clock, status])
        rates = [1000] + [100] * LOW_RATE_RECORDERS
        prefix = realtime_prefix()
        got, truth = measure(c, tgt, status, rates, RECORD_SECONDS, (mode,), prefix)
        # By construction func_a has 75 % of each cycle; the target counts
        # what it got (around each call, so a short cycle's calls count).
        line = check_shares(c, tgt, got, truth, bound_pp, "a %g ms %s cycle sampled at 100 Hz and 1 kHz%s"
                            % (cycle_ms, clock, " under SCHED_FIFO" if prefix else ""))
        return line + ("; under SCHED_FIFO" if prefix else "; normal scheduling (chrt -f 1 not allowed)")
    return run


def t_busy(c, clock="cpu", rates=None):
    status = os.path.join(c.workdir, "status")
    tgt = c.start("timing_periodic.py", args=["10", clock, status])
    hogs = [popen(["sh", "-c", "while :; do :; done"], stdin=subprocess.DEVNULL) for _ in range(2)]
    try:
        rates = rates or [1000] + [100] * LOW_RATE_RECORDERS
        got, truth = measure(c, tgt, status, rates, 8, ("cpu",))
    finally:
        for h in hogs:
            kill_group(h)
    if clock == "cpu" and abs(truth["cpu"] - A_SHARE) > 2:
        c.fail("the target's own CPU split is %.1f/%.1f, not 75/25" % (truth["cpu"], 100 - truth["cpu"]), target=tgt)
    return check_shares(c, tgt, got, truth, 3.0, "the target's own CPU split (%s clock) with two CPU "
                        "hogs beside it" % clock)


def t_busy_wall_clock(c):
    """The same target timing its parts by the wall clock, spinning (a
    timer loop): preempted, it loses CPU time in whichever part the wait
    falls, so only its own count (CPU time around each call) is the
    truth. With CPU time read from schedstat alone this read func_a 4
    points under to 13 over; from context-switch records, within 1.5 at
    1 kHz. At 100 Hz each sample carries the CPU time of a whole 10 ms
    cycle to the one function it is in, and recorders read 72-79 % for
    75 % whatever the build, so only 1 kHz is held to the bound."""
    return t_busy(c, "wall", [1000, 1000])


def strace_available():
    try:
        return subprocess.call(["strace", "-qq", "-o", os.devnull, "true"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) == 0
    except OSError:
        return False


def t_catch_up(c):
    """Asked for more than the machine gives, the sampler samples back to
    back: it counts the instants it skipped and does not sleep between
    samples (counted with strace, which also slows each sample, so the
    sampler is behind whatever the load). Under SCHED_FIFO, where allowed,
    it is also busy sampling for most of the run."""
    if not strace_available():
        raise TestSkip("strace is not installed or not allowed here")
    tgt = c.start("engine_spin.py")
    counts = os.path.join(c.workdir, "strace.txt")
    # LeakSanitizer cannot run under ptrace.
    asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS", ""), "detect_leaks=0") if o)
    prefix = ["strace", "-f", "-qq", "-c", "-e", "trace=clock_nanosleep", "-o", counts,
              "-E", "ASAN_OPTIONS=" + asan]
    recs = start_recorders(c, tgt, [50000], 2, prefix)
    (rate, rec, run, summ), = wait_recorders(c, tgt, recs, 2)
    samples = int(summ["samples"])
    sleeps = 0
    with open(counts) as f:
        for line in f:
            fields = line.split()
            if fields and fields[-1] == "clock_nanosleep":
                sleeps = int(fields[3])
    skipped = [l for l in run.stderr.splitlines() if "skipped" in l]
    if not skipped or not re.search(r"[1-9]\d*( instants)? skipped", skipped[0]):
        c.fail("asked for 50 kHz under strace, no skipped instants were reported", run, tgt)
    if sleeps > 0.05 * samples:
        c.fail("the sampler slept %d times in %d samples though it was behind (want back to back: "
               "at most 5 %%)" % (sleeps, samples), run, tgt)
    line = "%d sleeps in %d samples at 50 kHz under strace" % (sleeps, samples)
    prefix = realtime_prefix()
    if not prefix:
        return line + "; SCHED_FIFO not allowed: busy share not checked"
    recs = start_recorders(c, tgt, [100000], 2, prefix)
    (rate, rec, run, summ), = wait_recorders(c, tgt, recs, 2)
    busy = float(summ["achieved"]) * float(summ["us"]) / 1e6
    if busy < 0.6:
        c.fail("asked for 100 kHz under SCHED_FIFO, the sampler was busy %.0f %% of the run "
               "(%.0f Hz at %.1f us of CPU per sample); want 60 %% or more"
               % (100 * busy, float(summ["achieved"]), float(summ["us"])), run, tgt)
    return line + "; %.0f Hz at 100 kHz under SCHED_FIFO, busy %.0f %%" % (float(summ["achieved"]), 100 * busy)


def process_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def recorded_shares(c, tgt, rate, seconds, args=()):
    """One --record of tgt: (summary, run, wall seconds recorded, CPU
    seconds recorded, the kernel's CPU share of the process over the
    recording's command)."""
    t0, cpu0 = time.time(), process_cpu_seconds(tgt.pid)
    (_, rec, run, summ), = wait_recorders(c, tgt, start_recorders(c, tgt, [rate], seconds, args=args), seconds)
    t1, cpu1 = time.time(), process_cpu_seconds(tgt.pid)
    totals = {}
    for mode in ("wall", "cpu"):
        data, erun = export(c, rec, "folded", mode, target=tgt)
        totals[mode] = sum(st.weight for st in parse_folded(c, data, "folded %s export" % mode, erun, tgt)) / 1e6
    return summ, run, totals["wall"], totals["cpu"], (cpu1 - cpu0) / (t1 - t0)


def check_cpu_share(c, tgt, run, summ, cpu, kernel_share, what):
    """The CPU recorded over the recording's span, against the kernel's
    count (which also spans attaching and ending: shares, not seconds)."""
    share = cpu / float(summ["seconds"])
    if abs(share - kernel_share) > 0.08:
        c.fail("%s: the target was on a CPU %.0f %% of the recording by pytop's samples, %.0f %% by "
               "the kernel's count (want within 8 points)" % (what, 100 * share, 100 * kernel_share),
               run, tgt)
    return "CPU %.0f %% (kernel %.0f %%)" % (100 * share, 100 * kernel_share)


def t_rate_under_load(c):
    """Two CPU hogs beside a spinning target on the machine's cores: the
    sampler, woken late from its sleeps, takes the instants it missed back
    to back, so it keeps the rate asked for (a sampler that skipped them
    kept 80-96 % of 5 kHz here, a tenth to a third less at 10 kHz), and
    the samples taken back to back are credited only the time they stand
    for: the wall time recorded is the recording's span, the CPU time the
    kernel's count."""
    rate, seconds = 5000, 3
    tgt = c.start("engine_spin.py")
    hogs = [popen(["sh", "-c", "while :; do :; done"], stdin=subprocess.DEVNULL) for _ in range(2)]
    try:
        time.sleep(0.3)
        summ, run, wall, cpu, kernel_share = recorded_shares(c, tgt, rate, seconds)
    finally:
        for h in hogs:
            kill_group(h)
    achieved, span = float(summ["achieved"]), float(summ["seconds"])
    skipped = re.search(r"(\d+)( instants)? skipped", run.stderr)
    line = "%.0f Hz of %d asked, %s late, %s skipped" % (achieved, rate, summ["late"],
                                                      skipped.group(1) if skipped else "0")
    if achieved < 0.97 * rate:
        c.fail("with two CPU hogs beside the target, %.0f Hz of the %d Hz asked (want 97 %% or "
               "more: the instants missed while waiting for a CPU are taken back to back)"
               % (achieved, rate), run, tgt)
    if abs(wall - span) > 0.03 * span:
        c.fail("the wall time recorded is %.3f s over a %.3f s recording (want within 3 %%: no "
               "moment credited twice or left out)" % (wall, span), run, tgt)
    return line + "; wall %.3f s of %.3f s; %s" % (
        wall, span, check_cpu_share(c, tgt, run, summ, cpu, kernel_share, "with two CPU hogs"))


def t_cpu_faster_than_ticks(c):
    """Sampled more often than the scheduler ticks (2 kHz against 250-1000
    Hz), a spinning thread's CPU time is all recorded, from its
    context-switch records and from schedstat, whose count moves only at
    ticks: what a tick brings beyond a sample's wall time goes to the next
    samples (dropping it kept 15 % of the CPU at 2 kHz)."""
    tgt = c.start("engine_spin.py")
    time.sleep(0.3)
    lines = []
    for args, what in (([], "switch records"), (["--schedstat"], "--schedstat")):
        summ, run, wall, cpu, kernel_share = recorded_shares(c, tgt, 2000, 2, args)
        lines.append("%s: %s" % (what, check_cpu_share(c, tgt, run, summ, cpu, kernel_share,
                                                       "at 2 kHz with %s" % what)))
    return "; ".join(lines)

def build(interps):
    tests = []
    # Interpreters run here directly: the targets write their status file by
    # a path on this machine.
    threes = [i for i in interps if i.version[0] == 3 and not i.system and not i.root]
    # Where the sampler puts its instants does not depend on the interpreter:
    # the periodic targets run on one, the newest pyenv 3.x found.
    periodic = max(threes, key=lambda i: tuple(i.version)) if threes else None
    for mode in ("wall", "cpu"):
        for label, cycle, bound_pp in CYCLES:
            name = "sampling_phase[%s,%s]" % (mode, label)
            if periodic is None:
                tests.append(Test(name, None, skip="no pyenv Python 3 interpreter found"))
            else:
                tests.append(Test(name, t_periodic(mode, cycle, bound_pp), periodic))
    if periodic is None:
        tests.append(Test("sampling_catch_up", None, skip="no pyenv Python 3 interpreter found"))
    else:
        tests.append(Test("sampling_catch_up", t_catch_up, periodic))
    if periodic is None:
        tests.append(Test("sampling_rate_under_load", None, skip="no pyenv Python 3 interpreter found"))
    else:
        tests.append(Test("sampling_rate_under_load", t_rate_under_load, periodic))
    if periodic is None:
        tests.append(Test("cpu_faster_than_ticks", None, skip="no pyenv Python 3 interpreter found"))
    else:
        tests.append(Test("cpu_faster_than_ticks", t_cpu_faster_than_ticks, periodic))
    for major, minor in BUSY_INTERPRETERS:
        found = [i for i in interps if i.version[:2] == (major, minor) and not i.system and not i.root]
        if not found:
            tests.append(Test("cpu_busy_machine[python%d.%d]" % (major, minor), None,
                              skip="no pyenv Python %d.%d among the interpreters found or selected" % (major, minor)))
            continue
        tests.append(Test("cpu_busy_machine[%s]" % found[0].id, t_busy, found[0]))
    if periodic is None:
        tests.append(Test("cpu_busy_machine_wall_clock", None, skip="no pyenv Python 3 interpreter found"))
    else:
        tests.append(Test("cpu_busy_machine_wall_clock", t_busy_wall_clock, periodic))
    return tests
