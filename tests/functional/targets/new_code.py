# Generates new functions without end: every call compiles a new function
# with its own name and file, so every sample has a frame and a stack the
# dictionary has never seen. The dictionary must stay bounded and say what
# it dropped.
import time

import target_support as ts


def make(i):
    src = "def f_%d(g):\n    return g()\n" % i
    ns = {}
    exec(compile(src, "gen_%d.py" % i, "exec"), ns)
    return ns["f_%d" % i]


def leaf():
    t = time.time() + 0.0002
    while time.time() < t:
        pass


def main():
    ts.arrive("MainThread")
    i = 0
    while True:  # @loop
        f = make(i)
        g = make(i + 1)
        f(lambda: g(leaf))
        i += 2


if __name__ == "__main__":
    main()
