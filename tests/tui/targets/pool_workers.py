"""A multiprocessing pool of three workers, each spinning in worker_spin;
the parent spins in parent_spin between checks on them.

    python pool_workers.py --ready FILE
The ready file names the workers' pids (key "workers"). Python 3.
"""
import json
import multiprocessing
import os
import sys
import time

WORKERS = 3


def worker_spin(seconds):
    end = time.time() + seconds
    total = 0
    while time.time() < end:
        total += 1
    return os.getpid()


def parent_spin(seconds):
    end = time.time() + seconds
    total = 0
    while time.time() < end:
        total += 1
    return total


def main():
    ready = sys.argv[sys.argv.index("--ready") + 1] if "--ready" in sys.argv else None
    pool = multiprocessing.Pool(WORKERS)
    pids = sorted(set(c.pid for c in multiprocessing.active_children()))
    busy = [pool.apply_async(worker_spin, (3600,)) for _ in range(WORKERS)]
    parent_spin(0.2)
    if ready:
        # As tui_ready writes it, with the workers' pids.
        tmp = ready + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"pid": os.getpid(), "tids": {}, "workers": pids}, f)
        os.rename(tmp, ready)
    while True:
        parent_spin(0.05)
        if any(r.ready() for r in busy):
            break
    pool.terminate()


if __name__ == "__main__":
    main()
