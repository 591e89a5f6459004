#!/usr/bin/env bash
# Cost of grading a class with `grade --submissions` (issue 7), measured:
#   1. the first submission, with an empty build cache (it compiles candle);
#   2. N further submissions with the cache warm: wall time / N is the cost
#      per submission after the first.
# The submissions are synthetic: the stubs with the first k exercises solved
# (copied from solutions/), k varying per student, and a comment that makes
# every student's files differ, so nothing is shared but the dependencies.
#
# Usage: bench/batch-grading.sh [N=4] [JOBS=2] [--keep-cache]
# Exercises to grade can be narrowed with EXERCISES="01 02 03".
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
export CARGO_TERM_COLOR=never
N=${1:-4}
JOBS=${2:-2}
KEEP=${3:-}
EXERCISES=${EXERCISES:-}
work=target/bench-batch
seconds() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.1f}")' "$1"; }

rm -rf "$work/submissions" "$work/first" "$work/out" "$work/graded-first"
if [ "$KEEP" != "--keep-cache" ]; then rm -rf "$work/cargo-target"; fi
mkdir -p "$work/submissions" "$work/first"

dirs=$(python3 -c 'import yaml;print(" ".join(e["dir"] for e in yaml.safe_load(open("exercises/info.yaml"))["exercises"]))' 2>/dev/null \
    || ls exercises | grep -E '^[0-9]' | tr '\n' ' ')
make_student() {   # make_student DEST INDEX
    local dest=$1 index=$2 k=0
    mkdir -p "$dest"
    cp -r exercises "$dest/"
    for dir in $dirs; do
        k=$((k + 1))
        if [ $k -le $((index % 9)) ] && [ -d "solutions/$dir/src" ]; then
            cp -r "solutions/$dir/src/." "$dest/exercises/$dir/src/"
        fi
        if [ -f "$dest/exercises/$dir/src/lib.rs" ]; then
            echo "// student $index" >> "$dest/exercises/$dir/src/lib.rs"
        fi
    done
}
make_student "$work/first/student-00" 8
for i in $(seq 1 "$N"); do
    make_student "$work/submissions/student-$(printf %02d "$i")" "$i"
done

cargo build -q -p grader
GRADER=$(grader_of)
grade() { "$GRADER" grade $EXERCISES --seed 1 --work "$work/work" --cargo-target "$work/cargo-target" "$@"; }

start=$(date +%s.%N)
grade --submissions "$work/first" --out "$work/graded-first" --jobs 1 >/dev/null
first=$(seconds "$start")
echo "first submission (build cache $( [ "$KEEP" = --keep-cache ] && echo kept || echo empty )): $first s"

start=$(date +%s.%N)
grade --submissions "$work/submissions" --out "$work/out" --jobs "$JOBS" >/dev/null
total=$(seconds "$start")
per=$(python3 -c "print(f'{$total/$N:.1f}')")
echo "$N further submissions, $JOBS at a time: $total s, so $per s per submission after the first"
echo "gradebook: $work/out/gradebook.csv"
column -s, -t < "$work/out/gradebook.csv" | cut -c1-160
