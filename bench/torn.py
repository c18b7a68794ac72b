#!/usr/bin/env python3
"""Whole stacks on a target whose frames come and go fast.

For each interpreter given, tests/functional/targets/fast_frames.py runs
(a generator pipeline in a thread; 16 asyncio tasks switching in the main
thread on 3.6+), pytop records it (`pytop --record F --rate R --duration D
-p PID`) and exports wall time as folded stacks; each sample's root frame
says what it is:

  good      the thread's true root: <module> of fast_frames.py for the
            main thread, threading's _bootstrap for the worker
  marked    a marker root ([truncated], <torn>, ...): known incomplete
  unmarked  anything else: a stack cut short that nothing marks

Shares are of wall time, i.e. of samples. Also prints the record summary
line (incomplete stacks by kind, reads per sample).

  python3 bench/torn.py --pytop build/pytop --rate 500 --duration 10 \
      /root/.pyenv/versions/3.12.1/bin/python3.12
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = os.path.join(HERE, "..", "tests", "functional", "targets")


def classify(folded):
    good = marked = unmarked = 0
    roots = {}
    for line in folded.splitlines():
        path, _, weight = line.rpartition(" ")
        if not path:
            continue
        w = int(weight)
        root = path.split(";", 1)[0]
        fn = root.split(" (", 1)[0]
        if (fn == "<module>" and "fast_frames.py" in root) or \
                (fn.split(".")[-1] in ("_bootstrap", "__bootstrap") and "threading.py" in root):
            good += w
        elif fn.startswith("[") or fn.startswith("<torn>"):
            marked += w
        else:
            unmarked += w
            roots[fn] = roots.get(fn, 0) + w
    return good, marked, unmarked, roots


def run_one(pytop, python, rate, duration, perf):
    tmp = tempfile.mkdtemp(prefix="pytop-torn-")
    ready = os.path.join(tmp, "ready.json")
    env = dict(os.environ, PYTHONPATH=TARGETS)
    tgt = subprocess.Popen([python, os.path.join(TARGETS, "fast_frames.py"), ready], env=env)
    try:
        for _ in range(300):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("target did not get ready")
        rec = os.path.join(tmp, "r.pytop")
        cmd = [pytop, "--record", rec, "--rate", str(rate), "--duration", str(duration),
               "-p", str(tgt.pid)]
        if perf:
            cmd = ["perf", "stat", "-x,", "-e", "syscalls:sys_enter_process_vm_readv"] + cmd
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        summary = [l for l in r.stderr.splitlines() if l.startswith("pytop:")]
        reads = None
        for l in r.stderr.splitlines():
            if "process_vm_readv" in l:
                reads = int(l.split(",")[0])
        out = subprocess.run([pytop, "--export", rec, "--format", "folded", "--mode", "wall"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout
        return classify(out), summary, reads
    finally:
        tgt.kill()
        tgt.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pytop", required=True)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--perf", action="store_true", help="count process_vm_readv with perf stat")
    ap.add_argument("python", nargs="+")
    a = ap.parse_args()
    print("| Python | rate | good | marked | unmarked | reads/sample | summary |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for py in a.python:
        ver = subprocess.run([py, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             stdout=subprocess.PIPE, text=True).stdout.strip()
        (good, marked, unmarked, roots), summary, reads = run_one(a.pytop, py, a.rate,
                                                                  a.duration, a.perf)
        total = float(good + marked + unmarked) or 1.0
        nsamples = None
        for l in summary:
            if " samples in " in l:
                nsamples = int(l.split("recorded ", 1)[1].split(" ", 1)[0])
        rps = "%.1f" % (reads / nsamples) if reads and nsamples else "-"
        print("| %s | %d Hz | %.2f %% | %.2f %% | %.2f %% | %s | %s |" % (
            ver, a.rate, 100 * good / total, 100 * marked / total, 100 * unmarked / total, rps,
            " / ".join(s.replace("pytop: ", "") for s in summary)))
        if roots:
            top = sorted(roots.items(), key=lambda kv: -kv[1])[:5]
            print("|  | unmarked roots: %s |" % ", ".join("%s %.2f %%" % (k, 100 * v / total)
                                                      for k, v in top), file=sys.stderr)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
