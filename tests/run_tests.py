#!/usr/bin/env python3
"""pytop's test runner: static checks of the source (tests/static), unit
tests, fuzz targets, the layout table check, the functional tests against
every Python interpreter it can find and the live view's tests in tmux
(tests/tui).

Python 3 standard library only. Prints PASS/FAIL/SKIP lines as results come
in (a SKIP always says why), details under each failure, and ends with
exactly one line "N passed, N failed, N skipped"; exits 1 if anything
failed.

    python3 tests/run_tests.py --srcdir=. --builddir=build \\
        --unit="tests/unit/test_maps ..." --fuzz="tests/fuzz/fuzz_maps ..." \\
        [--tap="tests/functional/export_consumers ..."] [--fuzz-seconds=N] \\
        [--only=static|unit|fuzz|layouts|functional|tui ...] \\
        [--python=PATH ...] [-k SUBSTRING] [-j N]
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

PHASES = ("static", "unit", "fuzz", "layouts", "functional", "tui")
UNIT_TIMEOUT = 300


class Reporter(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.passed = self.failed = self.skipped = 0

    def _emit(self, lines):
        with self.lock:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()

    def ok(self, name, detail=None):
        with self.lock:
            self.passed += 1
        self._emit(["PASS %s%s" % (name, ": " + detail if detail else "")])

    def fail(self, name, message, details=()):
        with self.lock:
            self.failed += 1
        self._emit(["FAIL %s: %s" % (name, message)] + ["    " + l for l in details])

    def skip(self, name, reason):
        with self.lock:
            self.skipped += 1
        self._emit(["SKIP %s: %s" % (name, reason)])

    def note(self, text):
        self._emit(["# " + l for l in text.split("\n")])

    def summary(self):
        return "%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped)


def indent_output(text, limit_lines=None):
    lines = text.rstrip("\n").split("\n") if text.strip() else ["(no output)"]
    if limit_lines and len(lines) > limit_lines:
        lines = ["... (%d lines before)" % (len(lines) - limit_lines)] + lines[-limit_lines:]
    return ["| " + l for l in lines]


def exit_status(rc):
    if rc is None:
        return "timed out"
    if rc < 0:
        try:
            return "killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)
        except ValueError:
            return "killed by signal %d" % -rc
    return "exit status %d" % rc


def run_captured(cmd, timeout, cwd=None, env=None):
    """(returncode or None on timeout, combined output)."""
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=cwd, env=env, start_new_session=True)
    except OSError as e:
        return 127, "cannot execute %s: %s" % (cmd[0], e)
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, _ = p.communicate()
        rc = None
    return rc, out.decode("utf-8", "replace")


# ---- TAP --------------------------------------------------------------------

_TAP_POINT = re.compile(r"^(not )?ok\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
_TAP_DIRECTIVE = re.compile(r"\s#\s*(SKIP|TODO)\b\s*(.*)$", re.I)
_TAP_PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(?:SKIP\b)?\s*(.*))?$", re.I)


def parse_tap(text):
    """([(status, number, description, reason, diagnostic lines)], plan, plan_reason, bail_out)."""
    points, plan, plan_reason, bail = [], None, None, None
    for line in text.splitlines():
        m = _TAP_POINT.match(line)
        if m:
            desc = m.group(3)
            status = "fail" if m.group(1) else "pass"
            reason = None
            d = _TAP_DIRECTIVE.search(" " + desc)
            if d:
                desc = (" " + desc)[:d.start()].strip()
                reason = d.group(2).strip() or d.group(1).upper()
                # "not ok # TODO" is an expected failure and "# SKIP" was not run:
                # neither is a pass or a failure.
                status = "skip"
                reason = "%s%s" % ("TODO: " if d.group(1).upper() == "TODO" else "", reason)
            points.append([status, m.group(2), desc, reason, [line]])
            continue
        m = _TAP_PLAN.match(line)
        if m:
            plan, plan_reason = int(m.group(1)), m.group(2)
            continue
        if line.startswith("Bail out!"):
            bail = line
            continue
        if line.startswith("#") and points:
            points[-1][4].append(line)
    return points, plan, plan_reason, bail


def report_tap(rep, label, cmd, rc, output):
    """Report one TAP-producing program's results; returns nothing."""
    points, plan, plan_reason, bail = parse_tap(output)
    any_fail = False
    for status, num, desc, reason, lines in points:
        name = "%s %s%s" % (label, num or "?", " - " + desc if desc else "")
        if status == "pass":
            rep.ok(name)
        elif status == "skip":
            rep.skip(name, reason)
        else:
            any_fail = True
            rep.fail(name, "test point failed", lines)
    problem = None
    if rc is None:
        problem = "timed out"
    elif rc != 0 and not any_fail:
        problem = "%s with no failing test point" % exit_status(rc)
    elif bail:
        problem = bail
    elif rc == 0 and plan is not None and plan != len(points):
        problem = "plan says 1..%d but %d test points ran" % (plan, len(points))
    elif rc == 0 and not points and plan is None:
        problem = "no TAP output"
    if plan == 0 and not points and rc == 0:
        rep.skip(label, plan_reason or "no tests (1..0)")
        return
    if problem:
        any_fail = True
        rep.fail(label, problem, ["command: %s" % " ".join(cmd)] + indent_output(output, 200))
    elif any_fail:
        rep.note("full output of %s (%s):\n%s" % (" ".join(cmd), exit_status(rc),
                                                 "\n".join(indent_output(output, 200))))


# ---- phases -----------------------------------------------------------------

def phase_static(args, rep):
    """Every tests/static/*.py but _*.py (shared helpers), run as
    'python3 SCRIPT --srcdir=SRCDIR': a
    check of the source itself (no build needed). It prints TAP, or nothing
    and exits 0 when all is well and 1 with the reasons when not."""
    sdir = os.path.join(args.srcdir, "tests", "static")
    scripts = sorted(f for f in os.listdir(sdir) if f.endswith(".py") and not f.startswith("_")) if os.path.isdir(sdir) else []
    if not scripts:
        rep.skip("static", "no checks in %s" % sdir)
    for f in scripts:
        cmd = [sys.executable, os.path.join(sdir, f), "--srcdir=%s" % args.srcdir]
        rc, out = run_captured(cmd, UNIT_TIMEOUT, cwd=args.srcdir)
        label = "static %s" % f[:-3]
        if parse_tap(out)[0]:
            report_tap(rep, label, cmd, rc, out)
        elif rc == 0:
            rep.ok(label)
        else:
            rep.fail(label, exit_status(rc), ["command: %s" % " ".join(cmd)] + indent_output(out, 200))


def run_tap_programs(args, rep, rels):
    """Run TAP programs (relative to builddir) two at a time, report in order."""
    def one(rel):
        path = os.path.join(args.builddir, rel)
        if not os.access(path, os.X_OK):
            return path, 127, None
        rc, out = run_captured([path], UNIT_TIMEOUT, cwd=args.builddir,
                               env=dict(os.environ, PYTOP_SRCDIR=args.srcdir))
        return path, rc, out
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for rel, (path, rc, out) in zip(rels, pool.map(one, rels)):
            label = os.path.basename(rel)
            if out is None:
                rep.fail(label, "test binary not built: %s" % path)
            else:
                report_tap(rep, label, [path], rc, out)


def phase_unit(args, rep):
    run_tap_programs(args, rep, args.unit.split())


def is_libfuzzer(path):
    # -runs=0 makes the standalone driver (which ignores -help) exit at once.
    rc, out = run_captured([path, "-help=1", "-runs=0"], 20)
    return "libFuzzer" in out or "max_total_time" in out


def run_one_fuzzer(args, rel, tmproot):
    """(status, name, message, details)."""
    path = os.path.join(args.builddir, rel)
    base = os.path.basename(rel)
    name = "fuzz %s" % base
    if not os.access(path, os.X_OK):
        return "fail", name, "fuzz target not built: %s" % path, []
    seeds = os.path.join(args.srcdir, "tests", "fuzz", "seeds", re.sub(r"^fuzz_", "", base))
    work = tempfile.mkdtemp(prefix=base + "-", dir=tmproot)
    corpus = os.path.join(work, "corpus")
    # libFuzzer writes new inputs into its corpus directory: give it a copy so
    # the source tree is never modified.
    if os.path.isdir(seeds):
        shutil.copytree(seeds, corpus)
    else:
        os.makedirs(corpus)
    artifacts = os.path.join(work, "artifacts")
    os.makedirs(artifacts)
    libfuzzer = is_libfuzzer(path)
    if libfuzzer:
        cmd = [path, "-max_total_time=%d" % args.fuzz_seconds, "-print_final_stats=1",
               "-artifact_prefix=%s/" % artifacts, corpus]
    else:
        cmd = [path, "-seconds", str(args.fuzz_seconds)] + ([corpus] if os.path.isdir(seeds) else [])
    rc, out = run_captured(cmd, args.fuzz_seconds + 120, cwd=work)
    if rc == 0:
        return "pass", name, None, []
    details = ["command: %s" % " ".join(cmd), "driver: %s" % ("libFuzzer" if libfuzzer else "standalone")]
    # libFuzzer writes to -artifact_prefix, the standalone driver to its cwd.
    found = [os.path.join(artifacts, f) for f in os.listdir(artifacts)] + \
        [os.path.join(work, f) for f in os.listdir(work) if re.match(r"^(crash|leak|timeout|oom)-", f)]
    if found:
        keep = tempfile.mkdtemp(prefix="pytop-fuzz-%s-" % base)
        for f in found:
            shutil.copy(f, keep)
        details.append("crashing inputs kept in %s: %s" % (keep, ", ".join(sorted(os.listdir(keep)))))
    details += indent_output(out, 80)
    return "fail", name, exit_status(rc), details


def phase_fuzz(args, rep, tmproot):
    targets = args.fuzz.split()
    if args.fuzz_seconds <= 0:
        for rel in targets:
            rep.skip("fuzz %s" % os.path.basename(rel), "--fuzz-seconds=0")
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one_fuzzer, args, rel, tmproot) for rel in targets]
        for f in concurrent.futures.as_completed(futures):
            status, name, message, details = f.result()
            if status == "pass":
                rep.ok(name)
            else:
                rep.fail(name, message, details)


def phase_layouts(args, rep):
    tool = os.path.join(args.srcdir, "tools", "gen_layouts.py")
    table = os.path.join(args.srcdir, "src", "python", "layouts_generated.c")
    if not os.path.exists(tool):
        rep.fail("layouts", "tools/gen_layouts.py is missing (%s)" % tool)
        return
    cmd = [sys.executable, tool, "--check", table]
    rc, out = run_captured(cmd, UNIT_TIMEOUT, cwd=args.srcdir)
    points = parse_tap(out)[0]
    if not points and rc == 0:
        rep.ok("layouts gen_layouts.py --check")
        return
    report_tap(rep, "layouts", cmd, rc, out)


def phase_functional(args, rep, tmproot):
    sys.dont_write_bytecode = True   # no __pycache__ in the source tree
    sys.path.insert(0, os.path.join(args.srcdir, "tests", "functional"))
    import harness
    import interpreters
    import scenarios

    interps, skips, problems = interpreters.discover(args.python)
    for label, reason in skips:
        rep.skip(label, reason)
    for path, reason in problems:
        if args.python:
            rep.fail("python %s" % path, "unusable: %s" % reason)
        else:
            rep.skip("python %s" % path, "unusable: %s" % reason)
    for i in interps:
        rep.note("interpreter %s: %s%s" % (i.id, i.path, " (libpython %s)" % i.libpython if i.libpython else " (static)"))

    class Suite(object):
        pass
    suite = Suite()
    suite.pytop = os.path.join(os.path.abspath(args.builddir), "pytop")
    suite.tmproot = tmproot
    suite.interps = interps
    have_pytop = os.access(suite.pytop, os.X_OK)

    # Checks written in C that drive other programs (e.g. each export loaded
    # by its real reader): TAP, named by their binary.
    taps = [r for r in args.tap.split() if not args.k or any(k in os.path.basename(r) for k in args.k)]
    run_tap_programs(args, rep, taps)

    tests = [t for t in scenarios.build(interps) if not args.k or any(k in t.name for k in args.k)]

    def execute(test):
        if test.skip:
            return "skip", test.name, test.skip, []
        if not have_pytop:
            return "fail", test.name, "pytop not built: %s" % suite.pytop, []
        if harness.ABORT.is_set():
            return "skip", test.name, "interrupted", []
        case = harness.Case(suite, test.name, test.interp)
        t0 = time.time()
        try:
            # A test may return a string of what it measured, printed after PASS.
            detail = test.fn(case)
            return "pass", test.name, detail if isinstance(detail, str) else None, []
        except harness.TestSkip as e:
            return "skip", test.name, str(e), []
        except harness.TestFailure as e:
            return "fail", test.name, e.message, e.details + ["(test took %.1f s)" % (time.time() - t0)]
        except Exception:
            return "fail", test.name, "the test itself crashed", traceback.format_exc().rstrip().split("\n")
        finally:
            case.close()

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    futures = [pool.submit(execute, t) for t in tests]
    try:
        for f in concurrent.futures.as_completed(futures):
            status, name, message, details = f.result()
            if status == "pass":
                rep.ok(name, message)
            elif status == "skip":
                rep.skip(name, message)
            else:
                rep.fail(name, message, details)
    except BaseException:
        # Interrupted: start nothing new and kill what runs, so the tests
        # still running fail fast instead of being waited for.
        harness.ABORT.set()
        for f in futures:
            f.cancel()
        harness.kill_all()
        raise
    finally:
        pool.shutdown(wait=True)
        harness.kill_all()
        interpreters.cleanup()


def phase_tui(args, rep, tmproot):
    # The live view driven in tmux, as a person would (tests/tui/tui_tests.py).
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(args.srcdir, "tests", "tui"))
    import tui_tests
    tui_tests.run(os.path.join(args.builddir, "pytop"), tmproot, rep, args.k)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--builddir", default=None)
    ap.add_argument("--unit", default="", help="space-separated unit test binaries, relative to builddir")
    ap.add_argument("--fuzz", default="", help="space-separated fuzz targets, relative to builddir")
    ap.add_argument("--tap", default="", help="space-separated TAP programs run in the functional phase, "
                    "relative to builddir")
    ap.add_argument("--fuzz-seconds", type=int, default=10, help="seconds per fuzz target; 0 skips them")
    ap.add_argument("--only", action="append", default=[], help="run only these phases: " + ", ".join(PHASES))
    ap.add_argument("--python", action="append", default=[],
                    help="test only this interpreter (repeatable); one in a root, e.g. "
                         "/var/cache/pytop/sid/usr/bin/python3.15, runs chroot'd there")
    ap.add_argument("-k", action="append", default=[], help="only functional tests, TAP programs (--tap) and tui tests whose name contains this")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="tests run in parallel (default 2)")
    args = ap.parse_args()
    # Absolute: unit tests run with the build directory as their cwd.
    args.srcdir = os.path.abspath(args.srcdir)
    args.builddir = os.path.abspath(args.builddir or args.srcdir)
    phases = []
    for o in args.only:
        for p in o.split(","):
            if p not in PHASES:
                ap.error("--only: unknown phase %r (choose from %s)" % (p, ", ".join(PHASES)))
            phases.append(p)
    phases = phases or list(PHASES)

    rep = Reporter()
    tmproot = tempfile.mkdtemp(prefix="pytop-tests-")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    interrupted = False
    try:
        if "static" in phases:
            phase_static(args, rep)
        if "unit" in phases:
            phase_unit(args, rep)
        if "fuzz" in phases:
            phase_fuzz(args, rep, tmproot)
        if "layouts" in phases:
            phase_layouts(args, rep)
        if "functional" in phases:
            phase_functional(args, rep, tmproot)
        if "tui" in phases:
            phase_tui(args, rep, tmproot)
    except KeyboardInterrupt:
        interrupted = True
        rep.fail("run_tests", "interrupted")
    finally:
        for m in ("harness", "tuiharness"):
            if m in sys.modules:
                sys.modules[m].kill_all()
        shutil.rmtree(tmproot, ignore_errors=True)
    sys.stdout.write(rep.summary() + "\n")
    sys.stdout.flush()
    if interrupted:
        return 130
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
