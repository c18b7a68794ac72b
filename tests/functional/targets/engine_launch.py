# Run under "pytop --record ... -- python engine_launch.py INFO": spins in
# startup_phase() for 100 ms of CPU time first thing, so a recording that
# has it proves pytop was sampling within the script's first moments; then
# runs for about a second and exits with status 3.
import time
T0 = time.time()  # the script's start on the wall clock

clock = getattr(time, "process_time", None) or time.clock


def startup_phase():
    end = clock() + 0.100
    while clock() < end: pass  # @startup


def main_phase():
    end = time.time() + 1.0
    while time.time() < end: pass  # @main


startup_phase()  # @call-startup
T1 = time.time()
main_phase()  # @call-main

# Imports only now, so nothing runs before startup_phase().
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

with open(sys.argv[1], "w") as f:
    json.dump({"pid": os.getpid(), "t0": T0, "startup_end": T1}, f)
sys.exit(3)
