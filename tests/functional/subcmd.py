"""pytop record and pytop export (the subcommands) against a target, failing the
test on an error or a sanitizer report: shared by gil_gc.py and exports_timeline.py."""

import os


def record(c, tgt, name, seconds, extra=(), timeout=60):
    """Path of a new recording in the work directory."""
    rec = os.path.join(c.workdir, name)
    run = c.pytop_run(["record", "-d", seconds, "-o", rec, "-p", str(tgt.pid)] + list(extra), timeout=timeout)
    if run.rc != 0 or run.sanitizer_report():
        c.fail("pytop record failed", run, tgt)
    return rec


def export(c, rec, fmt, *extra, tgt=None):
    run = c.pytop_run(["export", rec, "--format", fmt] + list(extra), timeout=60)
    if run.rc != 0 or run.sanitizer_report():
        c.fail("pytop export --format %s %s failed" % (fmt, " ".join(extra)), run, tgt)
    return run
