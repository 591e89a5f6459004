#!/usr/bin/env bash
# Speed and memory of exercise 09's reference FlashAttention (issue 11),
# measured, not asserted. In one run, side by side on the same machine:
#   1. forward and backward at (8, 12, 512, 64) and (1, 12, 2048, 64): the
#      reference solution, PyTorch's CPU F.scaled_dot_product_attention
#      (its fused flash kernel; when the exporter's venv exists) and the naive
#      candle path (softmax(q·kᵀ·scale)·v, backward by candle's autograd);
#   2. the peak heap bytes that flash_forward and flash_backward allocate
#      beyond their inputs and outputs (a counting global allocator), at
#      L = S = 4096 and 16384, E = 64, against 8·L·E·4.
# Goals (issue 11): forward ≥ 0.7× PyTorch's speed, backward at least as fast.
# Each time is the median wall clock of N runs, with the CPU time per run
# beside it: on a busy machine the wall clock also counts the neighbours.
# Usage: bench/09-flash.sh [--reps N] [--causal]
#   TORCH_PYTHON=path/to/python picks PyTorch's interpreter
#   (default fixtures/export/.venv/bin/python); FLASH_ATTENTION_THREADS=N
#   sets our threads (default: every core; PyTorch gets the same number).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/common.sh
export CARGO_TERM_COLOR=never

reps=5
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) reps="$2"; shift 2 ;;
        --causal) extra+=(--causal); shift ;;
        *) echo "usage: bench/09-flash.sh [--reps N] [--causal]" >&2; exit 2 ;;
    esac
done

cargo build -q -p sol09-flash-attention --bin sol09-flash-bench
bench="$(target_of)/debug/sol09-flash-bench"   # CARGO_TARGET_DIR or build.target-dir too
python="${TORCH_PYTHON:-fixtures/export/.venv/bin/python}"
threads="${FLASH_ATTENTION_THREADS:-$(nproc)}"
export FLASH_ATTENTION_THREADS="$threads"

torch_sdpa() { # B H L E [--causal]: PyTorch's CPU SDPA, forward and backward
    "$python" - "$reps" "$threads" "$@" <<'PY'
import statistics, sys, time
import torch
import torch.nn.functional as F

reps, threads = int(sys.argv[1]), int(sys.argv[2])
b, h, l, e = map(int, sys.argv[3:7])
causal = "--causal" in sys.argv[7:]
torch.set_num_threads(threads)
torch.manual_seed(0)
q, k, v, dout = (torch.randn(b, h, l, e) for _ in range(4))
flop = 4.0 * b * h * l * l * e * (0.5 if causal else 1.0)
shape = f"({b}, {h}, {l}, {e})" + (" causal" if causal else "")

def timed(run):
    run()  # warm-up
    walls, cpu0 = [], time.process_time()
    for _ in range(reps):
        t = time.perf_counter()
        run()
        walls.append((time.perf_counter() - t) * 1e3)
    return statistics.median(walls), (time.process_time() - cpu0) * 1e3 / reps

def report(what, ms, cpu, flop):
    print(f"{what:<26} {shape:<24} {ms:>9.1f} ms  {flop / ms / 1e6:>6.1f} GFLOP/s   (CPU {cpu:.0f} ms/run)")

with torch.no_grad():
    ms, cpu = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
report(f"torch {torch.__version__.split('+')[0]} sdpa forward", ms, cpu, flop)
qg, kg, vg = (t.clone().requires_grad_() for t in (q, k, v))
walls, cpus = [], []
for i in range(reps + 1):
    out = F.scaled_dot_product_attention(qg, kg, vg, is_causal=causal)
    t, c = time.perf_counter(), time.process_time()
    out.backward(dout)
    if i:  # the first is a warm-up
        walls.append((time.perf_counter() - t) * 1e3)
        cpus.append((time.process_time() - c) * 1e3)
    qg.grad = kg.grad = vg.grad = None
report("torch sdpa backward", statistics.median(walls), sum(cpus) / len(cpus), 2.5 * flop)
PY
}

have_torch=no
if [ -x "$python" ] && "$python" -c "import torch" 2>/dev/null; then
    have_torch=yes
else
    echo "PyTorch not found at $python: comparing with the naive candle path only"
fi
echo "threads: $threads, runs: $reps (naive: $(( (reps + 3) / 4 ))), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for shape in "8 12 512 64" "1 12 2048 64"; do
    # shellcheck disable=SC2086
    "$bench" speed $shape --reps "$reps" ${extra[@]+"${extra[@]}"}
    # shellcheck disable=SC2086
    [ "$have_torch" = yes ] && torch_sdpa $shape ${extra[@]+"${extra[@]}"}
done
"$bench" memory 4096
"$bench" memory 16384
