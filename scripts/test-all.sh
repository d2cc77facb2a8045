#!/usr/bin/env bash
# The one test command (README quick start and .ci/run): installs what the tests need, then runs
# the Python toolkit's tests, the TypeScript tests (engine, daemon over stdio, webview in headless
# Chromium), the VS Code extension-host suite (which says "skipped" where no VS Code build exists)
# and the end-to-end run in code-server (test/e2e/, installs code-server + Node 24 into a cache once).
set -euo pipefail
# No ONNX Runtime telemetry from anything the tests start (Python and Node alike).
export ORT_DISABLE_TELEMETRY=1
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci
bash scripts/setup-python.sh
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium for the webview tests"
  if [ "$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium"; fi
fi
npm run -s build
status=0
echo "== python: training toolkit (pytest)"
(cd training && .venv/bin/python -m pytest -q) || status=1
echo "== typescript: engine, daemon, webview (node --test)"
node scripts/run-node-tests.mjs || status=1
echo "== vscode extension host suite"
node test/extension-host/run.mjs || status=1
echo "== end-to-end: the .vsix in code-server (a real VS Code), driven by headless chromium"
node test/e2e/run.mjs || status=1
exit $status
