/**
 * Why an inline completion showed nothing, in words a user can act on (the status tooltip and the
 * EDIT log show them): the #1 complaint about Tabby, Continue and llama.vscode is "nothing appears,
 * no logs". Errors are matched by name because the engine and the daemon each have a CancelledError.
 */
import type { InlineOutcome } from "../../../protocol/lsp";

export function failureReason(e: unknown): string {
  const name = e instanceof Error ? e.name : "";
  const message = e instanceof Error ? e.message : String(e);
  if (name === "SupersededError") return "cancelled (a newer request for the document replaced it)";
  if (name === "CancelledError") return "cancelled (the editor withdrew the request: typing went on)";
  if (name === "EngineUnavailableError") {
    return /being \(re\)loaded|no model load|still loading/.test(message) ? "model still loading" : `model not available: ${message}`;
  }
  return `provider error: ${message}`;
}

/** One log line per request that showed nothing (shown ones are only counted). */
export function outcomeLogLine(o: InlineOutcome): string | null {
  if (o.shown) return null;
  return `inline completion not shown: ${o.reason ?? "empty answer"} (${Math.round(o.ms)} ms)`;
}
