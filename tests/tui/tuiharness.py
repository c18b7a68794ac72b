"""Plumbing for the TUI tests: a private tmux server, a pane running one
program the way a person would run it from a shell, and readers for what
the screen shows.

Python 3 standard library only. Every tmux server here listens on its own
socket (tmux -L pytop-test-<pid>) and is killed at the end; every process
started here (targets, the pane's programs and their children) is killed
and reaped, whatever happens.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import ansi2html
import procgroup

SCALE = float(os.environ.get("PYTOP_TUI_TIMEOUT_SCALE", "1") or 1)
WAIT = 15.0 * SCALE          # for the screen to show something (2 loaded cores, maybe ASan)
START_WAIT = 30.0 * SCALE    # for a first screen: target start-up plus attach
READY_TIMEOUT = 60.0 * SCALE
POLL = 0.2

PY_FLAGS = ["-E", "-s", "-B"]   # no PYTHON* variables, no user site, no .pyc in the tree
TARGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets")


class Failure(Exception):
    def __init__(self, message, details=()):
        Exception.__init__(self, message)
        self.message = message
        self.details = list(details)


class Skip(Exception):
    pass


def framed(text, limit=80):
    lines = text.rstrip("\n").split("\n") if text.strip() else ["(empty)"]
    if len(lines) > limit:
        lines = ["... (%d lines before)" % (len(lines) - limit)] + lines[-limit:]
    return ["| " + l for l in lines]


# ---- processes ---------------------------------------------------------------

# tests/functional/procgroup.py (tui_tests.py puts tests/functional on the path).
_processes = procgroup.Registry()
popen = _processes.popen
kill = _processes.kill_group
kill_all = _processes.kill_all


def read_stat(pid):
    """(comm, state, ppid) from /proc/PID/stat, or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except (IOError, OSError):
        return None
    r = s.rfind(")")
    rest = s[r + 2:].split()
    return s[s.find("(") + 1:r], rest[0], int(rest[1])


def alive(pid):
    st = read_stat(pid)
    return st is not None and st[1] not in ("Z", "X")


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st and st[2] == pid:
                out.append(int(d))
    return out


def descendants(pid):
    seen, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            if c not in seen:
                seen.append(c)
                todo.append(c)
    return seen


def wait_until(pred, timeout, poll=POLL):
    """pred()'s first true value, or None after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= deadline:
            return None
        time.sleep(poll)


class Target(object):
    """A Python script from targets/ that reports readiness in a JSON file."""

    def __init__(self, python, script, workdir, args=()):
        # python: a path, or an interpreters.Interpreter (then workdir must be
        # one it can write, inside its root if it runs chroot'd).
        self.python = python
        self.script = os.path.join(TARGETS, script)
        self.ready_file = os.path.join(workdir, "ready-%s.json" % os.path.splitext(script)[0])
        self.log = os.path.join(workdir, "target-%s.log" % os.path.splitext(script)[0])
        self.args = list(args)
        self.proc = None
        self.info = None

    def start(self):
        if isinstance(self.python, str):
            cmd = [self.python] + PY_FLAGS + [self.script, "--ready", self.ready_file] + self.args
        else:
            py = self.python
            cmd = py.command(PY_FLAGS + [py.stage(self.script), "--ready", py.inside(self.ready_file)] + self.args)
        with open(self.log, "wb") as log:
            self.proc = popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        ok = wait_until(lambda: os.path.exists(self.ready_file) or self.proc.poll() is not None,
                        READY_TIMEOUT)
        if not os.path.exists(self.ready_file):
            raise Failure("target %s %s" % (os.path.basename(self.script),
                                            "exited with status %s before it was ready" % self.proc.returncode
                                            if ok else "not ready after %.0f s" % READY_TIMEOUT),
                          ["command: %s" % " ".join(cmd)] + framed(self.output()))
        with open(self.ready_file) as f:
            self.info = json.load(f)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def cmdline(self):
        """The command line as /proc shows it, words joined by spaces."""
        with open("/proc/%d/cmdline" % self.pid, "rb") as f:
            return f.read().rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")

    def output(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (IOError, OSError):
            return ""

    def state(self):
        st = read_stat(self.pid)
        return st[1] if st else None

    def check_running(self, when):
        """Fail unless the target still runs and is not stopped (T/t)."""
        if self.proc.poll() is not None:
            raise Failure("the target exited (%s) %s" % (self.proc.returncode, when), framed(self.output()))
        st = self.state()
        if st in ("T", "t"):
            raise Failure("the target is stopped (state %s in /proc/%d/stat) %s" % (st, self.pid, when))

    def stop(self):
        if self.proc:
            kill(self.proc)


# ---- tmux -------------------------------------------------------------------

def tmux_available():
    return shutil.which("tmux") is not None


def terminal_type():
    """A TERM with colours whose terminfo entry exists here."""
    for t in ("tmux-256color", "screen-256color"):
        try:
            if subprocess.call(["infocmp", t], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
                return t
        except OSError:
            break
    return "screen"


WRAPPER = r"""#!/bin/sh
# The pane's program: runs the command as a person would from a shell, then
# says how it ended and whether the terminal is usable again.
# Traps are reset in the child, so Ctrl-C reaches the command as usual and
# this shell survives it to report.
trap ':' INT TERM HUP
err=$1
shift
unset LINES COLUMNS TMUX TMUX_PANE
"$@" 2>"$err"
rc=$?
modes=$(stty -a 2>/dev/null | tr -s ' ;\n' '\n\n\n' | grep -x -e echo -e icanon | tr '\n' ' ')
printf '\nRESTORED-%s TTY[%s]\n' "$rc" "$modes"
exec sleep 100000
"""


class Tmux(object):
    """One private tmux server: tmux -L pytop-test-<pid>."""

    def __init__(self, workdir):
        self.socket = "pytop-test-%d" % os.getpid()
        self.workdir = workdir
        self.term = terminal_type()
        self.count = 0
        self.sessions = []
        self.socket_path = None
        self.wrapper = os.path.join(workdir, "pane.sh")
        with open(self.wrapper, "w") as f:
            f.write(WRAPPER)
        os.chmod(self.wrapper, 0o755)

    def run(self, *args, **kw):
        check = kw.pop("check", True)
        p = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null"] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        if check and p.returncode != 0:
            raise Failure("tmux %s failed: %s" % (" ".join(args), p.stderr.decode("utf-8", "replace").strip()))
        return p.stdout.decode("utf-8", "replace")

    def session(self, argv, width=120, height=40, cwd=None):
        self.count += 1
        s = Pane(self, "t%d" % self.count, argv, width, height, cwd)
        self.sessions.append(s)
        return s

    def kill_server(self):
        for s in self.sessions:
            s.close()
        self.run("kill-server", check=False)
        if self.socket_path:
            try:
                os.unlink(self.socket_path)   # tmux leaves it behind
            except OSError:
                pass


class Pane(object):
    """A tmux session whose only pane runs argv under the wrapper."""

    def __init__(self, tmux, name, argv, width, height, cwd):
        self.tmux = tmux
        self.name = name
        self.argv = list(argv)
        self.stderr_file = os.path.join(tmux.workdir, "%s.stderr" % name)
        self.closed = False
        cmd = " ".join(sh_quote(a) for a in [tmux.wrapper, self.stderr_file] + self.argv)
        # Options first (the server may be new), then the session. The server
        # keeps the environment of this process, less what the wrapper unsets.
        tmux.run("start-server", ";",
                 "set-option", "-g", "default-terminal", tmux.term, ";",
                 "set-option", "-g", "history-limit", "0", ";",
                 "set-option", "-g", "status", "off", ";",
                 "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
                 "-c", cwd or tmux.workdir, cmd)
        self.pane_pid = int(self.display("#{pane_pid}"))
        tmux.socket_path = tmux.socket_path or self.display("#{socket_path}")
        self.history = []     # screens seen, for failure reports

    # -- reading
    def display(self, fmt):
        return self.tmux.run("display-message", "-p", "-t", self.name, fmt).strip()

    def screen(self):
        text = self.tmux.run("capture-pane", "-p", "-t", self.name)
        return Screen(text)

    def screen_ansi(self):
        return self.tmux.run("capture-pane", "-p", "-e", "-t", self.name)

    def screen_with_colors(self):
        """A Screen from one capture with attributes, so Screen.highlighted() works."""
        return Screen.from_ansi(self.screen_ansi())

    def size(self):
        w, h = self.display("#{pane_width} #{pane_height}").split()
        return int(w), int(h)

    def alternate_on(self):
        return self.display("#{alternate_on}") == "1"

    def cursor_visible(self):
        return self.display("#{cursor_flag}") == "1"

    def program_pid(self):
        """The pid of the program the wrapper runs (its child), or None."""
        for c in children(self.pane_pid):
            st = read_stat(c)
            if st and st[0] != "sleep" and st[0] != "sh":
                return c
        return None

    def stderr(self):
        try:
            with open(self.stderr_file, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (IOError, OSError):
            return ""

    def result(self, screen=None):
        """(exit status, tty modes) once the program has ended, else None."""
        screen = screen or self.screen()
        m = re.search(r"RESTORED-(\d+) TTY\[([^\]]*)\]", screen.text)
        if not m:
            return None
        return int(m.group(1)), m.group(2).split()

    # -- waiting
    def wait_for(self, what, pred, timeout=WAIT, quiet=False):
        """Poll the screen until pred(screen) is true; returns (screen, value).

        Fails with the last screen shown if it never is, or at once if the
        program ended meanwhile (its exit status and stderr are reported)."""
        deadline = time.time() + timeout
        last = None
        while True:
            scr = self.screen()
            last = scr
            v = pred(scr)
            if v:
                return scr, v
            if self.result(scr) is not None and "RESTORED" not in what:
                raise self.failure("the program ended while waiting for %s" % what, scr)
            if time.time() >= deadline:
                raise self.failure("timed out after %.0f s waiting for %s" % (timeout, what), last)
            time.sleep(POLL)

    def wait_text(self, text, timeout=WAIT):
        return self.wait_for("'%s' on the screen" % text, lambda s: text in s.text, timeout)[0]

    def wait_exit(self, timeout=WAIT):
        """Wait for the program to end; returns (status, tty modes, screen)."""
        scr, res = self.wait_for("the program to end (RESTORED line)", lambda s: self.result(s), timeout)
        return res[0], res[1], scr

    def failure(self, message, scr=None, extra=()):
        scr = scr or self.screen()
        details = list(extra) + ["command: %s" % " ".join(self.argv),
                                 "screen (%dx%d):" % self.size()] + framed(scr.text)
        err = self.stderr()
        if err.strip():
            details += ["stderr of the program:"] + framed(err, 60)
        return Failure(message, details)

    # -- typing
    def keys(self, *keys):
        """tmux key names: 'q', 'Tab', 'Enter', 'Escape', 'C-c', 'NPage', 'Home', ..."""
        for k in keys:
            self.tmux.run("send-keys", "-t", self.name, k)

    def type(self, text):
        self.tmux.run("send-keys", "-t", self.name, "-l", "--", text)

    def resize(self, width, height):
        self.tmux.run("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))
        if not wait_until(lambda: self.size() == (width, height), WAIT):
            raise self.failure("tmux did not resize the pane to %dx%d" % (width, height))

    def close(self):
        if self.closed:
            return
        self.closed = True
        # Everything the pane started, deepest first, then the session.
        procs = descendants(self.pane_pid)
        for pid in reversed(procs + [self.pane_pid]):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.tmux.run("kill-session", "-t", self.name, check=False)
        for pid in procs + [self.pane_pid]:
            wait_until(lambda: not alive(pid), 5)


def sh_quote(s):
    if re.match(r"^[A-Za-z0-9_./=:,+-]+$", s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


# ---- reading screens ---------------------------------------------------------

_NUM = re.compile(r"(\d+(?:\.\d+)?)")


class Screen(object):
    def __init__(self, text, backgrounds=None):
        self.text = text
        self.lines = text.split("\n")
        self.backgrounds = backgrounds   # per line: the share of its characters drawn on a background

    @classmethod
    def from_ansi(cls, ansi):
        lines, shares = [], []
        for cells in ansi2html.parse(ansi):
            text = "".join(t for _, t in cells)
            ink = sum(len(t.strip()) for _, t in cells)
            on_bg = sum(len(t.strip()) for css, t in cells if "background" in css)
            lines.append(text)
            shares.append(on_bg / float(ink) if ink else 0.0)
        return cls("\n".join(lines), shares)

    def highlighted(self, rows_from):
        """Index among the rows starting at line rows_from of the one row drawn
        highlighted (mostly on a background colour), or None."""
        hits = [i - rows_from for i in range(rows_from, len(self.lines)) if self.backgrounds[i] > 0.8]
        return hits[0] if len(hits) == 1 else None

    def __contains__(self, s):
        return s in self.text

    def has_word(self, word):
        return re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(word), self.text) is not None

    def functions_head(self):
        """Index of the Functions table's column heading, or None."""
        for i, l in enumerate(self.lines):
            low = l.lower()
            if re.search(r"\bown\b", low) and re.search(r"\btotal\b", low) and "function" in low:
                return i
        return None

    def threads_head(self):
        for i, l in enumerate(self.lines):
            low = l.lower()
            if re.search(r"\btid\b", low) and re.search(r"\bgil\b", low):
                return i
        return None

    def header(self):
        """The lines above the first table heading (all but the last line if none)."""
        for h in (self.functions_head(), self.threads_head()):
            if h is not None:
                return "\n".join(self.lines[:h])
        return "\n".join(self.lines[:8])

    def table_rows(self, head):
        """The rows under a heading: lines that start with a number (after an
        optional selection mark), up to the first line that does not."""
        rows = []
        for l in self.lines[head + 1:]:
            if re.match(r"^\W{0,3}\s*\d", l):
                rows.append(l.rstrip())
            elif l.strip() and rows:
                break
            elif rows:
                break
        return rows

    def function_rows(self):
        h = self.functions_head()
        return None if h is None else self.table_rows(h)

    def thread_rows(self):
        h = self.threads_head()
        if h is None:
            return None
        rows = []
        for l in self.lines[h + 1:]:
            if not l.strip():
                break
            rows.append(l.rstrip())
        return rows

    def function_row(self, name):
        """The first Functions row naming function `name`, or None."""
        for r in self.function_rows() or []:
            if row_has(r, name):
                return r
        return None


def row_has(row, name):
    return re.search(r"(?<![A-Za-z0-9_.])%s(?![A-Za-z0-9_])" % re.escape(name), row) is not None


def row_numbers(row):
    return [float(x) for x in _NUM.findall(row)]


def own_share(row):
    """The first number of a Functions row: its own %."""
    n = row_numbers(row)
    return n[0] if n else None
