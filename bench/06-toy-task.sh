#!/usr/bin/env bash
# Speed of exercise 06's grading (issue 4's budget: the whole worker, three
# trainings from scratch included, in <= 10 s on 2 cores; issue 12 asks
# more, see bench/training-budgets.sh), measured, not asserted. Grades the
# reference solution through the launcher (judge and adapter, as students
# are graded), so the figure does not depend on a student's code.
# Usage: bench/06-toy-task.sh [runs] (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
export CARGO_TERM_COLOR=never
runs=${1:-3}
cargo build -q -p grader
GRADER=$(grader_of)
"$GRADER" --solutions 06 --seed 1 >/dev/null 2>&1 || true   # warm the build
report=$(mktemp)
trap 'rm -f "$report"' EXIT

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for seed in $(seq 1 "$runs"); do
    "$GRADER" --solutions 06 --seed "$seed" --format json --output "$report" >/dev/null 2>&1 || true
    echo "exercise 06, seed $seed: $(summarize "$report") (budget 10 s)"
done
# One training alone (the three run side by side in a full run).
"$GRADER" --solutions 06 --seed 1 --case train-from-scratch-1 --format json --output "$report" >/dev/null 2>&1 || true
echo "one training from scratch (300 steps of 256): $(summarize "$report")"
