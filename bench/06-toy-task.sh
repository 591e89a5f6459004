#!/usr/bin/env bash
# Speed budget of exercise 06 (issue 4), measured, not asserted: the whole
# worker, three trainings from scratch included, finishes in <= 10 s in the
# default dev profile on a 2-core machine.
# Usage: bench/06-toy-task.sh [runs] (default 3). Grades the reference
# solution, so the figure does not depend on a student's code.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
runs=${1:-3}

cargo build -q -p check-06-toy-task --no-default-features --features solution
worker=target/debug/check-06-toy-task

seconds() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.2f}")' "$1"; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Wall time is what the budget is about; CPU time (user + sys) shows how
# much of it other work on the machine took.
for seed in $(seq 1 "$runs"); do
    TIMEFORMAT='%R %U %S'
    { times=$( { time "$worker" --fixtures fixtures --seed "$seed" >/tmp/bench-06-records.$$; } 2>&1 ); }
    read -r wall user sys <<<"$times"
    passed=$(grep -c '"status":"passed"' /tmp/bench-06-records.$$ || true)
    total=$(grep -c '"check"' /tmp/bench-06-records.$$ || true)
    cpu=$(python3 -c "print(f'{$user + $sys:.2f}')")
    echo "worker, seed $seed: ${wall} s wall (budget 10 s), ${cpu} s CPU; $passed/$total checks passed"
done
rm -f /tmp/bench-06-records.$$
# The training checks alone, one of the three runs.
start=$(date +%s.%N)
"$worker" --fixtures fixtures --seed 1 --only train-from-scratch-1 >/dev/null
echo "one training from scratch (300 steps of 256): $(seconds "$start") s"
