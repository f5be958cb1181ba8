import { chmodSync, copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** A fresh directory (mode 700) under the system temp dir, removed at process exit. */
export function tempDir(prefix = "iot-jobs-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  made.push(dir);
  return dir;
}

/** Removes every directory tempDir made (test/setup.ts calls it after the run). */
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
process.on("exit", removeTempDirs);

/** Writes an executable handler (mode 700) into `dir`. */
export function writeHandler(dir: string, name: string, body: string, mode = 0o700): string {
  const file = join(dir, name);
  writeFileSync(file, body);
  chmodSync(file, mode);
  return file;
}

export const REPO_ROOT = join(import.meta.dir, "..", "..");

/** A handler directory holding the project's own handlers/, with the modes the agent requires. */
export function projectHandlerDir(): string {
  const dir = tempDir("iot-jobs-handlers-");
  const source = join(REPO_ROOT, "handlers");
  for (const name of readdirSync(source)) {
    copyFileSync(join(source, name), join(dir, name));
    chmodSync(join(dir, name), name.startsWith("_") ? 0o600 : 0o700);
  }
  return dir;
}
