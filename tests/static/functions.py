#!/usr/bin/env python3
"""Function length: no function in the directories listed below over 80
lines (signature to closing brace). The exporters were split to it (one
shared walk, each writer its format in small pieces); add a directory here
once its long functions are split too. Prints TAP."""
import argparse
import os
import re

LIMIT = 80
DIRS = ["src/record"]
SIGNATURE = re.compile(r"^[A-Za-z_][^;{}]*\(")


def long_functions(path):
    """(name, first line, length) of each top-level function over LIMIT."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    out, start, name = [], None, None
    for i, line in enumerate(lines):
        if start is None and line == "{":
            j = i - 1
            while j >= 0 and not SIGNATURE.match(lines[j]):
                j -= 1
            m = re.search(r"(\w+)\s*\(", lines[j]) if j >= 0 else None
            if m:
                start, name = j, m.group(1)
        elif start is not None and line == "}":
            if i - start + 1 > LIMIT:
                out.append((name, start + 1, i - start + 1))
            start = None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    args = ap.parse_args()
    n = failed = 0
    for d in DIRS:
        full = os.path.join(args.srcdir, d)
        files = sorted(f for f in os.listdir(full) if f.endswith(".c")) if os.path.isdir(full) else []
        bad = []
        for f in files:
            bad += [(f, name, line, length) for name, line, length in long_functions(os.path.join(full, f))]
        n += 1
        print("%sok %d - %s: %d files, no function over %d lines" % ("not " if bad or not files else "", n, d,
                                                                   len(files), LIMIT))
        for f, name, line, length in bad:
            print("# %s/%s:%d %s: %d lines (split it)" % (d, f, line, name, length))
        if not files:
            print("# no C files in %s" % full)
        failed += bool(bad or not files)
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
