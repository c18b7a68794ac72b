# Reports READY on stdout, keeps a few threads and a deep stack busy for a
# moment, then exits: pytop is attached while the process goes away.
import os
import sys
import threading
import time

DELAY = float(sys.argv[1]) if len(sys.argv) > 1 else 0.05


def sleeper():
    time.sleep(1000)


def busy(depth, deadline):
    if depth > 0:
        return busy(depth - 1, deadline)
    while time.time() < deadline: pass
    os._exit(0)


def main():
    for i in range(3):
        t = threading.Thread(target=sleeper, name="sleeper-%d" % i)
        t.daemon = True
        t.start()
    deadline = time.time() + DELAY
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    busy(200, deadline)


if __name__ == "__main__":
    main()
