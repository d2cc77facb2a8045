#!/usr/bin/env bash
# Creates training/.venv with the CPU build of torch 2.13.0 and the training toolkit (idempotent).
#
# Why torch first and how: PyPI's torch wheel for Linux x86_64 is the CUDA build; it pulls the
# nvidia-* CUDA libraries (several GB) even on a machine without a GPU. Pinning the version does not
# avoid that. The CPU build (the same version, ~200 MB) comes from, in this order:
#   1. a local wheel that pip's own configuration points at (find-links, e.g. a wheel cache), with
#      --no-index so nothing is downloaded for torch itself;
#   2. the PyTorch CPU index, https://download.pytorch.org/whl/cpu, where it is reachable;
#   3. otherwise it stops and says so. EDIT_ALLOW_CUDA_TORCH=1 installs PyPI's build instead
#      (on Linux x86_64 that is the multi-GB CUDA download). On macOS, Windows and Linux aarch64
#      PyPI's wheel is the CPU build, so PyPI is used directly there.
# The toolkit's other dependencies come from PyPI (or pip's configured index) as usual.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="${EDIT_PYTHON_VENV:-$root/training/.venv}"   # EDIT_PYTHON_VENV: another folder (to try this script)
TORCH_VERSION=2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
pip() { "$venv/bin/pip" --disable-pip-version-check "$@" 2>&1 | grep -v "^WARNING: Location" || return "${PIPESTATUS[0]}"; }
has_torch() { "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$TORCH_VERSION' else 1)" 2>/dev/null; }
cuda_pypi_wheel() { [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; }

if has_torch; then
  :
elif pip install -q --no-index --no-deps "torch==$TORCH_VERSION" >/dev/null 2>&1; then
  echo "setup-python: torch $TORCH_VERSION from a local wheel (pip's find-links)"
  pip install -q "torch==$TORCH_VERSION"   # its pure-Python dependencies; torch itself is satisfied
elif ! cuda_pypi_wheel; then
  pip install -q "torch==$TORCH_VERSION"
elif pip install -q --timeout 30 --retries 1 --index-url "$CPU_INDEX" "torch==$TORCH_VERSION"; then
  echo "setup-python: torch $TORCH_VERSION (CPU build) from $CPU_INDEX"
elif [ "${EDIT_ALLOW_CUDA_TORCH:-}" = 1 ]; then
  echo "setup-python: EDIT_ALLOW_CUDA_TORCH=1: installing PyPI's torch $TORCH_VERSION (the CUDA build, several GB)"
  pip install -q "torch==$TORCH_VERSION"
else
  echo "setup-python: no CPU build of torch $TORCH_VERSION here: no local wheel in pip's find-links and $CPU_INDEX is" >&2
  echo "  not reachable. PyPI's Linux x86_64 wheel is the CUDA build (several GB of nvidia-* libraries);" >&2
  echo "  to install it anyway: EDIT_ALLOW_CUDA_TORCH=1 bash scripts/setup-python.sh" >&2
  exit 1
fi
pip install -q -e "$root/training[dev]"
"$venv/bin/python" -c "import torch, peft, onnx, onnxruntime, tokenizers"
