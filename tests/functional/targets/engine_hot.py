# A hot function and a cold one on the main thread (80/20 of its CPU time)
# and a helper thread sleeping, so every exporter sees two threads.
import time

import target_support as ts

clock = getattr(time, "process_time", None) or time.clock


def hot_function():
    end = clock() + 0.040
    while clock() < end: pass  # @hot


def cold_function():
    end = clock() + 0.010
    while clock() < end: pass  # @cold


def helper_sleep():
    ts.arrive("helper"); time.sleep(100000)  # @helper


def main():
    ts.expect("MainThread", "helper")
    ts.start_thread("helper", helper_sleep)
    ts.arrive("MainThread")
    while True:
        hot_function()  # @call-hot
        cold_function()  # @call-cold


if __name__ == "__main__":
    main()  # @call-main
