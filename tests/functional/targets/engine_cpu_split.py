# CPU split known by construction: func_a spins for 30 ms of process CPU
# time, then func_b for 10 ms, forever, so func_a holds 75 % of the CPU time
# and func_b 25 % however much CPU the machine lets the process have.
import time

import target_support as ts

# Process CPU time: time.process_time on 3.3+; time.clock is the same clock
# on Linux under 2.7.
clock = getattr(time, "process_time", None) or time.clock

A_SECONDS = 0.030
B_SECONDS = 0.010


def func_a():
    end = clock() + A_SECONDS
    while clock() < end: pass  # @spin-a


def func_b():
    end = clock() + B_SECONDS
    while clock() < end: pass  # @spin-b


def main():
    ts.expect("MainThread")
    ts.info(a_seconds=A_SECONDS, b_seconds=B_SECONDS)
    ts.arrive("MainThread")
    while True:
        func_a()  # @call-a
        func_b()  # @call-b


if __name__ == "__main__":
    main()  # @call-main
