/**
 * What the test command installs system-wide (README "Quick start"): Debian chromium and libkrb5-dev,
 * each without recommends, and said in the README; the one-line apt plan names the upgrades.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(__dirname, "..", "..");
const read = (rel: string) => readFileSync(join(ROOT, rel), "utf8");

test("every apt-get install of the test command skips recommends", () => {
  const installs = [
    ...[...read("scripts/test-all.sh").matchAll(/apt-get install[^\n]*/g)].map((m) => m[0]),
    ...[...read("test/e2e/cache.mjs").matchAll(/\["install", [^\]]*\]/g)].map((m) => m[0]).filter((l) => !l.includes("--no-audit")), // npm install, not apt
  ];
  assert.ok(installs.length >= 3, `expected the chromium and libkrb5-dev installs, found ${installs.length}`);
  for (const line of installs) assert.match(line, /--no-install-recommends/, line);
});

test("the README says what is installed system-wide, and why", () => {
  const readme = read("README.md");
  assert.match(readme, /\*\*system-wide\*\*[\s\S]*`--no-install-recommends`: `chromium` \(the headless browser[\s\S]*`libkrb5-dev` \(Kerberos headers/);
});

test("the apt plan line counts the packages and names the upgrades", async () => {
  const { aptPlan } = (await import(pathToFileURL(join(ROOT, "test", "e2e", "cache.mjs")).href)) as { aptPlan: (pkg: string, sim: () => string) => string };
  // Two lines as apt-get -s prints them: an upgrade has the installed version in brackets.
  const sim = "Inst e2fsprogs [1.47.0-2] (1.47.0-2+b2 Debian:12.12/stable [amd64])\nInst comerr-dev (2.1-1.47.0-2+b2 Debian:12.12/stable [amd64])\nConf e2fsprogs (1.47.0-2+b2)\n";
  assert.equal(aptPlan("libkrb5-dev", () => sim), "apt: 2 package(s) to install for libkrb5-dev, upgrading e2fsprogs");
  assert.equal(aptPlan("x", () => ""), "apt: 0 package(s) to install for x");
});
