# Imported by site at interpreter start-up, before the main module runs
# (from C: on 3.x its root frame is importlib's _find_and_load). Spins so
# that start-up takes a visible share of the run.
import time


def startup_spin(seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n += 1
    return n


startup_spin(1.5)
