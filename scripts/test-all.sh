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
# System-wide, and only what is missing (README.md "Quick start" says why): Debian chromium, the
# headless browser of the webview test and the e2e run. Without recommends: the browser alone, not
# the desktop packages Debian recommends with it. apt may still upgrade shared libraries chromium
# depends on to the versions it needs; the line below names them before installing.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian chromium (system-wide, --no-install-recommends) for the webview and e2e tests"
    apt-get update -qq || true
    apt-get install -s --no-install-recommends chromium 2>/dev/null | awk '/^Inst /{n++; if ($3 ~ /^\[/) up=up" "$2} END{print "  apt: " n+0 " package(s) to install" (up ? ", upgrading" up : "")}' || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null || echo "could not install chromium (the webview test skips, the e2e run fails)"
  else
    echo "chromium is missing: sudo apt-get install --no-install-recommends chromium (or set CHROMIUM_PATH); the webview test skips, the e2e run fails without it"
  fi
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
