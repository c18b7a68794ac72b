# N threads (argv[2], default 1000) each waiting in its own small stack,
# plus the main thread spinning, so a sampler has N+1 threads to read at
# every sample. Used by the many-threads test and bench/.
import sys
import threading
import time

import target_support as ts


def worker_wait(ev):
    ev.wait()


def main_spin():
    ts.arrive("MainThread")
    x = 0
    while True:  # @spin
        x += 1


def main():
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    threading.stack_size(256 * 1024)
    ev = threading.Event()
    for i in range(n):
        t = threading.Thread(target=worker_wait, args=(ev,), name="w%d" % i)
        t.daemon = True
        t.start()
    ts.info(threads=n)
    ts.expect("MainThread")
    main_spin()


if __name__ == "__main__":
    main()
