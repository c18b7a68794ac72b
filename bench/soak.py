#!/usr/bin/env python3
"""Memory soak: pytop's live view and --record, side by side at 1 kHz, on a
target that makes new functions without end (tests/functional/targets/
new_code.py), for --minutes; pytop's resident memory is read every --every
seconds and printed as a curve, with what each pytop said it cut.

  bench/soak.py --pytop build/pytop --python python3.12 --minutes 30
  bench/soak.py ... --dict-max 100000    the dictionary's bound lowered
                                         (PYTOP_DICT_MAX) so it is reached

The target runs under nice 19 so that it yields to other work on a shared
machine; pytop runs at normal priority.
"""
import argparse
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = os.path.join(HERE, "..", "tests", "functional", "targets")


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pytop", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--every", type=float, default=30, help="seconds between memory readings")
    ap.add_argument("--rate", default="1000")
    ap.add_argument("--dict-max", type=int, default=0)
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="pytop-soak-")
    ready = os.path.join(work, "ready.json")
    target = subprocess.Popen(["nice", "-n", "19", a.python, os.path.join(TARGETS, "new_code.py"), ready],
                              cwd=TARGETS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not os.path.exists(ready):
        time.sleep(0.05)
    time.sleep(0.2)
    env = dict(os.environ)
    if a.dict_max:
        env["PYTOP_DICT_MAX"] = str(a.dict_max)
    seconds = int(a.minutes * 60)
    rec_path = os.path.join(work, "soak.pytop")
    rec_err = open(os.path.join(work, "record.err"), "w+")
    recorder = subprocess.Popen([a.pytop, "--record", rec_path, "--rate", a.rate, "--duration", str(seconds),
                                 "-p", str(target.pid)], env=env, stderr=rec_err, stdout=rec_err)
    live_pid, fd = pty.fork()
    if live_pid == 0:
        env["TERM"] = "xterm"
        os.execve(a.pytop, [a.pytop, "--rate", a.rate, "-p", str(target.pid)], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))

    screen = b""
    t0 = time.time()
    next_read = t0
    print("# %s, rate %s Hz, dict max %s; columns: seconds, live view RSS KiB, recorder RSS KiB"
          % (time.strftime("%Y-%m-%d %H:%M:%S"), a.rate, a.dict_max or "default"))
    while time.time() - t0 < seconds:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                screen = (screen + os.read(fd, 65536))[-100000:]
            except OSError:
                break
        if time.time() >= next_read:
            print("%6.0f %8s %8s" % (time.time() - t0, rss_kib(live_pid), rss_kib(recorder.pid)))
            sys.stdout.flush()
            next_read += a.every
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", " ", screen.decode("utf-8", "replace"))
    cut = re.findall(r"dict full, stacks cut\s+(\S+)", text)
    os.write(fd, b"q")
    time.sleep(1)
    try:
        os.kill(live_pid, signal.SIGKILL)
    except OSError:
        pass
    recorder.wait()
    target.kill()
    target.wait()
    rec_err.seek(0)
    print("# live view header: %s" % ("dict full, stacks cut %s" % cut[-1] if cut else "nothing cut"))
    for line in rec_err.read().splitlines():
        print("# recorder: %s" % line)


if __name__ == "__main__":
    main()
