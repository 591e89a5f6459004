#!/usr/bin/env bash
# Builds the Gradescope autograder zip: setup.sh, run_autograder, the student
# kit (`grader release`: no solutions) in kit/, and, when given, a hidden
# fixture set in fixtures-hidden/.
#
# Usage: ci-templates/gradescope/make-autograder.sh OUT.zip [HIDDEN_FIXTURES_DIR]
#   e.g. ci-templates/gradescope/make-autograder.sh autograder.zip fixtures-hidden
set -euo pipefail
out=$(realpath -m "${1:?usage: make-autograder.sh OUT.zip [HIDDEN_FIXTURES_DIR]}")
hidden=${2:-}
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q -p grader -- release --out "$work/kit"
cp ci-templates/gradescope/setup.sh ci-templates/gradescope/run_autograder "$work/"
if [ -n "$hidden" ]; then
    [ -f "$hidden/manifest.yaml" ] || { echo "$hidden has no manifest.yaml" >&2; exit 1; }
    cp -r "$hidden" "$work/fixtures-hidden"
fi
# zipfile, keeping the executable bits Gradescope needs.
python3 - "$work" "$out" <<'PY'
import os, sys, zipfile
root, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(folder, name)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, root))
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
PY
echo "wrote $out: upload it as the autograder of a Gradescope programming assignment."
