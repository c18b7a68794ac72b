"""One thread spinning in hot_function, now and then calling cold_function.

    python hot_cold.py [--ready FILE] [--exit-after SECONDS]
Runs on Python 2.7 and 3.x; exits 0 after --exit-after seconds (default never).
"""
import sys
import time

import tui_ready
from tui_ready import hot_function


def cold_function(n):
    total = 0
    i = 0
    while i < n:
        total += i
        i += 1
    return total


def main():
    args = sys.argv[1:]
    ready = args[args.index("--ready") + 1] if "--ready" in args else None
    limit = float(args[args.index("--exit-after") + 1]) if "--exit-after" in args else None
    start = time.time()
    rounds = 0
    while limit is None or time.time() - start < limit:
        hot_function(200000)
        if rounds % 10 == 0:
            cold_function(20000)
        rounds += 1
        if rounds == 1:
            tui_ready.arrived(ready, "MainThread", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
