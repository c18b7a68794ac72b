#!/usr/bin/env python3
"""End-to-end tests of pytop's live view, driven as a person would drive it.

Each test starts a real Python target, runs the real `pytop` in a pane of a
private tmux server (tmux -L pytop-test-<pid>), types keys with send-keys
and reads the screen with capture-pane, polling until the screen shows what
it should (never a fixed sleep standing in for a check). Python 3 standard
library only.

    python3 tests/tui/tui_tests.py --pytop=build/pytop [-k SUBSTRING]
    python3 tests/run_tests.py --builddir=build --only=tui      (the same, in the runner)

Prints PASS/FAIL/SKIP lines and ends with "N passed, N failed, N skipped".
PYTOP_TUI_TIMEOUT_SCALE=2 doubles every timeout on a slow machine.
"""
import argparse
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The functional tests' discovery: Debian sid's interpreters (chroot'd) and the free-threaded 3.13.
sys.path.insert(1, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "functional"))
import interpreters   # noqa: E402
import tuiharness as h   # noqa: E402
from tuiharness import Failure, Skip, row_has, own_share   # noqa: E402

# Interpreters the hot-function test must cover; a missing one is a named SKIP.
REQUIRED_PYTHONS = ("2.7", "3.12")
# The Memory view's counters are checked on these (a missing one is a named SKIP).
MEMORY_PYTHONS = ("2.7", "3.12")
# Installed by scripts/interpreters.sh: the hot-function test runs on each (a
# missing one is a named SKIP), the Memory view's on those of MEMORY_EXTRA found.
EXPECTED_EXTRA = ("3.13-sid", "3.14-sid", "3.14d-sid", "3.15-sid", "3.13t")
MEMORY_EXTRA = ("3.15-sid", "3.13t")
VIEWS = ("Functions", "Threads", "Call tree", "Source", "Memory", "Tasks")


# ---- interpreters --------------------------------------------------------------

def pyenv_root():
    if os.environ.get("PYENV_ROOT"):
        return os.environ["PYENV_ROOT"]
    try:
        out = subprocess.check_output(["pyenv", "root"], stderr=subprocess.DEVNULL, timeout=20)
        return out.decode().strip() or None
    except (OSError, subprocess.SubprocessError):
        d = os.path.expanduser("~/.pyenv")
        return d if os.path.isdir(d) else None


def find_pythons():
    """{"X.Y": path} for every $(pyenv root)/versions/*/bin/pythonX.Y, newest patch level,
    and {"X.Y[dt]-sid" or "X.Yt": interpreters.Interpreter} for the sid root's and the
    free-threaded build's (run by h.Target as the functional tests run them)."""
    found = find_pyenv_pythons()
    for path in interpreters.installed_candidates():
        try:
            i = interpreters.identify(path)
        except RuntimeError:
            continue   # the functional tests report it
        found["%d.%d%s%s" % (i.version[:2] + (i.abiflags, "-" + i.flavour if i.flavour else ""))] = i
    return found


def version_key(name):
    """Sort key of a find_pythons() name: "3.14d-sid" after "3.14-sid" after "3.14"."""
    m = re.match(r"^(\d+)\.(\d+)(.*)$", name)
    return (int(m.group(1)), int(m.group(2)), m.group(3))


def find_pyenv_pythons():
    """{"X.Y": path} for every $(pyenv root)/versions/*/bin/pythonX.Y, newest patch level."""
    found = {}
    root = pyenv_root()
    if not root:
        return found
    best = {}
    for path in glob.glob(os.path.join(root, "versions", "*", "bin", "python[23].*")):
        m = re.match(r"^python(\d\.\d+)$", os.path.basename(path))
        v = re.match(r"^(\d+)\.(\d+)\.(\d+)$", os.path.basename(os.path.dirname(os.path.dirname(path))))
        if not m or not v or not os.access(path, os.X_OK):
            continue
        key = tuple(int(x) for x in v.groups())
        if m.group(1) not in best or key > best[m.group(1)][0]:
            best[m.group(1)] = (key, path)
    for xy, (_, path) in best.items():
        found[xy] = path
    return found


def default_python(pythons):
    for xy in ("3.12", "3.11", "3.13", "3.10"):
        if xy in pythons:
            return pythons[xy]
    for p in ("/usr/bin/python3", sys.executable):
        if p and os.access(p, os.X_OK):
            return p
    return None


# ---- what the tests share ---------------------------------------------------------

class Context(object):
    def __init__(self, pytop, tmux, workdir, python):
        self.pytop = pytop
        self.tmux = tmux
        self.workdir = workdir
        self.python = python
        self.targets = []
        self.dirs = []

    def target(self, script, python=None, args=()):
        python = python or self.python
        workdir = self.workdir
        if getattr(python, "root", None):
            # Its ready file and log inside its root.
            workdir = tempfile.mkdtemp(prefix="tui-", dir=python.scratch(os.path.dirname(self.workdir)))
            self.dirs.append(workdir)
        t = h.Target(python, script, workdir, args)
        self.targets.append(t)
        return t.start()

    def pytop_pane(self, args, width=120, height=40):
        return self.tmux.session([self.pytop] + list(args), width, height, cwd=self.workdir)

    def close(self):
        for t in self.targets:
            t.stop()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def hot_on_top(scr):
    rows = scr.function_rows()
    if rows and row_has(rows[0], "hot_function"):
        return rows[0]
    return None


def attach(ctx, target, args=(), width=120, height=40, until=hot_on_top, what="hot_function on top of Functions"):
    """pytop -p PID in a pane, waited on until `until(screen)` holds."""
    pane = ctx.pytop_pane(list(args) + ["-p", str(target.pid)], width, height)
    scr, _ = pane.wait_for(what, until, h.START_WAIT)
    return pane, scr


def quit_ok(pane, key="q", want=(0,)):
    """Press key; the program must end with a status in want, on a restored terminal."""
    pane.keys(key)
    return check_restored(pane, "after %s" % key, want)


def check_restored(pane, when, want):
    rc, modes, scr = pane.wait_exit()
    problems = []
    if rc not in want:
        problems.append("exit status %d %s (want %s)" % (rc, when, " or ".join(str(w) for w in want)))
    if pane.alternate_on():
        problems.append("the pane is still on the alternate screen %s" % when)
    if not pane.cursor_visible():
        problems.append("the cursor is still hidden %s" % when)
    missing = [m for m in ("echo", "icanon") if m not in modes]
    if missing:
        problems.append("the terminal was left without %s %s (stty)" % (", ".join(missing), when))
    if problems:
        raise pane.failure("; ".join(problems), scr)
    return scr


WINDOW_RX = r"(?i)(\blast\s+\d+(?:\.\d+)?\s*(?:s|sec|seconds|m|min)\b|since\s+start)"


def shows_command(head, target):
    """The header shows the target's command line, or at least its first 30
    characters when the screen is too narrow for all of it."""
    cmd = target.cmdline()
    n = len(cmd)
    while n > 0 and cmd[:n] not in head:
        n -= 1
    return n >= min(len(cmd), 30)


def mode_word(scr):
    """'WALL' or 'CPU' as the header shows the view mode, or None."""
    head = scr.header()
    if re.search(r"\bWALL\b", head):
        return "WALL"
    if re.search(r"\bCPU\b", head):
        return "CPU"
    return None


# ---- tests ----------------------------------------------------------------------

def t_hot_on_top(ctx, python, xy):
    target = ctx.target("hot_cold.py", python=python)
    pane, scr = attach(ctx, target)
    # Shares settle over the first refreshes: wait for a clear majority.
    scr, row = pane.wait_for("hot_function on top with at least 50 %% own",
                             lambda s: hot_on_top(s) if (own_share(hot_on_top(s) or "") or 0) >= 50 else None)
    head = scr.header()
    problems = []
    if str(target.pid) not in head:
        problems.append("the header does not show the PID %d" % target.pid)
    if not shows_command(head, target):
        problems.append("the header does not show the command line (%s)" % target.cmdline())
    want = re.escape(xy) + r"(?!\d)" if not xy.endswith("t") else re.escape(xy[:-1]) + r"\.\d+t\b"
    if not re.search(r"(?i)\bpython\s+%s" % want, head):   # "Python 3.12.1", not a path
        problems.append("the header does not show the Python version %s" % xy)
    if problems:
        raise pane.failure("; ".join(problems), scr)
    target.check_running("while pytop watched it")
    quit_ok(pane)
    target.check_running("after pytop quit")


HEADER_FIELDS = [
    ("the view mode (CPU or WALL)", r"\b(CPU|WALL)\b"),
    ("the Python version", r"(?i)\bpython\s+\d\.\d+"),
    ("the elapsed time", r"(?i)\belapsed\b"),
    ("the sample count", r"(?i)\bsamples?\b"),
    ("the achieved rate", r"(?i)(\bHz\b|/s\b)"),
    ("the late count", r"(?i)\blate\b"),
    ("the error count", r"(?i)\berr(or)?s?\b"),
    ("the process CPU %", r"(?i)\bcpu\b[^\n%]{0,12}%"),
    ("the RSS", r"(?i)\bRSS\b\s*\S*\d"),
    ("the thread count", r"(?i)(\bthreads?\b\s*\d|\d+\s*threads?\b)"),
    ("the window (last N s or since start)", WINDOW_RX),
]


def header_test(ctx, width, height):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target, width=width, height=height)

    def missing(s):
        # The header proper: without the line that names the views.
        head = "\n".join(l for l in s.header().split("\n") if not all(v in l for v in VIEWS))
        out = [what for what, rx in HEADER_FIELDS if not re.search(rx, head)]
        if not re.search(r"(?<!\d)%d(?!\d)" % target.pid, head):
            out.insert(0, "the PID")
        if width >= 200 and target.cmdline() not in head:
            out.insert(1, "the whole command line (%s)" % target.cmdline())
        elif not shows_command(head, target):
            out.insert(1, "the start of the command line (%s)" % target.cmdline()[:30])
        return out
    # Some fields need two readings (a CPU share): give it a few refreshes.
    deadline = time.time() + h.WAIT
    while True:
        scr = pane.screen()
        lacks = missing(scr)
        if not lacks:
            break
        if time.time() > deadline:
            raise pane.failure("at %dx%d the header lacks %s" % (width, height, ", ".join(lacks)), scr,
                               ["header (the lines above the Functions table):"] + h.framed(scr.header()))
        time.sleep(h.POLL)
    quit_ok(pane)


def t_cpu_wall(ctx):
    target = ctx.target("sleepy.py")
    pane, scr = attach(ctx, target)
    m0 = mode_word(scr)
    if m0 is None:
        raise pane.failure("the header shows neither CPU nor WALL", scr)

    def cpu_ok(s):
        row = s.function_row("sleepy_function")
        hot = s.function_row("hot_function")
        return mode_word(s) == "CPU" and hot and (row is None or own_share(row) < 5) and own_share(hot) >= 70

    def wall_ok(s):
        row = s.function_row("sleepy_function")
        hot = s.function_row("hot_function")
        return mode_word(s) == "WALL" and row and hot and own_share(row) >= 20 and own_share(hot) <= 80

    seen = {}
    for _ in range(2):   # CPU -> WALL -> CPU, or WALL -> CPU -> WALL
        m = mode_word(pane.screen())
        want = "WALL" if m == "CPU" else "CPU"
        pane.keys("c")
        scr, _ = pane.wait_for("the header to switch from %s to %s after 'c'" % (m, want),
                               lambda s: mode_word(s) == want)
        what = ("sleepy_function with >= 20 % own and hot_function <= 80 % in the WALL view"
                if want == "WALL" else "sleepy_function absent or < 5 % and hot_function >= 70 % in the CPU view")
        scr, _ = pane.wait_for(what, wall_ok if want == "WALL" else cpu_ok)
        seen[want] = scr
    cpu_hot = own_share(seen["CPU"].function_row("hot_function"))
    wall_hot = own_share(seen["WALL"].function_row("hot_function"))
    if cpu_hot - wall_hot < 15:
        raise pane.failure("hot_function's own share barely changes between CPU (%.1f) and WALL (%.1f)"
                           % (cpu_hot, wall_hot), seen["WALL"])
    quit_ok(pane)


def t_top_idle_gil(ctx):
    """pytop top --idle opens on WALL, where sleepy_function waits; with
    --gil, the sleeping thread (which never holds the GIL) is left out."""
    target = ctx.target("sleepy.py")
    pane, scr = attach(ctx, target, args=["top", "--idle"], until=lambda s: (
        mode_word(s) == "WALL" and s.function_row("sleepy_function") and s.function_row("hot_function")),
        what="WALL first, with sleepy_function and hot_function, under top --idle")
    quit_ok(pane)
    pane, scr = attach(ctx, target, args=["top", "--idle", "--gil"], until=lambda s: (
        mode_word(s) == "WALL" and s.function_row("hot_function") and "GIL held" in s.header()),
        what="hot_function in the WALL view under top --idle --gil, the header saying GIL held")
    time.sleep(2 * h.SCALE)   # a couple of refreshes more
    scr = pane.screen()
    if scr.function_row("sleepy_function"):
        raise pane.failure("--gil shows sleepy_function, whose thread sleeps without the GIL", scr)
    quit_ok(pane)
    # --mode gil: the same, as CPython's sampler names it.
    pane, scr = attach(ctx, target, args=["top", "--mode", "gil"], until=lambda s: (
        mode_word(s) == "WALL" and s.function_row("hot_function") and "GIL held" in s.header()),
        what="hot_function in the WALL view under --mode gil, the header saying GIL held")
    time.sleep(2 * h.SCALE)
    scr = pane.screen()
    if scr.function_row("sleepy_function"):
        raise pane.failure("--mode gil shows sleepy_function, whose thread sleeps without the GIL", scr)
    quit_ok(pane)


def t_snapshot(ctx, fmt=None):
    target = ctx.target("hot_cold.py")
    snaps = os.path.join(ctx.workdir, "snaps")
    os.mkdir(snaps)
    args = ["--snapshot-dir", snaps] + (["--snapshot-format", fmt] if fmt else [])
    pane, scr = attach(ctx, target, args, width=220, height=40)
    pane.keys("s")
    scr, m = pane.wait_for("'saved <path>' in the status line",
                           lambda s: re.search(r"\bsaved\s+(\S+)", s.text))
    path = m.group(1)
    if not os.path.isabs(path):
        path = os.path.join(ctx.workdir, path)
    if not os.path.isfile(path):
        raise pane.failure("the status line says 'saved %s' but there is no such file" % m.group(1), scr,
                           ["in %s: %s" % (snaps, os.listdir(snaps))])
    if os.path.dirname(os.path.realpath(path)) != os.path.realpath(snaps):
        raise pane.failure("the snapshot %s is not in --snapshot-dir %s" % (path, snaps), scr)
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    if fmt == "folded":
        # One line per stack: frames root to leaf joined by ';', a space, a count.
        bad = [l for l in data.splitlines() if not re.match(r"^\S.*\s\d+$", l)]
        if not data.strip() or bad:
            raise pane.failure("the snapshot %s is not folded stacks (%d bad lines, e.g. %r)"
                               % (path, len(bad), bad[:1]), scr)
        if not any("hot_function" in l.rsplit(";", 1)[-1] for l in data.splitlines()):
            raise pane.failure("no folded stack of %s ends in hot_function" % path, scr)
    else:
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise pane.failure("the snapshot %s is not JSON: %s" % (path, e), scr)
        if "speedscope" not in str(doc.get("$schema", "")) or not doc.get("profiles"):
            raise pane.failure("the snapshot %s is not a speedscope profile (keys: %s)"
                               % (path, sorted(doc)), scr)
        frames = [f.get("name", "") for f in doc.get("shared", {}).get("frames", [])]
        if not any("hot_function" in n for n in frames):
            raise pane.failure("the snapshot has no hot_function frame (frames: %s)" % frames[:20], scr)
    quit_ok(pane)


def t_snapshot_fails(ctx):
    target = ctx.target("hot_cold.py")
    bad = os.path.join(ctx.workdir, "not-a-directory")
    with open(bad, "w") as f:
        f.write("a file where --snapshot-dir wants a directory\n")
    pane, scr = attach(ctx, target, ["--snapshot-dir", bad], width=160, height=40)
    pane.keys("s")
    scr, _ = pane.wait_for("'save failed: <reason>' in the status line",
                           lambda s: re.search(r"save failed:\s*\S", s.text))
    # Still alive and still refreshing: the header keeps changing.
    before = scr.header()
    pane.wait_for("the header to change (refreshing after the failed save)",
                  lambda s: s.header() != before and hot_on_top(s))
    target.check_running("after the failed save")
    quit_ok(pane)


def t_resize_80x24(ctx):
    target = ctx.target("hot_cold.py")
    # What pytop draws when started at 80x24: the resized screen must have its shape.
    ref_pane, ref = attach(ctx, target, width=80, height=24)
    ref_at = ref.functions_head()
    ref_head = ref.lines[ref_at].rstrip()
    ref_last = bool(ref.lines[23].strip()) if len(ref.lines) >= 24 else False
    quit_ok(ref_pane)
    pane, scr = attach(ctx, target, width=120, height=40)
    big_head = scr.lines[scr.functions_head()].rstrip()
    pane.resize(80, 24)

    def redrawn(s):
        i = s.functions_head()
        last = bool(s.lines[23].strip()) if len(s.lines) >= 24 else False
        return (i == ref_at and s.lines[i].rstrip() == ref_head and hot_on_top(s) and last == ref_last
                and str(target.pid) in s.header())
    pane.wait_for("the 80x24 layout as at start-up in 80x24 (header with the PID, Functions heading '%s' "
                  "on line %d, hot_function on top, %s last line)"
                  % (ref_head.strip(), ref_at + 1, "a" if ref_last else "an empty"), redrawn)
    if big_head == ref_head:
        # The heading alone does not prove a redraw: the header must also keep refreshing.
        before = pane.screen().header()
        pane.wait_for("the header to refresh at 80x24", lambda s: s.header() != before and hot_on_top(s))
    quit_ok(pane)


def t_resize_tiny(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target, width=120, height=40)
    pid = pane.program_pid()
    pane.resize(40, 10)
    scr, _ = pane.wait_for("something drawn at 40x10", lambda s: s.text.strip())
    deadline = time.time() + 3 * h.SCALE
    while time.time() < deadline:   # a few refreshes at 40x10
        if pane.result() is not None or not h.alive(pid):
            raise pane.failure("pytop ended at 40x10")
        time.sleep(h.POLL)
    # Smaller than the view can be drawn in: the size it needs, whole.
    pane.resize(10, 3)
    pane.wait_for("'need COLSxROWS' shown whole at 10x3",
                  lambda s: re.search(r"^need \d+x\d+$", s.text.split("\n")[0].strip()))
    pane.resize(120, 40)
    pane.wait_for("hot_function on top again after growing back to 120x40", hot_on_top)
    quit_ok(pane)


def header_changes(pane, seconds):
    """How many times the header changed in `seconds` (polled every POLL s)."""
    last, changes = None, -1
    deadline = time.time() + seconds
    while time.time() < deadline:
        head = pane.screen().header()
        if head != last:
            last, changes = head, changes + 1
        time.sleep(h.POLL / 2)
    return changes


def t_refresh(ctx):
    target = ctx.target("hot_cold.py")
    for args, period in (([], 1.0), (["--refresh", "2"], 2.0)):
        pane, scr = attach(ctx, target, args)
        n = header_changes(pane, 8)
        want = 8 / period
        if not want * 0.5 <= n <= want * 1.5 + 1:
            raise pane.failure("%s: the header changed %d times in 8 s (about %.0f expected)"
                               % (" ".join(args) or "default refresh", n, want), pane.screen())
        quit_ok(pane)


def achieved_rate(s):
    m = re.search(r"(\d+(?:\.\d+)?)\s*(?:/\s*\d+(?:\.\d+)?\s*)?Hz", s.header())
    return float(m.group(1)) if m else None


def t_rate(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target, ["--rate", "40"])
    scr, _ = pane.wait_for("an achieved rate between 25 and 48 Hz in the header (--rate 40)",
                           lambda s: 25 <= (achieved_rate(s) or 0) <= 48 and s.header().count("Hz") > 0)
    quit_ok(pane)


def t_slow_view(ctx):
    """A view that holds its lock 400 ms longer each time (test hook: a slow
    query) must not slow sampling."""
    target = ctx.target("hot_cold.py")
    pane = ctx.tmux.session(["env", "PYTOP_TEST_UI_DELAY_MS=400", ctx.pytop, "--rate", "100",
                             "-p", str(target.pid)], 120, 40, cwd=ctx.workdir)
    pane.wait_for("hot_function on top of Functions", hot_on_top, h.START_WAIT)
    time.sleep(3)
    scr, rate = pane.wait_for("an achieved rate of 70-115 Hz with --rate 100 and a slow view",
                              lambda s: (achieved_rate(s) or 0) >= 70 and achieved_rate(s))
    if rate > 115:
        raise pane.failure("achieved %.1f Hz, above the 100 Hz asked" % rate, scr)
    if "not shown" in scr.header():
        raise pane.failure("samples were dropped though the view is only 400 ms late", scr)
    quit_ok(pane)


def quit_test(ctx, how):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target)
    for _ in range(5):
        target.check_running("while pytop watched it")
        time.sleep(0.2)
    if how == "q":
        quit_ok(pane, "q", (0,))
    elif how == "C-c":
        quit_ok(pane, "C-c", (0, 128 + signal.SIGINT))
    else:
        pid = pane.program_pid()
        if pid is None:
            raise pane.failure("cannot find pytop's process under the pane")
        os.kill(pid, signal.SIGTERM)
        check_restored(pane, "after SIGTERM", (0, 128 + signal.SIGTERM))
    target.check_running("after pytop ended")
    time.sleep(0.5)
    target.check_running("half a second after pytop ended")


def detect_view():
    """A function telling which view a screen shows, from what only that view shows."""
    def detect(s):
        low = s.text.lower()
        if s.functions_head() is not None:
            return "Functions"
        if s.threads_head() is not None:
            return "Threads"
        if "source" in low and re.search(r"\bdef \w+\(", s.text):
            return "Source"
        # The Memory view lists functions too (by memory growth): tell it by
        # its counter table before looking for the Call tree.
        if "memory" in low and re.search(r"\bRSS\b", s.text) and re.search(r"\bCOUNTER\b", s.text):
            return "Memory"
        if "call tree" in low and "hot_function" in s.text:
            return "Call tree"
        if task_rows(s) is not None:
            return "Tasks"
        return None
    return detect


HOT_SOURCE = "total += i * i"   # the hot line of the targets' hot_function


def t_views_keys(ctx):
    target = ctx.target("named_threads.py")
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("hot_function"),
                       what="hot_function in Functions")
    detect = detect_view()
    for key, name in (("2", "Threads"), ("3", "Call tree"), ("4", "Source"), ("5", "Memory"), ("1", "Functions")):
        pane.keys(key)
        scr, _ = pane.wait_for("the %s view after '%s'" % (name, key),
                               lambda s: detect(s) == name and name in s.text)
    quit_ok(pane)


def task_rows(s):
    """The Tasks view's rows (under its TASK ... AWAITS heading), or None."""
    for i, l in enumerate(s.lines):
        if re.search(r"\bTASK\b", l) and re.search(r"\bAWAITS\b", l):
            rows = []
            for r in s.lines[i + 1:]:
                if not r.strip():
                    break
                rows.append(r.rstrip())
            return rows
    return None


def task_row(s, name):
    for r in task_rows(s) or []:
        if row_has(r, name):
            return r
    return None


def t_tasks_view(ctx):
    """--async: 6 shows the Tasks view (burner running, sleeper waiting on
    sleep, waiter on Event.wait); Enter on sleeper shows only its stacks."""
    target = ctx.target("tasks.py")
    pane, scr = attach(ctx, target, ["--async"])
    pane.keys("6")

    def listed(s):
        b, sl, w = task_row(s, "burner"), task_row(s, "sleeper"), task_row(s, "waiter")
        return (b and sl and w and row_has(b, "running") and row_has(sl, "waiting") and row_has(sl, "sleep")
                and row_has(w, "waiting") and row_has(w, "Event.wait"))
    pane.wait_for("Tasks: burner running, sleeper waiting in sleep, waiter in Event.wait", listed)
    # The sleeper's row, chosen as a person would: pause, Home, down to it.
    scr = pause(pane)
    index = [i for i, r in enumerate(task_rows(scr)) if row_has(r, "sleeper")][0]
    pane.keys("Home", *(["j"] * index))
    pane.keys("Enter", "p", "c", "1")

    def only_sleeper(s):
        rows = s.function_rows()
        return (rows is not None and s.function_row("nap") and s.function_row("sleeper")
                and not s.function_row("hot_function") and not s.function_row("waiter"))
    pane.wait_for("WALL Functions filtered to <task sleeper>: nap and sleeper, no hot_function", only_sleeper)
    quit_ok(pane)


def t_tasks_replay(ctx):
    """A recording made with --async shows the same Tasks in a replay."""
    target = ctx.target("tasks.py")
    rec = os.path.join(ctx.workdir, "tasks.pytop")
    cmd = [ctx.pytop, "--record", rec, "--async", "--duration", "3", "-p", str(target.pid)]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60 * h.SCALE)
    if p.returncode != 0 or not os.path.isfile(rec):
        raise Failure("pytop --record --async failed (exit status %d)" % p.returncode,
                      ["command: %s" % " ".join(cmd)] + h.framed(p.stdout.decode("utf-8", "replace")))
    target.stop()
    pane = ctx.pytop_pane(["--replay", rec])
    pane.wait_for("Functions rows from the recording", lambda s: s.function_rows(), h.START_WAIT)
    pane.keys("6")

    def listed(s):
        b, sl = task_row(s, "burner"), task_row(s, "sleeper")
        return b and sl and row_has(sl, "waiting") and row_has(sl, "sleep")
    pane.wait_for("the recorded Tasks: burner, sleeper waiting in sleep", listed)
    quit_ok(pane)


def t_views_tab(ctx):
    target = ctx.target("named_threads.py")
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("hot_function"),
                       what="hot_function in Functions")
    detect = detect_view()
    for name in VIEWS[1:] + VIEWS[:1]:
        pane.keys("Tab")
        pane.wait_for("the %s view after Tab" % name, lambda s: detect(s) == name and name in s.text)
    quit_ok(pane)


def t_threads_view(ctx):
    target = ctx.target("named_threads.py")
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("hot_function"),
                       what="hot_function in Functions")
    pane.keys("2")
    tids = target.info["tids"]

    def listed(s):
        rows = s.thread_rows()
        if not rows:
            return None
        text = "\n".join(rows)
        return all(n in text for n in tids) and all(re.search(r"\b%d\b" % t, text) for t in tids.values())
    scr, _ = pane.wait_for("the Threads view listing MainThread, spin-alpha and spin-beta with their tids",
                           listed)
    pane.wait_for("MainThread shown idle (it sleeps)",
                  lambda s: any("MainThread" in r and re.search(r"\bidle\b", r) for r in (s.thread_rows() or [])))
    for name in ("spin-alpha", "spin-beta"):
        pane.wait_for("%s running hot/beta function in Threads" % name,
                      lambda s: any(name in r and ("hot_function" in r or "beta_function" in r)
                                    for r in (s.thread_rows() or [])))
    quit_ok(pane)


def t_thread_filter(ctx):
    target = ctx.target("named_threads.py")
    both = lambda s: s.function_row("hot_function") and s.function_row("beta_function")
    pane, scr = attach(ctx, target, until=both, what="hot_function and beta_function in Functions")
    tids = target.info["tids"]
    pane.keys("2")
    pane.wait_for("spin-alpha in the Threads view", lambda s: any("spin-alpha" in r for r in (s.thread_rows() or [])))
    # Pause, so the rows hold still, and select spin-alpha's row as a person
    # would: Home, then down to it.
    scr = pause(pane)
    index = [i for i, r in enumerate(scr.thread_rows()) if "spin-alpha" in r][0]
    pane.keys("Home", *(["j"] * index))
    pane.keys("Enter")
    pane.keys("p", "1")

    def filtered(s):
        if s.functions_head() is None:
            return None
        head = s.header()
        # Named in the header or a filter line: the name, or the tid of a non-main thread.
        named = [n for n in tids if n in head or any(
            n in l for l in s.lines[s.functions_head() + 1:] if "filter" in l.lower() or "thread" in l.lower())]
        named += [n for n, t in tids.items() if n != "MainThread" and re.search(r"\b%d\b" % t, head)
                  and n not in named]
        return named if len(named) == 1 else None
    scr, named = pane.wait_for("the header or a filter indicator naming the thread chosen with Enter", filtered)
    thread = named[0]
    present, absent = {"spin-alpha": (["hot_function"], ["beta_function"]),
                       "spin-beta": (["beta_function"], ["hot_function"]),
                       "MainThread": ([], ["hot_function", "beta_function"])}[thread]

    def consistent(s):
        rows = s.function_rows()
        return (rows is not None and all(any(row_has(r, f) for r in rows) for f in present)
                and not any(row_has(r, f) for r in rows for f in absent))
    scr, _ = pane.wait_for("Functions filtered to %s: %s" % (thread, ", ".join(
        ["%s listed" % f for f in present] + ["%s not listed" % f for f in absent])), consistent)
    if thread != "spin-alpha":
        raise pane.failure("Enter on spin-alpha's row (Home, then j x %d) filtered to %s" % (index, thread), scr)
    quit_ok(pane)


def pause(pane):
    """Press p and return the screen once it holds still (a refresh may be in flight)."""
    pane.keys("p")
    time.sleep(1.5)
    return pane.screen()


def t_filter(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target, until=lambda s: hot_on_top(s) and len(s.function_rows()) >= 2,
                       what="hot_function on top and more functions under it")
    pane.keys("/")
    pane.type("hot_function")
    pane.keys("Enter")

    # Either only the rows naming hot_function, or the samples through it:
    # hot_function and its callers, never cold_function (no stack has both).
    callers = ("main", "<module>")

    def only_hot(s):
        rows = s.function_rows()
        return (rows and row_has(rows[0], "hot_function") and "hot_function" in s.header()
                and all(row_has(r, "hot_function") or any(row_has(r, c) for c in callers) for r in rows))
    pane.wait_for("Functions filtered to hot_function (hot_function on top, then only its callers; "
                  "the filter named above the table)", only_hot)
    quit_ok(pane)


def t_source(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target)
    pane.keys("Home", "Enter")

    def annotated(s):
        for l in s.lines:
            if HOT_SOURCE in l and re.search(SHARE_RX, l.split(HOT_SOURCE)[0]):
                return l
        return None
    scr, line = pane.wait_for("the Source view with hot_function's hot line and its share",
                              lambda s: "Source" in s.text and annotated(s))
    if s_share(line) < 30:
        raise pane.failure("the hot line has a share of only %.1f %%" % s_share(line), scr)
    pane.keys("Escape")
    pane.wait_for("Functions again after Esc", hot_on_top)
    quit_ok(pane)


SHARE_RX = r"(\d+\.\d+|\d+(?=\s*%))"   # 63.4 or 63 % (a line number has neither)


def s_share(line):
    m = re.search(SHARE_RX, line.split(HOT_SOURCE)[0])
    return float(m.group(1)) if m else 0.0


def t_navigation(ctx):
    target = ctx.target("named_threads.py")
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("main_wait"), what="main_wait in Functions")
    pane.keys("c")   # WALL: every function of every thread stays listed
    pane.wait_for("WALL in the header", lambda s: mode_word(s) == "WALL")
    pane.wait_for("at least 6 Functions rows", lambda s: len(s.function_rows() or []) >= 6)
    pause(pane)   # rows of equal shares may swap places at each refresh

    def selected(s):
        head = s.functions_head()
        if head is None:
            return None
        return s.highlighted(head + 1), len(s.function_rows())
    for key, want in (("Home", "first"), ("j", 1), ("k", "first"), ("Down", 1), ("Down", 2), ("Up", 1),
                      ("End", "last"), ("Home", "first"), ("NPage", "last"), ("PPage", "first")):
        pane.keys(key)

        def at(s):
            sel = selected(s)
            if sel is None or sel[0] is None:
                return None
            index, count = sel
            return index == {"first": 0, "last": count - 1}.get(want, want)
        deadline = time.time() + h.WAIT
        while True:
            scr = pane.screen_with_colors()
            if at(scr):
                break
            if time.time() > deadline:
                raise pane.failure("after %s the highlighted Functions row is %s, not the %s" % (
                    key, "row %d" % selected(scr)[0] if selected(scr) and selected(scr)[0] is not None
                    else "not found", want if isinstance(want, str) else "row %d" % want), scr)
            time.sleep(h.POLL)
    quit_ok(pane)


def t_call_tree(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target)
    pane.keys("3")
    pane.wait_for("the Call tree with <module> and hot_function",
                  lambda s: "Call tree" in s.text and "<module>" in s.text and "hot_function" in s.text)
    pane.keys("Home", "Enter")
    pane.wait_for("hot_function hidden after Enter collapses the root (<module>)",
                  lambda s: "<module>" in s.text and "hot_function" not in s.text)
    pane.keys("Enter")
    pane.wait_for("hot_function back after Enter expands the root",
                  lambda s: "<module>" in s.text and "hot_function" in s.text)
    quit_ok(pane)


def t_memory(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target)
    pane.keys("5")
    pane.wait_for("the Memory view with RSS and peak RSS values",
                  lambda s: "Memory" in s.text and re.search(r"(?i)\bpeak\b", s.text)
                  and re.search(r"\d+(\.\d+)?\s*(Ki?B|Mi?B|Gi?B|K|M|G)\b", s.text))
    quit_ok(pane)


BYTES_RX = r"\d+(?:\.\d+)?\s*(?:B|KiB|MiB|GiB|TiB)\b"
COUNTER_ROWS = {
    "Process": ["RSS", "peak RSS", "heap", "anon", "swap", "minor faults", "major faults"],
    "Python GC": ["gen0 count", "gen1 count", "gen2 count", "gen0 collections", "gen1 collections",
                  "gen2 collections", "collected", "uncollectable"],
    "pymalloc": ["arenas", "arenas peak", "arena bytes", "blocks"],
}
GC_TOTALS = ["gen0 collections", "gen1 collections", "gen2 collections", "collected", "uncollectable"]


def counter_value(s, name):
    """What the Memory view's row for counter `name` shows as its value now
    (the text after the name up to the next wide gap), or None."""
    for l in s.lines:
        m = re.match(r"^\W{0,3}\s*%s\s{2,}(\S+(?: \S+)?)" % re.escape(name), l)
        if m:
            return m.group(1)
    return None


def memory_screen(pane, what, pred, timeout=None):
    return pane.wait_for(what, lambda s: re.search(r"\bCOUNTER\b", s.text) and pred(s),
                         timeout or h.WAIT)[0]


def t_memory_counters(ctx, python, xy):
    target = ctx.target("hot_cold.py", python=python)
    pane, scr = attach(ctx, target)
    pane.keys("5")
    # RSS with a size; every counter's row with a value, a rate or "unavailable".
    scr = memory_screen(pane, "the Memory view with RSS in bytes",
                        lambda s: re.match(BYTES_RX, counter_value(s, "RSS") or ""))
    want_rate = r"^\d+(?:\.\d+)?[kMG]?/s$"

    def all_rows(s):
        bad = []
        for group, names in COUNTER_ROWS.items():
            if not any(l.strip() == group for l in s.lines):
                bad.append("the group title %s" % group)
            for n in names:
                v = counter_value(s, n)
                ok = v is not None and (v == "unavailable" or v == "-" or re.match(BYTES_RX, v)
                                        or re.match(want_rate, v) or re.match(r"^\d+(?:\.\d+)?[kMG]?$", v))
                if not ok:
                    bad.append("%s (shows %r)" % (n, v))
        return bad
    scr = memory_screen(pane, "every counter row with a value, a rate or 'unavailable'", lambda s: not all_rows(s))
    if not re.search(r"(?i)top memory growth", scr.text):
        raise pane.failure("the Memory view has no list of functions by memory growth", scr)
    # Rates need two readings a quarter of a second apart: wait for them.
    def rate_problems(s):
        out = []
        if not re.match(want_rate, counter_value(s, "minor faults") or ""):
            out.append("minor faults shows %r, not a rate per second" % counter_value(s, "minor faults"))
        if xy.endswith("t"):
            # Free-threaded: mimalloc allocates, so no pymalloc counters.
            out += ["%s shows %r on free-threaded Python %s (expected: unavailable)"
                    % (n, counter_value(s, n), xy) for n in COUNTER_ROWS["pymalloc"]
                    if counter_value(s, n) != "unavailable"]
        if xy.startswith("3."):
            # CPython 3 keeps the GC's counts and per-generation statistics;
            # a free-threaded generation 0 below zero is unavailable.
            if counter_value(s, "gen0 count") is None or \
                    (counter_value(s, "gen0 count") == "unavailable" and not xy.endswith("t")):
                out.append("gen0 count shows %r on Python %s" % (counter_value(s, "gen0 count"), xy))
            if not re.match(want_rate, counter_value(s, "gen0 collections") or ""):
                out.append("gen0 collections shows %r, not a rate" % counter_value(s, "gen0 collections"))
        else:
            # Python 2.7 keeps no per-generation statistics: unavailable, never 0.
            out += ["%s shows %r on Python %s (expected: unavailable)" % (n, counter_value(s, n), xy)
                    for n in GC_TOTALS if counter_value(s, n) != "unavailable"]
        return out
    deadline = time.time() + h.WAIT
    while True:
        scr = pane.screen()
        problems = rate_problems(scr)
        if not problems:
            break
        if time.time() > deadline:
            raise pane.failure("; ".join(problems), scr)
        time.sleep(h.POLL)
    quit_ok(pane)


def sorted_by_growth(s):
    head = s.functions_head()
    return head is not None and re.search(r"(\u25bc|\bv)\+MEM", s.lines[head])


def t_memory_sort(ctx):
    target = ctx.target("grow_release.py")
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("grow_memory") and s.function_row("release_memory"),
                       what="grow_memory and release_memory in Functions")
    pane.keys("m")

    def grow_on_top(s):
        rows = s.function_rows()
        if not sorted_by_growth(s) or not rows or not row_has(rows[0], "grow_memory"):
            return None
        # +MEM of grow_memory is a size; release_memory is below it.
        names = [r for r in rows if row_has(r, "release_memory")]
        return re.search(BYTES_RX, rows[0]) and names and rows
    scr, rows = pane.wait_for("grow_memory on top after 'm' (sorted by +MEM, with a size)", grow_on_top, 30 * h.SCALE)
    # -MEM: release_memory gives back what grow_memory took.
    pane.keys("m")
    pane.wait_for("the sort back on OWN% after 'm' again",
                  lambda s: s.functions_head() is not None and not sorted_by_growth(s)
                  and re.search(r"(\u25bc|\bv)OWN%", s.lines[s.functions_head()]))
    pane.keys("5")
    scr = memory_screen(pane, "grow_memory first under Top memory growth and release_memory under Top memory release",
                        lambda s: top_list_first(s, "growth") == "grow_memory"
                        and top_list_first(s, "release") == "release_memory", 30 * h.SCALE)
    quit_ok(pane)


def diff_of(s, name):
    """The DIFF% cell of function name's row, as a float (0 for "="), or None."""
    head = s.functions_head()
    row = s.function_row(name) if head is not None else None
    if row is None or "DIFF%" not in s.lines[head]:
        return None
    # The columns: OWN% DIFF% TOTAL% ...; DIFF% is the second number.
    cells = row.split()
    if len(cells) < 2:
        return None
    c = cells[1]
    if c == "=":
        return 0.0
    try:
        return float(c)
    except ValueError:
        return None


def t_baseline(ctx):
    flag = os.path.join(ctx.workdir, "switch-now")
    target = ctx.target("shift.py", args=("--switch", flag))
    pane, scr = attach(ctx, target, until=lambda s: (s.function_rows() or [""])[0] and
                       row_has(s.function_rows()[0], "spin") and s.function_row("before_work"),
                       what="before_work in Functions")
    if "DIFF%" in scr.text:
        raise Failure("DIFF% shown before a baseline was taken", scr.lines)
    pane.keys("-")   # the shortest window, so the change shows soon
    pane.keys("-")
    pane.keys("-")
    time.sleep(1.5 * h.SCALE)
    pane.keys("b")
    pane.wait_for("DIFF% after b, before_work near = (the baseline is what is shown)",
                  lambda s: diff_of(s, "before_work") is not None and abs(diff_of(s, "before_work")) < 20)
    open(flag, "w").close()
    scr, _ = pane.wait_for("after_work up and before_work down against the baseline",
                           lambda s: (diff_of(s, "after_work") or 0) > 20 and
                           (s.function_row("before_work") is None or (diff_of(s, "before_work") or 0) < -20),
                           30 * h.SCALE)
    pane.keys("b")
    pane.wait_for("DIFF% gone after b again", lambda s: s.functions_head() is not None and "DIFF%" not in s.text)
    quit_ok(pane)


def t_memory_narrow(ctx):
    target = ctx.target("grow_release.py")
    pane, scr = attach(ctx, target, width=80, height=24,
                       until=lambda s: s.function_row("grow_memory") and s.function_row("release_memory"),
                       what="grow_memory and release_memory in Functions at 80x24")
    head = scr.lines[scr.functions_head()]
    if "MEM" in head:
        raise pane.failure("at 80 columns the memory columns are shown unsorted (they should give way)", scr)
    pane.keys("m")

    def narrow_sorted(s):
        rows = s.function_rows()
        return (sorted_by_growth(s) and rows and row_has(rows[0], "grow_memory")
                and all(len(l) <= 80 for l in s.lines))
    pane.wait_for("+MEM shown and sorted on at 80 columns after 'm', grow_memory on top", narrow_sorted,
                  30 * h.SCALE)
    quit_ok(pane)


def top_list_first(s, which):
    """The first function of the Memory view's "Top memory <which>" list."""
    for i, l in enumerate(s.lines):
        m = re.search(r"Top memory %s" % which, l)
        if not m or i + 1 >= len(s.lines):
            continue
        # Lists may sit side by side: read from the title's column on.
        row = s.lines[i + 1][m.start():]
        f = re.search(r"[+-]\d\S*\s*(?:B|KiB|MiB|GiB)\s+\S+%\s+(\S+)", row)
        return f.group(1) if f else None
    return None


GIL_RX = r"GIL(?: \(process \d+\))?: held (\d+\.\d)% of samples, none (\d+\.\d)%; holder now: ([^\n]+)"


def t_gil(ctx):
    target = ctx.target("named_threads.py")
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("hot_function"), what="hot_function in Functions")
    pane.keys("2")
    tids = target.info["tids"]

    def summary(s):
        m = re.search(GIL_RX, s.text)
        if not m or s.threads_head() is None:
            return None
        held, none = float(m.group(1)), float(m.group(2))
        holder = m.group(3).strip()
        spinners = ["%s (%d)" % (n, tids[n]) for n in ("spin-alpha", "spin-beta")]
        if abs(held + none - 100) > 0.2 or held < 50 or not (holder == "none" or holder in spinners):
            return None
        return m
    scr, m = pane.wait_for("the GIL line above the threads: held >= 50 %% (two threads spin), held + none = "
                           "100 %%, the holder one of the spinning threads or none", summary)
    quit_ok(pane)


def thread_split(row):
    """(CPU, GIL, WAIT, IDLE) of a Threads row as text, or None."""
    m = re.search(r"\b(?:running|idle|exited)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", row)
    return m.groups() if m else None


def t_thread_split(ctx, python=None):
    """The Threads view splits each thread's time: on a CPU, holding the GIL,
    waiting for it (3.15+ says so, else n/a) and idle."""
    target = ctx.target("named_threads.py", python=python)
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("hot_function"), what="hot_function in Functions")
    pane.keys("2")
    tells = python is not None and not isinstance(python, str) and python.version[:2] >= (3, 15)

    def split(s):
        head = s.lines[s.threads_head()] if s.threads_head() is not None else ""
        if not all(c in head for c in ("CPU%", "GIL%", "WAIT%", "IDLE%")):
            return None
        got = {}
        for r in s.thread_rows() or []:
            for name in ("MainThread", "spin-alpha", "spin-beta"):
                if name in r and thread_split(r):
                    got[name] = thread_split(r)
        if len(got) < 3:
            return None
        try:
            idle = {n: float(v[3]) for n, v in got.items()}
            gil = {n: float(v[1]) for n, v in got.items()}
        except ValueError:
            return None
        # MainThread sleeps: idle, no GIL; the spinners share the GIL.
        if idle["MainThread"] < 80 or gil["MainThread"] > 5 or gil["spin-alpha"] < 15 or gil["spin-beta"] < 15:
            return None
        if not tells:
            return got if all(v[2] == "n/a" for v in got.values()) else None
        try:
            wait = {n: float(v[2]) for n, v in got.items()}
        except ValueError:
            return None
        # Two spinners contend: each waits part of the time; MainThread
        # only after each 0.2 s sleep (a switch interval of 5 ms or so).
        if wait["MainThread"] > 15 or wait["spin-alpha"] < 5 or wait["spin-beta"] < 5:
            return None
        return got
    scr, got = pane.wait_for("CPU%%, GIL%%, WAIT%% and IDLE%% per thread: MainThread idle without the GIL, "
                             "the spinners sharing it, WAIT%% %s" % (
                                 "above 5 % for the spinners, below 15 % for MainThread" if tells else "n/a"), split)
    quit_ok(pane)


def t_gil_free_threaded(ctx, python):
    target = ctx.target("named_threads.py", python=python)
    pane, scr = attach(ctx, target, until=lambda s: s.function_row("hot_function"), what="hot_function in Functions")
    pane.keys("2")

    def shown(s):
        rows = s.thread_rows() or []
        spinners = [r for r in rows if "spin-alpha" in r or "spin-beta" in r]
        if "GIL: none, free-threaded: no GIL" not in s.text or len(spinners) < 2:
            return None
        if not all(re.search(r"\bn/a\b", r) for r in spinners) or re.search(GIL_RX, s.text):
            return None
        if "free-threaded: no GIL" not in s.header():
            return None
        return True
    pane.wait_for("'GIL: none, free-threaded: no GIL' above the threads, n/a in the spinning threads' GIL "
                  "column, no holder named, and the header saying free-threaded: no GIL", shown)
    quit_ok(pane)


def header_processes(s):
    m = re.search(r"(?i)\bprocesses:?\s+(\d+)", s.header())
    return int(m.group(1)) if m else None


def header_threads(s):
    m = re.search(r"(?i)\bthreads:?\s+(\d+)", s.header())
    return int(m.group(1)) if m else None


def t_processes(ctx):
    target = ctx.target("pool_workers.py")
    workers = target.info["workers"]
    pane = ctx.pytop_pane(["--subprocesses", "-p", str(target.pid)])
    scr, n = pane.wait_for("'processes N' with N >= %d in the header (--subprocesses, a pool of %d)"
                           % (len(workers) + 1, len(workers)),
                           lambda s: (header_processes(s) or 0) >= len(workers) + 1 and header_processes(s),
                           h.START_WAIT)
    pane.wait_for("worker_spin and parent_spin in Functions",
                  lambda s: s.function_row("worker_spin") and s.function_row("parent_spin"))
    pane.keys("2")

    def pid_column(s):
        head = s.threads_head()
        if head is None or not re.search(r"\bPID\b", s.lines[head]):
            return None
        text = "\n".join(s.thread_rows() or [])
        return all(re.search(r"\b%d\b" % p, text) for p in workers + [target.pid])
    pane.wait_for("a PID column in Threads with the parent's and every worker's pid", pid_column)
    # P: all -> the first process (the target) -> a worker ...
    pane.keys("P", "1")

    def filtered_to(s, pid):
        return re.search(r"(?i)\bprocess\s+%d\b" % pid, s.header())
    scr = pane.wait_for("the header naming process %d after P" % target.pid,
                        lambda s: filtered_to(s, target.pid) and s.function_rows())[0]
    pane.wait_for("only parent_spin (no worker_spin) in Functions for the parent",
                  lambda s: filtered_to(s, target.pid) and s.function_row("parent_spin")
                  and not s.function_row("worker_spin"))
    pane.keys("P")
    scr, _ = pane.wait_for("a worker's pid in the header after P again, and only worker_spin in Functions",
                           lambda s: any(filtered_to(s, p) for p in workers) and s.function_row("worker_spin")
                           and not s.function_row("parent_spin"))
    # The header's process line is the worker's too: its one thread, not
    # the parent's (main thread and the pool's handler threads).
    pane.wait_for("'threads 1' in the header for a worker (one thread), not the parent's count",
                  lambda s: any(filtered_to(s, p) for p in workers) and header_threads(s) == 1)
    # Cycle on to "all" again.
    for _ in range(len(workers) + 2):
        if re.search(r"(?i)\bprocess\s+all\b", pane.screen().header()):
            break
        pane.keys("P")
        time.sleep(0.5)
    pane.wait_for("'process all' in the header after cycling with P",
                  lambda s: re.search(r"(?i)\bprocess\s+all\b", s.header()))
    quit_ok(pane)


def t_memory_replay(ctx):
    target = ctx.target("grow_release.py")
    rec = os.path.join(ctx.workdir, "mem.pytop")
    cmd = [ctx.pytop, "--record", rec, "--duration", "4", "-p", str(target.pid)]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60 * h.SCALE)
    except subprocess.TimeoutExpired:
        raise Failure("pytop --record did not end after 60 s", ["command: %s" % " ".join(cmd)])
    if p.returncode != 0:
        raise Failure("pytop --record failed (exit status %d)" % p.returncode,
                      ["command: %s" % " ".join(cmd)] + h.framed(p.stdout.decode("utf-8", "replace")))
    target.stop()
    pane = ctx.pytop_pane(["--replay", rec])
    pane.wait_for("Functions rows from the recording", lambda s: s.function_rows(), h.START_WAIT)
    pane.keys("5")
    memory_screen(pane, "the replayed Memory view with RSS in bytes and grow_memory first under Top memory growth",
                  lambda s: re.match(BYTES_RX, counter_value(s, "RSS") or "")
                  and top_list_first(s, "growth") == "grow_memory", 30 * h.SCALE)
    quit_ok(pane)


def t_help(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target)
    for key in ("?", "h"):
        pane.keys(key)
        pane.wait_for("the help overlay after '%s' (describing q, c and s)" % key,
                      lambda s: re.search(r"(?i)\bquit\b", s.text) and re.search(r"(?i)\bsnapshot|\bsave", s.text)
                      and re.search(r"(?i)\bwall\b", s.text) and hot_on_top(s) is None)
        pane.keys("Escape")
        pane.wait_for("Functions after Esc closes the help", hot_on_top)
    quit_ok(pane)


def samples_count(s):
    m = re.search(r"(?i)(\d[\d,]*)\s+samples\b|\bsamples?[:=\s]+(\d[\d,]*)", s.header())
    return int((m.group(1) or m.group(2)).replace(",", "")) if m else None


def t_pause_reset(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target)
    pane.wait_for("a sample count in the header over 100", lambda s: (samples_count(s) or 0) > 100)
    for key in ("p", "Space"):
        pane.keys(key)
        time.sleep(1.5)     # the refresh in flight may still land
        frozen = pane.screen()
        time.sleep(3)
        now = pane.screen()
        # The tables freeze; the header's counters may go on (sampling does).
        if frozen.function_rows() != now.function_rows():
            raise pane.failure("the Functions rows kept changing after '%s' (pause)" % key, now,
                               ["3 s earlier:"] + h.framed(frozen.text))
        pane.keys(key)
        pane.wait_for("the Functions rows to change again after '%s' (resume)" % key,
                      lambda s: s.function_rows() and s.function_rows() != now.function_rows())
    # Reset: what was gathered is forgotten, so hot_function's own seconds
    # (the third column) start again from about zero.
    def own_seconds(s):
        row = hot_on_top(s)
        n = h.row_numbers(row) if row else []
        return n[2] if len(n) > 2 else None
    scr, before = pane.wait_for("hot_function with over 1.5 s own", lambda s: (own_seconds(s) or 0) > 1.5 and own_seconds(s),
                                30 * h.SCALE)
    pane.keys("r")
    pane.wait_for("hot_function's own seconds to drop from %.2f to less than half after 'r' (reset)" % before,
                  lambda s: s.function_rows() is not None and (own_seconds(s) or 0) < before / 2)
    quit_ok(pane)


def t_window_sort(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target)

    def window(s):
        m = re.search(WINDOW_RX, s.header())
        return m.group(1) if m else None
    w0 = window(scr)
    if w0 is None:
        raise pane.failure("the header shows no window (last N s or since start)", scr)
    pane.keys("+")
    scr, w1 = pane.wait_for("the window to change from '%s' after '+'" % w0,
                            lambda s: window(s) not in (None, w0) and window(s))
    pane.keys("-")
    scr, _ = pane.wait_for("the window back from '%s' to '%s' after '-'" % (w1, w0), lambda s: window(s) == w0)
    # Sorting: the other columns put <module> (100 % total) above hot_function.
    head0 = scr.lines[scr.functions_head()]
    pane.keys(">")
    pane.wait_for("another sort order after '>' (heading or row order changes)",
                  lambda s: s.functions_head() is not None and (s.lines[s.functions_head()] != head0
                                                                or not hot_on_top(s)))
    pane.keys("<")
    pane.wait_for("the first sort order back after '<'",
                  lambda s: s.functions_head() is not None and s.lines[s.functions_head()] == head0 and hot_on_top(s))
    quit_ok(pane)


def stable_rows(pane, seconds, timeout):
    """Wait until the Functions rows are non-empty and unchanged for `seconds`."""
    state = {"rows": None, "since": time.time()}

    def settled(s):
        rows = s.function_rows()
        if rows != state["rows"]:
            state["rows"], state["since"] = rows, time.time()
            return None
        return rows if rows and time.time() - state["since"] >= seconds else None
    return pane.wait_for("the replay to settle (Functions rows unchanged for %.0f s)" % seconds, settled, timeout)


def t_replay(ctx):
    target = ctx.target("hot_cold.py")
    rec = os.path.join(ctx.workdir, "hot.pytop")
    cmd = [ctx.pytop, "--record", rec, "--duration", "5", "-p", str(target.pid)]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60 * h.SCALE)
    except subprocess.TimeoutExpired:
        raise Failure("pytop --record did not end after 60 s", ["command: %s" % " ".join(cmd)])
    if p.returncode != 0 or not os.path.isfile(rec):
        raise Failure("pytop --record failed (exit status %d)" % p.returncode,
                      ["command: %s" % " ".join(cmd)] + h.framed(p.stdout.decode("utf-8", "replace")))
    target.stop()
    shows = []
    for run in (1, 2):
        pane = ctx.pytop_pane(["--replay", rec])
        scr, _ = pane.wait_for("Functions rows from the recording (replay %d)" % run,
                               lambda s: s.function_rows(), h.START_WAIT)
        if run == 2:
            # Space pauses the playback: the rows hold still for longer than
            # the rest of the recording would take to play, then Space resumes.
            pane.keys("Space")
            time.sleep(1.5)
            frozen = pane.screen()
            time.sleep(5)
            now = pane.screen()
            if now.function_rows() != frozen.function_rows():
                raise pane.failure("the replay went on after Space (pause)", now, ["5 s earlier:"] + h.framed(frozen.text))
            pane.keys("Space")
        scr, rows = stable_rows(pane, 4, 45 * h.SCALE)
        if run == 2 and rows == frozen.function_rows():
            raise pane.failure("the replay did not go on after Space (resume)", scr)
        if not row_has(rows[0], "hot_function"):
            raise pane.failure("hot_function is not on top at the end of replay %d" % run, scr)
        shows.append((rows[:5], scr))
        quit_ok(pane)
    if shows[0][0] != shows[1][0]:
        raise Failure("two replays of the same recording (the second paused on the way) end on different "
                      "Functions rows",
                      ["first replay:"] + h.framed(shows[0][1].text) + ["second replay:"] + h.framed(shows[1][1].text))


def t_launch(ctx):
    script = os.path.join(h.TARGETS, "hot_cold.py")
    pane = ctx.pytop_pane(["--", ctx.python] + h.PY_FLAGS + [script, "--exit-after", "3"])
    pane.wait_for("hot_function on top while the launched target runs", hot_on_top, h.START_WAIT)
    pid = pane.program_pid()
    scr = pane.wait_text("target exited")
    if not hot_on_top(scr):
        raise pane.failure("after the target exited the Functions rows are gone", scr)
    time.sleep(2)
    scr = pane.screen()
    if "target exited" not in scr.header() or not hot_on_top(scr):
        raise pane.failure("2 s after the target exited the view no longer shows 'target exited' in the "
                           "header and the final data", scr)
    leftovers = [c for c in h.descendants(pid) if h.alive(c)] if pid else []
    if leftovers:
        raise pane.failure("processes left under pytop after the target exited: %s" % leftovers, scr)
    quit_ok(pane)


def t_attach_exit(ctx):
    target = ctx.target("hot_cold.py", args=["--exit-after", "4"])
    pane, scr = attach(ctx, target)
    scr = pane.wait_text("target exited")
    if "target exited" not in scr.header() or not hot_on_top(scr):
        raise pane.failure("after the target exited the header does not say 'target exited' or the final "
                           "data is gone", scr)
    time.sleep(2)
    scr = pane.screen()
    if "target exited" not in scr.header() or not hot_on_top(scr):
        raise pane.failure("2 s after the target exited the view no longer shows 'target exited' in the "
                           "header and the final data", scr)
    quit_ok(pane)


# ---- rows named for what they are; deep call trees -------------------------------

TREE_ROW_RX = re.compile(r"^\W{0,3}\s*(\d+\.\d)\s+(\d+\.\d)\s+\d")
MARKERS = ("\u25be", "\u25b8", "-", "+")   # open, closed (UTF-8 or ASCII)


def tree_rows(scr):
    """Call tree rows as (total %, depth, name): depth 0 for a root, from the
    indentation or the "N:" number shown past the indentation limit."""
    head = None
    for i, l in enumerate(scr.lines):
        if re.search(r"\bCALL\b", l) and "TOTAL" in l:
            head = i
            break
    if head is None:
        return None
    col = scr.lines[head].index("CALL")
    rows = []
    for l in scr.lines[head + 1:]:
        m = TREE_ROW_RX.match(l)
        if not m:
            break
        cell = l[col:]
        name_part = cell.lstrip(" ")
        spaces = len(cell) - len(name_part)
        shown = re.match(r"^(\d+):", name_part)
        if shown:
            name_part = name_part[len(shown.group(0)):]
        leaf = not name_part.startswith(MARKERS)
        name = (name_part.lstrip(" ") if leaf else name_part[2:]).split("  ")[0].strip()
        depth = int(shown.group(1)) - 1 if shown else (spaces - (2 if leaf else 0)) // 2
        rows.append((float(m.group(1)), depth, name))
    return rows


def root_sum(rows):
    return sum(r[0] for r in rows if r[1] == 0)


def t_no_frame_and_deep(ctx):
    target = ctx.target("deep_and_bare.py")
    pane, scr = attach(ctx, target, args=["--mode", "wall"], height=60,   # the whole chain on screen
                       until=lambda s: s.function_row("<no Python frame>") and s.function_row("deep_leaf"),
                       what="<no Python frame> and deep_leaf rows in Functions")
    scr, row = pane.wait_for("<no Python frame> with 30-70 %% own (a thread that never has a Python frame, "
                             "beside the spinning main thread)",
                             lambda s: (lambda r: r if r and 30 <= (own_share(r) or 0) <= 70 else None)(
                                 s.function_row("<no Python frame>")))
    pane.keys("3")

    def whole_tree(s):
        rows = tree_rows(s)
        if not rows or not any(r[2] == "deep_leaf" for r in rows):
            return None
        names = [r[2] for r in rows if r[1] == 0]
        if "<no Python frame>" not in names or not 98.0 <= root_sum(rows) <= 101.0:
            return None
        return rows
    scr, rows = pane.wait_for("Call tree roots (<module> and <no Python frame>) adding up to 100 % and "
                              "deep_leaf shown", whole_tree)
    leaf = [r for r in rows if r[2] == "deep_leaf"][0]
    # <module> is depth 0, descend 1..40, deep_leaf 41: the tree must say so.
    if leaf[1] != 41:
        raise pane.failure("deep_leaf, 42 calls deep, shows at depth %d" % (leaf[1] + 1), scr)
    depths = [r[1] for r in rows if r[2] in ("<module>", "descend", "deep_leaf")]
    if depths != list(range(42)):
        raise pane.failure("the deep chain's rows do not go one level deeper each (depths %s)" % depths, scr)
    quit_ok(pane)


def t_startup_shutdown(ctx):
    script = os.path.join(h.TARGETS, "phases.py")
    # -E would ignore PYTHONPATH, which brings the spinning sitecustomize.
    pane = ctx.pytop_pane(["--mode", "wall", "--", "env", "PYTHONPATH=" + os.path.join(h.TARGETS, "startup"),
                           ctx.python, "-s", "-B", script])
    pane.wait_text("target exited", h.START_WAIT)
    pane.keys("3")

    def phases(s):
        rows = tree_rows(s)
        if not rows:
            return None
        roots = dict((r[2], r[0]) for r in rows if r[1] == 0)
        if roots.get("<start-up>", 0) < 15 or roots.get("<shutdown>", 0) < 15 or roots.get("<module>", 0) < 20:
            return None
        if not 98.0 <= root_sum(rows) <= 101.0:
            return None
        return rows
    scr, rows = pane.wait_for("Call tree roots <start-up> (>= 15 %), <module> (>= 20 %) and <shutdown> "
                              "(>= 15 %) adding up to 100 %", phases)
    spin = [r for r in rows if r[2] == "startup_spin"]
    if not spin or spin[0][1] == 0:
        raise pane.failure("the start-up code (sitecustomize's startup_spin) is not shown under <start-up>",
                           scr)
    quit_ok(pane)


def t_blocking_header(ctx):
    target = ctx.target("hot_cold.py")
    pane, scr = attach(ctx, target, args=["--blocking"])
    scr, m = pane.wait_for("the pause per sample in the header (--blocking)",
                           lambda s: re.search(r"\bpaused\s+[\d.]+(ns|us|ms|s)/sample \(p90 [\d.]+(ns|us|ms|s)\)",
                                               s.header()))
    # Not check_running while it runs: a thread held at that moment is
    # in a tracing stop, as --blocking says.
    quit_ok(pane)
    held = []
    for tid in os.listdir("/proc/%d/task" % target.pid):
        try:
            with open("/proc/%d/task/%s/status" % (target.pid, tid)) as f:
                status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except (IOError, OSError):
            continue
        if status.get("State", "").strip()[:1] in ("t", "T") or status.get("TracerPid", "0").strip() != "0":
            held.append("%s (%s, TracerPid %s)" % (tid, status.get("State", "").strip(),
                                                   status.get("TracerPid", "").strip()))
    if held:
        raise Failure("threads left stopped or traced after pytop --blocking quit: %s" % ", ".join(held))
    target.check_running("after pytop --blocking quit")


# ---- the list -------------------------------------------------------------------

def not_found(name):
    if name.endswith("-sid"):
        return "python%s not found in %s (scripts/install-sid-root.sh installs it)" % (name[:-4], interpreters.SID_ROOT)
    if name.endswith("t"):
        return "python%s not found at %s (scripts/build-python-ft.sh builds it)" % (name, interpreters.FT_PYTHON)
    return "python%s not found in $(pyenv root)/versions" % name


def build(pythons):
    """[(name, function(ctx) or None, skip reason or None)]"""
    tests = []

    def xy(name):   # the version the header must show: "3.13t" for a free-threaded build
        return "%d.%d" % version_key(name)[:2] + ("t" if version_key(name)[2].startswith("t") else "")
    for name in sorted(set(REQUIRED_PYTHONS) | set(EXPECTED_EXTRA) | set(pythons), key=version_key):
        test = "tui hot function on top of Functions (python%s)" % name
        if name in pythons:
            tests.append((test, (lambda p, v: lambda ctx: t_hot_on_top(ctx, p, v))(pythons[name], xy(name)), None))
        else:
            tests.append((test, None, not_found(name)))
    # The counters' sources differ most between 2.7, 3.6-3.11, 3.12+, 3.14+ and free-threaded builds.
    for name in sorted(set(MEMORY_PYTHONS) | set(x for x in ("3.8", "3.13") + MEMORY_EXTRA if x in pythons),
                       key=version_key):
        test = "tui Memory view counters: RSS, GC, pymalloc, rates, unavailable (python%s)" % name
        if name in pythons:
            tests.append((test, (lambda p, v: lambda ctx: t_memory_counters(ctx, p, v))(pythons[name], xy(name)),
                          None))
        else:
            tests.append((test, None, not_found(name)))
    tests += [
        ("tui header shows pid, command line, version, elapsed, samples, rate, late, errors, CPU, RSS, "
         "threads, mode, window", lambda c: header_test(c, 240, 40), None),
        ("tui header at 80x24 still shows every field (the command line may be cut)",
         lambda c: header_test(c, 80, 24), None),
        ("tui c toggles CPU/WALL: sleepy_function only in WALL", t_cpu_wall, None),
        ("tui top --idle opens on WALL; --gil and --mode gil leave out the thread without the GIL", t_top_idle_gil, None),
        ("tui s saves a speedscope snapshot to --snapshot-dir", t_snapshot, None),
        ("tui s saves in --snapshot-format folded", lambda c: t_snapshot(c, "folded"), None),
        ("tui s into an unwritable --snapshot-dir says save failed and keeps refreshing", t_snapshot_fails, None),
        ("tui resize to 80x24 redraws the 80x24 layout", t_resize_80x24, None),
        ("tui resize to 40x10 keeps running and recovers; at 10x3 it says the size it needs", t_resize_tiny, None),
        ("tui refreshes about once a second, every 2 s with --refresh 2", t_refresh, None),
        ("tui --rate 40 samples at about 40 Hz", t_rate, None),
        ("tui a view that holds its lock 400 ms longer each time keeps the sampler at its rate", t_slow_view, None),
        ("tui q exits 0, restores the terminal, target keeps running", lambda c: quit_test(c, "q"), None),
        ("tui Ctrl-C restores the terminal, target keeps running", lambda c: quit_test(c, "C-c"), None),
        ("tui SIGTERM restores the terminal, target keeps running", lambda c: quit_test(c, "TERM"), None),
        ("tui keys 1-5 show each view", t_views_keys, None),
        ("tui --async: 6 shows Tasks (running, waiting, what each awaits); Enter shows one task's stacks",
         t_tasks_view, None),
        ("tui a recording made with --async replays its Tasks", t_tasks_replay, None),
        ("tui Tab cycles through the views", t_views_tab, None),
        ("tui Threads lists thread names, tids, idle/running", t_threads_view, None),
        ("tui Enter on a thread filters Functions to it", t_thread_filter, None),
        ("tui / filters Functions to hot_function", t_filter, None),
        ("tui Enter opens Source annotated with shares, Esc returns", t_source, None),
        ("tui arrows, j/k, Home/End, PgUp/PgDn move the selection", t_navigation, None),
        ("tui Call tree: Enter collapses and expands", t_call_tree, None),
        ("tui Memory view shows RSS and peak", t_memory, None),
        ("tui m in Functions puts the allocating function on top; Memory lists growth and release",
         t_memory_sort, None),
        ("tui at 80 columns the memory columns give way, m brings +MEM back sorted", t_memory_narrow, None),
        ("tui b takes the shown window as the baseline: DIFF% follows the change", t_baseline, None),
        ("tui Memory view in a replay shows the recorded counters and growth", t_memory_replay, None),
        ("tui Threads shows the GIL summary line", t_gil, None),
        ("tui Threads splits each thread's time: CPU, GIL, WAIT n/a before 3.15, IDLE", t_thread_split, None),
        ("tui Threads on 3.15: WAIT% says who waits for the GIL",
         (lambda p: lambda ctx: t_thread_split(ctx, p))(pythons["3.15-sid"]) if "3.15-sid" in pythons else None,
         None if "3.15-sid" in pythons else "no python3.15 in the sid root (scripts/install-sid-root.sh)"),
        ("tui Threads on a free-threaded build: no GIL line, GIL column n/a, header says so",
         (lambda p: lambda ctx: t_gil_free_threaded(ctx, p))(pythons["3.13t"]) if "3.13t" in pythons else None,
         None if "3.13t" in pythons else "python3.13t not built (scripts/build-python-ft.sh builds it)"),
        ("tui --subprocesses: processes N in the header, a PID column, P filters by process", t_processes, None),
        ("tui ? and h show the help, Esc closes it", t_help, None),
        ("tui p and space pause, r resets", t_pause_reset, None),
        ("tui + and - change the window, < and > the sort column", t_window_sort, None),
        ("tui replay: Space pauses and resumes; two replays end on the same rows", t_replay, None),
        ("tui launch mode: the view stays after the target exits", t_launch, None),
        ("tui attach mode: the view stays after the target exits", t_attach_exit, None),
        ("tui <no Python frame> is a row, Call tree roots add up to 100 %, a 42-deep call shows its depth",
         t_no_frame_and_deep, None),
        ("tui launch mode: <start-up> and <shutdown> rows, with the start-up code under <start-up>",
         t_startup_shutdown, None),
        ("tui --blocking shows the pause per sample in the header", t_blocking_header, None),
    ]
    return tests


def live_view_missing(pytop, workdir):
    """A reason to skip when this pytop was built before the live view, else None."""
    sleeper = h.popen(["sleep", "30"], stdin=subprocess.DEVNULL)
    try:
        p = subprocess.run([pytop, "-p", str(sleeper.pid)], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20, cwd=workdir)
        out = p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return None
    finally:
        h.kill(sleeper)
    if "not in this build" in out:
        return "this pytop has no live view yet (%s)" % out.strip().split("\n")[-1]
    return None


def run(pytop, tmproot, rep, only=()):
    """Run the tests, reporting through rep.ok(name) / rep.fail(name, msg, details) / rep.skip(name, why)."""
    pythons = find_pythons()
    tests = [t for t in build(pythons) if not only or any(k in t[0] for k in only)]
    python = default_python(pythons)
    reason = None
    if not h.tmux_available():
        reason = "tmux is not installed (apt-get install tmux)"
    elif not os.access(pytop, os.X_OK):
        reason = None   # every test fails below, naming the missing binary
    elif python is None:
        reason = "no Python interpreter found for the targets"
    else:
        reason = live_view_missing(pytop, tmproot)
    tmux = h.Tmux(tempfile.mkdtemp(prefix="tmux-", dir=tmproot)) if h.tmux_available() else None
    try:
        for name, fn, skip in tests:
            if skip or reason:
                rep.skip(name, skip or reason)
                continue
            if not os.access(pytop, os.X_OK):
                rep.fail(name, "pytop not built: %s" % pytop)
                continue
            workdir = tempfile.mkdtemp(prefix="tui-", dir=tmproot)
            ctx = Context(pytop, tmux, workdir, python)
            t0 = time.time()
            try:
                fn(ctx)
                rep.ok(name)
            except Skip as e:
                rep.skip(name, str(e))
            except Failure as e:
                rep.fail(name, e.message, e.details + ["(test took %.1f s)" % (time.time() - t0)])
            except Exception:
                rep.fail(name, "the test itself crashed", traceback.format_exc().rstrip().split("\n"))
            finally:
                for s in tmux.sessions:
                    s.close()
                tmux.sessions = []
                ctx.close()
    finally:
        if tmux:
            tmux.kill_server()
        h.kill_all()
        interpreters.cleanup()


def plumbing(rep):
    """The harness checked on a stand-in, top(1): start, read, resize, keys, quit, signals."""
    tmproot = tempfile.mkdtemp(prefix="pytop-tui-plumbing-")
    tmux = h.Tmux(tmproot)
    try:
        for how in ("q", "TERM"):
            name = "plumbing top: start, resize, %s" % how
            try:
                pane = tmux.session(["top", "-d", "0.5"], 120, 36)
                pane.wait_for("top's Tasks line", lambda s: "Tasks:" in s.text)
                pane.resize(80, 24)
                scr, _ = pane.wait_for("a 24-line screen", lambda s: len(s.text.rstrip("\n").split("\n")) <= 24
                                       and "Tasks:" in s.text)
                if max(len(l) for l in scr.lines) > 80:
                    raise pane.failure("lines wider than 80 after resize", scr)
                if "\x1b[" not in pane.screen_ansi():
                    raise pane.failure("capture-pane -e shows no escape sequences")
                if how == "q":
                    quit_ok(pane, "q", (0,))
                else:
                    os.kill(pane.program_pid(), signal.SIGTERM)
                    rc, modes, scr = pane.wait_exit()
                    if rc not in (0, 143):
                        raise pane.failure("top ended with %d after SIGTERM" % rc, scr)
                rep.ok(name)
            except Failure as e:
                rep.fail(name, e.message, e.details)
            finally:
                for s in tmux.sessions:
                    s.close()
                tmux.sessions = []
    finally:
        tmux.kill_server()
        shutil.rmtree(tmproot, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (rep.passed, rep.failed, rep.skipped))
    return 1 if rep.failed else 0


class Reporter(object):
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, name):
        self.passed += 1
        print("PASS %s" % name, flush=True)

    def fail(self, name, message, details=()):
        self.failed += 1
        print("\n".join(["FAIL %s: %s" % (name, message)] + ["    " + l for l in details]), flush=True)

    def skip(self, name, reason):
        self.skipped += 1
        print("SKIP %s: %s" % (name, reason), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pytop", default=os.path.join(os.getcwd(), "pytop"))
    ap.add_argument("-k", action="append", default=[], help="only tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--plumbing", action="store_true", help="check the tmux plumbing on top(1) instead")
    args = ap.parse_args()
    rep = Reporter()
    if args.plumbing:
        return plumbing(rep)
    tmproot = tempfile.mkdtemp(prefix="pytop-tui-")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        run(os.path.abspath(args.pytop), tmproot, rep, args.k)
    except KeyboardInterrupt:
        rep.fail("tui", "interrupted")
    finally:
        if not args.keep:
            shutil.rmtree(tmproot, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (rep.passed, rep.failed, rep.skipped))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
