/**
 * The extension opens no network connection of its own (issue 13: "fully offline", no request at
 * start or at any time): its sources import no networking module and call no network API. The daemon
 * side is checked at run time (test/daemon/serve-basics.test.ts, test/e2e no-network).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "..", "..");
const NETWORK = [
  /from\s+"(node:)?(net|http|https|http2|tls|dgram|dns)"/,
  /require\("(node:)?(net|http|https|http2|tls|dgram|dns)"\)/,
  /\bfetch\s*\(/,
  /\bXMLHttpRequest\b/,
  /\bnew\s+WebSocket\b/,
  /\bnavigator\.sendBeacon\b/,
];

test("client/ and webview/ sources use no network API", () => {
  const offenders: string[] = [];
  for (const dir of ["client/src", "webview/src"]) {
    for (const name of readdirSync(join(root, dir))) {
      if (!name.endsWith(".ts")) continue;
      const text = readFileSync(join(root, dir, name), "utf8");
      for (const re of NETWORK) if (re.test(text)) offenders.push(`${dir}/${name}: ${re}`);
    }
  }
  assert.deepEqual(offenders, []);
});
