#!/usr/bin/env bash
# Builds the Gradescope autograder zip: setup.sh, run_autograder, the kit in
# kit/, and, when given, a hidden fixture set in fixtures-hidden/.
#
# Usage: ci-templates/gradescope/make-autograder.sh [--with-solutions] OUT.zip [HIDDEN_FIXTURES_DIR]
#   e.g. ci-templates/gradescope/make-autograder.sh --with-solutions autograder.zip fixtures-hidden
#
# By default kit/ is the student kit (`grader release`: no solutions), and
# random inputs are judged by properties only. With --with-solutions it is
# your whole kit (the files git tracks), solutions included: the judges then
# also compare each submission's outputs on random inputs with the reference
# solution's. The submission's build and code run in the sandbox, which
# cannot read kit/ (see INSTRUCTORS.md, "What a grade is protected against");
# where the report says isolation was not available, ship the default zip.
set -euo pipefail
with_solutions=0
if [ "${1:-}" = "--with-solutions" ]; then
    with_solutions=1
    shift
fi
out=$(realpath -m "${1:?usage: make-autograder.sh [--with-solutions] OUT.zip [HIDDEN_FIXTURES_DIR]}")
hidden=${2:-}
cd "$(dirname "$0")/../.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "$with_solutions" = 1 ]; then
    mkdir -p "$work/kit"
    git ls-files -z | xargs -0 cp --parents -t "$work/kit"
else
    cargo run -q -p grader -- release --out "$work/kit"
fi
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
