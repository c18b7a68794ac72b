#!/bin/sh
# Alternate before/after pytop at 10/50/100 kHz on one 3.12 target, depth 20, 1 thread, 1 s each, 3 rounds.
${PYTHON:-python3.12} bench/target.py --depth 20 > /tmp/rab.out &
T=$!; sleep 1; P=$(awk '{print $2}' /tmp/rab.out)
for round in 1 2 3; do for rate in 10000 50000 100000; do for b in before after; do
  printf "%s %s %s " $round $b $rate
  build-$b/pytop --record /tmp/rab.rec --rate $rate --duration 1 -p $P 2>&1 | grep -o "([0-9.]* Hz achieved"
done; done; done
kill $T
