#!/usr/bin/env python3
"""Rewrites fixtures/manifest.yaml of the status kit after a fixture edit.
The status kit's "fixtures" are placeholders; only their hashes matter."""
import hashlib
import os

import yaml

os.chdir(os.path.dirname(os.path.abspath(__file__)))
files = {}
for d in sorted(os.listdir("fixtures")):
    path = f"fixtures/{d}/cases.yaml"
    if os.path.isfile(path):
        data = open(path, "rb").read()
        files[f"{d}/cases.yaml"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
manifest = {"format": 1, "generator": "grader/tests/status-kit/update-manifest.py",
            "command": "python3 grader/tests/status-kit/update-manifest.py", "seed": 0, "files": files}
with open("fixtures/manifest.yaml", "w") as out:
    yaml.safe_dump(manifest, out, sort_keys=False)
