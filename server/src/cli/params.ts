/** `--param key=value` parsing: "true"/"false" -> boolean, numbers -> number, anything else a string. */
import type { ParamValue } from "../../../protocol/lsp";
import { UsageError } from "../errors";

export function parseParamValue(raw: string): ParamValue {
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw.trim() !== "" && Number.isFinite(Number(raw))) return Number(raw);
  return raw;
}

export function parseParamPairs(pairs: readonly string[]): Record<string, ParamValue> {
  const out: Record<string, ParamValue> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--param expects key=value (e.g. --param tau=0.5), got "${pair}"`);
    out[pair.slice(0, eq)] = parseParamValue(pair.slice(eq + 1));
  }
  return out;
}
