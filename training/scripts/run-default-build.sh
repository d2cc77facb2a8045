#!/usr/bin/env bash
# The embedded model's full build, meant for a background run:
#   nohup nice -n 0 training/scripts/run-default-build.sh > training/runs/default.out 2>&1 &
# Stage 1 (pretrain) runs on its own so the later stages' code can still change while it trains;
# build.py then skips pretrain (its model.pt exists) and runs SFT + recorder and the later stages.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=runs/default
.venv/bin/python -m edit_dllm.train --config default --out "$OUT"
.venv/bin/python -m edit_dllm.build --config default --out "$OUT"
