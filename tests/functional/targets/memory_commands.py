# Memory counters target: answers commands from the test through files, so
# the test can compare pytop's reading with what the interpreter itself
# says at that moment. Command file "cmd" in the working directory holds one
# word; the answer goes to "reply-N.json" (N counts commands), written then
# renamed. Commands:
#   state    report gc.get_count(), gc.get_stats() and VmRSS
#   collect  make 1000 reference cycles, gc.collect(), then report
#   alloc    keep ~50 MB of small objects (tuples of two ints), then report
# Runs on Python 2.7 and 3.6+.
import gc
import json
import os
import sys
import time

import target_support as ts

kept = []


def vm_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


def report():
    stats = gc.get_stats() if hasattr(gc, "get_stats") else None
    return {"count": list(gc.get_count()), "stats": stats, "rss": vm_rss()}


class Node(object):
    pass


def make_cycles(n):
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


def serve():
    n = 0
    while True:
        if not os.path.exists("cmd"):
            time.sleep(0.01)
            continue
        with open("cmd") as f:
            word = f.read().strip()
        os.remove("cmd")
        if word == "collect":
            make_cycles(1000)
            gc.collect()
        elif word == "alloc":
            kept.append([(i, i + 1000000) for i in range(1000000, 1400000)])
        answer = report()   # last, so nothing runs between it and the wait
        n += 1
        tmp = "reply-%d.tmp" % n
        with open(tmp, "w") as f:
            json.dump(answer, f)
        os.rename(tmp, "reply-%d.json" % n)


def main():
    ts.expect("MainThread")
    ts.arrive("MainThread")
    serve()


if __name__ == "__main__":
    main()
