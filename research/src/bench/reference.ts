/**
 * The bench's speed baseline: the PyTorch reference sampler (training/edit_dllm/speed.py) on the same
 * items, rules, rule params, generation settings and thread count as the engine run, in the same
 * bench invocation. Needs training/.venv and <bundle>/reference/ weights; when either is missing the
 * bench records why instead of failing (a shipped extension has neither).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ParamValue } from "../../../protocol/lsp";
import type { TaskItem } from "../../../server/src/public";

export interface ReferenceRuleSpeed {
  items: number;
  forwards: number;
  tokens: number;
  wallMs: number;
  tokensPerSec: number;
}

export interface ReferenceComparison {
  /** torch.set_num_threads for the reference; ONNX Runtime's intraOpNumThreads for the engine. */
  threads: number;
  rules: Record<
    string,
    ReferenceRuleSpeed & {
      engineTokensPerSec: number;
      /** engine tokens/s / reference tokens/s (> 1: the engine is faster). */
      ratio: number | null;
      /** Engine forwards on the same items; equal to `forwards` when both samplers agree (same outputs). */
      engineForwards: number;
    }
  >;
}

export type ReferenceSection = ReferenceComparison | { skipped: string };

export interface ReferenceOptions {
  repoRoot: string;
  bundleDir: string;
  items: readonly TaskItem[];
  rules: readonly string[];
  /** Each task's calibrated rule name (bundle.json tasks[*].stop.rule), to know whether "calibrated" can be timed. */
  calibratedRules?: readonly string[];
  /** params[task][rule] as the engine's traces recorded them. */
  params: Record<string, Record<string, Record<string, ParamValue>>>;
  threads: number;
  python?: string;
  timeoutMs?: number;
}

export function referencePython(repoRoot: string): string {
  return process.env.EDIT_DLLM_PYTHON ?? join(repoRoot, "training", ".venv", process.platform === "win32" ? "Scripts/python.exe" : "bin/python");
}

/** Why the reference cannot run here, or null when it can. */
export function referenceUnavailable(repoRoot: string, bundleDir: string, python = referencePython(repoRoot)): string | null {
  if (!existsSync(python)) return `no Python venv at ${python} (create training/.venv, see training/README.md)`;
  if (!existsSync(join(repoRoot, "training", "edit_dllm", "speed.py"))) return `no training/edit_dllm/speed.py under ${repoRoot}`;
  const ref = join(bundleDir, "reference");
  if (!existsSync(join(ref, "model.safetensors")) || !existsSync(join(ref, "config.json")))
    return `bundle has no PyTorch weights in ${ref} (write them with edit_dllm.reference_weights.save_reference_weights)`;
  return null;
}

/** Rules the PyTorch reference sampler implements (edit_dllm.sampler_rules); "calibrated" resolves to one of them. */
const REFERENCE_RULES = new Set(["full", "calibrated", "edit", "edit-subspace", "edit-released"]);

/**
 * The bench's rules that the reference can time; the others (commit rules, fixed, compositions) are
 * engine-only. "calibrated" counts only when every task's calibrated rule is one the reference has.
 */
export function referenceRules(rules: readonly string[], calibratedRules: readonly string[] = []): string[] {
  const calibratedOk = calibratedRules.every((r) => REFERENCE_RULES.has(r) && r !== "calibrated");
  return rules.filter((r) => REFERENCE_RULES.has(r) && (r !== "calibrated" || calibratedOk));
}

/** Runs speed.py; resolves to its {rule: speed} JSON, or rejects with its stderr tail. */
export async function runReferenceSpeed(o: ReferenceOptions): Promise<Record<string, ReferenceRuleSpeed>> {
  const dir = mkdtempSync(join(tmpdir(), "edit-bench-ref-"));
  const itemsFile = join(dir, "items.jsonl");
  writeFileSync(itemsFile, o.items.map((i) => JSON.stringify(i)).join("\n") + "\n");
  const args = ["-m", "edit_dllm.speed", "--bundle", o.bundleDir, "--items", itemsFile, "--rules", referenceRules(o.rules, o.calibratedRules).join(","),
    "--threads", String(o.threads), "--params", JSON.stringify(o.params)];
  try {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res, rej) => {
      const child = spawn(o.python ?? referencePython(o.repoRoot), args, {
        cwd: join(o.repoRoot, "training"),
        // One thread pool setting for every BLAS/OpenMP layer torch may use, so --threads is the whole budget.
        env: { ...process.env, OMP_NUM_THREADS: String(o.threads), MKL_NUM_THREADS: String(o.threads) },
        stdio: ["ignore", "pipe", "pipe"],
        timeout: o.timeoutMs,
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("error", rej);
      child.on("close", (c) => res({ code: c, stdout: out, stderr: err }));
    });
    if (code !== 0) throw new Error(`speed.py exited with ${code}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    const last = stdout.trim().split("\n").pop() ?? "";
    return JSON.parse(last) as Record<string, ReferenceRuleSpeed>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The comparison rows: engine tokens/s over reference tokens/s, per rule, on the same items. */
export function compareWithReference(
  ref: Record<string, ReferenceRuleSpeed>,
  engine: Record<string, { tokensPerSec: number; forwards: number }>,
  threads: number,
): ReferenceComparison {
  const rules: ReferenceComparison["rules"] = {};
  for (const [rule, r] of Object.entries(ref)) {
    const e = engine[rule];
    if (!e) continue;
    rules[rule] = { ...r, engineTokensPerSec: e.tokensPerSec, engineForwards: e.forwards, ratio: r.tokensPerSec > 0 ? e.tokensPerSec / r.tokensPerSec : null };
  }
  return { threads, rules };
}
