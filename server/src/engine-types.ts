/** The engine's public surface, used by the CLI, the daemon and the bench. No VS Code imports. */
import type { GenerationTrace, StepEvent } from "../../protocol/trace";
import type { ParamValue } from "../../protocol/lsp";

export type ProviderChoice = "auto" | "cpu" | "cuda" | "dml" | "coreml" | "webgpu";

export interface EngineOptions {
  /** Bundle directory; defaults to the embedded bundle under models/. */
  bundleDir?: string;
  provider?: ProviderChoice;
  /** ORT intra-op threads (default: ORT's choice). */
  threads?: number;
}

export interface GenerateRequest {
  /** Raw prompt text; the task's template is applied unless `raw` is true. */
  prompt: string;
  task?: string;
  /** Rule name or composition ("edit+confidence"); default: the task's calibrated rule. */
  stop?: string;
  params?: Record<string, ParamValue>;
  genLength?: number;
  blockLength?: number;
  steps?: number;
  temperature?: number;
  seed?: number;
  raw?: boolean;
  signal?: AbortSignal;
  onStep?: (event: StepEvent) => void;
}

export interface GenerateResponse {
  text: string;
  trace: GenerationTrace;
}

export interface EngineInfo {
  bundle: string;
  bundleDir: string;
  provider: string;
  loadMs: number;
  tasks: string[];
  defaultTask: string;
}

export interface Engine {
  readonly info: EngineInfo;
  generate(req: GenerateRequest): Promise<GenerateResponse>;
  dispose(): Promise<void>;
}
