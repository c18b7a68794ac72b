"""Functional tests of --async: asyncio tasks (3.11+).

targets/asyncio_tasks.py runs named tasks: "burner" spinning in a
coroutine chain, "sleeper" awaiting asyncio.sleep through nap(), "waiter"
an Event, "consumer" a Queue, "joiner" the sleeper task, and one unnamed
task. --dump --async must root the main thread's stack in "<task burner>"
and give every waiting task its await chain, innermost first, under
"<task NAME>". The task object's layout (pytop's table before 3.14, the
interpreter's own .AsyncioDebug section from 3.14) is checked against the
offsets the target finds in its own task with ctypes.

Before 3.11, and on free-threaded builds, --async must say in one line
that it does not read that interpreter's tasks.
"""
import os
import re
import time

from harness import check_ran_ok, parse_json
from scenarios import F, Test

TARGET = "asyncio_tasks.py"


def fnames(frames):
    return [f.get("function") for f in frames]


def match_chain(c, label, frames, expected, run, tgt):
    """frames (innermost first) start with expected [(function, file or None, line or None)]."""
    if len(frames) < len(expected):
        c.fail("%s: %d frames, want at least %d: %s" % (label, len(frames), len(expected),
                                                        fnames(frames)), run, tgt)
    for i, (fn, path, line) in enumerate(expected):
        f = frames[i]
        ok = f.get("function") == fn
        if path is not None:
            ok = ok and f.get("file") == path
        elif path is None and fn.startswith("<task "):
            ok = ok and f.get("file") == "" and f.get("line") is None
        if line is not None:
            ok = ok and f.get("line") == line
        if not ok:
            c.fail("%s: frame %d is %s, want %s %s:%s" % (label, i, f, fn, path, line), run, tgt)


def dump_async(c, tgt, attempts=8):
    """--dump --async --json, again while the burner is caught between spins."""
    for _ in range(attempts):
        run = c.pytop_run(["--dump", "--async", "--json", "-p", str(tgt.pid)])
        check_ran_ok(run)
        doc = parse_json(run)
        main = [t for t in doc["threads"] if t.get("tid") == tgt.pid]
        if main and main[0]["frames"] and main[0]["frames"][-1].get("function") == "<task burner>":
            return doc, run
        time.sleep(0.2)
    return doc, run


def t_async_dump(c):
    tgt = c.start(TARGET)
    f, m = tgt.path, tgt.markers
    doc, run = dump_async(c, tgt)

    # The layout pytop used is where the task object really holds them.
    probe = tgt.report["info"]["task_fields"]
    lay = doc.get("task_layout") or {}
    if lay.get("name") != probe.get("name") or lay.get("coro") != probe.get("coro"):
        c.fail("task layout (%s): name at %s, coroutine at %s; the target's own task holds them "
               "at %s and %s" % (lay.get("source"), lay.get("name"), lay.get("coro"),
                                 probe.get("name"), probe.get("coro")), run, tgt)
    want_source = "section" if c.interp.at_least(3, 14) else "table"
    if lay.get("source") != want_source:
        c.fail("task layout from the %s, want the %s" % (lay.get("source"), want_source), run, tgt)

    main = [t for t in doc["threads"] if t.get("tid") == tgt.pid][0]
    match_chain(c, "MainThread", main["frames"],
                [("spin", f, None), ("burner", f, m["await-spin"]), ("<task burner>", None, None)],
                run, tgt)
    if main["frames"][0]["line"] not in (m["burn"], m["burn"] + 1, m["burn"] + 2, m["burn"] - 1):
        c.fail("spin at line %s, want the loop at %d" % (main["frames"][0]["line"], m["burn"]), run, tgt)
    if len(main["frames"]) != 3:
        c.fail("MainThread under <task burner> has %d frames, want spin, burner and the root: %s"
               % (len(main["frames"]), fnames(main["frames"])), run, tgt)

    tasks = dict((t["name"], t) for t in doc["tasks"])
    for name in ("burner", "sleeper", "waiter", "consumer", "joiner", "far"):
        if name not in tasks:
            c.fail("no task %r among %s" % (name, sorted(tasks)), run, tgt)
    b = tasks["burner"]
    if b["state"] != "running" or b["thread"] != tgt.pid:
        c.fail("burner: %s on thread %s, want running on %d" % (b["state"], b["thread"], tgt.pid), run, tgt)
    for name in ("sleeper", "waiter", "consumer", "joiner"):
        if tasks[name]["state"] != "waiting":
            c.fail("%s: %s, want waiting" % (name, tasks[name]["state"]), run, tgt)
    match_chain(c, "sleeper", tasks["sleeper"]["frames"],
                [("sleep", None, None), ("nap", f, m["sleep"]), ("sleeper", f, m["await-nap"]),
                 ("<task sleeper>", None, None)], run, tgt)
    if not tasks["sleeper"]["frames"][0]["file"].endswith(os.path.join("asyncio", "tasks.py")):
        c.fail("sleeper awaits %s, want asyncio/tasks.py's sleep" % tasks["sleeper"]["frames"][0], run, tgt)
    match_chain(c, "waiter", tasks["waiter"]["frames"],
                [("Event.wait", None, None), ("waiter", f, m["event-wait"]), ("<task waiter>", None, None)],
                run, tgt)
    match_chain(c, "consumer", tasks["consumer"]["frames"],
                [("Queue.get", None, None), ("consumer", f, m["queue-get"]),
                 ("<task consumer>", None, None)], run, tgt)
    # A task of another thread's loop (3.14+: that thread's own list).
    match_chain(c, "far", tasks["far"]["frames"],
                [("sleep", None, None), ("far_nap", f, m["far-sleep"]), ("<task far>", None, None)],
                run, tgt)
    match_chain(c, "joiner", tasks["joiner"]["frames"],
                [("joiner", f, m["await-task"]), ("<task joiner>", None, None)], run, tgt)
    for name, aw in (("sleeper", "sleep"), ("waiter", "Event.wait"), ("consumer", "Queue.get")):
        if tasks[name]["awaits"] != aw:
            c.fail("%s awaits %r, want %r" % (name, tasks[name]["awaits"], aw), run, tgt)
    if tasks["joiner"]["awaits_task"] != "sleeper":
        c.fail("joiner awaits task %r, want 'sleeper'" % tasks["joiner"]["awaits_task"], run, tgt)
    # The unnamed task: asyncio's "Task-N" (kept as the number N until asked for, 3.13+).
    unnamed = [t for t in doc["tasks"] if re.match(r"^Task-\d+$", t["name"])
               and fnames(t["frames"])[1:2] == ["unnamed"]]
    if len(unnamed) != 1:
        c.fail("want one unnamed task Task-N awaiting in unnamed(); tasks: %s"
               % [(t["name"], fnames(t["frames"])) for t in doc["tasks"]], run, tgt)
    if doc.get("tasks_rejected"):
        c.fail("%d objects did not read as tasks" % doc["tasks_rejected"], run, tgt)

    # The text form says the same.
    run = c.pytop_run(["--dump", "--async", "-p", str(tgt.pid)])
    check_ran_ok(run)
    for line in ('Task "sleeper" (waiting)', '    <task sleeper>', 'Task "joiner" (waiting for task "sleeper")'):
        if line not in run.stdout.split("\n"):
            c.fail("the text dump lacks %r" % line, run, tgt)


def t_async_refused(c):
    tgt = c.start("nested_calls.py")
    rec = os.path.join(c.workdir, "refused.pytop")
    for args in (["--dump", "--async"], ["--record", rec, "--async", "-d", "1"]):
        run = c.pytop_run(args + ["-p", str(tgt.pid)])
        lines = [l for l in run.stderr.strip().split("\n") if l]
        if run.rc == 0 or len(lines) != 1 or "--async" not in lines[0]:
            c.fail("%s on %s: want one line on stderr and a failure; rc %s"
                   % (" ".join(args[:1]), c.interp.id, run.rc), run, tgt)
        if not c.interp.free_threaded and "3.11" not in lines[0]:
            c.fail("the message does not say which versions --async reads: %r" % lines[0], run, tgt)
    if tgt.proc.poll() is not None:
        c.fail("the target did not survive the refusals", None, tgt)


def t_async_record(c):
    """--record --async: the burner's CPU under <task burner>, waiting tasks' wall time under theirs."""
    import engine
    tgt = c.start(TARGET)
    f, m = tgt.path, tgt.markers
    rec, run, _ = engine.record(c, tgt, ["--async", "-d", "2"])
    wall = engine.parse_folded(c, engine.export(c, rec, "folded", "wall", target=tgt)[0], "wall", run, tgt)
    cpu = engine.parse_folded(c, engine.export(c, rec, "folded", "cpu", target=tgt)[0], "cpu", run, tgt)

    def names(st):
        return [fr[0] for fr in st.frames]

    def weight(stacks, prefix):
        return sum(st.weight for st in stacks if names(st)[:len(prefix)] == prefix)

    total_cpu = sum(st.weight for st in cpu)
    burner = weight(cpu, ["<task burner>", "burner", "spin"])
    if not total_cpu or burner < 0.9 * total_cpu:
        c.fail("CPU under <task burner>;burner;spin: %d of %d, want at least 90 %%" % (burner, total_cpu),
               run, tgt, extra=["%s %d" % (";".join(names(st)), st.weight) for st in cpu][:20])
    waiting = [["<task sleeper>", "sleeper", "nap", "sleep"], ["<task waiter>", "waiter", "Event.wait"],
               ["<task consumer>", "consumer", "Queue.get"],
               ["<task joiner>", "joiner", "<awaits task sleeper>"], ["<task far>", "far_nap", "sleep"]]
    wall_burner = weight(wall, ["<task burner>"])
    for chain in waiting:
        w = weight(wall, chain)
        # Sampled every time: as much wall time as the running task's thread.
        if w < 0.8 * wall_burner:
            c.fail("wall time under %s: %d, want about the burner's %d" % (";".join(chain), w, wall_burner),
                   run, tgt, extra=["%s %d" % (";".join(names(st)), st.weight) for st in wall][:30])
        if weight(cpu, chain[:1]):
            c.fail("%s has CPU time: a waiting task has none" % chain[0], run, tgt)
    lines = dict((tuple(names(st)), st) for st in wall)
    st = lines.get(("<task sleeper>", "sleeper", "nap", "sleep"))
    if st is None or int(st.frames[1][2]) != m["await-nap"] or int(st.frames[2][2]) != m["sleep"]:
        c.fail("the sleeper's chain is not at await-nap, sleep: %s" % (st and st.frames), run, tgt)


def build(interps):
    tests = []
    for interp in interps:
        name = "async_dump[%s]" % interp.id
        if interp.version[0] == 3 and interp.at_least(3, 11) and not interp.free_threaded:
            tests.append(Test(name, t_async_dump, interp))
            tests.append(Test("async_record[%s]" % interp.id, t_async_record, interp))
        else:
            tests.append(Test(name, None, skip="asyncio tasks are read on 3.11+ builds with a GIL; "
                                               "async_refused covers this one"))
            tests.append(Test("async_refused[%s]" % interp.id, t_async_refused, interp))
    return tests
