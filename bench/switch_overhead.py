#!/usr/bin/env python3
"""What pytop's CPU-time sources cost the target: a Python target whose
two threads hand a byte back and forth through two pipes (each hand-over
blocks one thread and wakes the other: about two context switches per
round trip, the case where context-switch records cost the most), its
round trips per second with no pytop attached, with `pytop --record`
reading CPU time from context-switch records (the default), and with
`--schedstat`. The three alternate in windows of --seconds, --rounds
times, in one run, so that the machine's load weighs on each alike;
the figures are ratios to the unprofiled windows of the same round, and
the target's own CPU time per round trip (its threads' schedstat), which
the machine's load moves less than the rate.

  bench/switch_overhead.py --pytop build/pytop [--python python3.12] [--rate 100]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = r"""
import os, sys, threading, time
count_path = sys.argv[1]
a_r, a_w = os.pipe()
b_r, b_w = os.pipe()
n = [0]

def echo():
    while True:
        os.read(a_r, 1)
        os.write(b_w, b"x")

t = threading.Thread(target=echo)
t.daemon = True
t.start()
last = time.time()
while True:
    os.write(a_w, b"x")
    os.read(b_r, 1)
    n[0] += 1
    if n[0] % 256 == 0 and time.time() - last > 0.05:
        last = time.time()
        with open(count_path + ".tmp", "w") as f:
            f.write("%d %.6f\n" % (n[0], last))
        os.rename(count_path + ".tmp", count_path)
"""


def read_count(path):
    for _ in range(100):
        try:
            with open(path) as f:
                n, t = f.read().split()
            return int(n), float(t)
        except (IOError, OSError, ValueError):
            time.sleep(0.01)
    raise RuntimeError("the target wrote no count")


def cpu_ns(pid):
    """The target's threads' CPU time, from their schedstat."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (IOError, OSError):
            pass
    return total


def window(path, seconds, pid):
    """(round trips per second, the target's CPU ns per round trip)."""
    n0, t0 = read_count(path)
    c0 = cpu_ns(pid)
    time.sleep(seconds)
    n1, t1 = read_count(path)
    c1 = cpu_ns(pid)
    return (n1 - n0) / max(t1 - t0, 1e-9), (c1 - c0) / max(n1 - n0, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pytop", required=True)
    ap.add_argument("--python", default="python3")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="pytop-switch-")
    count = os.path.join(tmp, "count")
    src = os.path.join(tmp, "target.py")
    with open(src, "w") as f:
        f.write(TARGET)
    tgt = subprocess.Popen([args.python, src, count])
    try:
        read_count(count)
        time.sleep(1)
        ratios = {"switch records": [], "--schedstat": []}
        cpu = {"none": [], "switch records": [], "--schedstat": []}
        base_rates = []
        for r in range(args.rounds):
            base, base_cpu = window(count, args.seconds, tgt.pid)
            base_rates.append(base)
            cpu["none"].append(base_cpu)
            line = ["round %d: none %.0f/s %.0f ns" % (r + 1, base, base_cpu)]
            for label, extra in (("switch records", []), ("--schedstat", ["--schedstat"])):
                rec = os.path.join(tmp, "r.pytop")
                p = subprocess.Popen([args.pytop, "--record", rec, "--rate", str(args.rate), "-p", str(tgt.pid)]
                                     + extra, stderr=subprocess.PIPE, universal_newlines=True)
                time.sleep(0.5)   # attached and sampling
                got, got_cpu = window(count, args.seconds, tgt.pid)
                cpu[label].append(got_cpu)
                p.terminate()
                err = p.communicate()[1]
                src_line = [l for l in err.splitlines() if l.startswith("pytop: CPU time:")]
                ratios[label].append(got / base)
                line.append("%s %.0f/s (%.3f) %.0f ns%s" % (label, got, got / base, got_cpu,
                                                             "" if src_line else " [no CPU-time line]"))
            print("; ".join(line))
            sys.stdout.flush()
        print("median round trips/s unprofiled: %.0f" % statistics.median(base_rates))
        for label, v in cpu.items():
            print("%s: the target's CPU per round trip, median %.0f ns" % (label, statistics.median(v)))
        for label, rs in ratios.items():
            print("%s at %d Hz: median %.3f of unprofiled (min %.3f, max %.3f)"
                  % (label, args.rate, statistics.median(rs), min(rs), max(rs)))
    finally:
        tgt.kill()
        tgt.wait()


if __name__ == "__main__":
    main()
