# One thread keeping the cyclic collector busy: cycles of garbage made in a
# loop and collected by gc.collect(), automatic collection off. The time
# the collections take is measured the way the interpreter reports it
# (gc.callbacks, 3.3+; around gc.collect() on 2.7) and appended every
# 0.05 s to READY_FILE.gc as "unix_time collecting_s".
import gc
import sys
import time

import target_support as ts

_acc = [0.0, None]


def _cb(phase, info):
    if phase == "start":
        _acc[1] = time.time()
    elif _acc[1] is not None:
        _acc[0] += time.time() - _acc[1]
        _acc[1] = None


def make_cycles(n):
    for _ in range(n):
        a = []; b = [a]; a.append(b)  # @make


def churn(out):
    last = 0.0
    callbacks = hasattr(gc, "callbacks")
    if callbacks:
        gc.callbacks.append(_cb)
    while True:
        make_cycles(3000)  # @call-make
        if callbacks:
            gc.collect()  # @collect
        else:
            s = time.time()
            gc.collect()
            _acc[0] += time.time() - s
        ts.arrive("MainThread")
        now = time.time()
        if out and now - last >= 0.05:
            last = now
            with open(out, "a") as f:
                f.write("%.6f %.6f\n" % (now, _acc[0]))


def main():
    gc.disable()
    ts.expect("MainThread")
    churn(sys.argv[1] + ".gc" if len(sys.argv) > 1 else None)  # @call-churn


if __name__ == "__main__":
    main()
