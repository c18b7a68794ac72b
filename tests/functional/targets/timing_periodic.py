# Two functions taking turns on a fixed cycle, known by construction:
# func_a for the first A_SHARE of every cycle, func_b for the rest.
#   timing_periodic.py REPORT CYCLE_MS CLOCK [STATUS]
# CLOCK "sleep": the cycle is wall-clock time and each function sleeps
# until its part ends (a timer-driven loop), so the stack is in func_a 75 %
# of the time; "wall": the same, spinning instead of sleeping; "cpu": the
# cycle is the process's CPU time and each function spins, so 75 % of its
# CPU time is spent in func_a however much CPU the machine lets it have.
# With STATUS, the time spent in each function, measured around each call,
# is written there twice a second as "cpu_a cpu_b wall_a wall_b" in
# seconds: CPU time by the process CPU clock (not read when sleeping: its
# system calls are where a thread waiting for a CPU waits), wall time by
# the monotonic clock, which counts a wait for a CPU after a sleep ends
# where the thread waits, inside the function, as a profiler sees it.
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


SLEEP = CLOCK_NAME == "sleep"


def func_a(end):
    if SLEEP:
        now = clock()
        while now < end:
            time.sleep(end - now)  # @sleep-a
            now = clock()
        return
    while clock() < end: pass  # @spin-a


def func_b(end):
    if SLEEP:
        now = clock()
        while now < end:
            time.sleep(end - now)  # @sleep-b
            now = clock()
        return
    while clock() < end: pass  # @spin-b


def no_clock():
    return 0.0


def write_status(*values):
    tmp = STATUS + ".tmp"
    with open(tmp, "w") as f:
        f.write(" ".join("%.6f" % v for v in values) + "\n")
    os.rename(tmp, STATUS)


def main():
    ts.expect("MainThread")
    ts.info(cycle=CYCLE, clock=CLOCK_NAME)
    ts.arrive("MainThread")
    start = clock()
    cpu_a = cpu_b = wall_a = wall_b = 0.0
    cpu_now = no_clock if SLEEP else cpu_clock
    next_status = wall_clock()
    k = 0
    while True:
        base = start + k * CYCLE
        w0, c0 = wall_clock(), cpu_now()
        func_a(base + A_SHARE * CYCLE)  # @call-a
        w1, c1 = wall_clock(), cpu_now()
        func_b(base + CYCLE)  # @call-b
        w2, c2 = wall_clock(), cpu_now()
        cpu_a += c1 - c0
        cpu_b += c2 - c1
        wall_a += w1 - w0
        wall_b += w2 - w1
        k += 1
        # A cycle missed while descheduled is not made up: start from now.
        now = clock()
        if now > start + (k + 1) * CYCLE:
            k = int((now - start) / CYCLE)
        if STATUS and wall_clock() >= next_status:
            write_status(cpu_a, cpu_b, wall_a, wall_b)
            next_status = wall_clock() + 0.5


if __name__ == "__main__":
    main()  # @call-main
