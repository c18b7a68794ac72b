"""What the checks in tests/static share (not a check itself: run_tests.py
passes over files whose name starts with '_')."""


def report(points):
    """Print [(what, [error, ...])] as TAP; 1 when any has an error, else 0."""
    failed = 0
    for n, (what, errs) in enumerate(points, 1):
        print("%sok %d - %s" % ("not " if errs else "", n, what))
        for e in errs:
            print("# %s" % e)
        failed += bool(errs)
    print("1..%d" % len(points))
    return 1 if failed else 0
