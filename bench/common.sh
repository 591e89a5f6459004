# Shared by the bench scripts (source it after `cd` to the kit's root).

# The target dir of the checkout in DIR (default: here), wherever cargo puts
# it (CARGO_TARGET_DIR, build.target-dir or ./target).
target_of() {
    (cd "${1:-.}" && cargo metadata -q --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
}

# The grader binary of the checkout in DIR (default: here).
grader_of() { echo "$(target_of "${1:-.}")/debug/grader"; }

# One line on the last exercise of a JSON report: its status, the worker's
# time and the checks passed; with --failures, then each failed check.
summarize() { python3 - "$@" <<'PY'
import json, sys
try:
    e = json.load(open(sys.argv[1]))["exercises"][-1]
except (OSError, ValueError, KeyError, IndexError):
    sys.exit(print("no report: the grader wrote none"))
passed = sum(c["status"] == "passed" for c in e["checks"])
print("%s, worker %.2f s, %d/%d checks passed" % (e["status"], e["duration_ms"] / 1000, passed, len(e["checks"])))
if "--failures" in sys.argv[2:]:
    for c in e["checks"]:
        if c["status"] != "passed":
            print("   ", c["check"], c["status"], (c.get("message") or "")[:200])
PY
}
