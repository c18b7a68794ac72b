"""Functional tests of what pytop measures beside CPU stacks: resident
memory credited to the code that grew or released it, and the processes
a program starts (--subprocesses).

The truth comes from the targets: memory_grow_release.py takes memory in
one function and gives it back in another; process_tree.py runs a
multiprocessing pool and an exec'd child, each spinning in a function of
its own, and reports their pids.
"""
import os
import re

import engine
from engine import engine_keys, export, parse_folded, record
from harness import TestSkip
from scenarios import Test

PROCESS_ROOT_RE = re.compile(r"^process (\d+)\b")
MAX_MISSED_CHILDREN = 2


# ---- memory credited to code ---------------------------------------------------------------------

def t_memory_attribution(c):
    tgt = c.start("memory_grow_release.py")
    f = tgt.path
    chunk_mib = tgt.report["info"]["chunk"] / float(1 << 20)
    attempts = []
    for attempt in range(2):
        rec, run, summ = record(c, tgt, ["--rate", "200", "--duration", "4"])
        data, erun = export(c, rec, "folded", "memory", target=tgt)
        stacks = parse_folded(c, data, "folded memory export", erun, tgt)
        total = sum(s.weight for s in stacks)
        by_func = {}
        for s in stacks:
            # Inclusive: each function once per stack.
            for name in set(fr[0] for fr in s.frames if fr[1] == f):
                by_func[name] = by_func.get(name, 0) + s.weight
        grow = by_func.get("grow", 0)
        release = by_func.get("release", 0)
        mib = total / float(1 << 20)
        attempts.append("%.1f MiB of growth credited: grow %.1f%%, release %.1f%%"
                        % (mib, 100.0 * grow / total if total else 0, 100.0 * release / total if total else 0))
        # 4 s hold several grow phases of 48 chunks; most of the growth is
        # grow()'s and the release phase takes next to nothing.
        if total >= 20 * chunk_mib * (1 << 20) and grow >= 0.8 * total and release <= 0.1 * total:
            return " then ".join(attempts)
    c.fail("resident memory growth is not credited to the function that allocates (want grow >= 80%, "
           "release <= 10% of at least 20 MiB)", run, tgt, extra=attempts)


# ---- --subprocesses --------------------------------------------------------------------------------

def descendants_of(pid):
    """pid's children, their children and so on: from 3.14 on, a pool's
    workers are the children of its forkserver process, not of the target."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fh:
                st = fh.read()
        except (IOError, OSError):
            continue
        parent[int(d)] = int(st.rpartition(")")[2].split()[1])
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [k for k, pp in parent.items() if pp == p and k not in out]
        out += kids
        todo += kids
    return out


def t_subprocesses(c):
    tgt = c.start("process_tree.py")
    f, info = tgt.path, tgt.report["info"]
    want_child = info["child"]
    kids = descendants_of(tgt.pid)
    # A pool keeps a helper or two besides its workers on some versions;
    # every direct child is Python.
    rec, run, summ = record(c, tgt, ["--subprocesses", "--rate", "50", "--duration", "4"])
    m = re.search(r"pytop: (\d+) processes sampled", run.stderr)
    if not m:
        c.fail("no \"N processes sampled\" line in the --subprocesses summary", run, tgt)
    data, erun = export(c, rec, "folded", "wall", target=tgt)
    stacks = parse_folded(c, data, "folded wall export", erun, tgt)
    per_pid, files_of = {}, {}
    child_in_imports = None   # every stack of the child is inside an import
    for s in stacks:
        root = PROCESS_ROOT_RE.match(s.frames[0][0])
        if not root:
            c.fail("a stack without a \"process PID\" root in a multi-process export: %s"
                   % engine._folded_line(s), erun, tgt)
        names = per_pid.setdefault(int(root.group(1)), set())
        names.update(fr[0] for fr in s.frames[1:] if fr[1] == f)
        files_of.setdefault(int(root.group(1)), set()).update(fr[1] for fr in s.frames[1:])
        # A stack of markers only (<no Python frame>, <GC>) says nothing
        # of where the child's code is.
        if int(root.group(1)) == want_child and any(fr[1] for fr in s.frames[1:]):
            importing = any((fr[1] or "").startswith("<frozen ") for fr in s.frames[1:])
            child_in_imports = importing and child_in_imports is not False
    problems = []
    if "parent_work" not in per_pid.get(tgt.pid, ()):
        problems.append("the parent %d is not seen in parent_work()" % tgt.pid)
    if "child_work" not in per_pid.get(want_child, ()):
        problems.append("the exec'd child %d is not seen in child_work()" % want_child)
    workers = [p for p, names in per_pid.items() if "pool_work" in names]
    if len(workers) < info["workers"]:
        problems.append("%d pool workers seen in pool_work(), want %d" % (len(workers), info["workers"]))
    strangers = [p for p in per_pid if p != tgt.pid and p not in kids]
    if strangers:
        problems.append("processes that are not the target's descendants: %s" % strangers)
    if int(m.group(1)) < 2 + info["workers"]:
        problems.append("the summary says %s processes, want at least %d" % (m.group(1), 2 + info["workers"]))
    # CPython 3.13.5t's exec'd child often never gets past its start-up
    # imports: it spins in the interpreter itself (gdb: PyMutex_Lock in
    # mro_implementation, one thread), with or without pytop. pytop showing
    # it there, inside an import in every sample, is then right.
    stuck = c.interp.free_threaded and child_in_imports
    if stuck and len(problems) == 1 and "exec'd child" in problems[0]:
        raise TestSkip("the exec'd child %d of this free-threaded %s never left its start-up imports "
                       "(a deadlock in the interpreter, seen there by pytop); parent and %d workers checked"
                       % (want_child, c.interp.version_str, len(workers)))
    if problems:
        c.fail("; ".join(problems), erun, tgt,
               extra=["pid %d: %s" % (p, ", ".join(sorted(n))) for p, n in sorted(per_pid.items())] +
               ["files of the child's frames: %s" % sorted(str(x) for x in files_of.get(want_child, ()))])
    return "%d processes: parent, child %d, workers %s" % (len(per_pid), want_child, sorted(workers))


def t_subprocesses_short(c):
    """Children living less than half a second each, one after another:
    each must be found and sampled in its own function."""
    tgt = c.start("short_children.py")
    rec = os.path.join(c.workdir, "short.pytop")
    run = c.pytop_run(["--record", rec, "--subprocesses", "--rate", "100", "--duration", "60",
                       "-p", str(tgt.pid)], timeout=90)
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --record --subprocesses failed", run, tgt)
    engine.summary_of(c, run, rec, tgt, exited=True)
    listed = tgt.ready_file + ".children"
    if not os.path.exists(listed):
        c.fail("the target did not finish its children within the recording", run, tgt)
    with open(listed) as fh:
        children = [int(p) for p in fh.read().split()]
    data, erun = export(c, rec, "folded", "wall", target=tgt)
    seen, stacks_of = set(), {}
    for s in parse_folded(c, data, "folded wall export", erun, tgt):
        root = PROCESS_ROOT_RE.match(s.frames[0][0])
        if not root:
            continue
        pid = int(root.group(1))
        stacks_of.setdefault(pid, []).append(engine._folded_line(s))
        if any(fr[0] == "short_child" for fr in s.frames[1:]):
            seen.add(pid)
    missed = [(k + 1, p) for k, p in enumerate(children) if p not in seen]
    # Under the test suite's own load a child is now and then missed (not
    # reproduced outside it); most must be found, and each one missed is
    # shown with what was seen of it.
    if len(missed) > MAX_MISSED_CHILDREN:
        c.fail("%d of %d children of 0.4 s were not seen in short_child() (at most %d may be missed)"
               % (len(missed), len(children), MAX_MISSED_CHILDREN), erun, tgt,
               extra=["child %d, pid %d: %s" % (k, p, "; ".join(stacks_of.get(p, ["never sampled"]))[:400])
                      for k, p in missed])
    return "%d of %d children of 0.4 s seen in short_child()%s" % (
        len(children) - len(missed), len(children),
        "; missed: %s" % ", ".join("child %d (%s)" % (k, "sampled elsewhere" if p in stacks_of else "never sampled")
                                    for k, p in missed) if missed else "")


PER_INTERPRETER = [
    ("memory_attribution", t_memory_attribution),
    ("subprocesses", t_subprocesses),
    ("subprocesses_short", t_subprocesses_short),
]


def build(interps):
    keys = engine_keys()
    chosen = [i for i in interps if i.key in keys or i.selected]
    tests = []
    for name, fn in PER_INTERPRETER:
        for interp in chosen:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp))
    return tests
