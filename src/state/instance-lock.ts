/**
 * One agent per state directory [DC-CONFIG-lock]. The lock file holds "<thing>\n<pid>"; a lock
 * whose process is gone (or is not an agent) is stale and taken over.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync, constants } from "node:fs";
import { join } from "node:path";

/**
 * `degraded`: the directory cannot be written (read-only, full, not a directory). The agent runs
 * anyway — jobs matter more than the lock — without the lock and without crash-loop records, and
 * says so. Only a live agent holding the lock stops it.
 */
export type LockResult = { ok: true; release: () => void; degraded?: string } | { ok: false; message: string };

const unlocked = (degraded: string): LockResult => ({ ok: true, release: () => {}, degraded });

export function acquireInstanceLock(directory: string, thingName: string): LockResult {
  const file = join(directory, "agent.lock");
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    return unlocked(`Cannot create state directory ${directory}: ${(error as Error).message}`);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, `${thingName}\n${process.pid}\n`);
      closeSync(fd);
      return {
        ok: true,
        release: () => {
          try {
            if (readFileSync(file, "utf8").split("\n")[1] === String(process.pid)) rmSync(file, { force: true });
          } catch {
            // already gone
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        rmSync(file, { force: true }); // a lock file created but not written (disk full) would block the next start
        return unlocked(`Cannot create lock file ${file}: ${(error as Error).message}`);
      }
      const holder = lockHolder(file);
      if (holder !== undefined && holder !== process.pid && isAlive(holder))
        return { ok: false, message: `Another agent (pid ${holder}) is running with state directory ${directory}; stop it first, or give this one another --state-dir` };
      rmSync(file, { force: true });
    }
  }
  return { ok: false, message: `Cannot take lock file ${file}` };
}

function lockHolder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").split("\n")[1] ?? "", 10);
    return Number.isFinite(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
