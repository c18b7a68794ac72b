# A process tree known by construction: a multiprocessing pool of
# WORKERS processes, each spinning in pool_work(), and one child started
# with subprocess (a new interpreter, exec'd) spinning in child_work().
# The parent spins in parent_work() and waits for both, forever.
import multiprocessing
import os
import subprocess
import sys
import time

import target_support as ts

WORKERS = 3


def pool_work(seconds):
    end = time.time() + seconds
    while time.time() < end: pass  # @spin-pool
    return os.getpid()


def child_work():
    while True: pass  # @spin-child


def parent_work(seconds):
    end = time.time() + seconds
    while time.time() < end: pass  # @spin-parent


def main():
    ts.expect("MainThread")
    pool = multiprocessing.Pool(WORKERS)
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"])
    # The pool's workers are busy for good: one long task each, renewed.
    pending = [pool.apply_async(pool_work, (3600,)) for _ in range(WORKERS)]
    ts.info(workers=WORKERS, child=child.pid)
    ts.arrive("MainThread")
    while True:
        parent_work(0.05)  # @call-parent


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_work()
    else:
        main()  # @call-main
