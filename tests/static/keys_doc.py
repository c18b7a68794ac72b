#!/usr/bin/env python3
"""The live view's key table in docs/architecture.md is src/ui/keys.c's.

keys.c holds the one table of key bindings; the help screen lists its
named entries, and so does docs/architecture.md, between its "keys:begin"
and "keys:end" markers. This script writes that block from keys.c
(--write-doc) and checks it is current, so the document cannot lag a key
added or changed.

    python3 tests/static/keys_doc.py [--srcdir DIR]   check (TAP); exit 1 when stale
    python3 tests/static/keys_doc.py --write-doc      regenerate the doc's block

Python 3 standard library only.
"""
import argparse
import os
import re
import sys

import _tap

DOC_BEGIN = "<!-- keys:begin (generated from src/ui/keys.c by tests/static/keys_doc.py --write-doc) -->"
DOC_END = "<!-- keys:end -->"
# A named binding: action, scope, the keys as the help shows them, what it does.
BINDING = re.compile(r'(ACT_\w+),\s*(SCOPE_\w+),\s*"((?:[^"\\]|\\.)*)",\s*"((?:[^"\\]|\\.)*)"')
SCOPES = {
    "SCOPE_GLOBAL": "every view",
    "SCOPE_FUNCTIONS": "Functions",
    "SCOPE_THREADS": "Threads",
    "SCOPE_TREE": "Call tree",
    "SCOPE_SOURCE": "Source",
    "SCOPE_MEMORY": "Memory",
    "SCOPE_REPLAY": "replay",
}


def unescape(s):
    return re.sub(r'\\(.)', lambda m: {"n": " ", "t": " "}.get(m.group(1), m.group(1)), s)


def bindings(srcdir):
    with open(os.path.join(srcdir, "src", "ui", "keys.c"), encoding="utf-8") as f:
        text = f.read()
    return [(m.group(2), unescape(m.group(3)), unescape(m.group(4))) for m in BINDING.finditer(text)]


def cell(s):
    return s.replace("|", "\\|")


def doc_block(srcdir):
    rows = bindings(srcdir)
    # Global keys first, then each scope in the order keys.c lists them.
    scopes = ["SCOPE_GLOBAL"] + [s for s in dict.fromkeys(r[0] for r in rows) if s != "SCOPE_GLOBAL"]
    lines = [DOC_BEGIN, "", "| keys | where | what |", "|---|---|---|"]
    for sc in scopes:
        name = SCOPES.get(sc, sc[len("SCOPE_"):].replace("_", " ").capitalize())
        for scope, keys, what in rows:
            if scope == sc:
                lines.append("| %s | %s | %s |" % (
                    " ".join("`%s`" % cell(k) for k in keys.split()), name, cell(what)))
    lines += ["", DOC_END]
    return "\n".join(lines)


def doc_path(srcdir):
    return os.path.join(srcdir, "docs", "architecture.md")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="the key table of docs/architecture.md (TAP on stdout)")
    ap.add_argument("--srcdir", default=os.path.dirname(os.path.dirname(here)))
    ap.add_argument("--write-doc", action="store_true", help="regenerate the key table")
    args = ap.parse_args()
    with open(doc_path(args.srcdir), encoding="utf-8") as f:
        text = f.read()
    i, j = text.find(DOC_BEGIN), text.find(DOC_END)
    block = doc_block(args.srcdir)
    if args.write_doc:
        if i < 0 or j < i:
            sys.stderr.write("keys_doc.py: docs/architecture.md has no %s ... %s block to fill\n"
                             % (DOC_BEGIN, DOC_END))
            return 1
        with open(doc_path(args.srcdir), "w", encoding="utf-8") as f:
            f.write(text[:i] + block + text[j + len(DOC_END):])
        return 0
    n = len(bindings(args.srcdir))
    points = [
        ("src/ui/keys.c has named bindings (%d)" % n,
         [] if n else ["no binding with a name found in src/ui/keys.c: has its table's form changed?"]),
        ("docs/architecture.md lists the keys as src/ui/keys.c binds them",
         ["docs/architecture.md has no key table block: run tests/static/keys_doc.py --write-doc"]
         if i < 0 or j < i else
         [] if text[i:j + len(DOC_END)] == block else
         ["docs/architecture.md's key table differs from src/ui/keys.c: run "
          "tests/static/keys_doc.py --write-doc"]),
    ]
    return _tap.report(points)


if __name__ == "__main__":
    sys.exit(main())
