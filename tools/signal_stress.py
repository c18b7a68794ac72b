#!/usr/bin/env python3
"""Stress pytop's ends: signal it at random moments in every mode and
check how fast it exits and what it leaves the target in; SIGKILL
recorders at random moments and measure what the recording lost.

    tools/signal_stress.py --pytop build/pytop --python python3.12 \\
        [--runs 100] [--modes live,record,dump,live-native,...,dump-blocking,kill] \\
        [--signals INT,TERM,HUP] [--rate 100] [--seed N]

Modes: live, record and dump, each also with --native (MODE-native) and
with --blocking (MODE-blocking), and kill.

For each run of a signal mode: start pytop against the target (the live
view on a pseudo-terminal), wait a random moment, send a random one of
the signals, and time its exit; then every thread of the target must be
neither stopped (state t/T) nor traced (TracerPid 0). For "kill": start
a recorder, SIGKILL it at a random moment, and measure the loss: the
kill's time minus the time of the last sample the file holds. Prints one
line per mode (max and median exit time or loss, failures) and exits 1
when any run took more than --limit seconds, left a thread stopped or
traced, or lost more than --loss-limit seconds. Python 3 standard library
only; the functional tests run a bounded number of the same runs
(tests/functional/signals.py).
"""
import argparse
import os
import random
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# Threads in every state a hold can meet: spinning in Python, sleeping,
# blocked in a read, and spinning in C (hashing a large buffer).
TARGET = r"""
import hashlib, os, sys, threading, time
def spin():
    n = 0
    while True:
        n += 1
def sleeper():
    while True:
        time.sleep(0.05)
def reader(fd):
    os.read(fd, 1)
def hasher():
    data = b"x" * (8 << 20)
    while True:
        hashlib.sha256(data).digest()
r, w = os.pipe()
for f, a in ((spin, ()), (sleeper, ()), (sleeper, ()), (reader, (r,)), (hasher, ())):
    t = threading.Thread(target=f, args=a)
    t.daemon = True
    t.start()
sys.stdout.write("ready\n")
sys.stdout.flush()
sleeper()
"""

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP}
MODES = ("live", "record", "dump", "live-native", "record-native", "dump-native",
         "live-blocking", "record-blocking", "dump-blocking", "kill")
# Each mode's holding option: a suffix of its name.
HOLDS = {"native": "--native", "blocking": "--blocking"}


class Target(object):
    def __init__(self, python, workdir):
        path = os.path.join(workdir, "stress_target.py")
        with open(path, "w") as f:
            f.write(TARGET)
        self.proc = subprocess.Popen([python, "-u", path], stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise RuntimeError("the stress target did not start: %r" % line)
        time.sleep(0.2)
        self.pid = self.proc.pid

    def problems(self):
        """Threads left stopped or traced."""
        out = []
        try:
            tids = os.listdir("/proc/%d/task" % self.pid)
        except OSError:
            return ["the target is gone"]
        for t in tids:
            try:
                with open("/proc/%d/task/%s/status" % (self.pid, t)) as f:
                    st = dict(l.split(":", 1) for l in f if ":" in l)
            except OSError:
                continue
            state = st.get("State", "").strip()
            tracer = st.get("TracerPid", "0").strip()
            if state[:1] in ("t", "T") or tracer != "0":
                out.append("thread %s: state %s, TracerPid %s" % (t, state, tracer))
        return out

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait()


def drain(fd, stop):
    """Read a pty's output so the live view never blocks writing it."""
    while not stop.is_set():
        try:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r and not os.read(fd, 65536):
                return
        except OSError:
            return


def wait_exit(proc, limit):
    """Seconds from now to proc's exit, or None if it did not within limit."""
    t0 = time.monotonic()
    try:
        proc.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        return None
    return time.monotonic() - t0


def kill_hard(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


def signal_run(pytop, target, mode, sig, delay, workdir, limit, rate):
    """One run; returns (exit seconds or None, problems)."""
    base, _, hold = mode.partition("-")
    args = [pytop, "-p", str(target.pid)] + ([HOLDS[hold]] if hold else [])
    if base != "dump":   # --dump reads once and refuses a --rate
        args += ["--rate", str(rate)]
    env = dict(os.environ, TERM="xterm-256color")
    stop = threading.Event()
    drainer = None
    master = None
    if base == "live":
        master, slave = os.openpty()
        proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                start_new_session=True, cwd=workdir)
        os.close(slave)
        drainer = threading.Thread(target=drain, args=(master, stop))
        drainer.start()
    else:
        if base == "record":
            args += ["--record", os.path.join(workdir, "stress.pytop")]
        else:
            args += ["--dump"]
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, start_new_session=True, cwd=workdir)
    problems = []
    try:
        time.sleep(delay)
        if proc.poll() is not None and base != "dump":
            problems.append("pytop ended before the signal (status %s)" % proc.returncode)
            return None, problems
        try:
            proc.send_signal(sig)
        except OSError:
            pass
        took = wait_exit(proc, limit)
        if took is None:
            problems.append("still running %.1f s after %s" % (limit, signal.Signals(sig).name))
            kill_hard(proc)
        else:
            # --record closes the file and exits 0; the live view reports
            # the signal as a shell would (128 + N); --dump may have ended
            # before the signal, or dies of it.
            ok = {"record": (0,), "live": (128 + sig,), "dump": (0, -sig, 128 + sig)}[base]
            if proc.returncode not in ok:
                problems.append("exit status %s after %s, want %s" % (
                    proc.returncode, signal.Signals(sig).name, " or ".join(str(x) for x in ok)))
        if base != "live" and proc.stderr:
            err = proc.stderr.read().decode("utf-8", "replace")
            if "Sanitizer" in err or "runtime error:" in err:
                problems.append("sanitizer report: %s" % err[:2000])
        # The kernel lets a held thread go when its tracer exits; give it
        # a moment, then nothing may be stopped or traced.
        for _ in range(20):
            left = target.problems()
            if not left:
                break
            time.sleep(0.05)
        problems += left
        return took, problems
    finally:
        if proc.poll() is None:
            kill_hard(proc)
        if proc.stderr:
            proc.stderr.close()
        stop.set()
        if drainer:
            drainer.join()
        if master is not None:
            os.close(master)


def read_uvarint(data, pos):
    v, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("cut")
        b = data[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, pos


def last_sample(path):
    """(start_unix_ns, time of the last whole sample in ns or None)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"PYTOPREC":
        raise ValueError("not a recording")
    meta_len, pos = read_uvarint(data, 12)
    end_meta = pos + meta_len
    p = pos
    _, p = read_uvarint(data, p)                      # pid
    for _ in range(2):                                # python, command
        n, p = read_uvarint(data, p)
        p += n
    start, p = read_uvarint(data, p)
    pos = end_meta
    t, last = 0, None
    while pos < len(data):
        try:
            rtype = data[pos]
            length, q = read_uvarint(data, pos + 1)
        except (ValueError, IndexError):
            break
        if q + length > len(data):
            break   # cut short by the kill
        if rtype == 4:
            z, _ = read_uvarint(data, q)
            t = (t + ((z >> 1) ^ -(z & 1))) % (1 << 64)
            last = t
        pos = q + length
    return start, last


def kill_run(pytop, target, delay, workdir, rate):
    """SIGKILL a recorder after delay; returns (loss in s or None, problems)."""
    rec = os.path.join(workdir, "killed.pytop")
    if os.path.exists(rec):
        os.unlink(rec)
    proc = subprocess.Popen([pytop, "-p", str(target.pid), "--rate", str(rate), "--record", rec],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=workdir)
    try:
        deadline = time.time() + 30
        while not os.path.exists(rec) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(delay)
        if proc.poll() is not None:
            return None, ["the recorder ended before the kill (status %s)" % proc.returncode]
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            kill_hard(proc)
    try:
        start, last = last_sample(rec)
    except (OSError, ValueError) as e:
        return None, ["cannot read %s: %s" % (rec, e)]
    if last is None:
        return None, ["no sample in the recording after %.2f s" % delay]
    return killed_at - (start + last) / 1e9, target.problems()


def run_mode(opts, target, mode, runs, rng, workdir, report=print):
    """Returns (values, failures): exit seconds (signals) or losses (kill)."""
    values, failures = [], []
    for i in range(runs):
        if mode == "kill":
            delay = rng.uniform(0.3, 3.0)
            v, probs = kill_run(opts.pytop, target, delay, workdir, opts.kill_rate)
            if v is not None and v > opts.loss_limit:
                probs.append("lost %.3f s (limit %.2f s)" % (v, opts.loss_limit))
            what = "SIGKILL after %.2f s" % delay
        else:
            sig = SIGNALS[rng.choice(opts.signals)]
            # A dump is over quickly: hit it early, often while it holds.
            delay = rng.uniform(0.0, 0.4) if mode.startswith("dump") else rng.uniform(0.2, 2.0)
            v, probs = signal_run(opts.pytop, target, mode, sig, delay, workdir, opts.timeout, opts.rate)
            if v is not None and v > opts.limit:
                probs.append("exit took %.3f s (limit %.2f s)" % (v, opts.limit))
            what = "%s after %.2f s" % (signal.Signals(sig).name, delay)
        if v is not None:
            values.append(v)
        if probs:
            failures.append("%s run %d (%s): %s" % (mode, i + 1, what, "; ".join(probs)))
    return values, failures


def summarize(mode, values, failures):
    what = "loss" if mode == "kill" else "exit"
    if values:
        return "%-14s %d runs: %s max %.3f s, median %.3f s; %d failed" % (
            mode, len(values), what, max(values), statistics.median(values), len(failures))
    return "%-14s no measurement; %d failed" % (mode, len(failures))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pytop", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--runs", type=int, default=100, help="runs per mode")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--signals", default="INT,TERM,HUP")
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--kill-rate", type=float, default=1000, help="sampling rate of the SIGKILL runs")
    ap.add_argument("--limit", type=float, default=1.0, help="longest acceptable exit, s")
    ap.add_argument("--loss-limit", type=float, default=1.0, help="largest acceptable SIGKILL loss, s")
    ap.add_argument("--timeout", type=float, default=10.0, help="give up waiting for an exit after this")
    ap.add_argument("--seed", type=int, default=None)
    opts = ap.parse_args()
    opts.pytop = os.path.abspath(opts.pytop)
    opts.signals = [s.strip().upper().replace("SIG", "") for s in opts.signals.split(",")]
    seed = opts.seed if opts.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    print("seed %d" % seed)
    workdir = tempfile.mkdtemp(prefix="pytop-stress-")
    # A copy: a rebuild of the original during a long run must not make
    # the next start fail.
    copy = os.path.join(workdir, "pytop")
    shutil.copy2(opts.pytop, copy)
    opts.pytop = copy
    target = Target(opts.python, workdir)
    bad = 0
    try:
        for mode in opts.modes.split(","):
            values, failures = run_mode(opts, target, mode, opts.runs, rng, workdir)
            for f in failures:
                print("  " + f)
            print(summarize(mode, values, failures))
            sys.stdout.flush()
            bad += len(failures)
    finally:
        target.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
