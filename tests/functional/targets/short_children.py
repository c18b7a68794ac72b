# Short-lived children known by construction: CHILDREN interpreters run one
# after another, each spinning in short_child() for CHILD_SECONDS, then the
# parent exits. Each child writes its pid to the report directory.
import os
import subprocess
import sys
import time

import target_support as ts

CHILDREN = 8
CHILD_SECONDS = 0.4
START_SECONDS = 3.0


def short_child(seconds):
    end = time.time() + seconds
    while time.time() < end: pass  # @spin-child


def main():
    ts.expect("MainThread")
    ts.info(children=CHILDREN)
    ts.arrive("MainThread")
    # The runner attaches pytop once this is ready: give it time to start
    # sampling, on a loaded machine, before the first child.
    time.sleep(START_SECONDS)
    pids = []
    for _ in range(CHILDREN):
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"])
        pids.append(p.pid)
        p.wait()
    with open(sys.argv[1] + ".children", "w") as f:
        f.write(" ".join(str(p) for p in pids))


if __name__ == "__main__":
    if "--child" in sys.argv:
        short_child(CHILD_SECONDS)
    else:
        main()  # @call-main
