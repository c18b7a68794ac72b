"""Functional tests of how pytop ends: SIGINT, SIGTERM and SIGHUP at
random moments in the live view, --record and --dump, alone, with --native
and with --blocking, must end it within a second with every thread of the target
running and untraced; a recorder killed with SIGKILL at a random moment
must have lost at most a second of samples.

A bounded number of the runs tools/signal_stress.py makes (which runs
hundreds); the target has threads spinning in Python, sleeping, blocked
in a read and hashing in C.
"""
import os
import random
import sys

from scenarios import Test

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import signal_stress  # noqa: E402

RUNS = 10                # per mode: about 30 s for a live or record test
KILL_RUNS = 12
EXIT_LIMIT = 1.0         # seconds from the signal to the exit
LOSS_LIMIT = 1.0         # seconds of samples a SIGKILL may lose


class Options(object):
    def __init__(self, pytop):
        self.pytop = os.path.abspath(pytop)
        self.signals = ["INT", "TERM", "HUP"]
        self.rate = 100
        self.kill_rate = 1000
        self.limit = EXIT_LIMIT
        self.loss_limit = LOSS_LIMIT
        self.timeout = 10.0


def run_modes(c, modes, runs):
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    target = signal_stress.Target(c.interp.path, c.workdir)
    details, failures = [], []
    try:
        for mode in modes:
            values, fails = signal_stress.run_mode(Options(c.pytop), target, mode, runs, rng, c.workdir)
            failures += fails
            details.append(" ".join(signal_stress.summarize(mode, values, fails).split()))
    finally:
        target.stop()
    if failures:
        c.fail("%d of %d runs failed (seed %d)" % (len(failures), runs * len(modes), seed),
               extra=failures[:20] + details)
    return "; ".join(details)


def t_signals_live(c):
    return run_modes(c, ["live", "live-native", "live-blocking"], RUNS)


def t_signals_record(c):
    return run_modes(c, ["record", "record-native", "record-blocking"], RUNS)


def t_signals_dump(c):
    return run_modes(c, ["dump", "dump-native", "dump-blocking"], RUNS)


def t_sigkill_loss(c):
    return run_modes(c, ["kill"], KILL_RUNS)


TESTS = [
    ("signals_live", t_signals_live),
    ("signals_record", t_signals_record),
    ("signals_dump", t_signals_dump),
    ("sigkill_loss", t_sigkill_loss),
]


def build(interps):
    # One interpreter: how pytop ends does not depend on the version read.
    pick = [i for i in interps if i.at_least(3, 12) and not i.system][:1] or interps[-1:]
    tests = []
    for name, fn in TESTS:
        if not pick:
            tests.append(Test(name, fn, skip="no Python interpreter found"))
        else:
            tests.append(Test("%s[%s]" % (name, pick[0].id), fn, pick[0]))
    return tests
