#!/usr/bin/env bash
# Rebuilds the embedded default bundle from scratch (deterministic seeds): tasks -> pretrain -> refine
# -> refine2 -> refine3 -> LoRA SFT with the AdamW-evolution recorder -> ONNX export -> calibration -> golden
# traces -> report,
# then puts the bundle in models/edit-tiny-char/ and the golden traces in test/fixtures/golden/.
# About 5 hours on 2 CPU cores (pretrain, refine and refine2 75-85 min each, refine3 45; minutes on a GPU);
# stages whose outputs exist are skipped (--force reruns them), an interrupted stage resumes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup-python.sh"
cd "$root/training"
.venv/bin/python -m edit_dllm.build --config default --out runs/default \
  --bundle-dir "$root/models/edit-tiny-char" --golden-dir "$root/test/fixtures/golden/edit-tiny-char" "$@"
