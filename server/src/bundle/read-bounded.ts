/**
 * Every bundle file the engine reads itself goes through here (issue 22): only a regular file is read
 * (a FIFO hung the CLI and the daemon's load; /dev/zero behind a symlinked tokenizer.json grew the
 * process to 2.45 GB), and never more bytes than its kind may have. The check runs twice: stat before
 * opening (a FIFO is refused by name without being opened), then fstat on the descriptor opened with
 * O_NONBLOCK (a file swapped for a FIFO in between cannot block the open either).
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { basename } from "node:path";
import { BundleError } from "../errors";

const MiB = 1024 * 1024;

/** The most bytes each kind of bundle file may have, and why (shown when a file is refused). */
export const READ_LIMITS: Record<string, { bytes: number; why: string }> = {
  "bundle.json": { bytes: 4 * MiB, why: "settings, task templates and a chat template are a few KiB" },
  "tokenizer.json": { bytes: 64 * MiB, why: "the largest Hugging Face tokenizers (256k-token vocabularies) are under 40 MiB" },
  "edit-metadata.safetensors": { bytes: 1024 * MiB, why: "the per-module EDIT statistics of an 8B model are a few hundred MiB" },
};

/** What a path that is not a regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isDirectory()) return "a directory";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/** Throws a BundleError unless `file` (after symbolic links) is a regular file. */
export function requireRegularFile(file: string): Stats {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    throw new BundleError(file, "", "a readable file", (e as NodeJS.ErrnoException).code ?? "an unreadable file");
  }
  if (!st.isFile()) throw new BundleError(file, "", "a regular file", `${fileKind(st)}; refusing to read it`);
  return st;
}

/** The whole file, if it is a regular file within the limit of its kind (READ_LIMITS by file name). */
export function readBounded(file: string, limit = READ_LIMITS[basename(file)]?.bytes ?? 64 * MiB): Buffer {
  requireRegularFile(file);
  const why = READ_LIMITS[basename(file)]?.why;
  const tooBig = (size: number) =>
    new BundleError(file, "", `at most ${limit} bytes for ${basename(file)}${why ? ` (${why})` : ""}`, `${size} bytes; refusing to read it`);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new BundleError(file, "", "a readable file", (e as NodeJS.ErrnoException).code ?? "an unreadable file");
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BundleError(file, "", "a regular file", `${fileKind(st)}; refusing to read it`);
    if (st.size > limit) throw tooBig(st.size);
    // Read what is there, one byte past the limit at most (a file that grows meanwhile is refused too).
    const buf = Buffer.alloc(Math.min(st.size, limit) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n > limit) throw tooBig(n);
      if (n === buf.length) break;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
