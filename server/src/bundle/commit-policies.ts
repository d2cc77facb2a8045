/**
 * The learned commit policies a bundle ships (issue 21): bundle.json `commit_policies` maps a name to a
 * JSON file in the bundle directory (written by training/edit_dllm/commit_policy.py). Absent = none.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BundleError } from "../errors";
import { commitPolicyProblem, type CommitPolicyWeights } from "../stop/commit-policy";

export function readCommitPolicies(dir: string): Record<string, CommitPolicyWeights> {
  const configFile = join(dir, "bundle.json");
  const raw = JSON.parse(readFileSync(configFile, "utf8")) as { commit_policies?: unknown };
  const map = raw.commit_policies;
  if (map === undefined || map === null) return {};
  if (typeof map !== "object" || Array.isArray(map)) throw new BundleError(configFile, "commit_policies", "an object: policy name -> JSON file", JSON.stringify(map));
  const out: Record<string, CommitPolicyWeights> = {};
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== "string") throw new BundleError(configFile, `commit_policies.${name}`, "a file name in the bundle directory", JSON.stringify(file));
    const path = join(dir, file);
    if (!existsSync(path)) throw new BundleError(path, "", `the commit policy "${name}" named by bundle.json commit_policies (train it: training/edit_dllm/commit_policy.py)`, "no such file");
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new BundleError(path, "", "JSON", (e as Error).message);
    }
    const problem = commitPolicyProblem(parsed);
    if (problem) throw new BundleError(path, "", problem);
    out[name] = parsed as CommitPolicyWeights;
  }
  return out;
}
