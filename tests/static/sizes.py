#!/usr/bin/env python3
"""The size rule: no source file under src/ over 1,000 lines, except
generated tables. A file that grows past it wants splitting by job (see
docs/internals.md). Prints TAP."""
import argparse
import os

LIMIT = 1000
GENERATED = {"src/python/layouts_generated.c"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    args = ap.parse_args()
    files = []
    for root, dirs, names in os.walk(os.path.join(args.srcdir, "src")):
        dirs.sort()
        for n in sorted(names):
            if n.endswith((".c", ".h")):
                files.append(os.path.join(root, n))
    if not files:
        print("not ok 1 - no sources found under %s/src" % args.srcdir)
        print("1..1")
        return 1
    over = []
    for path in files:
        rel = os.path.relpath(path, args.srcdir)
        if rel in GENERATED:
            continue
        with open(path, "rb") as f:
            lines = f.read().count(b"\n")
        if lines > LIMIT:
            over.append((rel, lines))
    print("%sok 1 - %d source files, none over %d lines but generated tables"
          % ("not " if over else "", len(files), LIMIT))
    for rel, lines in over:
        print("# %s: %d lines (split it by job)" % (rel, lines))
    print("1..1")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
