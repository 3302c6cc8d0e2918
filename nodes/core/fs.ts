import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Write, fsync, rename, fsync the folder: a crash (SIGKILL, or power loss) at any moment leaves either the old or the
 * new file, never a half-written one. The temporary name carries the pid, so a killed writer's leftover never
 * collides with the next process's.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", mode);
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself is durable only once the folder's entry is on disk.
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * The folder an agent keeps its state in unless told otherwise (`--data-dir`): `<CERBERUS_HOME>/<role>-<hotkey>`,
 * with CERBERUS_HOME defaulting to ".cerberus" in the working directory. One folder per role and hotkey, so several
 * agents on one machine never share a file.
 */
export function defaultAgentDir(role: "miner" | "validator", hotkey: string): string {
  const home = process.env.CERBERUS_HOME;
  return join(home !== undefined && home !== "" ? home : ".cerberus", `${role}-${hotkey.toLowerCase()}`);
}
