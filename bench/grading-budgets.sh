#!/usr/bin/env bash
# The speed budgets of trusted grading (issue 10), measured side by side in
# one run (the machine is shared: compare the numbers of one run, and read
# the load average printed with them):
#   1. edit to verdict: after a one-line edit of exercise 01, the time until
#      `grader 01` has graded it (budget 1 s; 0.55 s before issue 10);
#   2. a full grading run of the eight reference solutions once built
#      (`grader --solutions`, budget 20 s; 19.7 s before issue 10), with each
#      exercise's worker time.
# The per-submission cost of a batch is bench/batch-grading.sh.
#
# Usage: bench/grading-budgets.sh [RUNS=3]. It appends a comment to
# exercises/01-attention/src/lib.rs and restores it: run it where nobody else
# edits that file.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
export CARGO_TERM_COLOR=never
runs=${1:-3}
seconds() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.2f}")' "$1"; }

cargo build -q -p grader
GRADER=$(grader_of)
"$GRADER" 01 --seed 1 >/dev/null 2>&1 || true               # warm the build
"$GRADER" --solutions --seed 1 >/dev/null 2>&1 || true      # warm the solutions' build
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

file=exercises/01-attention/src/lib.rs
cp "$file" "$file.bench-backup"
trap 'mv "$file.bench-backup" "$file"' EXIT
for i in $(seq "$runs"); do
    echo "// bench edit $i $(date +%s%N)" >> "$file"
    start=$(date +%s.%N)
    "$GRADER" 01 --seed 1 >/dev/null 2>&1 || true
    echo "one-line edit -> verdict of 01, run $i: $(seconds "$start") s   (budget 1 s)"
done
mv "$file.bench-backup" "$file"
trap - EXIT

report=$(mktemp)
for i in $(seq "$runs"); do
    start=$(date +%s.%N)
    "$GRADER" --solutions --seed "$i" --format json --output "$report" >/dev/null 2>&1 || true
    took=$(seconds "$start")
    workers=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
ids = " ".join("%s:%.1f" % (e["id"], e["duration_ms"] / 1000) for e in r["exercises"])
print(ids, "(%s/%s, bonus %s/%s)" % (r["score"], r["max_score"], r.get("bonus_score", 0), r.get("bonus_max", 0)))
' "$report")
    echo "grading the solutions, run $i: $took s   (budget 20 s; workers: $workers)"
done
rm -f "$report"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
