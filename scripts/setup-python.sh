#!/usr/bin/env bash
# Creates training/.venv with the pinned CPU torch wheel and the training toolkit (idempotent).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/training/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# torch==2.13.0 first: an unpinned torch pulled in by a dependency would download a multi-GB CUDA build.
"$venv/bin/pip" install -q --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/pip" install -q --disable-pip-version-check -e "$root/training[dev]" 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -c "import torch, peft, onnx, onnxruntime, tokenizers" 
