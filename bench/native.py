#!/usr/bin/env python3
"""The cost of --native: sampler CPU per sample with and without it.

For each interpreter given, bench/target.py runs one thread at --depth
frames; pytop attaches in turn without and with --native (`pytop --record
FILE --rate R --duration 3 -p PID [--native]`), --rounds times each,
alternating so that the machine's load falls on both alike, and the
medians of "us of sampler CPU per sample" are printed as a Markdown table.

  python3 bench/native.py --pytop build/pytop \
      /root/.pyenv/versions/3.11.7/bin/python3.11 /root/.pyenv/versions/3.12.1/bin/python3.12
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = re.compile(r"recorded (\d+) samples in [\d.]+ s \(([\d.]+) Hz achieved of [\d.]+ Hz; (\d+) late, "
                     r"(\d+) errors; ([\d.]+) us of sampler CPU per sample\)")


def version(python):
    out = subprocess.check_output([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"])
    return out.decode().strip()


def attach(pytop, pid, rate, extra, workdir):
    rec = os.path.join(workdir, "r.pytop")
    p = subprocess.run([pytop, "--record", rec, "--rate", str(rate), "--duration", "3", "-p", str(pid)] + extra,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    m = SUMMARY.search(p.stderr.decode("utf-8", "replace"))
    os.unlink(rec)
    if p.returncode != 0 or not m:
        raise SystemExit("pytop failed: %s" % p.stderr.decode("utf-8", "replace"))
    return {"samples": int(m.group(1)), "hz": float(m.group(2)), "late": int(m.group(3)),
            "us": float(m.group(5))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pytop", required=True)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("pythons", nargs="+")
    a = ap.parse_args()
    print("| Python | depth | without --native | with --native | --native-all | extra per sample |")
    print("|---|---:|---:|---:|---:|---:|")
    for python in a.pythons:
        workdir = tempfile.mkdtemp(prefix="pytop-native-bench-")
        ready = os.path.join(workdir, "ready")
        target = subprocess.Popen([python, os.path.join(HERE, "target.py"), "--depth", str(a.depth),
                                   "--ready-file", ready], stdout=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while not os.path.exists(ready) and time.time() < deadline:
                time.sleep(0.05)
            runs = {"": [], "--native": [], "--native-all": []}
            for _ in range(a.rounds):
                for mode in runs:
                    runs[mode].append(attach(a.pytop, target.pid, a.rate, [mode] if mode else [], workdir))
            med = dict((m, statistics.median(r["us"] for r in rs)) for m, rs in runs.items())
            hz = dict((m, statistics.median(r["hz"] for r in rs)) for m, rs in runs.items())
            print("| %s | %d | %.1f µs (%.0f Hz) | %.1f µs (%.0f Hz) | %.1f µs (%.0f Hz) | +%.1f µs |" % (
                version(python), a.depth, med[""], hz[""], med["--native"], hz["--native"],
                med["--native-all"], hz["--native-all"], med["--native"] - med[""]))
            sys.stdout.flush()
        finally:
            target.kill()
            target.wait()


if __name__ == "__main__":
    main()
