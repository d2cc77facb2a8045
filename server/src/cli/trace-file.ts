/**
 * `generate --trace FILE`: the path is checked before the model runs (issue 22: a missing folder was
 * found only after the generation, which was then lost with a stack trace), and written so that
 * nothing but FILE itself can be changed: no symbolic link anywhere in the path as written (O_NOFOLLOW
 * covers only the last component), no overwrite of a file with other hard links (--force would
 * truncate every name of it), an existing file only with --force.
 */
import { accessSync, closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, writeSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { UsageError } from "../errors";

const linkRefusal = (file: string, part: string) =>
  new UsageError(`--trace ${file}: ${part} is a symbolic link; refusing to write through it (give the path without links)`);

/** Throws a UsageError naming what is wrong; returns nothing when FILE can be written. */
export function checkTracePath(file: string, force: boolean): void {
  const dir = dirname(resolve(file));
  // Each component as written (relative ones from the working folder) must not be a symbolic link.
  const parts = file.split(sep).filter((p) => p !== "" && p !== ".");
  let at = isAbsolute(file) ? sep : process.cwd();
  for (const [i, p] of parts.entries()) {
    at = join(at, p);
    let st;
    try {
      st = lstatSync(at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT" && i === parts.length - 1) break;
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new UsageError(`--trace ${file}: the folder ${dirname(resolve(file))} does not exist`);
      throw new UsageError(`--trace ${file}: cannot inspect ${at} (${(e as NodeJS.ErrnoException).code})`);
    }
    if (st.isSymbolicLink()) throw linkRefusal(file, i === parts.length - 1 ? "the file" : at);
    if (i < parts.length - 1 && !st.isDirectory()) throw new UsageError(`--trace ${file}: ${at} is not a folder`);
    if (i === parts.length - 1) {
      if (!st.isFile()) throw new UsageError(`--trace ${file} exists and is not a regular file`);
      if (!force) throw new UsageError(`--trace ${file} exists; pass --force to overwrite it`);
      if (st.nlink > 1) throw new UsageError(`--trace ${file} has ${st.nlink} hard links; refusing to overwrite it (the other names would change too)`);
    }
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`--trace ${file}: the folder ${dir} is not writable`);
  }
}

export function writeTrace(file: string, text: string, force: boolean): void {
  // O_NOFOLLOW: a link created after the check is not followed either; O_EXCL without --force. No
  // O_TRUNC: the file is truncated only after fstat shows it has no other hard link.
  const flags = constants.O_WRONLY | constants.O_CREAT | (force ? 0 : constants.O_EXCL) | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
  let fd: number;
  try {
    fd = openSync(file, flags, 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new UsageError(`--trace ${file} exists; pass --force to overwrite it`);
    if (code === "ELOOP") throw linkRefusal(file, "the file");
    throw new UsageError(`--trace ${file}: cannot write it (${code ?? String(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UsageError(`--trace ${file} exists and is not a regular file`);
    if (st.nlink > 1) throw new UsageError(`--trace ${file} has ${st.nlink} hard links; refusing to overwrite it (the other names would change too)`);
    ftruncateSync(fd, 0);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}
