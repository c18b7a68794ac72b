# Deep recursion, then a spin in the innermost call. The depth is 500, or
# the argument after the ready file.
import sys

import target_support as ts

DEPTH = int(sys.argv[2]) if len(sys.argv) > 2 else 500


def recurse(depth):
    if depth <= 1:
        n = 0
        while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin
    recurse(depth - 1)  # @recurse


def main():
    sys.setrecursionlimit(DEPTH * 4 + 1000)
    ts.expect("MainThread")
    ts.info(depth=DEPTH)
    recurse(DEPTH)  # @call-recurse


if __name__ == "__main__":
    main()  # @call-main
