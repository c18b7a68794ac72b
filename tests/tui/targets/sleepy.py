"""A thread sleeping in sleepy_function and the main thread spinning in
hot_function: their WALL shares are about equal, their CPU shares are not.

    python sleepy.py --ready FILE
"""
import threading
import time

import tui_ready
from tui_ready import hot_function

READY = tui_ready.ready_path()


def sleepy_function():
    tui_ready.arrived(READY, "sleeper", 2)
    while True:
        time.sleep(0.5)


def main():
    t = threading.Thread(target=sleepy_function, name="sleeper")
    t.daemon = True
    t.start()
    first = True
    while True:
        hot_function(200000)
        if first:
            tui_ready.arrived(READY, "MainThread", 2)
            first = False


if __name__ == "__main__":
    main()
