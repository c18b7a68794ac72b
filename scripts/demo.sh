#!/bin/sh
# Build pytop and show it on the bundled demo workload: the live view when
# this runs on a terminal, a few --dump snapshots when it does not (CI).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/build.sh" "$top/build"
py=$(command -v python3)
if [ -t 0 ] && [ -t 1 ]; then
    # pytop starts the demo, and ends it when you quit with q.
    exec "$top/build/pytop" -- "$py" "$top/examples/demo.py"
fi
"$py" "$top/examples/demo.py" &
demo=$!
trap 'kill $demo 2>/dev/null' EXIT INT TERM
sleep 2
for i in 1 2 3; do
    "$top/build/pytop" --dump -p "$demo"
    sleep 1
done
