import { test } from "node:test";
import assert from "node:assert/strict";
import { daemonLaunch } from "../../client/src/launch";

test("the daemon runs as `<runtime> <ext>/dist/cli.js serve --stdio` with ELECTRON_RUN_AS_NODE", () => {
  const l = daemonLaunch("/opt/code/code", "/ext", { PATH: "/usr/bin" });
  assert.equal(l.command, "/opt/code/code");
  assert.deepEqual(l.args, ["/ext/dist/cli.js", "serve", "--stdio"]);
  assert.deepEqual(l.options, { cwd: "/ext", env: { PATH: "/usr/bin", ELECTRON_RUN_AS_NODE: "1" } });
});
