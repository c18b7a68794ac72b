"""Readiness report for the TUI test targets (Python 2.7 and 3.x), and what
they share: the --ready argument and hot_function.

A target calls ready(path, name=thread, ...) once every part it promised is
in its steady state; the test runner waits for the JSON file before it
points pytop at the process. Thread ids are the OS ids pytop shows.
"""
import json
import os
import sys
import threading

_lock = threading.Lock()
_tids = {}


def native_tid():
    get = getattr(threading, "get_native_id", None)
    if get is not None:
        return get()
    try:
        import ctypes
        import platform
        nr = {"x86_64": 186, "aarch64": 178, "i686": 224, "i386": 224}.get(platform.machine())
        return int(ctypes.CDLL(None).syscall(nr)) if nr else None
    except Exception:
        return None


def arrived(path, name, parts):
    """Called by each part (thread) once it runs; the last one writes path."""
    with _lock:
        _tids[name] = native_tid()
        if len(_tids) < parts or not path:
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"pid": os.getpid(), "tids": _tids}, f)
        os.rename(tmp, path)


def ready_path():
    """The FILE of --ready FILE on the command line, or None."""
    return sys.argv[sys.argv.index("--ready") + 1] if "--ready" in sys.argv else None


def hot_function(n):
    total = 0
    i = 0
    while i < n:
        total += i * i
        i += 1
    return total
