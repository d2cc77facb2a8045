#!/usr/bin/env node
// Runs the extension-host suite (test/extension-host/suite/) in a real VS Code with @vscode/test-electron.
// VS Code cannot be downloaded in every environment, so this runs only when a build is present:
// VSCODE_EXECUTABLE_PATH, or an executable in a .vscode-test/ cache (as `@vscode/test-electron`
// leaves it after a download). Otherwise it prints one line and exits 0.
import { existsSync, readdirSync, statSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const root = new URL("../..", import.meta.url).pathname;
const SKIP = "extension-host suite skipped: no VS Code build found (set VSCODE_EXECUTABLE_PATH)";

function findInCache(dir) {
  if (!existsSync(dir)) return null;
  // Layouts test-electron produces: vscode-<platform>-<version>/code (Linux), .../Code.exe (Windows),
  // .../Visual Studio Code.app/Contents/MacOS/Electron (macOS).
  const names = ["code", "Code.exe", "code-insiders", "Code - Insiders.exe", join("Visual Studio Code.app", "Contents", "MacOS", "Electron")];
  for (const entry of readdirSync(dir).sort().reverse()) {
    const d = join(dir, entry);
    if (!statSync(d).isDirectory()) continue;
    for (const n of names) {
      for (const p of [join(d, n), join(d, "VSCode-linux-x64", n)]) if (existsSync(p)) return p;
    }
  }
  return null;
}

const fromEnv = process.env.VSCODE_EXECUTABLE_PATH;
if (fromEnv && !existsSync(fromEnv)) {
  // Asked for explicitly but wrong: a failure, not a skip.
  console.error(`extension-host suite: VSCODE_EXECUTABLE_PATH=${fromEnv} does not exist`);
  process.exit(1);
}
const executable = fromEnv || findInCache(join(root, ".vscode-test"));
if (!executable) {
  console.log(SKIP);
  process.exit(0);
}
for (const f of ["dist/extension.js", "dist/cli.js", "dist/webview.js"]) {
  if (!existsSync(join(root, f))) {
    console.error(`extension-host suite: ${f} is missing; run \`npm run build\` first`);
    process.exit(1);
  }
}

const { runTests } = await import("@vscode/test-electron");
const workspace = mkdtempSync(join(tmpdir(), "edit-ext-ws-"));
try {
  await runTests({
    vscodeExecutablePath: executable,
    extensionDevelopmentPath: root,
    extensionTestsPath: join(root, "test/extension-host/suite/index.js"),
    launchArgs: [workspace, "--disable-extensions", "--disable-gpu", "--skip-welcome", "--skip-release-notes", "--disable-workspace-trust"],
    extensionTestsEnv: { EDIT_EXTENSION_HOST_TEST: "1" },
  });
  console.log("extension-host suite passed");
} catch (e) {
  console.error(`extension-host suite failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
