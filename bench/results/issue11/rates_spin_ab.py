# BEFORE=build-a/pytop AFTER=build-b/pytop python3 bench/results/issue11/rates_spin_ab.py [chrt -f 1]
# Alternates two pytop builds (and CPython 3.15's sampler on 3.15) at 10/50/100 kHz, 3 rounds.
import sys, os, statistics
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import cost
bins = {"before": os.environ["BEFORE"], "after": os.environ["AFTER"]}  # two pytop binaries
prefix = sys.argv[1:]  # e.g. chrt -f 1
import tempfile; tmp = tempfile.mkdtemp()
res = {}
for label, argv, root in cost.interpreters(["3.12", "3.15"]):
    t = cost.Target(argv, root, 20, 1)
    try:
        for rnd in range(3):
            for rate in cost.RATES:
                for name, b in bins.items():
                    c0 = cost.children_cpu()
                    hz = cost.record(b, t.pid, rate, 1, tmp, prefix)[1]
                    res.setdefault((label, name, rate), []).append((hz, cost.children_cpu() - c0))
                if label == "3.15":
                    c0 = cost.children_cpu()
                    hz = cost.cpython_sampler(t.pid, rate, 1, tmp, prefix=prefix)
                    res.setdefault((label, "cpython", rate), []).append((hz or 0, cost.children_cpu() - c0))
    finally:
        t.stop()
print("load", cost.loadavg(), "prefix", prefix)
for k in sorted(res):
    v = res[k]
    print(k, "median %.0f Hz" % statistics.median(x[0] for x in v), " ".join("%.0f/%.2fs" % x for x in v))
