#!/usr/bin/env python3
"""System calls per sample, by kind, and the rate achieved when asked for
more than the machine may give.

  bench/syscalls.py --pytop build/pytop --label after
  bench/syscalls.py --pytop build/pytop --label after --python 3.12 --quick

For each interpreter found (pyenv's 2.7, 3.10, 3.11, 3.12 and 3.13 under
$PYENV_ROOT, the free-threaded 3.13t of scripts/build-python-ft.sh, and
3.14 and 3.15 in the Debian sid root /var/cache/pytop/sid, run there as
`chroot ROOT python3.X`), bench/target.py runs at depth 5, 20
and 100 with 1 and 10 threads; pytop records it at 1 kHz for 3 s and for
1 s under `perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_<kind>`,
and the difference of the counts over the difference of the samples gives
the calls per sample with attaching left out. These are counts, not
times: they do not depend on the machine's load. Then, at depth 20 with one
thread, the rate achieved when 10, 50 and 100 kHz are asked (1 s each;
this one depends on the load).

The raw counts go to bench/results/syscalls-LABEL.json, a line per row to
stdout; `bench/syscalls.py --table BEFORE.json AFTER.json` prints the two
side by side in Markdown.
"""
from __future__ import print_function

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib

HERE = os.path.dirname(os.path.abspath(__file__))
SID = "/var/cache/pytop/sid"
KINDS = ["process_vm_readv", "pread64", "read", "clock_nanosleep", "ppoll", "openat",
         "getdents64", "newfstatat", "close", "futex", "write", "readlinkat"]
SUMMARY_RE = re.compile(r"recorded (\d+) samples in ([\d.]+) s \(([\d.]+) Hz achieved")
DEPTHS = [5, 20, 100]
THREADS = [1, 10]
RATES = [10000, 50000, 100000]


def interpreters(wanted):
    """[(label, argv prefix, root or None)] for the versions found."""
    out = benchlib.pyenv_pythons(("2.7", "3.10", "3.11", "3.12", "3.13"), wanted)
    if not wanted or "3.13t" in wanted:
        # scripts/build-python-ft.sh's free-threaded build.
        ft = os.path.join(os.path.dirname(SID), "python3.13t", "bin", "python3.13t")
        if os.path.exists(ft):
            out.append(("3.13t", [ft], None))
        else:
            print("SKIP python3.13t: no %s" % ft, file=sys.stderr)
    for v in ("3.14", "3.15"):
        if wanted and v not in wanted:
            continue
        if os.path.exists(os.path.join(SID, "usr/bin/python" + v)):
            out.append((v + "-sid", ["chroot", SID, "python" + v], SID))
        else:
            print("SKIP python%s: no %s/usr/bin/python%s" % (v, SID, v), file=sys.stderr)
    return out


Target = benchlib.Target


def record(pytop, pid, rate, seconds, tmp, perf=True):
    """(samples, achieved Hz, {kind: count}) of one pytop --record run."""
    cmd = [pytop, "--record", os.path.join(tmp, "b.rec"), "--rate", str(rate),
           "--duration", str(seconds), "-p", str(pid)]
    if perf:
        cmd = benchlib.perf_stat_prefix(KINDS) + cmd
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True)
    m = SUMMARY_RE.search(p.stderr)
    if not m:
        raise RuntimeError("pytop: %s" % p.stderr.strip()[-300:])
    counts = benchlib.perf_stat_counts(p.stderr)
    return int(m.group(1)), float(m.group(3)), counts


def per_sample(pytop, pid, tmp):
    n3, _, c3 = record(pytop, pid, 1000, 3, tmp)
    n1, _, c1 = record(pytop, pid, 1000, 1, tmp)
    if n3 <= n1:
        return None
    return {k: (c3.get(k, 0) - c1.get(k, 0)) / float(n3 - n1) for k in c3}


def table(before_path, after_path):
    """Markdown: calls per sample before -> after, and after by kind."""
    with open(before_path) as f:
        b = json.load(f)
    with open(after_path) as f:
        a = json.load(f)
    key = lambda r: (r["python"], r["depth"], r["threads"])
    old = dict((key(r), r["per_sample"] or {}) for r in b["rows"])
    print("| target | depth x threads | %s | %s | %s by kind |" % (b["label"], a["label"], a["label"]))
    print("|---|---|---|---|---|")
    for r in a["rows"]:
        c = r["per_sample"] or {}
        o = old.get(key(r), {})
        kinds = ", ".join("%s %.2f" % (k, v) for k, v in sorted(c.items()) if k != "all" and v >= 0.005)
        print("| %s | %d x %d | %.1f | %.1f | %s |" % (r["python"], r["depth"], r["threads"],
                                                      o.get("all", float("nan")), c.get("all", float("nan")), kinds))
    if not a["rates"]:
        return
    print()
    rb = dict(((r["python"], r["asked"]), r["achieved"]) for r in b["rates"])
    print("| target | asked | %s | %s |" % (b["label"], a["label"]))
    print("|---|---|---|---|")
    for r in a["rates"]:
        print("| %s | %d Hz | %.0f Hz | %.0f Hz |" % (r["python"], r["asked"],
                                                      rb.get((r["python"], r["asked"]), float("nan")), r["achieved"]))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--table":
        return table(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pytop", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--python", action="append", default=[], help="only these versions (2.7, 3.12, 3.15...)")
    ap.add_argument("--quick", action="store_true", help="depth 20 only")
    ap.add_argument("--depth", type=int, action="append", default=[],
                    help="only these depths (repeatable; default 5, 20, 100)")
    ap.add_argument("--no-rates", action="store_true", help="skip the achieved-rate runs")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("bench/syscalls.py: perf is not installed; install linux-perf")
    pytop = os.path.abspath(a.pytop)
    res = {"label": a.label, "rows": [], "rates": []}
    tmp = tempfile.mkdtemp(prefix="pytop-bench-rec-")
    depths = a.depth or ([20] if a.quick else DEPTHS)
    try:
        for label, argv, root in interpreters(a.python):
            for depth in depths:
                for threads in THREADS:
                    t = Target(argv, root, depth, threads)
                    try:
                        time.sleep(0.3)
                        c = per_sample(pytop, t.pid, tmp)
                    finally:
                        t.stop()
                    res["rows"].append({"python": label, "depth": depth, "threads": threads, "per_sample": c})
                    print("%-9s depth %3d x %2d: %s" % (label, depth, threads, " ".join(
                        "%s %.2f" % (k, v) for k, v in sorted((c or {}).items()) if v >= 0.005)), flush=True)
            if a.no_rates:
                continue
            t = Target(argv, root, 20, 1)
            try:
                for rate in RATES:
                    n, hz, _ = record(pytop, t.pid, rate, 1, tmp, perf=False)
                    res["rates"].append({"python": label, "asked": rate, "achieved": hz})
                    print("%-9s asked %6d Hz: achieved %.0f Hz" % (label, rate, hz), flush=True)
            finally:
                t.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = a.out or os.path.join(HERE, "results", "syscalls-%s.json" % a.label)
    with open(out, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print("written: %s" % os.path.relpath(out))


if __name__ == "__main__":
    main()
