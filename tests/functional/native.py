"""Functional tests of --native: C and C++ frames merged with Python frames.

Each interpreter under test builds targets/native_ext (a C extension with a
C++ part) against its own headers. native_spin.py calls the extension's
spin(), which spins in C (spin_in_c), then in C++
(pytop_test::Spinner::spin(long)), then calls back py_callback, which
spins in Python. So the merged stacks must read, root first:
<module>;main;ext_spin;py_callback, ...;ext_spin;spin_in_c and
...;ext_spin;pytop_test_spin_cxx;pytop_test::Spinner::spin(long), with no
frame of the interpreter itself.

Holding threads to unwind them must never leave the target stopped or
traced: after SIGKILL, SIGINT and SIGTERM of pytop, after a normal end,
and when the target exits while being recorded. A thread already traced
by someone else keeps its Python frames and says why.
"""
import os
import signal
import subprocess
import threading
import time

import engine
from engine import Recorder, check_target_running, export, parse_folded, record, summary_of, wait_for_file
from harness import TestFailure, TestSkip, check_ran_ok, kill_group, parse_json, popen
from scenarios import Test

EXT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets", "native_ext")
CXX_NAME = "pytop_test::Spinner::spin(long)"
_built = {}   # interpreter path -> directory holding native_ext, or the TestSkip reason
_build_lock = threading.Lock()


# ---- building the extension ---------------------------------------------------------------------

HEADERS_SCRIPT = ("import sysconfig\n"
                  "print(sysconfig.get_paths()['include'])\n"
                  "print(sysconfig.get_config_var('INCLUDEPY') or '')\n")


def include_dir(interp):
    out = subprocess.check_output(interp.command(["-c", HEADERS_SCRIPT]), stderr=subprocess.STDOUT,
                                  timeout=60).decode("utf-8", "replace").split("\n")
    for d in out:
        d = interp.host(d.strip()) if d.strip() else ""
        if d and os.path.exists(os.path.join(d, "Python.h")):
            return d
    return None


def build_ext(c, interp):
    """The directory holding native_ext built for interp (once per run, by
    whichever test asks first: tests run in parallel)."""
    with _build_lock:
        return _build_ext(c, interp)


def _build_ext(c, interp):
    got = _built.get(interp.path)
    if isinstance(got, TestSkip):
        raise got
    if got:
        return got
    for tool in ("gcc", "g++"):
        if not any(os.access(os.path.join(p, tool), os.X_OK) for p in os.environ.get("PATH", "").split(":")):
            _built[interp.path] = TestSkip("%s not found: the test extension cannot be built" % tool)
            raise _built[interp.path]
    inc = include_dir(interp)
    if not inc:
        _built[interp.path] = TestSkip("no Python.h for %s (its development headers, e.g. python%d.%d-dev, "
                                       "are not installed): the test extension cannot be built"
                                       % (interp.path, interp.version[0], interp.version[1]))
        raise _built[interp.path]
    out = os.path.join(interp.scratch(c.suite.tmproot), "native_ext-%s" % interp.id.replace("/", "_"))
    os.makedirs(out)
    cxx_obj = os.path.join(out, "native_ext_cxx.o")
    steps = [
        ["g++", "-O1", "-g", "-fPIC", "-fno-exceptions", "-fno-rtti", "-c",
         os.path.join(EXT_DIR, "native_ext_cxx.cpp"), "-o", cxx_obj],
        ["gcc", "-O1", "-g", "-fPIC", "-shared", "-I", inc, os.path.join(EXT_DIR, "native_ext.c"), cxx_obj,
         "-o", os.path.join(out, "native_ext.so")],
    ]
    if interp.root:
        # Debian's pyconfig.h includes <x86_64-linux-gnu/python3.X/pyconfig.h>
        # from the root's /usr/include; after ours, so libc's headers stay ours.
        steps[1][1:1] = ["-idirafter", os.path.join(interp.root, "usr", "include")]
    for cmd in steps:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode != 0:
            raise TestFailure("building the test extension failed: %s" % " ".join(cmd),
                              p.stdout.decode("utf-8", "replace").splitlines()[-20:])
    _built[interp.path] = out
    return out


def start_target(c, interp=None):
    interp = interp or c.interp
    return c.start("native_spin.py", interp=interp, args=[interp.inside(build_ext(c, interp))])


# ---- what a merged stack must look like -------------------------------------------------------------

def interpreter_files(interp):
    files = {interp.path, interp.realpath}
    if interp.libpython:
        files.add(interp.libpython)
    return files


def strip_marker(name):
    """A native frame's function, without a "[C] " or "[native] " label an export may add."""
    for prefix in ("[C] ", "[native] "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def classify(names):
    """Which of the three expected shapes a stack (root first, function names) has, or None."""
    if "main" not in names or "ext_spin" not in names:
        return None
    m, e = names.index("main"), names.index("ext_spin")
    if e != m + 1:
        return None
    rest = names[e + 1:]
    if rest == ["py_callback"]:
        return "callback"
    if rest == ["spin_in_c"]:
        return "c"
    if rest == ["pytop_test_spin_cxx", CXX_NAME]:
        return "c++"
    return None


def interpreter_frames(frames, interp):
    """Frames (function, file) that belong to the interpreter itself."""
    files = interpreter_files(interp)
    return [(fn, f) for fn, f in frames
            if f in files or fn.startswith("_PyEval") or fn.startswith("PyEval_")]


# ---- --dump --native ------------------------------------------------------------------------------

def t_native_dump(c):
    tgt = start_target(c)
    seen, problems = {}, []
    for attempt in range(60):
        run = c.pytop_run(["--dump", "--native", "--json", "-p", str(tgt.pid)])
        check_ran_ok(run)
        doc = parse_json(run)
        th = c.thread(doc, run, tgt, "MainThread")
        if th.get("native_error"):
            c.fail("the main thread has no native frames: %s" % th["native_error"], run, tgt)
        frames = th["frames"]
        for f in frames:
            if f.get("native") is True:
                if f.get("line") is not None or not f.get("file"):
                    problems.append("native frame %r: want a file and \"line\": null" % f)
            elif "native" in f or not f.get("file", "").endswith(".py"):
                problems.append("Python frame %r: want a .py file and no \"native\" key" % f)
        inner = interpreter_frames([(f["function"], f.get("file", "")) for f in frames if f.get("native")],
                                   c.interp)
        if inner:
            c.fail("interpreter frames not folded away: %s" % inner[:5], run, tgt)
        names = [f["function"] for f in reversed(frames)]
        kind = classify(names)
        if kind and kind not in seen:
            seen[kind] = attempt + 1
        if len(seen) == 3:
            break
    if problems:
        c.fail("frames marked wrongly", run, tgt, extra=problems[:10])
    if len(seen) < 3:
        c.fail("in 60 dumps, want all of <module>;main;ext_spin;py_callback, ...;ext_spin;spin_in_c and "
               "...;ext_spin;pytop_test_spin_cxx;%s; saw %s" % (CXX_NAME, sorted(seen)), run, tgt)
    # One dump can catch the thread between its Python and its C frames (the
    # merge then keeps the Python frames alone): a few tries.
    for attempt in range(10):
        text = c.pytop_run(["--dump", "--native", "-p", str(tgt.pid)])
        check_ran_ok(text)
        if "[native] ext_spin (" in text.stdout:
            break
    if "[native] ext_spin (" not in text.stdout:
        c.fail("text --dump --native has no \"[native] ext_spin (\" line", text, tgt)
    check_untraced(c, tgt, "after --dump --native")
    return "all three shapes after %s dumps" % max(seen.values())


# ---- --record --native, then folded -------------------------------------------------------------------

def t_native_record(c):
    tgt = start_target(c)
    rec, run, summ = record(c, tgt, ["--native", "--rate", "200", "--duration", "3"])
    data, erun = export(c, rec, "folded", "cpu", target=tgt)
    stacks = parse_folded(c, data, "folded export of a --native recording", erun, tgt)
    total = float(sum(s.weight for s in stacks)) or 1.0
    by_kind = {}
    for s in stacks:
        frames = [(strip_marker(fr[0]), fr[1] or "") for fr in s.frames]
        inner = interpreter_frames(frames, c.interp)
        if inner:
            c.fail("interpreter frames in the recording: %s" % inner[:5], erun, tgt)
        kind = classify([fn for fn, _ in frames])
        if kind:
            by_kind[kind] = by_kind.get(kind, 0) + s.weight
    missing = [k for k in ("callback", "c", "c++") if k not in by_kind]
    if missing:
        c.fail("no %s stacks in the recording (want <module>;main;ext_spin;py_callback, ...;ext_spin;spin_in_c, "
               "...;ext_spin;pytop_test_spin_cxx;%s)" % (", ".join(missing), CXX_NAME), erun, tgt)
    share = sum(by_kind.values()) / total
    if share < 0.8:
        c.fail("only %.0f%% of CPU time in the three expected stacks, want 80%%" % (100 * share), erun, tgt)
    check_target_running(c, tgt, "after pytop --record --native ended")
    check_untraced(c, tgt, "after pytop --record --native ended")
    return "%s samples, %s us of sampler CPU per sample; C %.0f%%, C++ %.0f%%, callback %.0f%%" % (
        summ["samples"], summ["us"], 100 * by_kind["c"] / total, 100 * by_kind["c++"] / total,
        100 * by_kind["callback"] / total)


# ---- safety: the target is never left stopped or traced -----------------------------------------------

def task_states(pid):
    """[(tid, state letter, TracerPid)] of every thread of pid."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                status = f.read()
        except (IOError, OSError):
            continue
        state = stat[stat.rindex(")") + 2:].split()[0]
        tracer = [l.split()[1] for l in status.splitlines() if l.startswith("TracerPid:")]
        out.append((int(tid), state, int(tracer[0]) if tracer else -1))
    return out


def check_untraced(c, tgt, when):
    bad = [t for t in task_states(tgt.pid) if t[1] in ("t", "T") or t[2] != 0]
    if bad:
        c.fail("%s: threads left stopped or traced: %s" % (when, ", ".join(
            "tid %d state %s TracerPid %d" % t for t in bad)), target=tgt)


def safety_interp(interps):
    """One interpreter the extension builds for: the newest with headers."""
    for interp in sorted(interps, key=lambda i: i.version, reverse=True):
        try:
            if include_dir(interp):
                return interp
        except (OSError, subprocess.SubprocessError):
            continue
    return None


def t_native_sigkill(c):
    tgt = start_target(c)
    details = []
    for i, delay in enumerate((1.0, 1.37, 1.73)):
        rec = os.path.join(c.workdir, "killed%d.pytop" % i)
        r = Recorder(c, ["--record", rec, "--native", "--rate", "200", "-p", str(tgt.pid)])
        try:
            if not wait_for_file(rec, r.proc):
                c.fail("pytop never created %s" % rec, r.wait(1), tgt)
            time.sleep(delay)
            if r.proc.poll() is not None:
                c.fail("pytop --record --native ended by itself", r.wait(1), tgt)
            r.proc.send_signal(signal.SIGKILL)
            run = r.wait(10)
        finally:
            kill_group(r.proc)
        # The kernel detaches a dead tracer's tracees at once; look right away.
        check_untraced(c, tgt, "right after SIGKILL of pytop --record --native (%.2f s in)" % delay)
        check_target_running(c, tgt, "after SIGKILL of pytop --record --native")
        details.append("%.2f s" % delay)
    return "target running and untraced after SIGKILL at " + ", ".join(details)


def record_ended_by_signals(c, tgt, flags, rate, after=None):
    """pytop --record FLAGS ended by SIGINT, then SIGTERM: exit 0 within 10 s,
    a whole recording, and the target running and untraced afterwards.
    after(run) checks more of each run."""
    details = []
    what = " ".join(flags)
    for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
        rec = os.path.join(c.workdir, "%s.pytop" % name)
        r = Recorder(c, ["--record", rec] + flags + ["--rate", str(rate), "-p", str(tgt.pid)])
        try:
            if not wait_for_file(rec, r.proc):
                c.fail("%s: pytop never created %s" % (name, rec), r.wait(1), tgt)
            time.sleep(1.0)
            t0 = time.time()
            r.proc.send_signal(sig)
            run = r.wait(10)
        finally:
            kill_group(r.proc)
        if run.timed_out or run.rc != 0 or run.sanitizer_report():
            c.fail("pytop --record %s ended by %s: want exit 0 within 10 s" % (what, name), run, tgt)
        summ = summary_of(c, run, rec, tgt)
        if after:
            after(run)
        check_untraced(c, tgt, "after %s" % name)
        check_target_running(c, tgt, "after pytop --record %s was ended by %s" % (what, name))
        details.append("%s: %s samples, exit after %.0f ms" % (name, summ["samples"], (time.time() - t0) * 1000))
    return "; ".join(details)


def t_native_signals(c):
    return record_ended_by_signals(c, start_target(c), ["--native"], 200)


def t_native_target_exits(c):
    tgt = start_target(c)
    rec = os.path.join(c.workdir, "exits.pytop")
    r = Recorder(c, ["--record", rec, "--native", "--rate", "200", "-p", str(tgt.pid)])
    try:
        if not wait_for_file(rec, r.proc):
            c.fail("pytop never created %s" % rec, r.wait(1), tgt)
        time.sleep(1.0)
        tgt.proc.send_signal(signal.SIGKILL)
        tgt.proc.wait()
        run = r.wait(10)
    finally:
        kill_group(r.proc)
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --record --native did not end cleanly within 10 s of its target's exit", run, tgt)
    summ = summary_of(c, run, rec, tgt, exited=True)
    return "%s samples, then ended %.1f s after the target" % (summ["samples"], run.duration - 1.0)


TRACER = r"""
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE = 0x4206
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) != 0:
    print("seize failed: errno %d" % ctypes.get_errno()); sys.stdout.flush(); sys.exit(1)
print("seized"); sys.stdout.flush()
time.sleep(60)
"""


def t_native_already_traced(c):
    tgt = start_target(c)
    tracer = popen([engine.consumer_python(), "-c", TRACER, str(tgt.pid)], stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT)
    try:
        line = tracer.stdout.readline().decode("utf-8", "replace").strip()
        if line != "seized":
            raise TestSkip("another tracer could not be set up (%s)" % (line or "no output"))
        run = c.pytop_run(["--dump", "--native", "--json", "-p", str(tgt.pid)])
        check_ran_ok(run)
        th = c.thread(parse_json(run), run, tgt, "MainThread")
        err = th.get("native_error") or ""
        if "not permitted" not in err:
            c.fail("a thread traced by another process: want \"native_error\" saying not permitted, got %r"
                   % err, run, tgt)
        names = [f["function"] for f in th["frames"]]
        if "main" not in names or any(f.get("native") for f in th["frames"]):
            c.fail("a thread that cannot be unwound must keep its Python frames only", run, tgt)
        rec, rrun, summ = record(c, tgt, ["--native", "--rate", "100", "--duration", "1"])
        notes = [l for l in rrun.stderr.splitlines() if l.startswith("pytop: --native: ")]
        if not notes or "not allowed" not in notes[0]:
            c.fail("--record --native on a traced thread: want a \"pytop: --native: ... not allowed\" line",
                   rrun, tgt)
        # Each stack without its C frames says so at its leaf.
        data, erun = export(c, rec, "folded", "wall", target=tgt)
        stacks = parse_folded(c, data, "folded export of a --native recording", erun, tgt)
        unmarked = [s for s in stacks if s.frames[-1][0] != "[no C frames]"]
        if not stacks or unmarked:
            c.fail("--record --native on a traced thread: want every stack to end in \"[no C frames]\", "
                   "%d of %d do not" % (len(unmarked), len(stacks)), erun, tgt)
    finally:
        kill_group(tracer)
        tracer.wait()
    check_target_running(c, tgt, "after the other tracer ended")
    return "native_error: %s; Python frames kept; --record says: %s" % (err, notes[0][len("pytop: "):])


# ---- C and Python frames of one moment -----------------------------------------------------------

def t_native_threads(c):
    """Four threads switch between pure Python and the extension every
    millisecond or so; a thread's C stack must be merged with its Python
    frames of the same moment, never with where it was a moment earlier."""
    tgt = c.start("native_threads.py", args=[c.inside(build_ext(c, c.interp))])
    rec, run, summ = record(c, tgt, ["--native", "--rate", "200", "--duration", "3"])
    data, erun = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, "folded export of a --native recording", erun, tgt)
    total = float(sum(s.weight for s in stacks)) or 1.0
    wrong, in_c = [], 0
    for s in stacks:
        names = [strip_marker(fr[0]) for fr in s.frames]
        if "py_only" in names and "ext_spin" in names[names.index("py_only"):]:
            wrong.append(s)
        elif "in_c" in names and "ext_spin" in names[names.index("in_c"):]:
            in_c += s.weight
    bad = sum(s.weight for s in wrong)
    # The Python frames are read again while the thread is held; only a
    # failed re-read (the old frames are then kept) can mismatch.
    if bad > 0.005 * total:
        c.fail("%.1f%% of the weight has the extension's C frames under py_only(), which never calls it: C "
               "stacks merged with Python frames of another moment" % (100 * bad / total), erun, tgt,
               extra=[engine._folded_line(s) for s in wrong[:5]])
    # Enough of in_c;ext_spin for the check above to mean something (about
    # 20 % of the wall time on a quiet machine, less when the machine is busy).
    if in_c < 0.05 * total:
        c.fail("only %.1f%% of the weight in in_c() with the extension's C frames, want 5%%"
               % (100 * in_c / total), erun, tgt)
    check_untraced(c, tgt, "after pytop --record --native ended")
    return "%s samples of 4 threads: %.0f%% in in_c;ext_spin, %.2f%% merged wrongly" % (
        summ["samples"], 100 * in_c / total, 100 * bad / total)


PER_INTERPRETER = [("native_dump", t_native_dump), ("native_record", t_native_record),
                   ("native_threads", t_native_threads)]
ONCE = [("native_sigkill", t_native_sigkill), ("native_signals", t_native_signals),
        ("native_target_exits", t_native_target_exits), ("native_already_traced", t_native_already_traced)]


def build(interps):
    tests = []
    for name, fn in PER_INTERPRETER:
        for interp in interps:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp))
    chosen = safety_interp(interps)
    for name, fn in ONCE:
        if chosen:
            tests.append(Test("%s[%s]" % (name, chosen.id), fn, chosen))
        else:
            tests.append(Test(name, fn, skip="no interpreter with development headers to build the test "
                                             "extension with"))
    return tests
