"""Functional tests of a target in another PID namespace, as in a
container: `unshare --pid --fork --mount-proc` gives the target a PID
namespace (and /proc) of its own, the same kernel paths a podman or
Docker container takes.

From the host, pytop must show the host's thread ids and read each
thread's CPU time and state; from a sidecar (a process in the target's PID
namespace with its own mount namespace and /proc), the namespace's ids.
The truth comes from the kernel: the NSpid line of each task's status
gives both ids, schedstat each thread's CPU time.
"""
import json
import os
import shutil
import subprocess
import time

from engine import engine_keys, export, record
from harness import Target, TestSkip
from scenarios import Test

UNSHARE = shutil.which("unshare")
NSENTER = shutil.which("nsenter")
_usable = {}


def namespaces_usable():
    """None when this user may create PID namespaces, else why not."""
    if "why" not in _usable:
        why = None
        if not UNSHARE:
            why = "unshare not installed (util-linux)"
        else:
            p = subprocess.run([UNSHARE, "--pid", "--fork", "--mount-proc", "true"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                why = "cannot create a PID namespace here (%s)" % p.stdout.decode("utf-8", "replace").strip()
        _usable["why"] = why
    return _usable["why"]


class NsTarget(Target):
    """A target that is pid 1 of a PID namespace of its own."""

    def __init__(self, *a, **kw):
        Target.__init__(self, *a, **kw)
        self._pid = None

    def command(self):
        return [UNSHARE, "--pid", "--fork", "--mount-proc"] + Target.command(self)

    @property
    def pid(self):
        """The interpreter's pid on the host: unshare's child."""
        if self._pid is None:
            u = self.proc.pid
            with open("/proc/%d/task/%d/children" % (u, u)) as f:
                kids = [int(x) for x in f.read().split()]
            if len(kids) != 1:
                raise RuntimeError("unshare %d has children %s, want one" % (u, kids))
            self._pid = kids[0]
        return self._pid

    def tasks(self):
        """{host tid: own tid} from each task's NSpid line."""
        out = {}
        for t in os.listdir("/proc/%d/task" % self.pid):
            with open("/proc/%d/task/%s/status" % (self.pid, t)) as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        ids = [int(x) for x in line.split()[1:]]
                        out[ids[0]] = ids[-1]
        return out

    def own_tid(self, key):
        return self.report["threads"][key]["tid"] if key != "MainThread" else 1

    def schedstat(self):
        out = {}
        for t in os.listdir("/proc/%d/task" % self.pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (self.pid, t)) as f:
                    out[int(t)] = int(f.read().split()[0])
            except (IOError, OSError):
                pass
        return out


def start_ns(c, script):
    why = namespaces_usable()
    if why:
        raise TestSkip(why)
    n = len(c.targets)
    t = NsTarget(c.interp, script, c.subdir("target%d" % n))
    c.targets.append(t)
    t.start()
    if t.tasks().get(t.pid) != 1:
        c.fail("the target is not pid 1 of its own namespace: tasks %s" % t.tasks(), target=t)
    return t


KEYS = ("MainThread", "idler-1", "idler-2")


def check_threads(c, doc, run, tgt, ids):
    """The dump's threads are the target's, with the ids ids[key] and the
    right states; returns how many dumps found the spinner running (0/1)."""
    got = dict((t["tid"], t) for t in doc["threads"])
    want = dict((ids[k], k) for k in KEYS)
    if sorted(got) != sorted(want):
        c.fail("thread ids %s, want %s (%s)" % (sorted(got), sorted(want),
               ", ".join("%s=%s" % (k, ids[k]) for k in KEYS)), run, tgt)
    for k in KEYS:
        t = got[ids[k]]
        if t["name"] != k:
            c.fail("tid %d is named %r, want %r" % (ids[k], t["name"], k), run, tgt)
        if k != "MainThread" and t["state"] != "idle":
            c.fail("%s (tid %d) sleeps but is %r" % (k, ids[k], t["state"]), run, tgt)
    return got[ids["MainThread"]]["state"] == "running"


def dump_until_running(c, tgt, ids, prefix=None, pid=None):
    """Dumps until the spinning main thread shows as running (10 tries)."""
    for attempt in range(10):
        args = ["--dump", "--json", "-p", str(pid or tgt.pid)]
        run = c.pytop_run(args, prefix=prefix)
        if run.timed_out or run.rc != 0 or run.sanitizer_report():
            c.fail("pytop --dump failed", run, tgt)
        doc = json.loads(run.stdout)
        if check_threads(c, doc, run, tgt, ids):
            return attempt + 1
        time.sleep(0.1)
    c.fail("the spinning main thread was never \"running\" in 10 dumps (per-thread state unread?)", run, tgt)


def t_container_host(c):
    tgt = start_ns(c, "idle_running.py")
    tasks = tgt.tasks()
    by_own = dict((own, host) for host, own in tasks.items())
    ids = dict((k, by_own[tgt.own_tid(k)]) for k in KEYS)
    n = dump_until_running(c, tgt, ids)
    # --native holds each thread by its id: the host's, never the
    # namespace's (1 would be the host's init).
    run = c.pytop_run(["--dump", "--json", "--native", "-p", str(tgt.pid)])
    if run.timed_out or run.rc != 0 or run.sanitizer_report():
        c.fail("pytop --dump --native failed", run, tgt)
    doc = json.loads(run.stdout)
    check_threads(c, doc, run, tgt, ids)
    unheld = ["%s: %s" % (t["tid"], t["native_error"]) for t in doc["threads"] if "native_error" in t]
    if unheld:
        c.fail("threads without native frames: %s" % ", ".join(unheld), run, tgt)
    return "host tids %s (own %s), running after %d dump(s), native frames for all" % (
        ", ".join(str(ids[k]) for k in KEYS), ", ".join(str(tgt.own_tid(k)) for k in KEYS), n)


def t_container_sidecar(c):
    if not NSENTER:
        raise TestSkip("nsenter not installed (util-linux)")
    tgt = start_ns(c, "idle_running.py")
    ids = dict((k, tgt.own_tid(k)) for k in KEYS)
    # In the target's PID namespace, with a mount namespace and /proc of
    # its own, as a sidecar container sharing the target's PID namespace.
    prefix = [NSENTER, "-t", str(tgt.pid), "-p", "--", UNSHARE, "--mount", "--mount-proc"]
    n = dump_until_running(c, tgt, ids, prefix=prefix, pid=1)
    return "sidecar sees tids %s, running after %d dump(s)" % (", ".join(str(ids[k]) for k in KEYS), n)


def t_container_cpu(c):
    """CPU time per thread in a recording against schedstat's."""
    tgt = start_ns(c, "idle_running.py")
    tasks = tgt.tasks()
    by_own = dict((own, host) for host, own in tasks.items())
    ids = dict((k, by_own[tgt.own_tid(k)]) for k in KEYS)
    before = tgt.schedstat()
    rec, run, summ = record(c, tgt, ["--rate", "100", "--duration", "3"])
    after = tgt.schedstat()
    truth = dict((k, (after.get(ids[k], 0) - before.get(ids[k], 0)) / 1e9) for k in KEYS)
    data, erun = export(c, rec, "speedscope", "cpu", target=tgt)
    doc = json.loads(data.decode("utf-8"))
    got = dict((k, 0.0) for k in KEYS)
    names = []
    for prof in doc["profiles"]:
        names.append(prof["name"])
        for k in KEYS:
            if prof["name"].endswith("tid %d)" % ids[k]):
                got[k] += float(prof["endValue"])
    detail = "; ".join("%s (tid %d): %.3f s recorded, %.3f s by schedstat" % (k, ids[k], got[k], truth[k])
                       for k in KEYS) + "; profiles: %s" % ", ".join(names)
    spin_true = truth["MainThread"]
    if spin_true < 0.3:
        raise TestSkip("the spinning thread got only %.2f s of CPU in 3 s: machine too busy" % spin_true)
    # schedstat also counts pytop's start and end; the recording only its 3 s.
    if not 0.5 * spin_true <= got["MainThread"] <= 1.1 * spin_true + 0.05:
        c.fail("the spinning thread's recorded CPU time is off (want 50-110%% of schedstat's): %s" % detail,
               run, tgt)
    for k in ("idler-1", "idler-2"):
        if got[k] > 0.05 + 0.05 * spin_true:
            c.fail("a sleeping thread is credited CPU time: %s" % detail, run, tgt)
    share = 100.0 * got["MainThread"] / max(sum(got.values()), 1e-9)
    return "spinner %.2f s of %.2f s by schedstat (%.0f%% of recorded CPU), idlers %.3f/%.3f s" % (
        got["MainThread"], spin_true, share, got["idler-1"], got["idler-2"])


PER_INTERPRETER = [
    ("container_host", t_container_host),
    ("container_sidecar", t_container_sidecar),
]
# A recording per interpreter would be slow; the engine's interpreters
# cover both ways ids are found (3.11+ native_thread_id, glibc's
# descriptor before).
ENGINE_ONLY = [
    ("container_cpu", t_container_cpu),
]


def build(interps):
    tests = []
    why = namespaces_usable()
    for name, fn in PER_INTERPRETER:
        for interp in interps:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp, skip=why))
    keys = engine_keys()
    chosen = [i for i in interps if i.key in keys or i.selected]
    for name, fn in ENGINE_ONLY:
        for interp in chosen:
            tests.append(Test("%s[%s]" % (name, interp.id), fn, interp, skip=why))
    return tests
