# Two functions taking turns on a fixed cycle, known by construction:
# func_a for the first A_SHARE of every cycle, func_b for the rest.
#   timing_periodic.py REPORT CYCLE_MS CLOCK [STATUS]
# CLOCK "wall": the cycle is wall-clock time, so at any instant the stack
# is in func_a 75 % of the time (a timer-driven loop); "cpu": the cycle is
# the process's CPU time, so 75 % of its CPU time is spent in func_a
# however much CPU the machine lets it have. With STATUS, the CPU time
# spent in each function (measured around each call by the process CPU
# clock) is written there twice a second as "cpu_a cpu_b" in seconds.
import os
import sys
import time

import target_support as ts

CYCLE = float(sys.argv[2]) / 1000.0
CLOCK_NAME = sys.argv[3]
STATUS = sys.argv[4] if len(sys.argv) > 4 else None
A_SHARE = 0.75

cpu_clock = getattr(time, "process_time", None) or time.clock
wall_clock = getattr(time, "monotonic", None) or time.time
clock = cpu_clock if CLOCK_NAME == "cpu" else wall_clock


def func_a(end):
    while clock() < end: pass  # @spin-a


def func_b(end):
    while clock() < end: pass  # @spin-b


def write_status(cpu_a, cpu_b):
    tmp = STATUS + ".tmp"
    with open(tmp, "w") as f:
        f.write("%.6f %.6f\n" % (cpu_a, cpu_b))
    os.rename(tmp, STATUS)


def main():
    ts.expect("MainThread")
    ts.info(cycle=CYCLE, clock=CLOCK_NAME)
    ts.arrive("MainThread")
    start = clock()
    cpu_a = cpu_b = 0.0
    next_status = wall_clock()
    k = 0
    while True:
        base = start + k * CYCLE
        c0 = cpu_clock()
        func_a(base + A_SHARE * CYCLE)  # @call-a
        c1 = cpu_clock()
        func_b(base + CYCLE)  # @call-b
        c2 = cpu_clock()
        cpu_a += c1 - c0
        cpu_b += c2 - c1
        k += 1
        # A cycle missed while descheduled is not made up: start from now.
        now = clock()
        if now > start + (k + 1) * CYCLE:
            k = int((now - start) / CYCLE)
        if STATUS and wall_clock() >= next_status:
            write_status(cpu_a, cpu_b)
            next_status = wall_clock() + 0.5


if __name__ == "__main__":
    main()  # @call-main
