#!/usr/bin/env python
# -*- coding: utf-8 -*-
"""pytop benchmark target (Python 2.7 and 3.x).

Every thread recurses until its Python stack is exactly --depth frames deep
(counting the frames below it: <module>, threading's bootstrap frames...),
then spins in a CPU-bound loop, or sleeps with --idle (all threads but the
main one).

  target.py --depth 50 --threads 10          run until killed
  target.py --depth 50 --threads 10 --idle   one spinning thread, 9 sleeping
  target.py --depth 50 --work 20000000       fixed CPU work on the main
                                             thread, then print the time
                                             it took and exit

When every thread has reached its depth the target prints "ready PID" on
stdout (and creates --ready-file if given), so a benchmark knows when the
stacks are in place. With --work it prints, when the work is done:

  elapsed 4.987654 cpu 4.981000 iterations 20000000

(wall seconds and the process's CPU seconds, user + system, for the work
loop only: start-up is not counted).
"""
from __future__ import print_function

import argparse
import os
import sys
import threading
import time

try:
    _clock = time.perf_counter
except AttributeError:          # Python 2.7
    _clock = time.time

try:
    _range = xrange             # Python 2.7: no list of n ints
except NameError:
    _range = range


def cpu_seconds():
    t = os.times()
    return t[0] + t[1]


def current_depth():
    """Python frames on this thread's stack, the caller's included."""
    f = sys._getframe(1)
    n = 0
    while f is not None:
        n += 1
        f = f.f_back
    return n


def spin(started=None):
    """Spin for ever: a CPU-bound loop at the leaf of the stack."""
    if started:
        started()
    x = 0
    while True:
        for i in _range(1000):
            x = (x * 31 + i) & 0xFFFF


def idle(started=None):
    if started:
        started()
    while True:
        time.sleep(1.0)


def work(n):
    """A fixed amount of CPU work, n loop iterations, timed here so that
    start-up is not counted. This frame is the leaf of the stack."""
    c0, t0 = cpu_seconds(), _clock()
    x = 0
    for i in _range(n):
        x = (x * 31 + i) & 0xFFFF
    t1, c1 = _clock(), cpu_seconds()
    print("elapsed %.6f cpu %.6f iterations %d" % (t1 - t0, c1 - c0, n))
    sys.stdout.flush()
    return x


def descend(remaining, leaf, arg, reached):
    # Each level adds one frame. At the bottom the stack is `depth` frames
    # deep, this frame included.
    if remaining > 1:
        return descend(remaining - 1, leaf, arg, reached)
    reached()
    return leaf(arg)


def at_depth(depth, leaf, arg, reached):
    """Call leaf(arg) with the stack exactly `depth` frames deep (the
    leaf's own frame included), or as deep as this caller is if deeper."""
    here = current_depth()      # frames including this one
    # descend() adds (depth - here - 1) frames down to and including the
    # bottom descend(); the leaf adds one more.
    remaining = depth - here - 1
    if remaining < 1:
        reached()
        return leaf(arg)
    return descend(remaining, leaf, arg, reached)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=10,
                   help="Python frames on every thread's stack (default 10)")
    p.add_argument("--threads", type=int, default=1,
                   help="threads in all, the main thread included (default 1)")
    p.add_argument("--idle", action="store_true",
                   help="all threads but the main one sleep instead of spinning")
    p.add_argument("--work", type=int, default=0,
                   help="do N iterations of CPU work on the main thread, print "
                        "the elapsed time and exit (default: spin until killed)")
    p.add_argument("--ready-file", default=None,
                   help="create this file once every thread is at its depth")
    a = p.parse_args()

    depth = max(a.depth, 1)
    nthreads = max(a.threads, 1)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + 100))
    if nthreads > 1:
        # 512 KiB thread stacks: plenty for 200 frames, and 100 threads stay
        # small.
        try:
            threading.stack_size(512 * 1024)
        except (ValueError, RuntimeError):
            pass

    lock = threading.Lock()
    state = {"reached": 0, "started": 0}
    all_there = threading.Event()
    all_started = threading.Event()

    def started():
        with lock:
            state["started"] += 1
            if state["started"] == nthreads - 1:
                all_started.set()

    def reached():
        with lock:
            state["reached"] += 1
            if state["reached"] == nthreads:
                all_there.set()

    # Workers wait at the bottom of their stacks until every thread is
    # there: 100 threads that spun at once would fight the starting ones for
    # the GIL, and starting them would take minutes.
    go = threading.Event()

    def reached_worker():
        reached()
        while not go.wait(0.05):
            pass

    def worker(idx):
        at_depth(depth, idle if a.idle else spin, started, reached_worker)

    for i in range(1, nthreads):
        t = threading.Thread(target=worker, args=(i,), name="worker-%d" % i)
        t.daemon = True
        t.start()

    def announce():
        if a.ready_file:
            with open(a.ready_file, "w") as f:
                f.write("%d\n" % os.getpid())
        print("ready %d" % os.getpid())
        sys.stdout.flush()

    # The other threads first, so that "ready" means every stack is in
    # place; the main thread announces from the bottom of its own.
    def main_at_bottom():
        while not all_there.wait(0.05):
            pass
        go.set()
        # ...and are back in their leaf functions, at their depth.
        if nthreads > 1:
            while not all_started.wait(0.05):
                pass
        announce()

    def reached_main():
        reached()
        main_at_bottom()

    if a.work > 0:
        at_depth(depth, work, a.work, reached_main)
    else:
        at_depth(depth, spin, None, reached_main)
    return 0


if __name__ == "__main__":
    sys.exit(main())
