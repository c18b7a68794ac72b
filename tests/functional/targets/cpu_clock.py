# Three threads whose CPU time the kernel counts exactly: one spinning for
# good, one in bursts of about 2 ms with 6 ms asleep between them (a
# context switch at each end of a burst), one asleep. The test reads each
# thread's own CPU time from /proc and sets pytop's against it.
import time

import target_support as ts


def spin_forever():
    n = 0
    while True: n += 1; _ = n == 20000 and ts.arrive("MainThread")  # @spin


def burst_work():
    ts.arrive("burst")
    while True:
        end = time.time() + 0.002
        while time.time() < end: pass  # @burst
        time.sleep(0.006)  # @nap


def sleep_forever():
    ts.arrive("sleeper"); time.sleep(100000)  # @sleep


def main():
    ts.expect("MainThread", "burst", "sleeper")
    ts.start_thread("burst", burst_work)
    ts.start_thread("sleeper", sleep_forever)
    spin_forever()  # @call-spin


if __name__ == "__main__":
    main()  # @call-main
