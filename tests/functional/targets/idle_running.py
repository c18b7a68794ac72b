# One thread spinning (running, holds the GIL) and two sleeping (idle).
import time

import target_support as ts


def idle_forever(key):
    ts.arrive(key); time.sleep(1000)  # @idle


def spin_main():
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def main():
    ts.expect("MainThread", "idler-1", "idler-2")
    ts.start_thread("idler-1", idle_forever, "idler-1")
    ts.start_thread("idler-2", idle_forever, "idler-2")
    spin_main()  # @call-spin


if __name__ == "__main__":
    main()  # @call-main
