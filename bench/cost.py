#!/usr/bin/env python3
"""What one sample costs pytop, and the rates it keeps: the measurements
issue 11 asks for, in one run.

  bench/cost.py --pytop build/pytop --label NAME [--quick] [--python 3.12]...
  bench/cost.py --table bench/results/cost-NAME.json     Markdown tables

For each interpreter found (pyenv's 2.7, 3.10, 3.12 and 3.13 under
$PYENV_ROOT; 3.14 and 3.15 in the Debian sid root /var/cache/pytop/sid)
bench/target.py runs at depth 5, 20 and 100 with 1 and 10 spinning
threads (--quick: depth 20 only), and pytop attaches with `--record FILE
--rate 1000`:

  syscalls      system calls per sample by kind: `perf stat -e
                raw_syscalls:sys_enter,syscalls:sys_enter_<kind>...` around a
                long and a short recording, the difference of the counts
                over the difference of the samples (so attaching is left
                out); "other" is every call not of a listed kind
  instructions  user-space instructions per sample: the same difference,
                of the instructions `valgrind --tool=callgrind` counts in
                all of pytop's threads
  cpu           the sampler thread's CPU time per sample, as pytop's summary
                gives it (CLOCK_THREAD_CPUTIME_ID over the samples): the
                median of --reps recordings; it moves with the machine's load

Then, on one thread at depth 20:

  rates         the rate achieved when 10, 50 and 100 kHz are asked (1 s
                each, --rounds rounds); on the 3.15 target CPython's own
                sampler (`python3.15 -m profiling.sampling attach`, run in
                the sid root) is measured in the same rounds, alternating
                with pytop
  fifo          10 kHz asked under `chrt -f 1` (a real-time class: the
                sampler gets a core when one is free), pytop and the 3.15
                sampler; skipped, and said so, when chrt is not permitted

And the live view (`pytop -p PID --rate 100` in a tmux terminal) on 10
threads at depth 20 on 3.12: the CPU of each of its threads over 10 s.

Counts do not depend on the machine's load; times and rates do, so the
load average is saved before and after. Results go to
bench/results/cost-LABEL.json (a line per measurement on stdout as it
goes). The 3.14 and 3.15 targets run in a private mount namespace with
/proc mounted in the root (`unshare -m`), so that the 3.15 sampler,
started in the same namespace and root (`nsenter -m -r`), can read the
target's maps; nothing is mounted outside that namespace.
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
SID = "/var/cache/pytop/sid"
DEPTHS = [5, 20, 100]
THREADS = [1, 10]
RATES = [10000, 50000, 100000]
# Kinds counted one by one; the rest is "other" (all minus these).
KINDS = ["process_vm_readv", "pread64", "read", "write", "ppoll", "clock_nanosleep",
         "openat", "close", "getdents64", "newfstatat", "futex", "perf_event_open",
         "clock_gettime"]
SUMMARY_RE = re.compile(r"recorded (\d+) samples in ([\d.]+) s \(([\d.]+) Hz achieved of "
                        r"[\d.]+ Hz; (\d+) late, (\d+) errors; ([\d.]+) us of sampler CPU per sample")
CPYTHON_RE = re.compile(r"Captured (\d+) samples in ([\d.]+) seconds")
CG_TOTAL_RE = re.compile(r"^(?:summary|totals): (\d+)", re.M)


def log(msg):
    print(msg, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def interpreters(wanted):
    """[(label, argv prefix, root or None)] for the versions found."""
    out = benchlib.pyenv_pythons(("2.7", "3.10", "3.12", "3.13"), wanted)
    for v in ("3.14", "3.15"):
        if wanted and v not in wanted:
            continue
        if os.path.exists(os.path.join(SID, "usr/bin/python" + v)):
            # Its own mount namespace with /proc in the root: see the docstring.
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', SID, "python" + v]
            out.append((v, argv, SID))
        else:
            print("SKIP python%s: no %s/usr/bin/python%s" % (v, SID, v), file=sys.stderr)
    return out


class Target(benchlib.Target):
    """bench/target.py at a depth, in a process group of its own, until stop()."""

    def __init__(self, argv, root, depth, threads):
        benchlib.Target.__init__(self, argv, root, depth, threads, prefix="pytop-cost-",
                                 own_group=True, settle=0.3)


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def record(pytop, pid, rate, seconds, tmp, prefix=()):
    """(samples, achieved Hz, sampler us per sample, stderr) of one --record."""
    cmd = list(prefix) + [pytop, "--record", os.path.join(tmp, "c.rec"), "--rate", str(rate),
                          "--duration", str(seconds), "-p", str(pid)]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=300)
    m = SUMMARY_RE.search(p.stderr)
    if not m:
        raise RuntimeError("%s: %s" % (" ".join(cmd[:3]), p.stderr.strip()[-300:]))
    return int(m.group(1)), float(m.group(3)), float(m.group(6)), p.stderr


def count_syscalls(pytop, pid, seconds, tmp):
    n, _, _, err = record(pytop, pid, 1000, seconds, tmp, benchlib.perf_stat_prefix(KINDS))
    counts = benchlib.perf_stat_counts(err)
    counts["other"] = counts.get("all", 0) - sum(counts.get(k, 0) for k in KINDS)
    return n, counts


def syscalls_per_sample(pytop, pid, tmp, long_s, short_s):
    n2, c2 = count_syscalls(pytop, pid, long_s, tmp)
    n1, c1 = count_syscalls(pytop, pid, short_s, tmp)
    if n2 <= n1:
        return None
    return dict((k, (c2.get(k, 0) - c1.get(k, 0)) / float(n2 - n1)) for k in c2)


def instructions(pytop, pid, seconds, tmp):
    out = os.path.join(tmp, "callgrind.out")
    n, _, _, _ = record(pytop, pid, 1000, seconds, tmp,
                        ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out])
    with open(out) as f:
        m = CG_TOTAL_RE.search(f.read())
    os.unlink(out)
    if not m:
        raise RuntimeError("no instruction total in callgrind's output")
    return n, int(m.group(1))


def instructions_per_sample(pytop, pid, tmp, long_s, short_s):
    n2, i2 = instructions(pytop, pid, long_s, tmp)
    n1, i1 = instructions(pytop, pid, short_s, tmp)
    return (i2 - i1) / float(n2 - n1) if n2 > n1 else None


def cpython_sampler(pid, rate, seconds, tmp, python="python3.15", prefix=()):
    """Achieved Hz of CPython's own sampler on pid (a target started in the
    sid root by interpreters()), or None with the reason on stderr."""
    cmd = list(prefix) + ["nsenter", "-t", str(pid), "-m", "-r", python, "-m", "profiling.sampling",
                          "attach", "-r", str(rate), "-d", str(seconds), "--collapsed",
                          "-o", "/dev/null", str(pid)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    m = CPYTHON_RE.search(p.stdout)
    if not m:
        print("%s: %s" % (python, p.stdout.strip()[-300:]), file=sys.stderr)
        return None
    return int(m.group(1)) / float(m.group(2))


def chrt_permitted():
    try:
        return subprocess.run(["chrt", "-f", "1", "true"], stderr=subprocess.DEVNULL,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def thread_cpu(pid):
    """{tid: (comm, utime + stime in clock ticks)} of a live process."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        out[int(tid)] = (comm, int(f[11]) + int(f[12]))
    return out


def live_view(pytop, pid, seconds):
    """CPU of the live view's threads over `seconds` (after 2 s to start)."""
    if not shutil.which("tmux"):
        print("SKIP live view: tmux is not installed", file=sys.stderr)
        return None
    sock = "pytop-cost-%d" % os.getpid()
    tmux = ["tmux", "-L", sock]
    subprocess.run(tmux + ["new-session", "-d", "-x", "160", "-y", "48",
                           "exec %s -p %d --rate 100" % (pytop, pid)], check=True, timeout=30)
    try:
        time.sleep(2)
        ppid = int(subprocess.run(tmux + ["display", "-p", "#{pane_pid}"], stdout=subprocess.PIPE,
                                  universal_newlines=True, timeout=30).stdout.strip())
        hz = os.sysconf("SC_CLK_TCK")
        a, t0 = thread_cpu(ppid), time.monotonic()
        time.sleep(seconds)
        b, t1 = thread_cpu(ppid), time.monotonic()
        wall = t1 - t0
        threads = []
        for tid in sorted(b):
            used = (b[tid][1] - a.get(tid, (None, 0))[1]) / float(hz)
            role = "ui" if tid == ppid else "sampler" if len(b) == 2 else "other"
            threads.append({"tid": tid, "role": role,
                            "comm": b[tid][0], "cpu_s": used, "pct": 100.0 * used / wall})
        return {"wall_s": wall, "tick_s": 1.0 / hz, "threads": threads,
                "pct": sum(t["pct"] for t in threads)}
    finally:
        subprocess.run(tmux + ["send-keys", "q"], timeout=30)
        time.sleep(0.5)
        subprocess.run(tmux + ["kill-server"], stderr=subprocess.DEVNULL, timeout=30)


def source_of(pytop):
    """The commit the tree is at, for the record (not a claim about the binary)."""
    try:
        rev = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                             stdout=subprocess.PIPE, universal_newlines=True, timeout=30).stdout.strip()
    except OSError:
        rev = ""
    return rev


def measure(a):
    pytop = os.path.abspath(a.pytop)
    quick = a.quick
    depths = [20] if quick else DEPTHS
    only = set(a.only.split(","))
    res = {"label": a.label, "tree": source_of(pytop), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           "quick": quick, "load_start": loadavg(), "nproc": os.cpu_count(),
           "rows": [], "rates": [], "fifo": [], "live": None}
    tmp = tempfile.mkdtemp(prefix="pytop-cost-rec-")
    long_s, short_s = (2, 1) if quick else (3, 1)
    pythons = interpreters(a.python)
    try:
        for label, argv, root in pythons:
            for depth in depths:
                for threads in THREADS:
                    if not only & {"syscalls", "instructions", "cpu"}:
                        break
                    t = Target(argv, root, depth, threads)
                    row = {"python": label, "depth": depth, "threads": threads}
                    try:
                        if "syscalls" in only:
                            row["syscalls"] = syscalls_per_sample(pytop, t.pid, tmp, long_s, short_s)
                        if "instructions" in only:
                            row["instructions"] = instructions_per_sample(pytop, t.pid, tmp, 2, 1)
                        if "cpu" in only:
                            row["cpu_us"] = [record(pytop, t.pid, 1000, 1 if quick else 2, tmp)[2]
                                             for _ in range(a.reps)]
                    finally:
                        t.stop()
                    res["rows"].append(row)
                    sc = row.get("syscalls") or {}
                    log("%-5s depth %3d x %2d: %s syscalls (%s), %s instructions, %s us CPU" % (
                        label, depth, threads, "%.2f" % sc["all"] if sc else "-",
                        " ".join("%s %.2f" % (k, v) for k, v in sorted(sc.items()) if k != "all" and v >= 0.005),
                        "%.0f" % row["instructions"] if row.get("instructions") else "-",
                        "%.1f" % statistics.median(row["cpu_us"]) if row.get("cpu_us") else "-"))
            if "rates" in only:
                t = Target(argv, root, 20, 1)
                try:
                    for rnd in range(a.rounds):
                        for rate in RATES:
                            c0 = children_cpu()
                            hz = record(pytop, t.pid, rate, 1, tmp)[1]
                            res["rates"].append({"python": label, "tool": "pytop", "asked": rate,
                                                 "round": rnd, "achieved": hz, "cpu_s": children_cpu() - c0})
                            log("%-5s round %d asked %6d Hz: pytop %.0f Hz" % (label, rnd, rate, hz))
                            if label == "3.15":
                                c0 = children_cpu()
                                hz = cpython_sampler(t.pid, rate, 1, tmp)
                                res["rates"].append({"python": label, "tool": "cpython", "asked": rate,
                                                     "round": rnd, "achieved": hz, "cpu_s": children_cpu() - c0})
                                log("%-5s round %d asked %6d Hz: python3.15 -m profiling.sampling %s Hz" % (
                                    label, rnd, rate, "%.0f" % hz if hz else "failed"))
                finally:
                    t.stop()
            if "fifo" in only and label in ("3.12", "3.15"):
                if not chrt_permitted():
                    res["fifo"].append({"python": label, "refused": "chrt -f 1 is not permitted here"})
                    print("SKIP fifo: chrt -f 1 is not permitted here", file=sys.stderr)
                else:
                    t = Target(argv, root, 20, 1)
                    try:
                        for rnd in range(a.rounds):
                            n, hz, us, _ = record(pytop, t.pid, 10000, 2, tmp, ["chrt", "-f", "1"])
                            res["fifo"].append({"python": label, "tool": "pytop", "asked": 10000,
                                                "round": rnd, "achieved": hz, "cpu_us": us})
                            log("%-5s SCHED_FIFO asked 10000 Hz for 2 s: pytop %.0f Hz" % (label, hz))
                            if label == "3.15":
                                hz = cpython_sampler(t.pid, 10000, 2, tmp, prefix=["chrt", "-f", "1"])
                                res["fifo"].append({"python": label, "tool": "cpython", "asked": 10000,
                                                    "round": rnd, "achieved": hz})
                                log("%-5s SCHED_FIFO asked 10000 Hz for 2 s: python3.15 sampler %s Hz" % (
                                    label, "%.0f" % hz if hz else "failed"))
                    finally:
                        t.stop()
            if "live" in only and label == "3.12":
                t = Target(argv, root, 20, 10)
                try:
                    res["live"] = live_view(pytop, t.pid, 5 if quick else 10)
                finally:
                    t.stop()
                if res["live"]:
                    log("live view, 100 Hz, 10 threads x 20: %.2f %% of a core (%s)" % (
                        res["live"]["pct"], ", ".join("%s %.2f %%" % (x["role"], x["pct"])
                                                     for x in res["live"]["threads"])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["load_end"] = loadavg()
    out = a.out or os.path.join(HERE, "results", "cost-%s.json" % a.label)
    with open(out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    log("written: %s" % os.path.relpath(out))


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def table(path):
    """Markdown tables of one result file."""
    with open(path) as f:
        r = json.load(f)
    print("Run %s, %s (tree `%s`), load average %s at start, %s at end.\n" % (
        r["label"], r["date"], r["tree"], r["load_start"], r["load_end"]))
    if r["rows"]:
        print("| target | depth × threads | system calls | by kind | instructions | CPU µs (median) |")
        print("|---|---|---|---|---|---|")
        for row in r["rows"]:
            sc = row.get("syscalls") or {}
            kinds = ", ".join("%s %.2f" % (k, v) for k, v in sorted(sc.items(), key=lambda kv: -kv[1])
                              if k != "all" and v >= 0.005)
            ins = row.get("instructions")
            cpu = med(row.get("cpu_us") or [])
            print("| %s | %d × %d | %s | %s | %s | %s |" % (
                row["python"], row["depth"], row["threads"], "%.1f" % sc["all"] if sc else "–", kinds or "–",
                "%.1fk" % (ins / 1000.0) if ins else "–", "%.1f" % cpu if cpu is not None else "–"))
        print()
    if r["rates"]:
        print("Achieved rate, median of the rounds (each round's), and the CPU time the whole sampler")
        print("process used in a 1 s run (median; pytop's includes attaching):\n")
        print("| target | sampler | 10 kHz asked | 50 kHz asked | 100 kHz asked |")
        print("|---|---|---|---|---|")
        keys = []
        for x in r["rates"]:
            if (x["python"], x["tool"]) not in keys:
                keys.append((x["python"], x["tool"]))
        for py, tool in keys:
            cells = []
            for rate in RATES:
                sel = [x for x in r["rates"] if (x["python"], x["tool"], x["asked"]) == (py, tool, rate)]
                xs = [x["achieved"] for x in sel]
                m, cpu = med(xs), med([x.get("cpu_s") for x in sel])
                cells.append("%.0f Hz (%s)%s" % (m, "/".join("%.0f" % x if x else "–" for x in xs),
                                                 ", CPU %.2f s" % cpu if cpu is not None else "")
                             if m is not None else "–")
            name = "pytop" if tool == "pytop" else "python3.15 -m profiling.sampling"
            print("| %s | %s | %s |" % (py, name, " | ".join(cells)))
        print()
    if r["fifo"]:
        for x in r["fifo"]:
            if "refused" in x:
                print("SCHED_FIFO on %s: %s." % (x["python"], x["refused"]))
        rows = [x for x in r["fifo"] if "refused" not in x]
        if rows:
            print("| target | sampler | 10 kHz asked under `chrt -f 1`, 2 s each |")
            print("|---|---|---|")
            keys = []
            for x in rows:
                if (x["python"], x["tool"]) not in keys:
                    keys.append((x["python"], x["tool"]))
            for py, tool in keys:
                xs = [x["achieved"] for x in rows if (x["python"], x["tool"]) == (py, tool)]
                name = "pytop" if tool == "pytop" else "python3.15 -m profiling.sampling"
                print("| %s | %s | %s Hz |" % (py, name, " / ".join("%.0f" % x if x else "–" for x in xs)))
        print()
    if r["live"]:
        lv = r["live"]
        print("Live view, `pytop -p PID --rate 100`, 10 threads × depth 20 on 3.12, %.0f s: "
              "%.2f %% of a core (%s; one clock tick is %.2f %% here)." % (
                  lv["wall_s"], lv["pct"], ", ".join("%s %.2f %%" % (t["role"], t["pct"]) for t in lv["threads"]),
                  100.0 * lv["tick_s"] / lv["wall_s"]))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        return table(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pytop", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--python", action="append", default=[], help="only these versions (2.7, 3.12, 3.15...)")
    ap.add_argument("--quick", action="store_true",
                    help="depth 20 only, shorter runs, one round: about 3 minutes for one interpreter")
    ap.add_argument("--only", default="syscalls,instructions,cpu,rates,fifo,live",
                    help="comma-separated: syscalls, instructions, cpu, rates, fifo, live")
    ap.add_argument("--reps", type=int, default=None, help="CPU recordings per row (default 3, quick 1)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds of rates (default 3, quick 1)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.reps is None:
        a.reps = 1 if a.quick else 3
    if a.rounds is None:
        a.rounds = 1 if a.quick else 3
    only = set(a.only.split(","))
    for tool, need in (("perf", "syscalls"), ("valgrind", "instructions")):
        if need in only and not shutil.which(tool):
            sys.exit("bench/cost.py: %s is not installed (needed for %s); install it or leave %s out of --only"
                     % (tool, need, need))
    measure(a)


if __name__ == "__main__":
    main()
