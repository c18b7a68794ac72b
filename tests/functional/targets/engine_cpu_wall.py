# One thread spinning, one sleeping in time.sleep: the sleeper holds almost
# no CPU time but half of the wall time across the two threads.
import time

import target_support as ts


def sleep_forever():
    ts.arrive("sleeper"); time.sleep(100000)  # @sleep


def spin_forever():
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def main():
    ts.expect("MainThread", "sleeper")
    ts.start_thread("sleeper", sleep_forever)
    spin_forever()  # @call-spin


if __name__ == "__main__":
    main()  # @call-main
