/**
 * What the status bar item says. No vscode import: unit-tested in test/client/statusText.test.ts.
 * Text uses codicon syntax ($(name)); the item itself lives in extension.ts.
 */
import type { DaemonState, InlineOutcome, StatusResult } from "../../protocol/lsp";
import type { GenerationTrace } from "../../protocol/trace";

export type ClientPhase =
  | { kind: "starting" }
  | { kind: "daemon"; status: StatusResult }
  | { kind: "generating"; forwards: number; budget: number }
  | { kind: "restarting"; attempt: number; delayMs: number; reason: string }
  | { kind: "stopped"; reason: string };

export interface StatusView {
  text: string;
  tooltip: string;
  /** "warning" / "error" map to the statusBarItem.*Background theme colours. */
  severity: "normal" | "warning" | "error";
}

/** Forwards saved by early stopping: the budget minus the forwards actually run. */
export function stepsSaved(trace: GenerationTrace): { saved: number; budget: number } {
  return { saved: trace.totals.budget - trace.totals.forwards, budget: trace.totals.budget };
}

const STATE_TEXT: Record<DaemonState, string> = {
  loading: "$(sync~spin) EDIT: loading model",
  ready: "$(check) EDIT: idle",
  generating: "$(sync~spin) EDIT: generating",
  slow: "$(watch) EDIT: slow",
  failed: "$(error) EDIT: model failed",
};

export function statusView(phase: ClientPhase, last: GenerationTrace | null = null): StatusView {
  const savedSuffix = (): string => {
    if (!last) return "";
    const { saved, budget } = stepsSaved(last);
    return ` · saved ${saved}/${budget} steps`;
  };
  switch (phase.kind) {
    case "starting":
      return { text: "$(sync~spin) EDIT: starting daemon", tooltip: "Starting the EDIT daemon", severity: "normal" };
    case "generating":
      return {
        text: `$(sync~spin) EDIT: generating ${phase.forwards}/${phase.budget}`,
        tooltip: `Generating: ${phase.forwards} forwards run of a budget of ${phase.budget}`,
        severity: "normal",
      };
    case "restarting": {
      const secs = Math.ceil(phase.delayMs / 1000);
      return {
        text: `$(warning) EDIT: daemon restarting in ${secs}s (attempt ${phase.attempt})`,
        tooltip: `The EDIT daemon stopped (${phase.reason}). Restarting with backoff; see the "EDIT" output for its log. Click to restart now.`,
        severity: "warning",
      };
    }
    case "stopped":
      return { text: "$(circle-slash) EDIT: daemon stopped", tooltip: `${phase.reason}. Click to restart.`, severity: "error" };
    case "daemon": {
      const s = phase.status;
      const where = [s.bundle, s.provider].filter(Boolean).join(" on ");
      const load = s.loadMs !== null ? `, loaded in ${Math.round(s.loadMs)} ms` : "";
      const queue = s.queueLength > 0 ? ` (${s.queueLength} queued)` : "";
      const text = STATE_TEXT[s.state] + (s.state === "ready" ? savedSuffix() : "") + queue;
      // A failed load or a worker that gave up: the item's command (edit.restartDaemon) is the way back.
      const recover = s.state === "failed" ? "Click to restart the daemon, or select another model bundle." : null;
      const tooltip = [where ? `Model: ${where}${load}` : "No model loaded", providerLine(s), s.message, recover, completionLine(s.lastCompletion), gateLine(s)].filter(Boolean).join("\n");
      return { text, tooltip, severity: s.state === "failed" ? "error" : s.state === "slow" ? "warning" : "normal" };
    }
  }
}

const GPU_PROVIDERS = new Set(["cuda", "dml", "coreml", "webgpu"]);

/**
 * The execution provider that runs, and why a GPU one does not ("it is not using my GPU" is a top
 * complaint of local-model extensions). `auto` falls back silently in the engine, so say it here.
 */
export function providerLine(s: StatusResult): string | null {
  if (!s.provider) return null;
  const asked = s.requestedProvider ?? "auto";
  if (asked === s.provider) return `Execution provider: ${s.provider}`;
  // The engine's own report of each provider it skipped or failed (EngineInfo.providerNotes).
  if (s.providerNotes?.length) return `Execution provider: ${s.provider} (setting "${asked}"; not ${s.providerNotes.join("; not ")})`;
  if (asked === "auto" && !GPU_PROVIDERS.has(s.provider)) {
    return `Execution provider: ${s.provider} (setting "auto": no GPU provider could be started here; CUDA needs its provider libraries next to onnxruntime-node, see docs/editor.md)`;
  }
  return `Execution provider: ${s.provider} (setting "${asked}")`;
}

/** The last inline completion's outcome: why nothing appeared, when nothing did. */
export function completionLine(o: InlineOutcome | undefined): string | null {
  if (!o) return null;
  const conf = typeof o.confidence === "number" ? `, confidence ${o.confidence.toFixed(2)}` : "";
  if (o.shown) return `Last completion: shown (${o.source ?? "model"}${conf}, ${Math.round(o.ms)} ms)`;
  return `Last completion: not shown, ${o.reason ?? "empty answer"}`;
}

/** The bundle the extension embeds (models/edit-tiny-char): it solves puzzles, not code. */
export const EMBEDDED_BUNDLE = "edit-tiny-char";

/**
 * Why inline completions stay silent, where the user looks (the tooltip, not only the log): the
 * embedded model cannot write code, so the confidence gate hides nearly all of its completions.
 */
export function gateLine(s: StatusResult): string | null {
  const hidden = s.lastCompletion && !s.lastCompletion.shown && /^low confidence/.test(s.lastCompletion.reason ?? "");
  const gate = "the confidence gate (edit.inline.minConfidence; 0 shows every completion)";
  if (s.bundle === EMBEDDED_BUNDLE) {
    return (
      `Inline completions: the embedded model solves the countdown, sudoku and arith puzzles (EDIT: Generate from Prompt) but cannot write code, ` +
      `so ${gate} hides nearly every completion. For a model that codes: convert one and set edit.bundlePath (EDIT: Get Started says how).`
    );
  }
  return hidden ? `Inline completions below the threshold are hidden by ${gate}.` : null;
}
