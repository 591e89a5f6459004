#!/usr/bin/env bash
# `watch` latency (issue 7, budget 3 s): starts `grader watch`, saves a
# one-line change to an exercise's file, and times the save → verdict line.
# Three saves, then one burst of two saves 0.3 s apart (the second must get
# its own verdict: no save is missed).
#
# Usage: bench/watch-latency.sh [EXERCISE_DIR=01-attention]
# It edits exercises/<dir>/src/lib.rs and restores it; run it in a checkout
# where nobody else is editing that file (a released copy, say).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
export CARGO_TERM_COLOR=never
dir=${1:-01-attention}
file=exercises/$dir/src/lib.rs
log=$(mktemp)
now() { python3 -c 'import time; print(time.time())'; }
verdicts() { grep -c '^verdict' "$log" || true; }

cargo build -q -p grader
GRADER=$(grader_of)
"$GRADER" "${dir%%-*}" --seed 1 >/dev/null 2>&1 || true   # warm the build
cp "$file" "$file.bench-backup"
"$GRADER" watch --seed 1 >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; mv "$file.bench-backup" "$file"; rm -f "$log"; }
trap cleanup EXIT
until grep -q '^Watching' "$log"; do sleep 0.05; done

wait_verdicts() {   # wait_verdicts COUNT
    local deadline=$(( $(date +%s) + 120 ))
    until [ "$(verdicts)" -ge "$1" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "no verdict after 120 s" >&2; cat "$log" >&2; exit 1; }
        sleep 0.02
    done
}
for i in 1 2 3; do
    before=$(verdicts)
    start=$(now)
    echo "// watch bench edit $i" >> "$file"
    wait_verdicts $((before + 1))
    python3 -c "import sys,time; print(f'save -> verdict, run $i: {time.time()-float(sys.argv[1]):.2f} s   (budget 3 s)')" "$start"
done

before=$(verdicts)
echo "// burst edit a" >> "$file"
sleep 0.3
echo "// burst edit b" >> "$file"
start=$(now)
wait_verdicts $((before + 1))
sleep 4
after=$(verdicts)
echo "a burst of two saves 0.3 s apart gave $((after - before)) verdict(s) (at least 1; 2 when the second save came during the first run)"
grep -E '^ +[0-9]+ +' "$log" | tail -1
