"""Functional tests of --blocking: each thread held while it is read.

blocking_fast.py makes and drops frames as fast as Python can (a generator
pipeline and small calls in the main thread, small calls in two workers).
Read while it runs, some stacks come out torn; held while read, every
stack must be one the program can have, in --record and in --dump, with
and without --native, and the pause must be measured and printed.

Holding must never leave the target stopped or traced: after SIGKILL of
pytop at random moments, after SIGINT and SIGTERM, when the target exits
while being recorded, and when a thread is already traced by someone else
(that thread is then read as it runs, and pytop says so).
"""
import os
import random
import re
import signal
import subprocess
import time

import engine
import native
from engine import Recorder, check_target_running, export, parse_folded, record, summary_of, wait_for_file
from harness import TestSkip, check_ran_ok, kill_group, parse_json, popen
from native import check_untraced
from scenarios import Test

TARGET = "blocking_fast.py"
PAUSE_RE = re.compile(r"^pytop: --blocking: threads held (?P<median>[\d.]+ [um]s) per sample "
                      r"\(median; p90 (?P<p90>[\d.]+ [um]s), max (?P<max>[\d.]+ [um]s)\), each thread "
                      r"(?P<thread>[\d.]+ [um]s) \(median; p90 (?P<thread_p90>[\d.]+ [um]s)\)$")

# What may follow the thread's own root, by thread: the main thread runs
# <module> -> main -> pipeline, which resumes evens -> squares -> numbers
# or calls twice -> add; a worker runs worker -> twice -> add.
MAIN_CHAINS = [[], ["twice"], ["twice", "add"], ["evens"], ["evens", "squares"],
               ["evens", "squares", "numbers"]]
WORKER_CHAINS = [[], ["twice"], ["twice", "add"]]


def base_name(function):
    """"Thread.run" (a 3.11+ qualified name) -> "run"."""
    return function.rpartition(".")[2]


def whole(frames, path):
    """Whether a stack (root first) is one blocking_fast.py can have."""
    names = [base_name(f[0]) for f in frames]
    files = [f[1] for f in frames]
    i = 0
    while i < len(frames) and files[i] and files[i].endswith("threading.py"):
        i += 1
    ours = names[i:]
    if any(f != path for f in files[i:]):
        return False
    if i == 0 and ours[:3] == ["<module>", "main", "pipeline"]:
        return ours[3:] in MAIN_CHAINS
    if i > 0 and ours[:1] == ["worker"]:
        return ours[1:] in WORKER_CHAINS
    return False


def torn_share(c, tgt, args, what):
    """(share of the weight in stacks the target cannot have, stacks, run)."""
    rec, run, summ = record(c, tgt, args)
    data, erun = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, what, erun, tgt)
    total = float(sum(s.weight for s in stacks)) or 1.0
    bad = [s for s in stacks if not whole(s.frames, tgt.path)]
    return sum(s.weight for s in bad) / total, bad, run, summ


def pause_line(c, run, tgt):
    lines = [l for l in run.stderr.splitlines() if l.startswith("pytop: --blocking: threads held")]
    if len(lines) != 1:
        c.fail("want one \"pytop: --blocking: threads held ... per sample\" line after --record --blocking, "
               "got %d" % len(lines), run, tgt)
    m = PAUSE_RE.match(lines[0])
    if not m:
        c.fail("the pause line does not have the documented form: %r" % lines[0], run, tgt)
    return m.groupdict()


def to_us(text):
    value, unit = text.split()
    return float(value) * (1000.0 if unit == "ms" else 1.0)


def t_blocking_exact(c):
    tgt = c.start(TARGET)
    free_share, _, _, _ = torn_share(c, tgt, ["--rate", "500", "--duration", "3"],
                                     "folded export of a --record without --blocking")
    share, bad, run, summ = torn_share(c, tgt, ["--blocking", "--rate", "500", "--duration", "3"],
                                       "folded export of a --record --blocking")
    if bad:
        c.fail("--blocking: %.2f%% of the weight in stacks blocking_fast.py cannot have (torn or cut), "
               "want none: each thread is held while its frames are read" % (100 * share), run, tgt,
               extra=[engine._folded_line(s) for s in bad[:8]])
    p = pause_line(c, run, tgt)
    if not 0 < to_us(p["median"]) <= to_us(p["p90"]) <= to_us(p["max"]):
        c.fail("pause figures out of order: median %s, p90 %s, max %s" % (p["median"], p["p90"], p["max"]),
               run, tgt)
    if any(l.startswith("pytop: --blocking: ") and "without holding" in l for l in run.stderr.splitlines()):
        c.fail("--blocking read threads without holding them on a target pytop may trace", run, tgt)
    check_untraced(c, tgt, "after pytop --record --blocking ended")
    check_target_running(c, tgt, "after pytop --record --blocking ended")
    return "%s samples, 0 torn with --blocking (%.2f%% of the weight without); held %s per sample (p90 %s)" % (
        summ["samples"], 100 * free_share, p["median"], p["p90"])


def t_blocking_native(c):
    """--blocking with --native: the hold --native has, and the pause printed."""
    tgt = c.start(TARGET)
    rec, run, summ = record(c, tgt, ["--blocking", "--native", "--rate", "200", "--duration", "2"])
    # A few stacks whose C frames did not match (the walk met a frame
    # switch) are said and kept with Python frames only; most of them
    # without C frames means --native cannot unwind this interpreter here.
    missing = 0
    for l in run.stderr.splitlines():
        m = re.match(r"pytop: --native: (\d+) of (\d+) thread stacks have no C frames", l)
        if m and int(m.group(1)) * 2 > int(m.group(2)):
            raise TestSkip("--native cannot unwind this interpreter's threads here: %s" % l)
        if m:
            missing = int(m.group(1))
    p = pause_line(c, run, tgt)
    data, erun = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, "folded export of --record --blocking --native", erun, tgt)
    py = lambda s: [f for f in s.frames if f[1] == tgt.path or (f[1] or "").endswith("threading.py")]
    # A thread caught mid frame switch in every hold is read as it runs:
    # its stack may then be marked (torn, cut), never wrong, and counted.
    marked = [s for s in stacks if s.frames and s.frames[0][0] in ("<torn>", "[truncated]")]
    bad = [s for s in stacks if s not in marked and not whole(py(s), tgt.path)]
    if bad:
        c.fail("--blocking --native: Python frames of stacks blocking_fast.py cannot have", erun, tgt,
               extra=[engine._folded_line(s) for s in bad[:8]])
    switching = re.search(r"(\d+) caught mid frame switch in every hold", run.stderr)
    share = sum(s.weight for s in marked) / float(sum(s.weight for s in stacks) or 1)
    if marked and (not switching or share > 0.02):
        c.fail("--blocking --native: %.2f%% of the weight in marked stacks, want under 2%% and each "
               "counted as \"caught mid frame switch in every hold\"" % (100 * share), run, tgt,
               extra=[engine._folded_line(s) for s in marked[:8]])
    check_untraced(c, tgt, "after pytop --record --blocking --native ended")
    return "%s samples, held %s per sample (p90 %s); %d thread stacks without C frames, %d marked" % (
        summ["samples"], p["median"], p["p90"], missing, len(marked))


def t_blocking_dump(c):
    tgt = c.start(TARGET)
    for extra in ([], ["--native"]):
        run = c.pytop_run(["--dump", "--blocking", "--json"] + extra + ["-p", str(tgt.pid)])
        if extra and run.rc != 0 and "libunwind" in run.stderr:
            continue
        check_ran_ok(run)
        doc = parse_json(run)
        what = "--dump --blocking %s" % " ".join(extra)
        if not isinstance(doc.get("pause_ns"), int) or doc["pause_ns"] <= 0:
            c.fail("%s: want a positive \"pause_ns\", got %r" % (what, doc.get("pause_ns")), run, tgt)
        for key in ("MainThread", "w1", "w2"):
            th = c.thread(doc, run, tgt, key)
            if th.get("held") is not True or not th.get("pause_ns", 0) > 0:
                c.fail("%s: thread %s: want \"held\": true and a positive \"pause_ns\", got %r, %r"
                       % (what, key, th.get("held"), th.get("pause_ns")), run, tgt)
            frames = [(f["function"], f["file"], None) for f in reversed(th["frames"]) if not f.get("native")]
            if not whole(frames, tgt.path):
                c.fail("%s: thread %s has a stack blocking_fast.py cannot have: %s" % (
                    what, key, ";".join(f[0] for f in frames)), run, tgt)
        # Held one after the other (--native) the pause is the threads' sum;
        # together, from the first interrupt to the last detach: never more.
        total = sum(th["pause_ns"] for th in doc["threads"])
        if extra and doc["pause_ns"] != total or doc["pause_ns"] > total:
            c.fail("%s: \"pause_ns\" %d does not fit the threads' pauses (total %d)"
                   % (what, doc["pause_ns"], total), run, tgt)
    text = c.pytop_run(["--dump", "--blocking", "-p", str(tgt.pid)])
    check_ran_ok(text)
    if not re.search(r"^Paused [\d.]+ us: 3 of 3 threads held while read \(--blocking\)$", text.stdout, re.M):
        c.fail("--dump --blocking: want a \"Paused N us: 3 of 3 threads held while read\" line", text, tgt)
    check_untraced(c, tgt, "after pytop --dump --blocking")
    return "pause %.1f us for 3 threads" % (doc["pause_ns"] / 1e3)


# ---- safety: never left stopped or traced ----------------------------------------------------------

def t_blocking_sigkill(c):
    tgt = c.start(TARGET)
    seed = int(time.time())
    rng = random.Random(seed)
    # Every other run holds threads for --native's unwinding too, where it works.
    probe = c.pytop_run(["--dump", "--native", "-p", str(tgt.pid)])
    with_native = probe.rc == 0
    delays = []
    for i in range(6):
        flags = ["--blocking"] + (["--native"] if i % 2 and with_native else [])
        delay = rng.uniform(0.2, 1.5)
        rec = os.path.join(c.workdir, "killed%d.pytop" % i)
        r = Recorder(c, ["--record", rec] + flags + ["--rate", "1000", "-p", str(tgt.pid)])
        try:
            if not wait_for_file(rec, r.proc):
                c.fail("pytop never created %s" % rec, r.wait(1), tgt)
            time.sleep(delay)
            if r.proc.poll() is not None:
                c.fail("pytop --record %s ended by itself" % " ".join(flags), r.wait(1), tgt)
            r.proc.send_signal(signal.SIGKILL)
            r.wait(10)
        finally:
            kill_group(r.proc)
        # The kernel detaches a dead tracer's tracees at once; look right away.
        check_untraced(c, tgt, "right after SIGKILL of pytop --record %s (%.3f s in, seed %d)"
                       % (" ".join(flags), delay, seed))
        check_target_running(c, tgt, "after SIGKILL of pytop --record %s" % " ".join(flags))
        delays.append("%.2f s" % delay)
    return "target running and untraced after SIGKILL at %s (seed %d)" % (", ".join(delays), seed)


def t_blocking_signals(c):
    tgt = c.start(TARGET)
    return native.record_ended_by_signals(c, tgt, ["--blocking"], 1000,
                                          after=lambda run: pause_line(c, run, tgt))

def t_blocking_target_exits(c):
    details = []
    for launch in (False, True):
        rec = os.path.join(c.workdir, "exits%d.pytop" % launch)
        if launch:
            # pytop started it: its waitpid must not mistake a hold's stop for an exit.
            script = c.interp.stage(os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets",
                                                 "exits_soon.py"))
            r = Recorder(c, ["--record", rec, "--blocking", "--rate", "1000", "--"] +
                         c.interp.command([script, "1.0"]))
            run = r.wait(30)
            if run.timed_out or run.sanitizer_report():
                c.fail("pytop --record --blocking -- PROGRAM did not end with its program", run)
            summ = summary_of(c, run, rec, None, exited=True)
            details.append("launched: %s samples" % summ["samples"])
            continue
        tgt = c.start(TARGET)
        r = Recorder(c, ["--record", rec, "--blocking", "--rate", "1000", "-p", str(tgt.pid)])
        try:
            if not wait_for_file(rec, r.proc):
                c.fail("pytop never created %s" % rec, r.wait(1), tgt)
            time.sleep(0.7)
            tgt.proc.send_signal(signal.SIGKILL)
            tgt.proc.wait()
            run = r.wait(10)
        finally:
            kill_group(r.proc)
        if run.timed_out or run.rc != 0 or run.sanitizer_report():
            c.fail("pytop --record --blocking did not end cleanly within 10 s of its target's exit", run, tgt)
        summ = summary_of(c, run, rec, tgt, exited=True)
        details.append("attached: %s samples, then ended %.1f s after the target" % (summ["samples"], run.duration - 0.7))
    return "; ".join(details)


def t_blocking_already_traced(c):
    tgt = c.start(TARGET)
    tracer = popen([engine.consumer_python(), "-c", native.TRACER, str(tgt.tid("w1"))],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        line = tracer.stdout.readline().decode("utf-8", "replace").strip()
        if line != "seized":
            raise TestSkip("another tracer could not be set up (%s)" % (line or "no output"))
        run = c.pytop_run(["--dump", "--blocking", "--json", "-p", str(tgt.pid)])
        check_ran_ok(run)
        doc = parse_json(run)
        w1 = c.thread(doc, run, tgt, "w1")
        if w1.get("held") is not False or "not permitted" not in (w1.get("hold_error") or ""):
            c.fail("a thread traced by another process: want \"held\": false and a \"hold_error\" saying not "
                   "permitted, got %r, %r" % (w1.get("held"), w1.get("hold_error")), run, tgt)
        if not w1["frames"]:
            c.fail("a thread that cannot be held must still have its frames read", run, tgt)
        if c.thread(doc, run, tgt, "MainThread").get("held") is not True:
            c.fail("the other threads must still be held", run, tgt)
        rec, rrun, summ = record(c, tgt, ["--blocking", "--rate", "100", "--duration", "1"])
        notes = [l for l in rrun.stderr.splitlines() if "without holding" in l]
        if not notes or "not allowed" not in notes[0]:
            c.fail("--record --blocking with a traced thread: want a \"... read without holding the thread "
                   "(N not allowed ...)\" line", rrun, tgt)
    finally:
        kill_group(tracer)
        tracer.wait()
    # Only our holds are gone: the other tracer's thread was traced by it, not us.
    check_target_running(c, tgt, "after the other tracer ended")
    check_untraced(c, tgt, "after the other tracer ended")
    return "hold_error: %s; --record says: %s" % (w1["hold_error"], notes[0][len("pytop: "):])


PER_INTERPRETER = [("blocking_exact", t_blocking_exact), ("blocking_dump", t_blocking_dump),
                   ("blocking_native", t_blocking_native)]
ONCE = [("blocking_sigkill", t_blocking_sigkill), ("blocking_signals", t_blocking_signals),
        ("blocking_target_exits", t_blocking_target_exits),
        ("blocking_already_traced", t_blocking_already_traced)]


def build(interps):
    tests = []
    for name, fn in PER_INTERPRETER:
        for interp in interps:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp))
    newest = sorted(interps, key=lambda i: i.version)[-1:]
    for name, fn in ONCE:
        if newest:
            tests.append(Test("%s[%s]" % (name, newest[0].id), fn, newest[0]))
        else:
            tests.append(Test(name, fn, skip="no Python interpreter found"))
    return tests
