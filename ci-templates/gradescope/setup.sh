#!/usr/bin/env bash
# Gradescope autograder setup (runs once, as root, when the autograder image
# is built). The autograder zip holds this file, run_autograder, and the kit
# in kit/ (best: the student kit from `grader release`, plus your hidden
# fixtures in fixtures-hidden/; see ci-templates/gradescope/README.md).
#
# It installs Rust, builds the grader, and warms the build cache by grading
# the kit's own stubs once: candle (about two minutes) is compiled here, so a
# submission later costs only its own crates' compile plus the checks.
set -euo pipefail

# AUTOGRADER_ROOT lets you try the scripts outside Gradescope.
ROOT=${AUTOGRADER_ROOT:-/autograder}
SOURCE=$ROOT/source
CACHE=$ROOT/cache
# The grader's own build; the submissions build in $CACHE/target.
export CARGO_TARGET_DIR=$SOURCE/kit/target

if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    source "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null; then
    apt-get update
    apt-get install -y --no-install-recommends curl ca-certificates build-essential pkg-config python3 unzip
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    source "$HOME/.cargo/env"
fi

cd "$SOURCE/kit"
# Exercise 08's pretrained check needs MiniLM; without it that check is
# skipped. FETCH_MODELS=0 skips the download.
if [ "${FETCH_MODELS:-1}" = 1 ] && [ -x scripts/fetch-minilm.sh ]; then
    scripts/fetch-minilm.sh || echo "setup: MiniLM not fetched; exercise 08's pretrained check will be skipped"
fi

cargo build -p grader
mkdir -p "$CACHE"
# Warm-up: grade the kit's stubs as if they were a submission.
target/debug/grader grade --submission . --seed 1 \
    --out "$CACHE/warmup" --work "$CACHE/work" --cargo-target "$CACHE/target" \
    || { echo "setup: the warm-up grading failed" >&2; exit 1; }
echo "setup: done; the warm-up graded the stubs:"
head -20 "$CACHE/warmup/report.txt"
