#!/usr/bin/env python3
"""Run pytop's older benchmark suite and write its report (bench/results/run.md).

    python3 bench/run.py [--build DIR] [--make] [--baseline OLD.json]... [--only a,b,...]
    python3 bench/run.py --render-only RESULTS.json [--baseline OLD.json]...

Benchmarks (docs/performance.md says what each one means):
  a     sampler CPU per sample: depths 10/50/200 x 1/10/100 threads on every
        interpreter found (2.7, 3.10, 3.12, 3.13; plus 3.11 at depth 50 x 1
        and 2.7 with 100 threads all spinning)
  b     highest sustained rate on a single-threaded 3.12 depth-50 target, with
        normal scheduling and (as root, with chrt) under SCHED_FIFO
  c     target slowdown at 100 Hz and 1 kHz: launch mode, the program's own
        timing of a fixed amount of work, alternating runs and side by side
  d     model and dictionary memory (bench/model_bench.c, compiled here
        against the build's libpytop.a)
  e     recording size per sample (from a's recordings)
  perf  where the sampler's time goes (perf stat and perf record on pytop)

The build directory must hold pytop, libpytop.a and config.h (`make pytop
libpytop.a`). `--make` runs that first and stamps the build with the commit
it was built from. Results are saved as JSON (bench/results/<commit>-<time>.json
unless --save says otherwise); --baseline puts earlier results' a-c next to
this run's. Python 3 standard library only; about 10 minutes on an idle
2-core machine.
"""
import argparse
import atexit
import datetime
import glob
import json
import os
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TARGET = os.path.join(HERE, "target.py")

SUMMARY_RE = re.compile(
    r"(?:recorded|recording failed after) (\d+) samples in ([\d.]+) s \(([\d.]+) Hz achieved of "
    r"([\d.]+) Hz; (\d+) late, (\d+) errors; ([\d.]+) us of sampler CPU per sample\)")

WANTED_VERSIONS = ["2.7", "3.10", "3.12", "3.13"]
GOAL_VERSION_EXTRA = "3.11"     # measured at depth 50 x 1 thread only, for the goal


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def sh(cmd, cwd=None):
    try:
        return subprocess.run(cmd, cwd=cwd, shell=isinstance(cmd, str), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, universal_newlines=True,
                              check=False).stdout.strip()
    except OSError:
        return ""


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---- environment -----------------------------------------------------------

def build_srcdir(build):
    """The source tree a build directory was configured from."""
    try:
        with open(os.path.join(build, "Makefile")) as f:
            for line in f:
                m = re.match(r"abs_top_srcdir = (.+)$", line.rstrip("\n"))
                if m:
                    return m.group(1).strip()
    except OSError:
        pass
    return REPO


def git_source(srcdir):
    """Commit and uncommitted source files of a checkout, or None."""
    commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=srcdir)
    if not commit:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "configure.ac",
                            "Makefile.am"], cwd=srcdir, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    return {"commit": commit, "dirty_files": [l[3:] for l in dirty.splitlines() if len(l) > 3]}


STAMP = ".bench-source"     # in the build directory: what `--make` built from


def source_info(build):
    """What the pytop binary was built from: the stamp `--make` leaves (or
    one written by hand for a build of an exported tree), else the source
    tree's state now, flagged as such when the binary is older than it."""
    pytop = os.path.join(build, "pytop")
    stamp = os.path.join(build, STAMP)
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(pytop) - 1:
        with open(stamp) as f:
            info = json.load(f)
        info["how"] = "stamp"
        return info
    info = git_source(build_srcdir(build)) or {"commit": "unknown", "dirty_files": []}
    info["how"] = "tree now"
    return info


def machine_info(build):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    src = source_info(build)
    pytop = os.path.join(build, "pytop")
    return {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M %Z").strip()
                or datetime.datetime.now().isoformat(),
        "date_iso": datetime.datetime.now().isoformat(timespec="seconds"),
        "nproc": sh(["nproc"]),
        "cpu": cpu,
        "kernel": sh(["uname", "-r"]),
        "commit": src["commit"],
        "dirty_files": src["dirty_files"],
        "source_how": src["how"],
        "build": build,
        "pytop_mtime": time.strftime("%Y-%m-%d %H:%M:%S",
                                     time.localtime(os.path.getmtime(pytop))),
        "uptime_start": sh(["uptime"]),
        "load_start": loadavg(),
    }


def find_pythons():
    root = sh(["pyenv", "root"]) or os.path.expanduser("~/.pyenv")
    found = {}
    for ver in WANTED_VERSIONS + [GOAL_VERSION_EXTRA]:
        cands = []
        for d in glob.glob(os.path.join(root, "versions", ver + ".*")):
            exe = os.path.join(d, "bin", "python" + ver)
            patch = os.path.basename(d)[len(ver) + 1:]
            if os.access(exe, os.X_OK) and patch.isdigit():
                cands.append((int(patch), os.path.basename(d), exe))
        if cands:
            cands.sort()
            found[ver] = {"full": cands[-1][1], "exe": cands[-1][2]}
    return found


# ---- targets and pytop -----------------------------------------------------

LIVE_TARGETS = set()     # killed on exit, however run.py ends


def _kill_live_targets():
    for p in list(LIVE_TARGETS):
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_live_targets)


class Target(object):
    """bench/target.py running until stopped; ready once every thread sits
    at its depth."""

    def __init__(self, python, depth, threads, idle=False, timeout=90):
        args = [python, TARGET, "--depth", str(depth), "--threads", str(threads)]
        if idle:
            args.append("--idle")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     universal_newlines=True)
        self.pid = self.proc.pid
        LIVE_TARGETS.add(self.proc)
        deadline = time.time() + timeout
        line = ""
        while time.time() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            line = self.proc.stdout.readline()   # "ready PID\n" comes whole
            if not line or line.startswith("ready"):
                break
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError("target %s did not get ready" % " ".join(args))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        LIVE_TARGETS.discard(self.proc)


def run_pytop(pytop, args, timeout=120, prefix=None):
    cmd = (prefix or []) + [pytop] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=timeout)
    m = SUMMARY_RE.search(p.stderr)
    res = {"rc": p.returncode, "stderr": p.stderr.strip()[-400:], "stdout": p.stdout,
           "stderr_full": p.stderr}
    if m:
        res.update({
            "samples": int(m.group(1)), "seconds": float(m.group(2)),
            "achieved_hz": float(m.group(3)), "rate_hz": float(m.group(4)),
            "late": int(m.group(5)), "errors": int(m.group(6)),
            "us_per_sample": float(m.group(7)),
        })
    return res


def record_attach(pytop, pid, path, rate, duration, prefix=None):
    r = run_pytop(pytop, ["--record", path, "--rate", str(rate), "--duration", str(duration),
                          "-p", str(pid)], prefix=prefix)
    try:
        r["file_bytes"] = os.path.getsize(path)
        os.unlink(path)
    except OSError:
        r["file_bytes"] = None
    return r


# ---- a + e: sampler CPU per sample, recording size ------------------------------------

def bench_a(cfg, pythons, tmp):
    out = []
    configs = []
    # The grid: one thread spinning, the others sleeping at the same depth
    # (see render_a for why), then a few with every thread spinning.
    for ver in WANTED_VERSIONS:
        for depth in cfg.depths:
            for threads in cfg.threads:
                configs.append((ver, depth, threads, True))
    configs.append((GOAL_VERSION_EXTRA, 50, 1, True))
    for ver, depth, threads in cfg.spinning:
        configs.append((ver, depth, threads, False))
    for ver, depth, threads, idle in configs:
        if ver not in pythons:
            continue
        row = {"version": ver, "full": pythons[ver]["full"], "depth": depth, "threads": threads,
               "idle": idle or threads == 1, "runs": [], "load": loadavg()[0]}
        try:
            t = Target(pythons[ver]["exe"], depth, threads, idle=idle)
        except (RuntimeError, OSError) as e:
            row["error"] = str(e)
            out.append(row)
            log("a: %s depth %d x %d threads: %s" % (ver, depth, threads, e))
            continue
        try:
            for rep in range(cfg.reps):
                r = record_attach(cfg.pytop, t.pid, os.path.join(tmp, "a.rec"), 1000,
                                  cfg.duration)
                r.pop("stdout", None)
                r.pop("stderr_full", None)
                row["runs"].append(r)
        finally:
            t.stop()
        us = [r.get("us_per_sample") for r in row["runs"]]
        row["us_per_sample"] = median(us)
        row["us_min"] = min([u for u in us if u is not None], default=None)
        row["us_max"] = max([u for u in us if u is not None], default=None)
        if row["us_per_sample"] is not None:
            row["us_per_frame"] = row["us_per_sample"] / (depth * threads)
        ok = [r for r in row["runs"] if "samples" in r]
        if ok:
            row["achieved_hz"] = median([r["achieved_hz"] for r in ok])
            row["late_pct"] = median([100.0 * r["late"] / max(r["samples"], 1) for r in ok])
            row["errors"] = sum(r["errors"] for r in ok)
            sized = [r for r in ok if r.get("file_bytes") and r["samples"]]
            if sized:
                row["bytes_per_sample"] = median([r["file_bytes"] / r["samples"] for r in sized])
                row["file_bytes"] = median([r["file_bytes"] for r in sized])
        else:
            row["error"] = row["runs"][-1]["stderr"] if row["runs"] else "no run"
        log("a: %s depth %3d x %3d threads%s: %s us/sample %s" % (
            ver, depth, threads, "" if row["idle"] else " (all spinning)",
            fmt(row.get("us_per_sample")), us))
        out.append(row)
    return out


# ---- ab: earlier builds against this one, interleaved -----------------------

AB_CONFIGS = [("2.7", 50, 1), ("3.10", 50, 1), ("3.11", 50, 1), ("3.12", 50, 1),
              ("3.13", 50, 1), ("2.7", 200, 10), ("3.12", 200, 10)]
AB_BUILDS = "/tmp/pytop-bench-builds"


def build_commit(commit):
    """pytop built from a commit of this repository (git archive, autogen,
    configure, make), in AB_BUILDS/<commit>/build; reused when there."""
    full = sh(["git", "rev-parse", "--short", commit + "^{commit}"], cwd=REPO)
    if not full:
        sys.exit("no commit %s in %s" % (commit, REPO))
    root = os.path.join(AB_BUILDS, full)
    build = os.path.join(root, "build")
    if os.access(os.path.join(build, "pytop"), os.X_OK) and os.path.exists(
            os.path.join(build, STAMP)):
        return build
    src = os.path.join(root, "src")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(src)
    os.makedirs(build)
    log("building %s in %s" % (full, root))
    arch = subprocess.Popen(["git", "archive", full], cwd=REPO, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", src], stdin=arch.stdout, check=True)
    arch.wait()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    if not os.path.exists(os.path.join(src, "configure")):
        subprocess.run(["sh", "./autogen.sh"], cwd=src, check=True, **quiet)
    subprocess.run([os.path.join(src, "configure"), "-q", "CFLAGS=-O2 -g"], cwd=build,
                   check=True, **quiet)
    subprocess.run(["make", "-j2", "pytop"], cwd=build, check=True, **quiet)
    with open(os.path.join(build, STAMP), "w") as f:
        json.dump({"commit": full, "dirty_files": []}, f)
    return build


def perf_counts(text):
    """perf stat -x, counts: {"all": raw syscalls, "<name>": sys_enter_<name>}."""
    counts = {}
    for line in text.splitlines():
        f = line.split(",")
        if len(f) > 3 and f[0].strip().isdigit():
            ev = f[2]
            key = "all" if ev.startswith("raw_syscalls") else ev.split("sys_enter_")[-1]
            counts[key] = int(f[0])
    return counts


def bench_ab(cfg, pythons, tmp, builds):
    """Each earlier build and this one attach in turn to the same target,
    round after round, so the machine's load drifts over all of them alike."""
    labels = []
    for b in builds:
        si = source_info(b)
        labels.append({"build": b, "commit": si["commit"], "dirty": bool(si["dirty_files"])})
    si = source_info(cfg.build)
    labels.append({"build": cfg.build, "commit": si["commit"], "dirty": bool(si["dirty_files"]),
                   "this": True})
    # System calls per sample, counted (deterministic, unlike time) with
    # perf stat in one more attach per build: counting syscall tracepoints
    # slows every call down, so the timed attaches run without it.
    prefix = None
    if shutil.which("perf"):
        prefix = ["perf", "stat", "-x,", "-e",
                  "raw_syscalls:sys_enter,syscalls:sys_enter_process_vm_readv", "--"]
    rows = []
    for ver, depth, threads in AB_CONFIGS:
        if ver not in pythons:
            continue
        t = Target(pythons[ver]["exe"], depth, threads, idle=True)
        us = [[] for _ in labels]
        calls = [[] for _ in labels]
        try:
            for rep in range(cfg.reps):
                for k, lab in enumerate(labels):
                    r = record_attach(os.path.join(lab["build"], "pytop"), t.pid,
                                      os.path.join(tmp, "ab.rec"), 1000, cfg.duration)
                    us[k].append(r.get("us_per_sample"))
            for k, lab in enumerate(labels):
                if not prefix:
                    break
                r = record_attach(os.path.join(lab["build"], "pytop"), t.pid,
                                  os.path.join(tmp, "ab.rec"), 1000, 1, prefix=prefix)
                c = perf_counts(r.pop("stderr_full", ""))
                if c.get("all") and r.get("samples"):
                    calls[k].append((c["all"] / r["samples"],
                                     c.get("process_vm_readv", 0) / r["samples"]))
        finally:
            t.stop()
        row = {"version": ver, "full": pythons[ver]["full"], "depth": depth, "threads": threads,
               "us": us, "median": [median(u) for u in us], "load": loadavg()[0],
               "syscalls": [median([x[0] for x in c]) if c else None for c in calls],
               "vm_readv": [median([x[1] for x in c]) if c else None for c in calls]}
        rows.append(row)
        log("ab: %s depth %d x %d: %s" % (ver, depth, threads,
                                           " / ".join(fmt(m) for m in row["median"])))
    return {"builds": labels, "rows": rows, "reps": cfg.reps}


# ---- b: highest sustained rate ---------------------------------------------

def bench_b(cfg, pythons, tmp):
    if "3.12" not in pythons:
        return {"skipped": "Python 3.12 is not installed"}
    res = {"version": pythons["3.12"]["full"], "depth": 50, "modes": {}}
    modes = [("normal", None)]
    if cfg.rt and shutil.which("chrt") and os.geteuid() == 0:
        modes.append(("fifo", ["chrt", "-f", "1"]))
    t = Target(pythons["3.12"]["exe"], 50, 1)
    try:
        for mode, prefix in modes:
            rows = []
            for rate in cfg.rates:
                r = record_attach(cfg.pytop, t.pid, os.path.join(tmp, "b.rec"), rate,
                                  cfg.duration, prefix=prefix)
                r.pop("stdout", None)
                r.pop("stderr_full", None)
                r["load"] = loadavg()[0]
                if "samples" in r:
                    r["late_pct"] = 100.0 * r["late"] / max(r["samples"], 1)
                    r["cpu_pct"] = r["us_per_sample"] * r["achieved_hz"] / 1e4
                    r["sustained"] = r["late_pct"] < 1.0 and r["achieved_hz"] >= 0.95 * rate
                rows.append(r)
                log("b[%s]: %5d Hz -> %s Hz, %s %% late" % (
                    mode, rate, fmt(r.get("achieved_hz")), fmt(r.get("late_pct"))))
            best = [r["rate_hz"] for r in rows if r.get("sustained")]
            res["modes"][mode] = {"rows": rows, "best": max(best) if best else None}
    finally:
        t.stop()
    return res


# ---- c: target slowdown ------------------------------------------------------

WORK_RE = re.compile(r"elapsed ([\d.]+) cpu ([\d.]+) iterations (\d+)")


def run_work(cfg, python, n, rate, tmp):
    cmd = [python, TARGET, "--depth", "50", "--work", str(n)]
    if rate:
        cmd = [cfg.pytop, "--record", os.path.join(tmp, "c.rec"), "--rate", str(rate), "--"] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    m = WORK_RE.search(p.stdout)
    if not m:
        raise RuntimeError("no timing from %s: %s" % (" ".join(cmd), p.stderr[-300:]))
    r = {"elapsed": float(m.group(1)), "cpu": float(m.group(2))}
    s = SUMMARY_RE.search(p.stderr)
    if s:
        r["samples"] = int(s.group(1))
        r["achieved_hz"] = float(s.group(3))
        r["us_per_sample"] = float(s.group(7))
    return r


def bench_c(cfg, pythons, tmp):
    if "3.12" not in pythons:
        return {"skipped": "Python 3.12 is not installed"}
    py = pythons["3.12"]["exe"]
    # N such that one unsampled run takes about cfg.work_seconds.
    # Tuned on elapsed time, so that the benchmark's length stays bounded
    # however loaded the machine is.
    n0 = 4000000
    cal = run_work(cfg, py, n0, 0, tmp)
    t0 = max(cal["elapsed"], 0.05)
    n = max(int(n0 * cfg.work_seconds / t0), 100000)
    log("c: N = %d (calibration: %d iterations in %.2f s of CPU, %.2f s elapsed)" % (
        n, n0, cal["cpu"], cal["elapsed"]))
    conds = [0, 100, 1000]
    runs = {c: [] for c in conds}
    for rep in range(cfg.c_reps):
        order = conds[rep % 3:] + conds[:rep % 3]     # rotate: no condition always first
        for c in order:
            r = run_work(cfg, py, n, c, tmp)
            r["load"] = loadavg()[0]
            runs[c].append(r)
            log("c: rep %d, %s: %.3f s elapsed, %.3f s cpu" % (
                rep + 1, "%d Hz" % c if c else "unsampled", r["elapsed"], r["cpu"]))
    res = {"version": pythons["3.12"]["full"], "depth": 50, "n": n, "reps": cfg.c_reps,
           "runs": {str(c): runs[c] for c in conds}, "summary": {}}
    for c in conds:
        e = median([r["elapsed"] for r in runs[c]])
        u = median([r["cpu"] for r in runs[c]])
        s = {"elapsed": e, "cpu": u,
             "elapsed_min": min(r["elapsed"] for r in runs[c]),
             "elapsed_max": max(r["elapsed"] for r in runs[c])}
        if c:
            # Paired by repetition (runs of one repetition are back to back).
            s["ratio_paired"] = median([a["elapsed"] / b["elapsed"]
                                        for a, b in zip(runs[c], runs[0])])
            s["ratio_medians"] = e / median([r["elapsed"] for r in runs[0]])
            s["ratio_min"] = s["elapsed_min"] / min(r["elapsed"] for r in runs[0])
            s["cpu_ratio"] = u / median([r["cpu"] for r in runs[0]])
            s["achieved_hz"] = median([r.get("achieved_hz") for r in runs[c]])
            s["us_per_sample"] = median([r.get("us_per_sample") for r in runs[c]])
        res["summary"][str(c)] = s
    base = [r["elapsed"] for r in runs[0]]
    res["noise"] = (max(base) - min(base)) / median(base) if len(base) > 1 else None
    res["pairs"] = concurrent_pairs(cfg, py, n, tmp)
    return res


def concurrent_pairs(cfg, py, n, tmp):
    """The same work twice at the same time, one copy sampled: the load the
    machine puts on both cancels out of their ratio."""
    out = {}
    for rate in (100, 1000):
        ratios = []
        for rep in range(cfg.pair_reps):
            plain = [py, TARGET, "--depth", "50", "--work", str(n)]
            sampled = [cfg.pytop, "--record", os.path.join(tmp, "p.rec"), "--rate", str(rate),
                       "--"] + plain
            order = [plain, sampled] if rep % 2 == 0 else [sampled, plain]
            procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      universal_newlines=True) for c in order]
            outs = [p.communicate(timeout=600)[0] for p in procs]
            times = {}
            for c, o in zip(order, outs):
                m = WORK_RE.search(o)
                times["sampled" if c is sampled else "plain"] = float(m.group(1)) if m else None
            if times["sampled"] and times["plain"]:
                ratios.append(times["sampled"] / times["plain"])
                log("c: pair at %d Hz: sampled %.3f s, alongside unsampled %.3f s" % (
                    rate, times["sampled"], times["plain"]))
        out[str(rate)] = {"ratios": ratios, "ratio": median(ratios)}
    return out


# ---- d: model memory --------------------------------------------------------

def bench_d(cfg, tmp):
    exe = os.path.join(tmp, "model_bench")
    cc = os.environ.get("CC", "cc")
    cmd = [cc, "-O2", "-g", "-std=c11", "-I" + os.path.join(build_srcdir(cfg.build), "src"),
           "-include",
           os.path.join(cfg.build, "config.h"), os.path.join(HERE, "model_bench.c"),
           os.path.join(cfg.build, "libpytop.a"), "-lelf", "-lz", "-lpthread", "-o", exe]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if p.returncode:
        return {"error": "build failed: " + p.stdout[-800:], "compile": " ".join(cmd)}
    p = subprocess.run([exe], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=600)
    vals = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(" ")
        try:
            vals[k] = float(v) if "." in v else int(v)
        except ValueError:
            vals[k] = v
    if p.returncode:
        vals["error"] = p.stderr[-400:]
    vals["compile"] = " ".join(cmd)
    log("d: model %s bytes (1M x 4), long run peak %s" % (
        vals.get("million.default.final_bytes"), vals.get("long.default.peak_bytes")))
    return vals


# ---- perf: where the time goes ---------------------------------------------

# Inclusive ("children") shares of these, in this order, make the summary.
PERF_BUCKETS = [
    # (symbol, nesting level, label)
    ("py_walk", 0, "stack walk, all of it (`py_walk`)"),
    ("process_vm_readv", 1, "remote reads: `process_vm_readv`, user + kernel"),
    ("mm_access", 2, "kernel: finding the target's mm, ptrace permission check (`mm_access`)"),
    ("pin_user_pages_remote", 2, "kernel: pinning the target's pages (GUP, page-table walk)"),
    ("_copy_to_iter", 2, "kernel: copying the bytes out (`_copy_to_iter`)"),
    ("copy_iovec_from_user", 2, "kernel: copying the iovecs in (`copy_iovec_from_user`)"),
    ("gil_holder", 1, "GIL holder lookup (`gil_holder`, its reads included)"),
    ("py_linetable_line", 1, "line table decoding (`py_linetable_line`)"),
    ("py_code_cache_trim", 1, "code cache trimming (`py_code_cache_trim`)"),
    ("py_code_cache_get", 1, "code cache lookups (`py_code_cache_get`)"),
    ("track_update", 0, "per-thread CPU time and state from /proc (`track_update`)"),
    ("refresh_names", 0, "thread names (`refresh_names`)"),
    ("intern_stack", 0, "interning stacks into the dictionary: hashing (`intern_stack`)"),
    ("frame_id", 1, "frame map lookups (`frame_id`)"),
    ("stack_table_node", 1, "trie node interning (`stack_table_node`)"),
    ("record_sink", 0, "recording: encoding and writing (`record_sink`)"),
    ("sleep_until", 0, "sleeping between samples: the `clock_nanosleep` syscall itself"),
    ("now_ns", 0, "reading clocks (`now_ns`)"),
]

SYSCALLS = ["process_vm_readv", "pread64", "clock_nanosleep", "read", "write", "openat"]

PERF_LINE_RE = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+\[([.k])\]\s+(.+?)\s*$")


def parse_perf_report(text):
    syms = {}
    for line in text.splitlines():
        m = PERF_LINE_RE.match(line)
        if not m:
            continue
        name = m.group(4).split("  ")[0].strip()
        name = re.sub(r"\s*\(inlined\)$", "", name)
        name = re.sub(r"\.(isra|constprop|part|cold)\.\d+", "", name)
        child, self_ = float(m.group(1)), float(m.group(2))
        kind = m.group(3)
        prev = syms.get(name)
        if prev:
            syms[name] = (max(prev[0], child), prev[1] + self_, kind)
        else:
            syms[name] = (child, self_, kind)
    return syms


def syscalls_per_sample(cfg, pid, tmp):
    """System calls per sample: perf stat over two whole pytop runs, 1 s and
    3 s long; the difference over the difference in samples leaves attaching
    out."""
    events = ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + e for e in SYSCALLS]
    runs = []
    for dur in (1, 3):
        p = subprocess.run(["perf", "stat", "-x,", "-e", ",".join(events), "--", cfg.pytop,
                            "--record", os.path.join(tmp, "s.rec"), "--rate", "2000",
                            "--duration", str(dur), "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           universal_newlines=True)
        counts = perf_counts(p.stderr)
        m = SUMMARY_RE.search(p.stderr)
        if not m:
            return None
        runs.append((int(m.group(1)), counts))
    (n1, c1), (n3, c3) = runs
    if n3 <= n1:
        return None
    return {k: (c3.get(k, 0) - c1.get(k, 0)) / float(n3 - n1) for k in c3}


def bench_perf(cfg, pythons, tmp):
    if not shutil.which("perf"):
        return {"skipped": "perf is not installed"}
    if "3.12" not in pythons:
        return {"skipped": "Python 3.12 is not installed"}
    data = os.path.join(tmp, "perf.data")
    t = Target(pythons["3.12"]["exe"], 50, 1)
    res = {"version": pythons["3.12"]["full"], "rate": 2000, "depth": 50}
    try:
        res["syscalls"] = syscalls_per_sample(cfg, t.pid, tmp)
        total = cfg.perf_seconds + 3
        pt = subprocess.Popen([cfg.pytop, "--record", os.path.join(tmp, "perf.rec"), "--rate",
                               "2000", "--duration", str(total), "-p", str(t.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              universal_newlines=True)
        time.sleep(1.5)     # past attach: symbols, discovery, first samples
        perf_cmd = ["perf", "record", "-F", "4999", "--call-graph", "dwarf,16384", "-p",
                    str(pt.pid), "-o", data, "--", "sleep", str(cfg.perf_seconds)]
        res["command"] = " ".join(perf_cmd[:7] + ["PYTOP_PID", "-o", "perf.data", "--",
                                                  "sleep", str(cfg.perf_seconds)])
        subprocess.run(perf_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, err = pt.communicate()
        m = SUMMARY_RE.search(err)
        if m:
            res["us_per_sample"] = float(m.group(7))
            res["achieved_hz"] = float(m.group(3))
    finally:
        t.stop()
    rep = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "symbol",
                          "-g", "none", "--percent-limit", "0.3", "--stdio"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         universal_newlines=True).stdout
    stats = subprocess.run(["perf", "report", "-i", data, "--stats"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, universal_newlines=True).stdout
    nsamp = re.search(r"SAMPLE events:\s+(\d+)", stats) or re.search(r"# Samples: (\S+)", rep)
    res["perf_samples"] = nsamp.group(1) if nsamp else "?"
    syms = parse_perf_report(rep)
    res["buckets"] = [(label, syms[s][0], lvl) for s, lvl, label in PERF_BUCKETS if s in syms]
    top = sorted(syms.items(), key=lambda kv: -kv[1][1])[:15]
    res["top_self"] = [(name, v[1], v[0], v[2]) for name, v in top]
    kernel_self = sum(v[1] for v in syms.values() if v[2] == "k")
    res["kernel_self_pct"] = kernel_self
    try:
        os.unlink(data)
    except OSError:
        pass
    log("perf: %s samples, kernel %.1f %%" % (res["perf_samples"], kernel_self))
    return res


# ---- the document ----------------------------------------------------------

def fmt(x, nd=1):
    if x is None:
        return "–"
    if isinstance(x, float):
        return "%.*f" % (nd, x)
    return str(x)


def fmt_bytes(n):
    if n is None:
        return "–"
    return "{:,} B ({:.1f} MiB)".format(int(n), n / 1048576.0)


def a_lookup(rows, ver, depth, threads, idle=True):
    for r in rows or []:
        if (r["version"] == ver and r["depth"] == depth and r["threads"] == threads and
                r.get("idle", True) == (idle or threads == 1)):
            return r
    return None


def goal_lines(rows):
    """The < 10 us at 50 frames on 3.11+ goal, from depth 50 x 1 thread."""
    lines = []
    met_all = True
    seen = False
    for ver in ["3.11", "3.12", "3.13"]:
        r = a_lookup(rows, ver, 50, 1)
        if not r or r.get("us_per_sample") is None:
            continue
        seen = True
        ok = r["us_per_sample"] < 10.0
        met_all = met_all and ok
        lines.append("%s: %.1f µs per sample (runs %.1f–%.1f): %s" % (
            r["full"], r["us_per_sample"], r["us_min"], r["us_max"],
            "met" if ok else "**not met**"))
    if not seen:
        return None, ["no 3.11+ interpreter measured"]
    return met_all, lines


def c_verdict(c):
    """The <= 1 % at 100 Hz goal: met, not met, or not resolvable here."""
    s = (c.get("summary") or {}).get("100", {})
    r = s.get("ratio_paired")
    noise = c.get("noise")
    pair = ((c.get("pairs") or {}).get("100") or {}).get("ratio")
    side = "; side by side with an unsampled twin: %s" % pct(pair) if pair else ""
    if r is None:
        return "not measured"
    if noise is not None and noise > 0.02 and abs(r - 1.0) <= noise:
        return ("not resolvable from alternating runs on this machine (measured %s, but "
                "unsampled runs alone vary by %.1f %%)%s" % (pct(r), noise * 100, side))
    return ("met" if r <= 1.01 else "**not met** (%s)" % pct(r)) + side


def render(results, baseline, cmdline):
    info = results["info"]
    L = []
    w = L.append
    w("# pytop performance")
    w("")
    w("Generated by `bench/run.py`; the tables below are one run's figures, the prose")
    w("around them says how to read them. The machine is a shared 2-core VM that other")
    w("engineers' builds and fuzzers load at the same time, so absolute times move with")
    w("the load; compare figures within one run, as ratios, and look at medians.")
    w("")
    w("## This run")
    w("")
    w("| | |")
    w("|---|---|")
    w("| date | %s (%s) |" % (info["date"], info["date_iso"]))
    w("| machine | %s CPUs (`nproc`), %s, Linux %s |" % (info["nproc"], info["cpu"],
                                                         info["kernel"]))
    w("| load at start | `%s` |" % info["uptime_start"])
    w("| load at end | `%s` |" % info.get("uptime_end", ""))
    dirty = info["dirty_files"]
    w("| pytop | commit `%s`%s; binary built %s%s |" % (
        info["commit"],
        (" plus uncommitted changes to " + ", ".join("`%s`" % f for f in dirty)) if dirty
        else "", info["pytop_mtime"],
        " (the source tree's state at the time of the run: the binary may be older)"
        if info.get("source_how") == "tree now" else ""))
    w("| interpreters | %s |" % ", ".join(
        "%s (`%s`)" % (v["full"], v["exe"]) for _, v in sorted(results["pythons"].items())))
    w("| run time | %.0f s |" % results.get("seconds", 0))
    for m in results.get("merged", []):
        w("| then | `%s` (%s, %.0f s): load at start `%s`, at end `%s` |" % (
            m["cmdline"], m["date_iso"], m["seconds"], m["uptime_start"], m["uptime_end"]))
    w("")
    w("To reproduce (about %d minutes):" % max(1, round(
        (results.get("seconds", 600) + sum(m["seconds"] for m in results.get("merged", [])))
        / 60.0)))
    w("")
    w("```sh")
    w("scripts/build.sh build CFLAGS='-O2 -g'   # from the top of a clone")
    w(cmdline)
    for m in results.get("merged", []):
        w(m["cmdline"])
    w("```")
    w("")
    w("Each attach measurement is `pytop --record FILE --rate R --duration %g -p PID`;"
      % results["cfg"]["duration"])
    w("the figures come from the summary pytop prints on stderr (`us of sampler CPU per")
    w("sample` is the sampling thread's CPU time, `CLOCK_THREAD_CPUTIME_ID`, divided by")
    w("the samples taken; it includes walking, interning and writing the recording,")
    w("not attaching). The target is `bench/target.py`: every thread recurses to")
    w("exactly `--depth` Python frames and spins there.")
    w("")

    # ---- headline
    rows = results.get("a")
    met, glines = goal_lines(rows)
    w("## Headline")
    w("")
    if met is None:
        w("- Goal (< 10 µs per sample, 50 frames, 3.11+): not measured (%s)." % glines[0])
    else:
        w("- Goal (< 10 µs per sample for a 50-frame stack on 3.11+, single thread): %s." % (
            "**met**" if met else "**not met**"))
        for g in glines:
            w("  - %s" % g)
    b = results.get("b") or {}
    if b.get("modes"):
        for mode in sorted(b["modes"], key=lambda m: m != "normal"):
            mres = b["modes"][mode]
            w("- Highest sustained rate, 3.12, depth 50%s: %s." % (
                " (pytop under SCHED_FIFO)" if mode == "fifo" else "",
                "%d Hz" % mres["best"] if mres["best"] else "none of the rates tried"))
    c = results.get("c") or {}
    if c.get("summary"):
        s100 = c["summary"].get("100", {})
        s1k = c["summary"].get("1000", {})
        r100 = s100.get("ratio_paired")
        w("- Target slowdown (wall time of a fixed amount of work, median of %d paired "
          "runs): %s at 100 Hz, %s at 1 kHz. Goal ≤ 1 %% at 100 Hz: %s. The sampler's "
          "CPU at 100 Hz is %s of one core." % (
              c["reps"], pct(r100), pct(s1k.get("ratio_paired")), c_verdict(c),
              "%.2f %%" % (s100["us_per_sample"] * 100 / 1e4)
              if s100.get("us_per_sample") else "–"))
    d = results.get("d") or {}
    if "long.default.peak_bytes" in d:
        w("- Model memory, 10 min at 1 kHz × 10 threads: peak %.1f MiB with the default "
          "300 s retention, %.1f MiB with 60 s%s." % (
              d["long.default.peak_bytes"] / 1048576.0, d["long.ret60.peak_bytes"] / 1048576.0,
              "; %.1f MiB with 300 s when resident memory moves at every sample" %
              (d["long.mem.peak_bytes"] / 1048576.0) if "long.mem.peak_bytes" in d else ""))
    if rows:
        bps = [r.get("bytes_per_sample") for r in rows if r["threads"] == 1 and r["depth"] == 50]
        bps = [x for x in bps if x]
        if bps:
            w("- Recording size, one thread at depth 50: %.1f bytes per sample (median "
              "over interpreters)." % median(bps))
    w("")

    render_reading(w, results)
    render_ab(w, results)
    if baseline:
        render_comparison(w, results, baseline)
    render_a(w, results)
    render_b(w, results)
    render_c(w, results)
    render_d(w, results)
    render_e(w, results)
    render_perf(w, results)
    render_budget(w, results)
    return "\n".join(L) + "\n"


def pct(ratio):
    if ratio is None:
        return "–"
    return "%+.1f %%" % ((ratio - 1.0) * 100.0)


def cost_fit(rows, ver):
    """µs per sample ~ fixed + per_thread * threads + per_frame * frames, over
    every grid point of one interpreter (frames = depth * threads), by least
    squares on relative errors so the 100-thread points do not drown the
    one-thread ones. Returns (fixed, per_thread, per_frame) or None."""
    pts = [(r["threads"], r["depth"] * r["threads"], r["us_per_sample"])
           for r in rows or [] if r["version"] == ver and r.get("idle", True)
           and r.get("us_per_sample")]
    if len({(t, f) for t, f, _ in pts}) < 3:
        return None
    cols = [0, 1, 2]
    while True:
        b = wls([(tuple((1.0, float(t), float(f))[c] for c in cols), y) for t, f, y in pts])
        if b is None:
            return None
        coef = [0.0, 0.0, 0.0]
        for c, x in zip(cols, b):
            coef[c] = x
        worst = min(cols, key=lambda c: coef[c])
        if coef[worst] >= 0 or len(cols) == 1:
            return tuple(coef)
        cols.remove(worst)      # a negative cost means the term is not resolved: drop it


def wls(pts):
    """Least squares with weights 1/y^2 over [(x tuple, y)]; None if singular."""
    n = len(pts[0][0])
    A = [[0.0] * n for _ in range(n)]
    v = [0.0] * n
    for x, y in pts:
        wt = 1.0 / (y * y)
        for i in range(n):
            v[i] += wt * x[i] * y
            for j in range(n):
                A[i][j] += wt * x[i] * x[j]
    for c in range(n):
        p = max(range(c, n), key=lambda i: abs(A[i][c]))
        if abs(A[p][c]) < 1e-300:
            return None
        A[c], A[p] = A[p], A[c]
        v[c], v[p] = v[p], v[c]
        for i in range(c + 1, n):
            k = A[i][c] / A[c][c]
            for j in range(c, n):
                A[i][j] -= k * A[c][j]
            v[i] -= k * v[c]
    b = [0.0] * n
    for i in reversed(range(n)):
        b[i] = (v[i] - sum(A[i][j] * b[j] for j in range(i + 1, n))) / A[i][i]
    return b


def render_reading(w, results):
    """What the figures say, computed from them."""
    rows = results.get("a")
    if not rows:
        return
    w("## What the numbers say")
    w("")
    fits = {v: cost_fit(rows, v) for v in WANTED_VERSIONS}
    new = [(v, f) for v, f in fits.items() if f and v >= "3.11"]
    old = [(v, f) for v, f in fits.items() if f and v < "3.11"]
    if new:
        w("- **%s: the fixed cost per sample dominates.** A sample costs about " %
          " and ".join(v for v, _ in new) +
          "%s µs plus %s µs per frame (%s; fitted over the grid below), so a 50-frame "
          "stack on one thread is mostly the "
          "fixed part%s (3.11 at depth 50 is in the same range)." % (
              " / ".join("%.0f" % f[0] for _, f in new),
              " / ".join("%.2f" % f[2] for _, f in new),
              " / ".join(v for v, _ in new),
              ": walking the frames is already cheap, and the < 10 µs goal can only be met "
              "by shrinking what every sample pays whatever the depth"
              if min(f[0] for _, f in new) >= 10 else ""))
    if old:
        new_slope = median([f[2] for _, f in new]) if new else None
        w("- **%s: about %s µs per frame** (%s)%s: their frames are separate heap objects "
          "read one by one, where 3.11+ frames sit in contiguous data-stack chunks read in "
          "bulk." % (
              " and ".join(v for v, _ in old),
              " / ".join("%.1f" % f[2] for _, f in old), " / ".join(v for v, _ in old),
              ", %.0f times the 3.11+ figure" % (median([f[2] for _, f in old]) / new_slope)
              if new_slope and new_slope > 0 else ""))
    p = results.get("perf") or {}
    sc = p.get("syscalls") or {}
    if sc:
        w("- **The fixed part is system calls.** At depth 50 on 3.12 a sample makes %.1f "
          "system calls: %.1f `process_vm_readv` (thread states, the GIL holder, frame "
          "chunks, code objects...), %.1f `pread` of /proc (the thread's CPU time and "
          "state) and %.1f `clock_nanosleep`. Each costs one to a few µs of kernel time "
          "(permission check, finding and pinning the target's pages), which is why "
          "kernel code is %.0f %% of the sampler's profile." % (
              sc.get("all", 0), sc.get("process_vm_readv", 0), sc.get("pread64", 0),
              sc.get("clock_nanosleep", 0), p.get("kernel_self_pct", 0)))
    per_thread = [(v, f[1]) for v, f in fits.items() if f and f[1] > 0]
    if per_thread:
        hundred = [(a_lookup(rows, v, 50, 100) or {}).get("us_per_sample")
                   for v, _ in per_thread]
        w("- **Every extra thread costs about %s µs** (%s) on top of its frames: its own "
          "/proc read and thread state. 100 threads at depth 50 take %s µs a "
          "sample: the most such a target can be sampled at is %s Hz (one core's worth)." % (
              " / ".join("%.0f" % x for _, x in per_thread),
              " / ".join(v for v, _ in per_thread),
              " / ".join(fmt(x, 0) for x in hundred),
              " / ".join("%.0f" % (1e6 / x) if x else "–" for x in hundred)))
    b = results.get("b") or {}
    nbest = (b.get("modes", {}).get("normal") or {}).get("best") or 0
    if b.get("modes", {}).get("fifo") and (b["modes"]["fifo"].get("best") or 0) > nbest:
        f = b["modes"]["fifo"]
        w("- **Rate is limited by scheduling, not by cost.** Under SCHED_FIFO pytop keeps "
          "%s with under 1 %% late; with normal scheduling on this loaded machine %s, "
          "because the sampler waits for a CPU after its timer fires." % (
              "%d Hz" % f["best"] if f.get("best") else "none of the rates",
              "only %d Hz" % nbest if nbest else "even 1 kHz has late samples"))
    w("")


def render_ab(w, results):
    ab = results.get("ab")
    if not ab or not ab.get("rows"):
        return
    labs = ["`%s`%s" % (b["commit"], "+" if b["dirty"] else "") for b in ab["builds"]]
    w("## Before and after, interleaved")
    w("")
    w("Earlier builds and this one attached in turn to the same target (`pytop --record")
    w("--rate 1000 --duration %g -p PID`, %d rounds of one attach per build), so the" % (
        results["cfg"]["duration"], ab["reps"]))
    w("machine's load drifts over every build alike: the fairest comparison here.")
    w("Median µs of sampler CPU per sample; the other threads (if any) sleep.")
    w("")
    w("| Python | depth | threads | " + " | ".join(labs) + " | last / first |")
    w("|---|---:|---:|" + "---:|" * (len(labs) + 1))
    for r in ab["rows"]:
        m = r["median"]
        w("| %s | %d | %d | %s | %s |" % (
            r["full"], r["depth"], r["threads"], " | ".join(fmt(x) for x in m),
            "%.2f" % (m[-1] / m[0]) if m[0] and m[-1] else "–"))
    w("")
    if any(any(x is not None for x in r.get("syscalls", [])) for r in ab["rows"]):
        w("System calls per sample, from one more 1 s attach per build under `perf stat -e")
        w("raw_syscalls:sys_enter,syscalls:sys_enter_process_vm_readv` (counts do not")
        w("depend on the load, so a change here is real; attaching adds under one call")
        w("per sample). All calls, then `process_vm_readv` in brackets:")
        w("")
        w("| Python | depth | threads | " + " | ".join(labs) + " |")
        w("|---|---:|---:|" + "---:|" * len(labs))
        for r in ab["rows"]:
            w("| %s | %d | %d | %s |" % (r["full"], r["depth"], r["threads"], " | ".join(
                "%s (%s)" % (fmt(a), fmt(v)) for a, v in zip(r.get("syscalls", []),
                                                           r.get("vm_readv", [])))))
        w("")
    w("<details><summary>Every attach</summary>")
    w("")
    w("| Python | depth | threads | " + " | ".join(labs) + " |")
    w("|---|---:|---:|" + "---|" * len(labs))
    for r in ab["rows"]:
        w("| %s | %d | %d | %s |" % (r["full"], r["depth"], r["threads"], " | ".join(
            ", ".join(fmt(x) for x in u) for u in r["us"])))
    w("")
    w("</details>")
    w("")


def run_label(res):
    i = res["info"]
    return "`%s`%s" % (i["commit"], "+" if i.get("dirty_files") else "")


def render_comparison(w, results, bases):
    """This run's (a)-(c) next to earlier runs' (oldest first)."""
    runs = bases + [results]
    w("## Before and after")
    w("")
    w("The same benchmarks on earlier builds and on this one (`+`: with uncommitted")
    w("changes). Each run's own load is shown: compare within a row, and trust")
    w("per-sample CPU (a) most, as it is the figure the machine's load moves least.")
    w("")
    w("| run | pytop | date | load at start (1/5/15 min) | load at end |")
    w("|---|---|---|---|---|")
    for k, r in enumerate(runs):
        i = r["info"]
        w("| %s | %s | %s | %s | %s |" % (
            "this run" if r is results else "earlier %d" % (k + 1), run_label(r), i["date_iso"],
            " / ".join("%.2f" % x for x in i["load_start"]),
            " / ".join("%.2f" % x for x in i.get("load_end", []))))
    w("")
    w("**(a) µs of sampler CPU per sample** (median of %d attaches)" % results["cfg"]["reps"])
    w("")
    w("| Python | depth | threads | " + " | ".join(run_label(r) for r in runs) +
      " | this / first |")
    w("|---|---:|---:|" + "---:|" * (len(runs) + 1))
    def order(r):
        return (not r.get("idle", True), tuple(int(x) for x in r["version"].split(".")),
                r["depth"], r["threads"])
    for r in sorted(results.get("a") or [], key=order):
        vals = []
        for run in runs:
            o = a_lookup(run.get("a"), r["version"], r["depth"], r["threads"],
                         r.get("idle", True))
            vals.append(o.get("us_per_sample") if o else None)
        if all(v is None for v in vals[:-1]):
            continue
        first = next((v for v in vals if v is not None), None)
        last = vals[-1]
        w("| %s | %d | %d%s | %s | %s |" % (
            r["version"], r["depth"], r["threads"], "" if r.get("idle", True) else " spinning",
            " | ".join(fmt(v) for v in vals),
            "%.2f" % (last / first) if last and first else "–"))
    w("")
    if all((r.get("b") or {}).get("modes") for r in runs):
        w("**(b) achieved Hz / late % / µs per sample, 3.12 depth 50**")
        w("")
        w("| pytop scheduling | rate | " + " | ".join(run_label(r) for r in runs) + " |")
        w("|---|---:|" + "---|" * len(runs))
        for mode in sorted(results["b"]["modes"], key=lambda m: m != "normal"):
            for rn in results["b"]["modes"][mode]["rows"]:
                cells = []
                for run in runs:
                    rows = run["b"]["modes"].get(mode, {}).get("rows", [])
                    ro = next((x for x in rows if x.get("rate_hz") == rn.get("rate_hz")), None)
                    cells.append("%s / %s / %s" % (fmt(ro.get("achieved_hz"), 0),
                                                   fmt(ro.get("late_pct")),
                                                   fmt(ro.get("us_per_sample")))
                                 if ro else "–")
                w("| %s | %s | %s |" % (mode, fmt(rn.get("rate_hz"), 0), " | ".join(cells)))
        w("")
    if all((r.get("c") or {}).get("summary") for r in runs):
        w("**(c) target slowdown**: alternating runs (median paired ratio − 1), then side")
        w("by side with an unsampled twin where measured")
        w("")
        w("| measure | " + " | ".join(run_label(r) for r in runs) + " |")
        w("|---|" + "---:|" * len(runs))
        for rate in ("100", "1000"):
            w("| alternating, %s Hz | %s |" % (rate, " | ".join(
                pct(r["c"]["summary"].get(rate, {}).get("ratio_paired")) for r in runs)))
            w("| side by side, %s Hz | %s |" % (rate, " | ".join(
                pct(((r["c"].get("pairs") or {}).get(rate) or {}).get("ratio")) for r in runs)))
            w("| sampler µs/sample at %s Hz (launch mode) | %s |" % (rate, " | ".join(
                fmt(r["c"]["summary"].get(rate, {}).get("us_per_sample")) for r in runs)))
        w("| unsampled runs' spread | %s |" % " | ".join(
            "%.1f %%" % (r["c"]["noise"] * 100) if r["c"].get("noise") is not None else "–"
            for r in runs))
        w("")
    if all((r.get("perf") or {}).get("syscalls") for r in runs):
        w("**System calls per sample** (3.12, depth 50, 2 kHz)")
        w("")
        w("| system call | " + " | ".join(run_label(r) for r in runs) + " |")
        w("|---|" + "---:|" * len(runs))
        for name in ["all"] + SYSCALLS:
            vals = [r["perf"]["syscalls"].get(name) for r in runs]
            if any(v and v >= 0.005 for v in vals):
                w("| `%s` | %s |" % (name, " | ".join(fmt(v, 2) for v in vals)))
        w("")


def render_a(w, results):
    rows = results.get("a")
    if rows is None:
        return
    cfg = results["cfg"]
    w("## (a) Sampler CPU per sample")
    w("")
    w("`pytop --record --rate 1000 --duration %g -p PID` attached %d times to each target"
      % (cfg["duration"], cfg["reps"]))
    w("(`bench/target.py --depth D --threads T --idle`: every thread at depth D, the main")
    w("one spinning, the others sleeping there); the median of the runs. Each cell is")
    w("µs of sampler CPU per sample, then µs per frame = µs per sample / (depth ×")
    w("threads) in brackets. Past about 1,000 µs per sample the sampler cannot keep")
    w("1 kHz, so it samples less often (see achieved rate in the details); the")
    w("per-sample cost is still what one sample costs.")
    w("")
    w("Why the other threads sleep: a thread's stack costs the same to read whether it")
    w("runs or waits, but a target whose 100 threads all spin keeps up to 100 threads")
    w("runnable (Python 2.7's GIL especially), and the kernel then gives pytop about a")
    w("hundredth of a CPU: it takes a handful of samples in 3 s, so the median is made")
    w("of cold first samples. The all-spinning rows after the grid show it.")
    w("")
    vers = sorted({r["version"] for r in rows}, key=lambda v: tuple(int(x) for x in v.split(".")))
    w("| Python | depth | " + " | ".join("%d thread%s" % (t, "s" if t > 1 else "")
                                          for t in cfg["threads"]) + " |")
    w("|---|---:|" + "---:|" * len(cfg["threads"]))
    for ver in vers:
        for depth in cfg["depths"]:
            cells = []
            any_ = False
            for th in cfg["threads"]:
                r = a_lookup(rows, ver, depth, th)
                if r is None:
                    cells.append("")
                    continue
                any_ = True
                if r.get("us_per_sample") is None:
                    cells.append("error")
                else:
                    cells.append("%s (%.3f)" % (fmt(r["us_per_sample"]), r["us_per_frame"]))
            if any_:
                full = next(r["full"] for r in rows if r["version"] == ver)
                w("| %s | %d | %s |" % (full, depth, " | ".join(cells)))
    # Where the cost goes: a fit over the whole grid.
    fits = [(v, cost_fit(rows, v)) for v in vers]
    if any(f for _, f in fits):
        w("")
        w("A cost model fitted to each interpreter's grid: µs per sample ≈ *fixed* +")
        w("*per thread* × threads + *per frame* × (depth × threads), least squares on")
        w("relative error (so the 100-thread cells do not outweigh the one-thread ones);")
        w("a term that comes out negative is not resolved by the data and is dropped (0):")
        w("")
        w("| Python | fixed per sample | per thread | per frame | model at depth 50, 1 thread |")
        w("|---|---:|---:|---:|---:|")
        for v, f in fits:
            if not f:
                continue
            full = next(r["full"] for r in rows if r["version"] == v)
            w("| %s | %.1f µs | %.1f µs | %.3f µs | %.1f µs |" % (
                full, f[0], f[1], f[2], f[0] + f[1] + 50 * f[2]))
    spin_rows = [r for r in rows if not r.get("idle", True)]
    if spin_rows:
        w("")
        w("Every thread spinning (`--threads T` without `--idle`):")
        w("")
        w("| Python | depth | threads | µs/sample (runs) | samples in %g s | achieved Hz | "
          "µs/sample, idle grid |" % cfg["duration"])
        w("|---|---:|---:|---|---:|---:|---:|")
        for r in spin_rows:
            g = a_lookup(rows, r["version"], r["depth"], r["threads"], True)
            w("| %s | %d | %d | %s (%s) | %s | %s | %s |" % (
                r["full"], r["depth"], r["threads"], fmt(r.get("us_per_sample")),
                ", ".join(fmt(x.get("us_per_sample")) for x in r["runs"]),
                ", ".join(str(x.get("samples", "–")) for x in r["runs"]),
                fmt(r.get("achieved_hz")), fmt(g.get("us_per_sample") if g else None)))
    skipped = [v for v in WANTED_VERSIONS if v not in results["pythons"]]
    if skipped:
        w("")
        w("Not installed, skipped: %s." % ", ".join(skipped))
    w("")
    met, glines = goal_lines(rows)
    w("**Goal: < 10 µs per sample for a 50-frame stack on 3.11+** (one thread, depth 50): "
      + ("not measured." if met is None else ("met." if met else "not met.")))
    w("")
    for g in glines:
        w("- %s" % g)
    w("")
    w("<details><summary>Every configuration: runs, achieved rate, late samples, errors, "
      "load</summary>")
    w("")
    w("| Python | depth | threads | µs/sample (runs) | achieved Hz | late % | errors | "
      "load (1 min) |")
    w("|---|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        runs = ", ".join(fmt(x.get("us_per_sample")) for x in r["runs"])
        w("| %s | %d | %d%s | %s (%s) | %s | %s | %s | %.2f |" % (
            r["full"], r["depth"], r["threads"], "" if r.get("idle", True) else " spinning",
            fmt(r.get("us_per_sample")), runs,
            fmt(r.get("achieved_hz")), fmt(r.get("late_pct")), fmt(r.get("errors")),
            r["load"]))
    w("")
    w("</details>")
    w("")


def render_b(w, results):
    b = results.get("b")
    if b is None:
        return
    w("## (b) Highest sustained rate")
    w("")
    if b.get("skipped"):
        w("Skipped: %s." % b["skipped"])
        w("")
        return
    w("One target (%s, one thread spinning at depth 50), `pytop --record --rate R" % b["version"])
    w("--duration %g -p PID` at each rate. *Sustained* means under 1 %% of the samples"
      % results["cfg"]["duration"])
    w("were late (started more than half a period after their deadline) and the achieved")
    w("rate is at least 95 % of the one asked for (the sampler skips deadlines it has")
    w("fallen a whole period behind on, and those are not counted as late). CPU is")
    w("µs per sample × achieved rate, as a share of one core.")
    w("")
    w("Late samples measure two things: the sampler's own cost (it cannot keep a period")
    w("shorter than a sample) and how soon the kernel runs it after its timer fires. On")
    w("this machine the second dominates: with a load of %.1f on 2 cores, pytop often" %
      median([r["load"] for m in b["modes"].values() for r in m["rows"]]))
    w("waits a scheduler slice (milliseconds) to run, whatever it costs. Running it")
    w("under SCHED_FIFO removes that wait and shows what the sampler itself can sustain.")
    w("")
    for mode in sorted(b["modes"], key=lambda m: m != "normal"):
        m = b["modes"][mode]
        if mode == "fifo":
            w("With pytop under `chrt -f 1` (SCHED_FIFO), which takes the machine's other")
            w("load out of the sampler's scheduling latency and leaves its own cost:")
        else:
            w("Normal scheduling (what a user gets on this machine):")
        w("")
        w("| rate | achieved Hz | late % | µs/sample | sampler CPU | load | sustained |")
        w("|---:|---:|---:|---:|---:|---:|---|")
        for r in m["rows"]:
            w("| %s | %s | %s | %s | %s %% | %.2f | %s |" % (
                fmt(r.get("rate_hz"), 0), fmt(r.get("achieved_hz")), fmt(r.get("late_pct"), 2),
                fmt(r.get("us_per_sample")), fmt(r.get("cpu_pct")), r["load"],
                "yes" if r.get("sustained") else "no"))
        w("")
        w("Highest sustained: %s." % ("%d Hz" % m["best"] if m["best"] else
                                      "none of the rates tried"))
        w("")


def render_c(w, results):
    c = results.get("c")
    if c is None:
        return
    w("## (c) Target slowdown")
    w("")
    if c.get("skipped"):
        w("Skipped: %s." % c["skipped"])
        w("")
        return
    w("`bench/target.py --depth 50 --work %d` on %s (N tuned at the start of the run to"
      % (c["n"], c["version"]))
    w("about %g s unsampled), run unsampled, under `pytop --record FILE --rate 100 -- python"
      % results["cfg"]["work_seconds"])
    w("bench/target.py ...` and under `--rate 1000`, %d repetitions with the three" % c["reps"])
    w("conditions back to back in a rotating order. The target times its own work loop")
    w("(start-up and attaching are not counted). The ratio is sampled / unsampled")
    w("elapsed time within a repetition, median over repetitions; the CPU ratio is of")
    w("the target's own CPU time (user + system), which scheduling noise moves less.")
    w("")
    w("| condition | elapsed, median (min–max) | target CPU | slowdown (paired) | "
      "slowdown (medians) | slowdown (minimums) | CPU ratio | achieved Hz | "
      "sampler µs/sample |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for key, label in (("0", "unsampled"), ("100", "100 Hz"), ("1000", "1 kHz")):
        s = c["summary"][key]
        w("| %s | %.3f s (%.3f–%.3f) | %.2f s | %s | %s | %s | %s | %s | %s |" % (
            label, s["elapsed"], s["elapsed_min"], s["elapsed_max"], s["cpu"],
            pct(s.get("ratio_paired")), pct(s.get("ratio_medians")), pct(s.get("ratio_min")),
            "%.3f" % s["cpu_ratio"] if s.get("cpu_ratio") else "–",
            fmt(s.get("achieved_hz")), fmt(s.get("us_per_sample"))))
    w("")
    w("<details><summary>Every run (elapsed s / target CPU s / load)</summary>")
    w("")
    w("| repetition | unsampled | 100 Hz | 1 kHz |")
    w("|---:|---|---|---|")
    for i in range(c["reps"]):
        cells = []
        for key in ("0", "100", "1000"):
            r = c["runs"][key][i] if i < len(c["runs"][key]) else None
            cells.append("%.3f / %.2f / %.1f" % (r["elapsed"], r["cpu"], r.get("load", 0))
                         if r else "–")
        w("| %d | %s |" % (i + 1, " | ".join(cells)))
    w("")
    w("</details>")
    w("")
    pairs = c.get("pairs")
    if pairs:
        w("**Side by side.** The same work run twice *at the same time*, one copy under")
        w("`pytop --record --rate R --` and one not, %d times per rate, alternating which" %
          len(pairs["100"]["ratios"]))
        w("starts first. Both copies see the same load over the same seconds, so drift in")
        w("the machine's load cancels out of their ratio; a copy can still land on a")
        w("busier CPU than its twin (see the spread of the pairs). It measures what")
        w("sampling costs the sampled process compared with its twin; the sampler's own")
        w("CPU is taken from both about equally:")
        w("")
        w("| rate | sampled / twin (median) | every pair |")
        w("|---:|---:|---|")
        for rate in ("100", "1000"):
            p = pairs.get(rate) or {}
            w("| %s Hz | %s | %s |" % (rate, pct(p.get("ratio")),
                                       ", ".join(pct(x) for x in p.get("ratios", []))))
        w("")
    s100 = c["summary"]["100"]
    w("Goal ≤ 1 %% at 100 Hz: %s." % c_verdict(c))
    if c.get("noise") is not None:
        w("The unsampled runs alone spread over %.1f %% of their median (max − min)," %
          (c["noise"] * 100))
        w("so a difference smaller than that is this machine's noise, not pytop.")
    if s100.get("us_per_sample"):
        w("At 100 Hz the sampler used %.1f µs per sample, %.2f %% of one core: what it" % (
            s100["us_per_sample"], s100["us_per_sample"] * 100 / 1e4))
        w("takes from the machine's CPUs, and so from the target when no core is idle.")
    w("pytop never stops the target (it reads its memory with `process_vm_readv`), so")
    w("a target loses only what it shares with the sampler: CPU when no core is idle,")
    w("caches, and the target's page-table lock, which the kernel takes for each")
    w("remote read.")
    w("")


def render_d(w, results):
    d = results.get("d")
    if d is None:
        return
    w("## (d) Model and dictionary memory")
    w("")
    if d.get("error"):
        w("Error: `%s`" % d["error"])
        w("")
    w("`bench/model_bench.c`, built against the build's `libpytop.a`:")
    w("")
    w("```sh")
    w(d.get("compile", "").replace(REPO + "/", ""))
    w("```")
    w("")
    w("A dictionary of %s distinct stacks of depth 20 over 200 frames (%s nodes, %s frames," %
      ("1,000", fmtn(d.get("million.dict_nodes")), fmtn(d.get("million.dict_frames"))))
    w("%s strings): `stack_table_memory` = %s." % (fmtn(d.get("million.dict_strings")),
                                                   fmt_bytes(d.get("million.dict_bytes"))))
    w("Samples are 1 ms apart; `memory_bytes` is `model_totals()`'s, read after every")
    w("sample for the peak.")
    w("")
    cpu = any(k.endswith(".cpu_ns_per_sample") for k in d)
    w("| run | config | ring entries kept | peak | at half time | final | dropped | "
      "ns per model_add%s |" % (" (CPU)" if cpu else ""))
    w("|---|---|---:|---|---|---|---:|---:|")
    for key, run, conf, kept in (
            ("million.default", "1,000,000 samples × 4 threads", "window 10 s, retention 300 s",
             300000 * 4),
            ("million.ret60", "1,000,000 samples × 4 threads", "window 10 s, retention 60 s",
             60000 * 4),
            ("long.default", "10 min at 1 kHz × 10 threads (600,000 samples)",
             "window 10 s, retention 300 s", 300000 * 10),
            ("long.ret60", "10 min at 1 kHz × 10 threads (600,000 samples)",
             "window 10 s, retention 60 s", 60000 * 10),
            ("long.mem", "the same, resident memory moving at every sample (one thread "
             "credited each time)", "window 10 s, retention 300 s", 300000 * 10)):
        if key + ".peak_bytes" not in d:
            continue
        w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            run, conf, "{:,}".format(kept), fmt_bytes(d[key + ".peak_bytes"]),
            fmt_bytes(d[key + ".half_bytes"]), fmt_bytes(d[key + ".final_bytes"]),
            d[key + ".dropped"],
            fmt(d.get(key + ".cpu_ns_per_sample", d[key + ".ns_per_sample"]), 0)))
    w("")
    if "long.default.final_bytes" in d:
        # docs/model.md: 16 B per ring entry; side words of 8 B: one time per
        # sample, two per entry with a memory change.
        entries, samples = 300000 * 10, 300000
        w("The footprint is the ring (16 B per thread per sample kept for the retention,")
        w("plus a side ring holding one 8-byte time per sample and 16 B for each entry")
        w("with a memory change; 32 KiB blocks) and two (thread, stack) maps: 10 threads ×")
        w("300 s × 1 kHz = %s entries = %.1f MB, and %s times = %.1f MB. The measured" % (
            "{:,}".format(entries), entries * 16 / 1e6, "{:,}".format(samples),
            samples * 8 / 1e6))
        w("%s matches docs/model.md's formula (the rest is the maps, 1 MiB, and" %
          fmt_bytes(d["long.default.final_bytes"]))
        if "long.mem.final_bytes" in d:
            w("block slack). Memory moving at every sample adds %s side words = %.1f MB" % (
                "{:,}".format(2 * samples), samples * 16 / 1e6))
            w("(measured %s). It stops growing once the retention is reached (peak =" %
              fmt_bytes(d["long.mem.final_bytes"]))
        else:
            w("block slack). It stops growing once the retention is reached (peak =")
        w("final); with 60 s retention it is a fifth. `ns per model_add` includes the")
        if cpu:
            w("benchmark's own loop (building the threads' entries and reading the totals);")
            w("it is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which other")
            w("processes on the machine disturb less than wall time.")
        else:
            w("benchmark's own loop (building the threads' entries and reading the totals).")
        w("")
    if "limits.dict_bytes" in d:
        w("**The dictionary at its bounds.** Filling a `stack_table` to every")
        w("`STACKS_MAX_*` bound (%s strings of 63 bytes, %s frames, %s nodes) measured" % (
            fmtn(d.get("limits.dict_strings")), fmtn(d.get("limits.dict_frames")),
            fmtn(d.get("limits.dict_nodes"))))
        w("`stack_table_memory` = %s (strings alone: %s; with frames: %s), process" % (
            fmt_bytes(d["limits.dict_bytes"]), fmt_bytes(d.get("limits.after_strings_bytes")),
            fmt_bytes(d.get("limits.after_frames_bytes"))))
        w("peak RSS %s, in %s s. One more string or node is refused with" % (
            fmt_bytes(d.get("limits.maxrss_bytes")), fmt(d.get("limits.seconds"), 1)))
        w("-ENOSPC (%s, %s)." % (d.get("limits.string_over_rc"), d.get("limits.node_rc")))
        w("")


def fmtn(x):
    return "{:,}".format(int(x)) if isinstance(x, (int, float)) else "–"


def render_e(w, results):
    rows = results.get("a")
    if not rows:
        return
    w("## (e) Recording size")
    w("")
    w("From the recordings of (a): file size / samples (%g s at up to 1 kHz; the file" %
      results["cfg"]["duration"])
    w("includes the header and the dictionary, which a steady target writes once, so a")
    w("longer recording costs a little less per sample). Bytes per thread-sample in")
    w("brackets.")
    w("")
    cfg = results["cfg"]
    w("| Python | depth | " + " | ".join("%d thread%s" % (t, "s" if t > 1 else "")
                                          for t in cfg["threads"]) + " |")
    w("|---|---:|" + "---:|" * len(cfg["threads"]))
    for ver in WANTED_VERSIONS:
        for depth in cfg["depths"]:
            cells = []
            for th in cfg["threads"]:
                r = a_lookup(rows, ver, depth, th)
                b = r.get("bytes_per_sample") if r else None
                cells.append("%.1f (%.2f)" % (b, b / th) if b else "–")
            if any(c != "–" for c in cells):
                full = next(r["full"] for r in rows if r["version"] == ver)
                w("| %s | %d | %s |" % (full, depth, " | ".join(cells)))
    bps = [r["bytes_per_sample"] for r in rows
           if r.get("bytes_per_sample") and r["threads"] == 1 and r["depth"] == 50]
    if bps:
        b = median(bps)
        w("")
        w("At the one-thread depth-50 figure (%.1f B per sample), an hour at 1 kHz is about"
          % b)
        w("%.0f MB, and 60 s at 1 kHz about %.0f KB." % (b * 3600000 / 1e6, b * 60000 / 1e3))
    w("")


def render_perf(w, results):
    p = results.get("perf")
    if p is None:
        return
    w("## Where the sampler's time goes")
    w("")
    if p.get("skipped"):
        w("Skipped: %s." % p["skipped"])
        w("")
        return
    w("`perf record -g` (DWARF call graphs) on pytop sampling a %s depth-50 target at" %
      p["version"])
    w("2 kHz, from 1.5 s after attaching (so discovery and symbol loading are not in it):")
    w("")
    w("```sh")
    w(p.get("command", ""))
    w("```")
    w("")
    w("%s perf samples; pytop reported %s µs per sample at %s Hz achieved during it." % (
        p["perf_samples"], fmt(p.get("us_per_sample")), fmt(p.get("achieved_hz"))))
    parts = [(label, share) for label, share, lvl in
             [tuple(b) + ((0,) if len(b) < 3 else ()) for b in p["buckets"]]
             if lvl in (0, 1) and not label.startswith("stack walk")]
    parts.sort(key=lambda x: -x[1])
    if parts:
        w("In short: " + "; ".join("%s %.0f %%" % (re.sub(r" \(`[^`]*`[^)]*\)", "", l), sh_)
                                   for l, sh_ in parts[:5]) + ".")
        w("")
    w("Inclusive shares of pytop's CPU time (a function and everything it calls,")
    w("kernel included; an indented row is part of the nearest row above it that is")
    w("less indented):")
    w("")
    w("| where | share |")
    w("|---|---:|")
    for b in p["buckets"]:
        label, share = b[0], b[1]
        lvl = b[2] if len(b) > 2 else 0
        w("| %s%s | %.1f %% |" % ("&nbsp;&nbsp;&nbsp;&nbsp;" * lvl, label.strip(), share))
    w("| all kernel code (self time) | %.1f %% |" % p["kernel_self_pct"])
    w("")
    sc = p.get("syscalls") or {}
    if sc:
        w("System calls per sample (`perf stat -e 'syscalls:sys_enter_*' -- pytop --record")
        w("... --rate 2000 -p PID` for 1 s and for 3 s; the difference in calls over the")
        w("difference in samples, so attaching is left out):")
        w("")
        w("| system call | per sample |")
        w("|---|---:|")
        w("| all (`raw_syscalls:sys_enter`) | %.1f |" % sc.get("all", 0))
        for name in SYSCALLS:
            if sc.get(name, 0) >= 0.005:
                w("| `%s` | %.2f |" % (name, sc[name]))
        w("")
    w("Top symbols by self time:")
    w("")
    w("| symbol | self | inclusive | |")
    w("|---|---:|---:|---|")
    for name, self_, child, kind in p["top_self"]:
        w("| `%s` | %.1f %% | %.1f %% | %s |" % (name, self_, child,
                                                  "kernel" if kind == "k" else "pytop/libc"))
    w("")


def render_budget(w, results):
    d = results.get("d") or {}
    dict_max = d.get("limits.dict_bytes")
    w("## Memory budget")
    w("")
    w("What a pytop process can hold, and what bounds it (the model's side in detail in")
    w("docs/model.md, the dictionary's bounds in `src/core/stacks.h`):")
    w("")
    w("| part | bound | memory at the bound |")
    w("|---|---|---|")
    w("| dictionary strings | `STACKS_MAX_STRINGS` = 1,048,576 strings and "
      "`STACKS_MAX_STRING_BYTES` = 64 MiB of text | %s (with 63-byte strings) |" %
      fmt_bytes(d.get("limits.after_strings_bytes")))
    w("| dictionary frames | `STACKS_MAX_FRAMES` = 2,097,152 | %s with the strings |" %
      fmt_bytes(d.get("limits.after_frames_bytes")))
    w("| dictionary nodes (call paths) | `STACKS_MAX_NODES` = 4,194,304 | %s in all |" %
      fmt_bytes(dict_max))
    w("| model ring | `MODEL_RING_MAX` = 8,388,608 entries (16 B each), and their side "
      "words: 8 B per sample time, 16 B per entry with a memory change (16 B more past "
      "4.29 s of CPU or wall time) | 128 MiB of entries + 192 KiB slack; side words "
      "6.4 MiB more with 10 threads a sample, 12.8 MiB more again with one memory change "
      "a sample, 320 MiB more at most (40 B an entry) |")
    w("| model (thread, stack) maps | none of their own: one entry per distinct (thread, "
      "leaf node) pair, 85–171 B each since the start, again in the window map while live | "
      "follows the dictionary: ~0.5 GiB per thread that had every one of the 4 M nodes as a "
      "leaf; a few MB in the runs above |")
    w("")
    w("So: the dictionary tops out at about %s at every `STACKS_MAX_*` bound" % (
        "%.0f MB" % (dict_max / 1e6) if dict_max else "300 MB"))
    w("(then new stacks map to a `[dictionary full]` frame), and the model's ring at")
    w("8,388,608 entries, 128 MiB plus their side words (then the oldest entries go early")
    w("and `model_ring_dropped()` counts them). With the defaults (10 s window, 300 s")
    w("retention) the ring holds `threads × rate × 300` entries: 10 threads at 1 kHz is")
    w("50.4 MB, 1 thread at 100 Hz 0.7 MB. A")
    w("`--record` run without snapshots keeps no model at all: its memory is the")
    w("dictionary plus fixed buffers.")
    w("")


# ---- main --------------------------------------------------------------------

def main():
    # SIGTERM ends run.py like an exception, so atexit still kills the targets.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="build directory with pytop, libpytop.a and config.h")
    ap.add_argument("--make", action="store_true",
                    help="run `make -j2 pytop libpytop.a` in the build directory first")
    # A run's report is a raw result; docs/performance.md is written by hand.
    ap.add_argument("--doc", default=os.path.join(HERE, "results", "run.md"))
    ap.add_argument("--save", default=None, help="results JSON (default bench/results/...)")
    ap.add_argument("--baseline", action="append", default=[],
                    help="an earlier results JSON to compare with (repeatable, oldest first)")
    ap.add_argument("--only", default="a,b,c,d,e,perf",
                    help="comma-separated subset of a,b,c,d,e,perf,ab (ab: only with "
                         "--ab-commit)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--c-reps", type=int, default=5)
    ap.add_argument("--pair-reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3)
    ap.add_argument("--work-seconds", type=float, default=5)
    ap.add_argument("--perf-seconds", type=float, default=6)
    ap.add_argument("--no-rt", dest="rt", action="store_false",
                    help="skip the SCHED_FIFO variant of (b)")
    ap.add_argument("--ab-commit", action="append", default=[], metavar="COMMIT",
                    help="with --only ab: build this commit (in %s) and compare it with "
                         "the build, interleaved (repeatable, oldest first)" % AB_BUILDS)
    ap.add_argument("--merge", metavar="RESULTS.json", default=None,
                    help="add this run's benchmarks to saved results (saved back there "
                         "unless --save) and write the document from the whole")
    ap.add_argument("--render-only", metavar="RESULTS.json", default=None,
                    help="write the document from saved results (with any --baseline) "
                         "without running anything")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: 1 run of 1 s, fewer configurations")
    cfg = ap.parse_args()
    cfg.build = os.path.abspath(cfg.build)
    cfg.pytop = os.path.join(cfg.build, "pytop")
    cfg.depths = [10, 50, 200]
    cfg.threads = [1, 10, 100]
    cfg.rates = [1000, 2000, 5000, 10000, 20000]
    cfg.spinning = [("2.7", 50, 100)]
    if cfg.quick:
        cfg.reps, cfg.c_reps, cfg.duration, cfg.work_seconds, cfg.perf_seconds = 1, 1, 1, 1, 2
        cfg.pair_reps = 1
        cfg.depths, cfg.threads = [10, 50], [1, 10]
        cfg.spinning = [("3.12", 50, 10)]
    only = set(cfg.only.split(","))
    cmdline = " ".join(["python3", "bench/run.py"] + [shlex.quote(a) for a in sys.argv[1:]])

    baseline = []
    for path in cfg.baseline:
        with open(path) as f:
            baseline.append(json.load(f))
    if cfg.render_only:
        with open(cfg.render_only) as f:
            results = json.load(f)
        with open(cfg.doc, "w") as f:
            f.write(render(results, baseline, results.get("cmdline", cmdline)))
        log("wrote %s from %s" % (cfg.doc, cfg.render_only))
        return

    if cfg.make:
        log("make -j2 pytop libpytop.a in %s" % cfg.build)
        subprocess.run(["make", "-j2", "pytop", "libpytop.a"], cwd=cfg.build, check=True,
                       stdout=subprocess.DEVNULL)
        src = git_source(build_srcdir(cfg.build))
        if src:
            with open(os.path.join(cfg.build, STAMP), "w") as f:
                json.dump(src, f)
    if not os.access(cfg.pytop, os.X_OK):
        sys.exit("no pytop in %s: build it first (see docs/performance.md)" % cfg.build)

    ab_builds = [build_commit(c) for c in cfg.ab_commit]
    if ab_builds:
        only.add("ab")

    t_start = time.time()
    pythons = find_pythons()
    info = machine_info(cfg.build)
    results = {"info": info, "pythons": pythons,
               "cfg": {"reps": cfg.reps, "c_reps": cfg.c_reps, "duration": cfg.duration,
                       "work_seconds": cfg.work_seconds, "depths": cfg.depths,
                       "threads": cfg.threads, "rates": cfg.rates, "quick": cfg.quick}}
    if cfg.merge:
        with open(cfg.merge) as f:
            results = json.load(f)
        if (results["info"]["commit"], results["info"]["dirty_files"]) != (
                info["commit"], info["dirty_files"]):
            log("warning: merging results of %s into those of %s" % (
                info["commit"], results["info"]["commit"]))
    log("pythons: %s; load %s" % (", ".join(sorted(pythons)), info["load_start"]))
    tmp = tempfile.mkdtemp(prefix="pytop-bench-")
    try:
        if "ab" in only and ab_builds:
            results["ab"] = bench_ab(cfg, pythons, tmp, ab_builds)
        if "d" in only:
            results["d"] = bench_d(cfg, tmp)
        if "a" in only or "e" in only:
            results["a"] = bench_a(cfg, pythons, tmp)
        if "b" in only:
            results["b"] = bench_b(cfg, pythons, tmp)
        if "c" in only:
            results["c"] = bench_c(cfg, pythons, tmp)
        if "perf" in only:
            results["perf"] = bench_perf(cfg, pythons, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.time() - t_start
    if cfg.merge:
        results.setdefault("merged", []).append({
            "cmdline": cmdline, "date_iso": info["date_iso"], "uptime_start": info["uptime_start"],
            "uptime_end": sh(["uptime"]), "seconds": seconds, "only": sorted(only)})
    else:
        results["seconds"] = seconds
        results["cmdline"] = cmdline
        results["info"]["uptime_end"] = sh(["uptime"])
        results["info"]["load_end"] = loadavg()

    save = cfg.save or cfg.merge or os.path.join(HERE, "results", "%s-%s.json" % (
        results["info"]["commit"], time.strftime("%Y%m%d-%H%M%S")))
    os.makedirs(os.path.dirname(os.path.abspath(save)), exist_ok=True)
    with open(save, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    doc = render(results, baseline, results.get("cmdline", cmdline))
    with open(cfg.doc, "w") as f:
        f.write(doc)
    log("wrote %s and %s in %.0f s" % (cfg.doc, save, seconds))


if __name__ == "__main__":
    main()
