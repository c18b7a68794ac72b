#!/bin/sh
# Build pytop and show it on the bundled demo workload.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh" "$top/build"
py=$(command -v python3)
"$py" "$top/examples/demo.py" &
demo=$!
trap 'kill $demo 2>/dev/null' EXIT INT TERM
sleep 2
for i in 1 2 3; do
    "$top/build/pytop" --dump -p "$demo"
    sleep 1
done
