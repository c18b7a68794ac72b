# -*- coding: utf-8 -*-
"""Readiness signalling shared by the functional-test targets.

Runs on Python 2.7 and 3.6+. A target declares which parts must reach
their steady state (expect), each part calls arrive() from the line it
will stay on, and the last arrival writes a JSON report to argv[1] (or
prints READY plus the report on stdout when no path was given). The
runner attaches pytop only after that.

The report carries the pid, each part's OS thread id and thread name and
anything the target adds with info(), e.g. the code names the parser
produced, so the runner never has to guess them.
"""
from __future__ import print_function

import json
import os
import sys
import threading

_lock = threading.Lock()
_expected = set()
_arrived = {}
_info = {}
_done = [False]


def native_tid():
    # threading.get_native_id is 3.8+; older versions need the syscall.
    get = getattr(threading, "get_native_id", None)
    if get is not None:
        return get()
    try:
        import ctypes
        import platform
        nr = {"x86_64": 186, "aarch64": 178, "i686": 224, "i386": 224}.get(platform.machine())
        if nr is None:
            return None
        return int(ctypes.CDLL(None).syscall(nr))
    except Exception:
        return None


def expect(*keys):
    with _lock:
        _expected.update(keys)


def info(**kwargs):
    with _lock:
        _info.update(kwargs)


def _code_names(func):
    code = func.__code__
    return {"name": code.co_name, "qualname": getattr(code, "co_qualname", None)}


def names(**funcs):
    """Record co_name/co_qualname of functions as the parser produced them."""
    info(functions=dict((k, _code_names(f)) for k, f in funcs.items()))


def arrive(key):
    t = threading.current_thread()
    with _lock:
        if _done[0] or key in _arrived:
            return
        _arrived[key] = {"tid": native_tid(), "name": t.name}
        if not _expected.issubset(_arrived):
            return
        _done[0] = True
        report = {"ready": True, "pid": os.getpid(), "threads": _arrived,
                  "python": list(sys.version_info[:3]), "info": _info}
        data = json.dumps(report, sort_keys=True)
    path = sys.argv[1] if len(sys.argv) > 1 else None
    if path:
        # Write then rename so the runner never reads a half-written report.
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(data)
        os.rename(tmp, path)
    else:
        sys.stdout.write("READY " + data + "\n")
        sys.stdout.flush()


def start_thread(name, func, *args):
    t = threading.Thread(target=func, args=args, name=name)
    t.daemon = True
    t.start()
    return t
