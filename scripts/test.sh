#!/bin/sh
# Build pytop with AddressSanitizer and UndefinedBehaviorSanitizer (clang,
# so the fuzz targets are real libFuzzer binaries) and run every test:
# unit tests, fuzzers, the layout regeneration check and the functional
# tests against every CPython found. Ends with 'N passed, N failed'.
#   scripts/test.sh [extra arguments for tests/run_tests.py, e.g. -k nested]
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build-test
# The interpreters pyenv does not provide (Debian sid's in a root, a
# free-threaded 3.13), cached outside the clone: seconds once installed.
# PYTOP_SKIP_INTERPRETERS=1 tests what is there (the rest is named as skipped).
[ -n "${PYTOP_SKIP_INTERPRETERS:-}" ] || "$top/scripts/interpreters.sh"
CC=clang "$top/scripts/build.sh" "$dir" CC=clang --enable-sanitizers
cd "$dir"
# Leak reports at exit are noise for a short-lived tool; errors are not.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
make -s --no-print-directory -j"$(nproc)" check TESTFLAGS="$*"
