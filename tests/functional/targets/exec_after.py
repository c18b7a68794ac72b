# Runs before_exec() for argv[3] seconds, then execs: argv[2] "python"
# execs this interpreter on this script again (which then runs
# after_exec() for ever), "sleep" execs /bin/sleep 30.
import os
import sys
import time

import target_support as ts


def after_exec():
    while True:  # @after
        pass


def before_exec(seconds):
    end = time.time() + seconds
    while time.time() < end:  # @before
        pass


def main():
    what = sys.argv[2]
    if what == "after":
        after_exec()
        return
    ts.arrive("MainThread")
    before_exec(float(sys.argv[3]))
    sys.stdout.flush()
    if what == "python":
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "-", "after"])
    os.execv("/bin/sleep", ["/bin/sleep", "30"])


if __name__ == "__main__":
    ts.expect("MainThread")
    main()
