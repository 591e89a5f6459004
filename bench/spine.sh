#!/usr/bin/env bash
# Speed budgets of the spine (issue 2), measured, not asserted:
#   1. a clean build plus a full grading run of 01–02 (budget ≤ 150 s);
#   2. after a one-line edit in one exercise, `cargo run -p grader -- 01`
#      gives its verdict (budget ≤ 3 s).
# Usage: bench/spine.sh [--skip-clean]. The clean build uses its own target
# dir (target/bench-clean) so your normal build cache is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

seconds() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.1f}")' "$1"; }

if [ "${1:-}" != "--skip-clean" ]; then
    rm -rf target/bench-clean
    start=$(date +%s.%N)
    CARGO_TARGET_DIR=target/bench-clean cargo run -q -p grader -- 01 02 --solutions --seed 1 >/dev/null 2>&1 || true
    echo "clean build + grading 01-02 (solutions): $(seconds "$start") s   (budget 150 s)"
    rm -rf target/bench-clean
fi

# Warm the normal cache, then time a one-line edit of exercise 01's solution
# graded as the student would grade their own crate.
cargo run -q -p grader -- 01 --seed 1 >/dev/null 2>&1 || true
file=exercises/01-attention/src/lib.rs
cp "$file" "$file.bench-backup"
trap 'mv "$file.bench-backup" "$file"' EXIT
for i in 1 2 3; do
    echo "// bench edit $i $(date +%s%N)" >> "$file"
    start=$(date +%s.%N)
    cargo run -q -p grader -- 01 --seed 1 >/dev/null 2>&1 || true
    echo "one-line edit -> verdict of 01, run $i: $(seconds "$start") s   (budget 3 s)"
done
