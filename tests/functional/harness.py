"""Plumbing for the functional tests: target processes, markers, running
pytop, checking its JSON and explaining failures.

Every process started here runs in its own process group and is
registered until it has been killed and reaped, so an exception, a
timeout or Ctrl-C never leaves a spinning target behind.
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time

import procgroup

PYTOP_TIMEOUT = 20.0      # seconds for one pytop invocation
READY_TIMEOUT = 60.0      # a target's start under load (2 cores, -j 2)
SETTLE = 0.2              # after "ready": let the reporting call return

TARGETS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets")
SUPPORT = "target_support.py"

# Flags for every target interpreter: ignore PYTHON* variables and the user
# site (the caller's environment must not change the stacks), and write no
# .pyc next to the targets in the source tree.
PY_FLAGS = ["-E", "-s", "-B"]


class TestFailure(Exception):
    def __init__(self, message, details=None):
        Exception.__init__(self, message)
        self.message = message
        self.details = list(details or [])


class TestSkip(Exception):
    pass


# ---- process bookkeeping -----------------------------------------------

_processes = procgroup.Registry()
ABORT = threading.Event()   # set on Ctrl-C: start nothing new
kill_group = _processes.kill_group
kill_all = _processes.kill_all


def popen(cmd, **kw):
    if ABORT.is_set():
        raise TestSkip("interrupted")
    return _processes.popen(cmd, **kw)


# ---- markers -------------------------------------------------------------

# A marker is the trailing comment of a line: "code  # @name" (several
# names allowed). Markers elsewhere in a comment are prose, not markers.
_MARKER_TAIL = re.compile(r"#\s*((?:@[\w.-]+\s*)+)$")


def parse_markers(path):
    markers = {}
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _MARKER_TAIL.search(line)
        if not m:
            continue
        for name in re.findall(r"@([\w.-]+)", m.group(1)):
            if name in markers:
                raise ValueError("%s: marker @%s on lines %d and %d" % (path, name, markers[name], lineno))
            markers[name] = lineno
    return markers


# ---- frames and stacks ---------------------------------------------------

class Frame(object):
    __slots__ = ("function", "file", "line")

    def __init__(self, function, file, line):
        self.function, self.file, self.line = function, file, line

    @classmethod
    def from_json(cls, d):
        return cls(d.get("function"), d.get("file"), d.get("line"))

    def __eq__(self, other):
        return (self.function, self.file, self.line) == (other.function, other.file, other.line)

    def __ne__(self, other):
        return not self == other

    def __str__(self):
        return "%s  %s:%s" % (self.function, self.file, self.line)


def frames_of(thread):
    return [Frame.from_json(f) for f in thread.get("frames", [])]


def stack_table(expected, got, start=0, checked=None):
    """Side-by-side listing, '!' marking rows that differ. Rows past
    `checked` are context only."""
    if checked is None:
        checked = max(len(expected), len(got))
    width = max([len(str(f)) for f in expected] + [20])
    rows = ["     #  %-*s  got" % (width, "expected")]
    for i in range(max(len(expected), len(got))):
        e = expected[i] if i < len(expected) else None
        g = got[i] if i < len(got) else None
        if i >= checked:
            rows.append("  %4d  %-*s  %s" % (start + i, width, "(not checked)", g))
            continue
        bad = e is None or g is None or e != g
        rows.append("%s %4d  %-*s  %s" % ("!" if bad else " ", start + i, width,
                                          str(e) if e else "(nothing)", str(g) if g else "(nothing)"))
    return rows


def check_stack(label, thread, expected, whole=True, offset=0):
    """expected must equal the frames from offset on (and be all of them if whole)."""
    got = frames_of(thread)[offset:]
    if whole:
        ok = got == expected
    else:
        ok = got[:len(expected)] == expected
    if ok:
        return
    if whole:
        what = "stack differs"
        table = stack_table(expected, got, offset)
    else:
        what = ("innermost frame differs" if len(expected) == 1 else "innermost %d frames differ" % len(expected)) \
            if offset == 0 else "frames from #%d on differ" % offset
        table = stack_table(expected, got[:len(expected) + 2], offset, checked=len(expected))
    raise TestFailure("%s: %s (innermost first)" % (label, what), table)


# ---- pytop runs ----------------------------------------------------------

class PytopRun(object):
    def __init__(self, cmd, env_extra):
        self.cmd, self.env_extra = cmd, env_extra
        self.rc = None
        self.stdout = self.stderr = ""
        self.raw_stdout = b""
        self.duration = 0.0
        self.timed_out = False

    def describe(self, limit=6000):
        env = " ".join("%s=%s" % kv for kv in sorted(self.env_extra.items()))
        lines = ["command: %s%s" % (env + " " if env else "", " ".join(self.cmd))]
        if self.timed_out:
            lines.append("result: TIMED OUT after %.0f s (killed)" % self.duration)
        elif self.rc is not None and self.rc < 0:
            lines.append("result: killed by signal %d (%s) after %.2f s" % (-self.rc, _signame(-self.rc), self.duration))
        else:
            lines.append("result: exit %s after %.2f s" % (self.rc, self.duration))
        for name, text in (("stderr", self.stderr), ("stdout", self.stdout)):
            if not text.strip():
                lines.append("%s: (empty)" % name)
                continue
            pretty = _pretty_dump(text) if name == "stdout" else None
            if pretty:
                lines.append("stdout (JSON, one frame per line):")
                lines.extend("  | " + l for l in pretty)
                continue
            if len(text) > limit:
                text = text[:limit] + "\n... (%d more characters)" % (len(text) - limit)
            lines.append("%s:" % name)
            lines.extend("  | " + l for l in text.rstrip("\n").split("\n"))
        return lines

    def sanitizer_report(self):
        return re.search(r"(Address|Undefined|Leak|Memory|Thread)Sanitizer|runtime error:", self.stderr)


def _pretty_dump(text, max_frames=40):
    """A --json document laid out one thread and one frame per line, or None
    if text is not such a document."""
    try:
        doc = json.loads(text)
        threads = doc["threads"]
        head = dict((k, v) for k, v in doc.items() if k != "threads")
        out = [json.dumps(head, ensure_ascii=False) + " threads:"]
        for t in threads:
            meta = dict((k, v) for k, v in t.items() if k != "frames")
            frames = t.get("frames") or []
            out.append("  " + json.dumps(meta, ensure_ascii=False, sort_keys=True) + " frames:")
            for i, f in enumerate(frames[:max_frames]):
                out.append("    %3d %s" % (i, json.dumps(f, ensure_ascii=False)))
            if len(frames) > max_frames:
                out.append("    ... %d more frames" % (len(frames) - max_frames))
        return out
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _signame(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return "?"


def run_pytop(pytop, args, env_extra=None, timeout=PYTOP_TIMEOUT, prefix=None, cwd=None):
    env_extra = dict(env_extra or {})
    env = dict(os.environ)
    env.pop("PYTOP_LAYOUT_SOURCE", None)
    env.update(env_extra)
    cmd = list(prefix or []) + [pytop] + list(args)
    run = PytopRun(cmd, env_extra)
    t0 = time.time()
    try:
        p = popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd or "/")
    except OSError as e:
        run.rc = 127
        run.stderr = "cannot execute: %s" % e
        return run
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.timed_out = True
        kill_group(p)
        out, err = p.communicate()
    finally:
        kill_group(p)
    run.duration = time.time() - t0
    run.rc = p.returncode
    run.stdout = out.decode("utf-8", "replace")
    run.stderr = err.decode("utf-8", "replace")
    run.raw_stdout = out
    return run


def check_ran_ok(run, what="pytop"):
    if run.timed_out:
        raise TestFailure("%s timed out" % what, run.describe())
    if run.rc != 0:
        raise TestFailure("%s failed" % what, run.describe())
    if run.sanitizer_report():
        raise TestFailure("%s: sanitizer report on stderr" % what, run.describe())


def parse_json(run):
    try:
        text = run.raw_stdout.decode("utf-8")
    except UnicodeDecodeError as e:
        raise TestFailure("pytop output is not valid UTF-8 (%s)" % e, run.describe())
    try:
        return json.loads(text)
    except ValueError as e:
        raise TestFailure("pytop output is not one JSON document: %s" % e, run.describe())


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def schema_problems(doc, pid):
    """Everything wrong with doc against the --dump --json contract, for a
    scenario where every frame must be readable."""
    p = []
    if not isinstance(doc, dict):
        return ["top level is %s, not an object" % type(doc).__name__]
    if doc.get("pid") != pid:
        p.append("\"pid\" is %r, want %d" % (doc.get("pid"), pid))
    if not isinstance(doc.get("python"), str) or not re.match(r"^\d+\.\d+\.\d+", doc.get("python", "")):
        p.append("\"python\" is %r, want a version like \"3.12.1\"" % (doc.get("python"),))
    threads = doc.get("threads")
    if not isinstance(threads, list) or not threads:
        p.append("\"threads\" is %r, want a non-empty list" % (threads,))
        return p
    for i, t in enumerate(threads):
        where = "threads[%d]" % i
        if not isinstance(t, dict):
            p.append("%s is not an object" % where)
            continue
        if not _is_int(t.get("tid")) or t.get("tid") <= 0:
            p.append("%s.tid is %r" % (where, t.get("tid")))
        if not (t.get("name") is None or isinstance(t.get("name"), str)):
            p.append("%s.name is %r" % (where, t.get("name")))
        if t.get("state") not in ("running", "idle"):
            p.append("%s.state is %r, want \"running\" or \"idle\"" % (where, t.get("state")))
        if doc.get("free_threaded") is True and doc.get("gil_enabled") is not True:
            if t.get("gil") is not None:
                p.append("%s.gil is %r on a free-threaded build, want null" % (where, t.get("gil")))
        elif not isinstance(t.get("gil"), bool):
            p.append("%s.gil is %r, want true or false" % (where, t.get("gil")))
        if "error" in t:
            p.append("%s (tid %s) has an error: %r" % (where, t.get("tid"), t["error"]))
        frames = t.get("frames")
        if not isinstance(frames, list):
            p.append("%s.frames is %r" % (where, frames))
            continue
        for j, f in enumerate(frames):
            fw = "%s.frames[%d]" % (where, j)
            if not isinstance(f, dict):
                p.append("%s is not an object" % fw)
                continue
            if "elided" in f:
                # The middle of a stack deeper than pytop keeps.
                if not _is_int(f["elided"]) or f["elided"] <= 0 or f.get("line") is not None or \
                        f.get("function") != "<%s frames elided>" % f["elided"]:
                    p.append("%s malformed marker: %s" % (fw, json.dumps(f, ensure_ascii=False)))
                continue
            if "error" in f or f.get("function") == "<unknown>":
                p.append("%s could not be read: %s" % (fw, json.dumps(f, ensure_ascii=False)))
                continue
            if not isinstance(f.get("function"), str) or not isinstance(f.get("file"), str) \
                    or not _is_int(f.get("line")):
                p.append("%s malformed: %s" % (fw, json.dumps(f, ensure_ascii=False)))
    return p


# ---- targets ---------------------------------------------------------------

class Target(object):
    """A target script running under one interpreter.

    script: a file name in targets/ or an absolute path. The ready report
    (see targets/target_support.py) is available as .report after start().
    """

    def __init__(self, interp, script, workdir, env_extra=None, args=(), py_flags=()):
        self.interp = interp
        self.py_flags = list(py_flags)    # interpreter options besides PY_FLAGS (-X gil=1)
        # The script on this machine (its markers are read here) and as the
        # interpreter sees it (what pytop must show): for an interpreter in
        # a root, a copy inside the root unless it is there already.
        self.host_path = os.path.realpath(script if os.path.isabs(script) else os.path.join(TARGETS_DIR, script))
        self.path = interp.stage(self.host_path)
        self.workdir = workdir     # on this machine; inside the root for a chroot'd interpreter
        self.env_extra = dict(env_extra or {})
        self.args = list(args)
        self.markers = parse_markers(self.host_path)
        self.proc = None
        self.report = None
        self.ready_file = os.path.join(workdir, "ready.json")
        self.out_file = os.path.join(workdir, "target.out")

    def command(self):
        return self.interp.command(PY_FLAGS + self.py_flags +
                                   [self.path, self.interp.inside(self.ready_file)] + self.args,
                                   cwd=self.workdir)

    def environment(self):
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith("PYTHON"))
        env["LC_ALL"] = "C.UTF-8"   # deterministic file-name decoding on 3.6
        if self.interp.root:
            # Temporary files (multiprocessing's) go with the case, not into the root's /tmp.
            env["TMPDIR"] = self.interp.inside(self.workdir)
        env.update(self.env_extra)
        return env

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        self._out = open(self.out_file, "wb")
        self.proc = popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._out,
                          stderr=subprocess.STDOUT, env=self.environment(), cwd=self.workdir)
        deadline = time.time() + READY_TIMEOUT
        while True:
            if os.path.exists(self.ready_file):
                break
            if self.proc.poll() is not None:
                raise TestFailure("target %s exited with status %s before it was ready"
                                  % (os.path.basename(self.path), self.proc.returncode), self.describe())
            if time.time() > deadline:
                raise TestFailure("target %s not ready after %.0f s"
                                  % (os.path.basename(self.path), READY_TIMEOUT), self.describe())
            time.sleep(0.02)
        with open(self.ready_file) as f:
            self.report = json.load(f)
        time.sleep(SETTLE)
        if self.proc.poll() is not None:
            raise TestFailure("target exited right after it was ready", self.describe())
        return self

    def tid(self, key):
        t = self.report["threads"].get(key) or {}
        if t.get("tid"):
            return t["tid"]
        return self.pid if key == "MainThread" else None

    def describe(self):
        lines = ["target: %s" % " ".join(self.command())]
        if self.env_extra:
            lines.append("target env: %s" % " ".join("%s=%s" % kv for kv in sorted(self.env_extra.items())))
        try:
            with open(self.out_file, "rb") as f:
                out = f.read().decode("utf-8", "replace")
            if out.strip():
                lines.append("target output:")
                lines.extend("  | " + l for l in out.rstrip("\n").split("\n")[-30:])
        except OSError:
            pass
        return lines

    def stop(self):
        if self.proc is not None:
            kill_group(self.proc)
        if getattr(self, "_out", None):
            self._out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# ---- a test's view of everything -------------------------------------------

class Case(object):
    """Per-test helper: owns a scratch directory, the targets it starts, and
    the pytop runs it made (shown when the test fails)."""

    def __init__(self, suite, name, interp=None):
        self.suite = suite
        self.name = name
        self.interp = interp
        self.pytop = suite.pytop
        # Where the case's interpreter can read and write (inside its root if chroot'd).
        self.workdir = tempfile.mkdtemp(prefix="case-", dir=interp.scratch(suite.tmproot) if interp else suite.tmproot)
        self.dirs = [self.workdir]
        self.targets = []
        self.notes = []

    def close(self):
        for t in self.targets:
            t.stop()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def subdir(self, name):
        d = os.path.join(self.workdir, name)
        os.makedirs(d)
        return d

    def inside(self, path, interp=None):
        """path on this machine as (the case's) interpreter sees it."""
        return (interp or self.interp).inside(path)

    def start(self, script, env_extra=None, interp=None, args=(), py_flags=()):
        n = len(self.targets)
        interp = interp or self.interp
        if self.interp is not None and interp.root == self.interp.root:
            d = self.subdir("target%d" % n)
        else:
            d = tempfile.mkdtemp(prefix="target%d-" % n, dir=interp.scratch(self.suite.tmproot))
            self.dirs.append(d)
        t = Target(interp, script, d, env_extra, args, py_flags)
        self.targets.append(t)
        return t.start()

    def pytop_run(self, args, env_extra=None, **kw):
        return run_pytop(self.pytop, args, env_extra, **kw)

    def dump(self, target, env_extra=None, settle_retries=5):
        """pytop --dump --json against target, checked against the schema.

        If a thread is still inside target_support (the arrive() call that
        reported readiness had not returned when we looked), dump again: that
        is the target's race, not pytop's."""
        for attempt in range(settle_retries):
            run = self.pytop_run(["--dump", "--json", "-p", str(target.pid)], env_extra)
            context = run.describe() + target.describe()
            try:
                check_ran_ok(run)
                doc = parse_json(run)
            except TestFailure as e:
                e.details = e.details + target.describe()
                raise
            problems = schema_problems(doc, target.pid)
            if problems:
                raise TestFailure("pytop output does not follow the --dump --json contract",
                                  ["- " + p for p in problems] + context)
            unsettled = any(os.path.basename(f.get("file", "")) == SUPPORT
                            for t in doc["threads"] for f in t["frames"])
            if not unsettled:
                return doc, run
            time.sleep(0.3)
        return doc, run

    def thread(self, doc, run, target, key):
        tid = target.tid(key)
        for t in doc["threads"]:
            if t.get("tid") == tid:
                return t
        have = ", ".join("%s (%s)" % (t.get("tid"), t.get("name")) for t in doc["threads"])
        raise TestFailure("no thread with tid %s (%s) in the dump; threads: %s" % (tid, key, have),
                          run.describe() + target.describe())

    def fail(self, message, run=None, target=None, extra=()):
        details = list(extra)
        if run is not None:
            details += run.describe()
        if target is not None:
            details += target.describe()
        raise TestFailure(message, details)

    def check_stack(self, label, thread, expected, run, target, whole=True, offset=0):
        try:
            check_stack(label, thread, expected, whole, offset)
        except TestFailure as e:
            e.details = e.details + run.describe() + target.describe()
            raise

    def function_name(self, name, qualname):
        """What pytop must print: co_qualname on 3.11+, co_name before."""
        return qualname if self.interp.at_least(3, 11) else name


# ---- ELF: does a file still have a .symtab? ----------------------------------

def elf_section_names(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        raise ValueError("%s is not ELF" % path)
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)

    def section(i):
        base = shoff + i * shentsize
        if is64:
            name, _type, _flags, _addr, off, size = struct.unpack_from(end + "IIQQQQ", data, base)
        else:
            name, _type, _flags, _addr, off, size = struct.unpack_from(end + "IIIIII", data, base)
        return name, off, size

    _, stroff, strsize = section(shstrndx)
    names = []
    for i in range(shnum):
        name, _, _ = section(i)
        s = data[stroff + name:stroff + strsize]
        names.append(s[:s.index(b"\0")].decode("ascii", "replace"))
    return names
