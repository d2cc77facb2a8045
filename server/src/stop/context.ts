/** What a stop rule may read from the bundle: EDIT metadata (edit-metadata.safetensors) and certificate constants. */
import type { ParamValue } from "../../../protocol/lsp";
import type { CommitPolicyWeights } from "./commit-policy";

export interface ModuleMetadata {
  /** Row-energy vector u [d_out] (Eq 4). */
  u: Float32Array;
  /** Top-k left singular vectors of U-bar, row-major [d_out, k] (App. E). */
  subspace: Float32Array;
  k: number;
  /** Full U-bar, row-major [d_out, r], when recorded (edit-released needs it). */
  ubar: Float32Array | null;
  rank: number;
  dOut: number;
  /** Mean and std of the SFT LoRA-B gradient RMS (App. G). */
  gradRms: [number, number];
}

export interface EditMetadata {
  modules: ReadonlyMap<string, ModuleMetadata>;
  defaultProbe: string;
  header: Readonly<Record<string, string>>;
}

export interface RuleContext {
  metadata: EditMetadata;
  /** Module names whose activations the model exposes (bundle.json probes' values). */
  probes: string[];
  /** Certificate constants for the task (bundle.json tasks[task].certificates); null when absent. */
  certificates: { alphaHat: number; q: number } | null;
  /** Calibrated defaults from bundle.json for the task; user params override them. */
  defaults: Record<string, ParamValue>;
  /** The rule spec the defaults were calibrated for (bundle.json tasks[task].stop.rule). */
  defaultsSpec?: string;
  /** The end-of-text id (bundle.json ids.eos), for rules that treat the end of the answer apart. */
  eosId?: number;
  /** Learned commit policies shipped in the bundle (bundle.json commit_policies), by name. */
  commitPolicies?: Readonly<Record<string, CommitPolicyWeights>>;
}
