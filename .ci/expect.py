#!/usr/bin/env python3
"""expect.py REPORT.json STATUS: fails unless every exercise in a grader JSON
report has STATUS (and, for "passed", the full score)."""
import json
import sys

path, wanted = sys.argv[1], sys.argv[2]
report = json.load(open(path))
bad = [e for e in report["exercises"] if e["status"] != wanted]
if wanted == "passed" and report["score"] != report["max_score"]:
    bad = bad or report["exercises"]
for e in bad:
    print(f"{e['id']} {e['name']}: {e['status']} ({e['score']}/{e['points']}): {e['summary']}", file=sys.stderr)
if bad:
    sys.exit(f"{len(bad)} exercise(s) are not '{wanted}' in {path}")
print(f"all {len(report['exercises'])} exercises are '{wanted}' ({report['score']}/{report['max_score']} points)")
