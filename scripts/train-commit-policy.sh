#!/usr/bin/env bash
# Trains the learned commit policy shipped in a bundle (default: the embedded models/edit-tiny-char),
# as docs/evaluation.md describes: rows along the commit oracle's decode of the first 150 val items per
# task, then two DAgger rounds (rows along the learned policy's own decodes), each followed by a fit
# on every row so far. About 2.5 minutes on 2 cores; deterministic (1 thread, seeded).
#   bash scripts/train-commit-policy.sh [BUNDLE_DIR] [WORK_DIR]
# POLICY_LABEL=outcome labels a policy-driven decode that ends right by its own final tokens
# (edit-dllm eval --policy-label); default: full's tokens throughout.
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=$(realpath "${1:-models/edit-tiny-char}")
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"
export ORT_DISABLE_TELEMETRY=1
[ -x training/.venv/bin/python ] || bash scripts/setup-python.sh
[ -f dist/cli.js ] || npm run -s build
rows() { # FILE [DRIVER]
  node dist/cli.js eval --bundle "$BUNDLE" --task arith,countdown,sudoku --limit 150 --threads 1 --policy-data "$1" ${2:+--policy-driver "$2" --policy-label "${POLICY_LABEL:-full}"}
}
fit() {
  local args=()
  for f in "$@"; do args+=(--data "$f"); done
  (cd training && .venv/bin/python -m edit_dllm.commit_policy "${args[@]}" --bundle "$BUNDLE")
}
rows "$WORK/oracle.jsonl"
fit "$WORK/oracle.jsonl"
both() { # two recordings at once (one per core); fails if either fails
  rows "$1" "$2" & local a=$!
  rows "$3" "$4" & local b=$!
  wait $a && wait $b
}
both "$WORK/r1-0.5.jsonl" "learned threshold=0.5" "$WORK/r1-0.8.jsonl" "learned threshold=0.8"
fit "$WORK/oracle.jsonl" "$WORK/r1-0.5.jsonl" "$WORK/r1-0.8.jsonl"
both "$WORK/r2-0.7.jsonl" "learned threshold=0.7" "$WORK/r2-0.9.jsonl" "learned threshold=0.9"
fit "$WORK/oracle.jsonl" "$WORK/r1-0.5.jsonl" "$WORK/r1-0.8.jsonl" "$WORK/r2-0.7.jsonl" "$WORK/r2-0.9.jsonl"
echo "commit policies written to $BUNDLE (rows in $WORK)"
