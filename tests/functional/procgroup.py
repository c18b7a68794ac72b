"""Processes the tests start, each the leader of its own process group and
registered until killed and reaped, so that an exception, a timeout or
Ctrl-C never leaves a target (or its children) running. Shared by the
functional tests (harness.py) and the live view's tests
(tests/tui/tuiharness.py).
"""
import os
import signal
import subprocess
import threading


class Registry(object):
    def __init__(self):
        self._lock = threading.Lock()
        self._procs = {}   # pid -> Popen

    def popen(self, cmd, **kw):
        kw.setdefault("start_new_session", True)
        with self._lock:
            # Under the lock so kill_all() cannot miss a process being started.
            p = subprocess.Popen(cmd, **kw)
            self._procs[p.pid] = p
        return p

    def kill_group(self, proc):
        """SIGKILL proc's whole process group and reap proc."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        with self._lock:
            self._procs.pop(proc.pid, None)

    def kill_all(self):
        with self._lock:
            procs = list(self._procs.values())
        for p in procs:
            self.kill_group(p)
