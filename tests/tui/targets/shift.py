"""One thread spinning in before_work until the file given by --switch
exists, then in after_work: a change for the Functions view's baseline.

    python shift.py [--ready FILE] --switch FILE
Runs on Python 2.7 and 3.x.
"""
import os
import sys

import tui_ready


def spin(n):
    total = 0
    i = 0
    while i < n:
        total += i * i
        i += 1
    return total


def before_work():
    return spin(100000)


def after_work():
    return spin(100000)


def main():
    args = sys.argv[1:]
    ready = args[args.index("--ready") + 1] if "--ready" in args else None
    switch = args[args.index("--switch") + 1]
    rounds = 0
    while True:
        if os.path.exists(switch):
            after_work()
        else:
            before_work()
        rounds += 1
        if rounds == 1:
            tui_ready.arrived(ready, "MainThread", 1)


if __name__ == "__main__":
    sys.exit(main())
