#!/usr/bin/env bash
# Speed budgets of exercise 08 (issue 6), measured, not asserted:
#   1. the tiny-model checks (tokenizer, embeddings, layers, bert) and the
#      training check, dev profile: budget ≤ 30 s together;
#   2. the pretrained check on all-MiniLM-L6-v2 (when fetched);
#   3. MiniLM inference on 32 sentences of ≤ 64 tokens: budget ≤ 5 s.
# Each figure is wall-clock and CPU (user+sys) seconds: on a busy machine
# the wall clock says more about the neighbours than about the code.
# Usage: bench/08-bert.sh   (graded: the reference solution)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

cargo build -q -p check-08-bert --no-default-features --features solution
cargo build -q -p sol08-bert --bin sol08-minilm-speed
worker=target/debug/check-08-bert

timed() { # label, then the command; prints wall and CPU seconds, and any check that did not pass
    python3 - "$@" <<'PY'
import resource, subprocess, sys, time
label, command = sys.argv[1], sys.argv[2:]
start = time.time()
out = subprocess.run(command, capture_output=True, text=True).stdout
wall = time.time() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{label}: {wall:.1f} s wall, {usage.ru_utime + usage.ru_stime:.1f} s CPU")
for line in out.splitlines():
    if '"passed"' not in line and not line.endswith(" done"):
        print("   ", line[:300])
PY
}

tiny_checks=(tokenize-singles tokenize-pairs tokenize-one embeddings-singles embeddings-pairs
    embeddings-one layer0-singles layer1-singles layer0-pairs layer1-pairs layer0-one layer1-one
    bert-singles bert-pairs bert-one)
run_tiny() { for c in "${tiny_checks[@]}"; do "$worker" --fixtures fixtures --seed 1 --only "$c"; done; }
timed "check 1, tiny BERT exactness (15 cases)" bash -c "$(declare -p tiny_checks worker); $(declare -f run_tiny); run_tiny"
timed "check 3, training (habit-beats-baselines)" "$worker" --fixtures fixtures --seed 1 --only habit-beats-baselines
timed "whole worker (all checks)" "$worker" --fixtures fixtures --seed 1
if [ -f models/all-MiniLM-L6-v2/model.safetensors ]; then
    timed "check 2, MiniLM goldens (10 sentences + load)" "$worker" --fixtures fixtures --seed 1 --only minilm
    target/debug/sol08-minilm-speed
else
    echo "MiniLM not fetched: run scripts/fetch-minilm.sh for checks 2 and the 32-sentence timing"
fi
