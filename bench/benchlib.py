"""What bench/cost.py and bench/syscalls.py share: bench/target.py run at a
depth, and counting system calls by kind with `perf stat`."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class Target(object):
    """bench/target.py at a depth, until stop().  Inside a root the script
    must be too.  With own_group the target leads a process group of its own
    and stop() kills the whole group; settle is how long to wait once ready."""

    def __init__(self, argv, root, depth, threads, prefix="pytop-bench-", own_group=False, settle=0):
        self.own_group = own_group
        self.tmp = tempfile.mkdtemp(prefix=prefix, dir=os.path.join(root, "tmp") if root else None)
        shutil.copy(os.path.join(HERE, "target.py"), self.tmp)
        script = os.path.join(self.tmp, "target.py")
        if root:
            script = "/" + os.path.relpath(script, root)
        self.p = subprocess.Popen(argv + [script, "--depth", str(depth), "--threads", str(threads)],
                                  stdout=subprocess.PIPE, universal_newlines=True,
                                  start_new_session=own_group)
        line = self.p.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError("target did not start: %r" % line)
        self.pid = int(line.split()[1])
        if settle:
            time.sleep(settle)

    def stop(self):
        if self.p.poll() is None:
            if self.own_group:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except OSError:
                    pass
            else:
                self.p.send_signal(signal.SIGKILL)
        self.p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def perf_stat_prefix(kinds):
    """The argv prefix that counts all system calls and those of each kind."""
    events = ["raw_syscalls:sys_enter"] + ["syscalls:sys_enter_" + k for k in kinds]
    return ["perf", "stat", "-x,", "-e", ",".join(events), "--"]


def perf_stat_counts(stderr):
    """{kind: count, "all": count} from the stderr of a perf_stat_prefix() run."""
    counts = {}
    for line in stderr.splitlines():
        f = line.split(",")
        if len(f) > 3 and f[0].strip().isdigit():
            key = "all" if f[2].startswith("raw_syscalls") else f[2].split("sys_enter_")[-1]
            counts[key] = int(f[0])
    return counts


def pyenv_pythons(versions, wanted):
    """[(version, [path], None)] of pyenv's newest pythonX.Y of each version
    (those in wanted, or all when wanted is empty); a SKIP on stderr for
    each one missing."""
    out = []
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for v in versions:
        if wanted and v not in wanted:
            continue
        found = sorted(glob.glob(os.path.join(pyenv, "versions", v + ".*", "bin", "python" + v)))
        if found:
            out.append((v, [found[-1]], None))
        else:
            print("SKIP python%s: not under %s/versions" % (v, pyenv), file=sys.stderr)
    return out
