"""A hot function 40 calls deep, and a thread with no Python frame at all.

The main thread recurses 40 levels and spins in deep_leaf; a second
thread runs time.sleep directly (a C function started as the thread, so
it never has a Python frame).

    python deep_and_bare.py --ready FILE
"""
import time

try:
    import _thread as thread
except ImportError:   # 2.7
    import thread

import tui_ready

READY = tui_ready.ready_path()
DEPTH = 40


def deep_leaf():
    tui_ready.arrived(READY, "MainThread", 1)
    n = 0
    while True:
        n += 1


def descend(depth):
    if depth <= 1:
        return deep_leaf()
    return descend(depth - 1)


if __name__ == "__main__":
    thread.start_new_thread(time.sleep, (100000,))
    descend(DEPTH)
