/**
 * A safetensors reader written against the format spec: an 8-byte little-endian header length N,
 * N bytes of JSON header ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}),
 * then the byte buffer the offsets point into. Only float32 tensors are accepted (the EDIT metadata
 * is all float32); every inconsistency is a BundleError naming the file and the tensor.
 */
import { BundleError } from "../errors";

export interface Float32Tensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, Float32Tensor>;
  metadata: Record<string, string>;
}

const HEADER_LENGTH_BYTES = 8;

export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.byteLength < HEADER_LENGTH_BYTES) {
    throw new BundleError(file, "", "a safetensors file (at least 8 bytes for the header length)", `${bytes.byteLength} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  const available = BigInt(bytes.byteLength - HEADER_LENGTH_BYTES);
  if (headerLen > available) {
    throw new BundleError(file, "header length", `at most ${available} (bytes after the length prefix)`, String(headerLen));
  }
  const dataStart = HEADER_LENGTH_BYTES + Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(HEADER_LENGTH_BYTES, dataStart)));
  } catch (e) {
    throw new BundleError(file, "header", "a UTF-8 JSON object", (e as Error).message);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new BundleError(file, "header", "a JSON object");
  }
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, Float32Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(entry, file);
      continue;
    }
    tensors.set(name, parseTensor(name, entry, bytes, dataStart, dataLen, file));
  }
  return { tensors, metadata };
}

function parseMetadata(entry: unknown, file: string): Record<string, string> {
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw new BundleError(file, "__metadata__", "an object of string values");
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof v !== "string") throw new BundleError(file, `__metadata__.${k}`, "a string", JSON.stringify(v));
    out[k] = v;
  }
  return out;
}

function parseTensor(
  name: string,
  entry: unknown,
  bytes: Uint8Array,
  dataStart: number,
  dataLen: number,
  file: string,
): Float32Tensor {
  const field = `tensor ${name}`;
  if (entry === null || typeof entry !== "object") throw new BundleError(file, field, "an object {dtype, shape, data_offsets}");
  const { dtype, shape, data_offsets: offsets } = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (dtype !== "F32") throw new BundleError(file, `${field}.dtype`, '"F32" (float32)', JSON.stringify(dtype));
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new BundleError(file, `${field}.shape`, "a list of non-negative integers", JSON.stringify(shape));
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new BundleError(file, `${field}.data_offsets`, "[begin, end] with 0 <= begin <= end", JSON.stringify(offsets));
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLen) {
    throw new BundleError(file, `${field}.data_offsets`, `end <= ${dataLen} (data section size; file truncated?)`, String(end));
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== count * 4) {
    throw new BundleError(file, `${field}`, `${count * 4} bytes for float32 shape [${shape.join(", ")}]`, `${end - begin} bytes`);
  }
  // Copy: the data section need not be 4-byte aligned for a Float32Array view. All target hosts are little-endian.
  // (Buffer#slice shares memory, so copy into a fresh, aligned ArrayBuffer explicitly.)
  const copy = new Uint8Array(end - begin);
  copy.set(bytes.subarray(dataStart + begin, dataStart + end));
  return { shape: shape as number[], data: new Float32Array(copy.buffer) };
}
