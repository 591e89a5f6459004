#!/usr/bin/env bash
# Speed budgets of exercise 08 (issue 6), measured, not asserted:
#   1. the whole exercise (tiny-model checks, the pretrained check when
#      MiniLM is fetched, the training check), dev profile: budget <= 30 s;
#   2. the training check alone (habit-beats-baselines);
#   3. MiniLM inference on 32 sentences of <= 64 tokens: budget <= 5 s.
# Grades the reference solution through the launcher (judge and adapter).
# Usage: bench/08-bert.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
export CARGO_TERM_COLOR=never
cargo build -q -p grader
cargo build -q -p sol08-bert --bin sol08-minilm-speed
GRADER=$(grader_of)
"$GRADER" --solutions 08 --seed 1 >/dev/null 2>&1 || true   # warm the build
report=$(mktemp)
trap 'rm -f "$report"' EXIT

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$GRADER" --solutions 08 --seed 1 --format json --output "$report" >/dev/null 2>&1 || true
echo "whole exercise 08: $(summarize "$report" --failures) (budget 30 s)"
"$GRADER" --solutions 08 --seed 1 --case habit-beats-baselines --format json --output "$report" >/dev/null 2>&1 || true
echo "the training check alone: $(summarize "$report" --failures)"
if [ -f models/all-MiniLM-L6-v2/model.safetensors ]; then
    "$GRADER" --solutions 08 --seed 1 --case minilm --format json --output "$report" >/dev/null 2>&1 || true
    echo "the pretrained check alone: $(summarize "$report" --failures)"
    "$(target_of)"/debug/sol08-minilm-speed
else
    echo "MiniLM not fetched: run scripts/fetch-minilm.sh for the pretrained check and the 32-sentence timing"
fi
