"""Start-up, main module and shutdown, each taking a visible share.

Run with targets/startup on PYTHONPATH (its sitecustomize spins 1.5 s at
start-up). The main module spins in main_work for 2 s; at exit, an atexit
callback that is C code (time.sleep) holds the interpreter 1.5 s with no
Python frame.

    PYTHONPATH=targets/startup python phases.py
"""
import atexit
import time


def main_work(seconds):
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n += 1
    return n


atexit.register(time.sleep, 1.5)
main_work(2.0)
