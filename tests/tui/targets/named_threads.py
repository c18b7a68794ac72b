"""Three threads with names to find in the Threads view: spin-alpha spins in
hot_function, spin-beta in beta_function, MainThread sleeps in main_wait.

    python named_threads.py --ready FILE
"""
import threading
import time

import tui_ready
from tui_ready import hot_function

READY = tui_ready.ready_path()


def beta_function(n):
    total = 0
    i = 0
    while i < n:
        total -= i
        i += 1
    return total


def spin(name, fn):
    fn(1000)
    tui_ready.arrived(READY, name, 3)
    while True:
        fn(100000)


def main_wait():
    tui_ready.arrived(READY, "MainThread", 3)
    while True:
        time.sleep(0.2)


def main():
    for name, fn in (("spin-alpha", hot_function), ("spin-beta", beta_function)):
        t = threading.Thread(target=spin, args=(name, fn), name=name)
        t.daemon = True
        t.start()
    main_wait()


if __name__ == "__main__":
    main()
