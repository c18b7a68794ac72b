"""What --blocking costs: the pause per sample and per thread, the rate
achieved and the sampler's CPU, against the same run without it.

    python3 bench/blocking.py PYTOP PYTHON...

For each interpreter and 1 and 10 busy threads (each spinning in small
calls), 3 rounds of `pytop --record --rate 100 --duration 5` without and
with --blocking; prints one Markdown table row per case, medians of the
rounds, from the two summary lines pytop prints.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

SPIN = """
import sys, threading
def leaf(n):
    s = 0
    for i in range(n): s += i
    return s
def worker():
    while True: leaf(1000)
for _ in range(int(sys.argv[1]) - 1):
    t = threading.Thread(target=worker); t.daemon = True; t.start()
worker()
"""
HELD = re.compile(r"threads held (\S+ \S+) per sample \(median; p90 (\S+ \S+), max (\S+ \S+)\), each thread "
                  r"(\S+ \S+) \(median; p90 (\S+ \S+)\)")
SUMMARY = re.compile(r"recorded (\d+) samples in \S+ s \((\S+) Hz achieved.*?; ([\d.]+) us of sampler CPU")


def us(text):
    value, unit = text.split()
    return float(value) * (1000.0 if unit == "ms" else 1.0)


def run(pytop, python, threads, blocking, workdir):
    target = subprocess.Popen([python, os.path.join(workdir, "spin.py"), str(threads)])
    try:
        time.sleep(1)
        args = [pytop, "--record", os.path.join(workdir, "b.pytop"), "--rate", "100", "--duration", "5",
                "-p", str(target.pid)] + (["--blocking"] if blocking else [])
        err = subprocess.run(args, stderr=subprocess.PIPE).stderr.decode()
    finally:
        target.kill()
        target.wait()
    s, h = SUMMARY.search(err), HELD.search(err)
    return float(s.group(2)), float(s.group(3)), [us(x) for x in h.groups()] if h else None


def main():
    pytop, pythons = sys.argv[1], sys.argv[2:]
    workdir = tempfile.mkdtemp(prefix="pytop-blocking-")
    with open(os.path.join(workdir, "spin.py"), "w") as f:
        f.write(SPIN)
    med = statistics.median
    print("load at start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    print("| Python | threads | without: rate, CPU/sample | with: rate, CPU/sample | pause/sample median "
          "| p90 | max | per thread median | p90 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for python in pythons:
        for threads in (1, 10):
            free, held = [], []
            for _ in range(3):
                free.append(run(pytop, python, threads, False, workdir))
                held.append(run(pytop, python, threads, True, workdir))
            p = [h[2] for h in held]
            print("| %s | %d | %.1f Hz, %.0f µs | %.1f Hz, %.0f µs | %.1f µs | %.1f µs | %.1f µs | %.1f µs | %.1f µs |"
                  % (os.path.basename(python), threads, med(f[0] for f in free), med(f[1] for f in free),
                     med(h[0] for h in held), med(h[1] for h in held),
                     *[med(x[i] for x in p) for i in range(5)]))
            sys.stdout.flush()
    print("load at end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
