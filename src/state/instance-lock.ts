/**
 * One agent per state directory [DC-CONFIG-lock]: an exclusive flock(2) on `state-dir/agent.lock`,
 * held through one descriptor for the agent's whole life. The file also holds "<thing>\n<pid>",
 * for people and for the refusal message only: the pid is never trusted.
 *
 * Why flock and not "is the pid in the file alive": the state directory survives reboots, power
 * cuts and OOM kills, and after a boot the old pid often belongs to another process, so a pid
 * check refused to start for good; and "stale → delete → create" raced when two agents started
 * together (both could win). The kernel releases a flock when its holder dies, however it dies,
 * so there is no stale lock to take over and no window between check and take-over.
 *
 * A releasing agent unlinks the file while still holding the lock; whoever locked the unlinked
 * inode in that moment sees it is no longer the file at the path and tries again.
 */
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { platform } from "../platform/current.ts";

/**
 * `degraded`: the directory cannot be written (read-only, full, not a directory) or cannot be
 * locked. The agent runs anyway — jobs matter more than the lock — without the lock and without
 * crash-loop records, and says so. Only a live agent holding the lock stops it.
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
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (error) {
      return unlocked(`Cannot create lock file ${file}: ${(error as Error).message}`);
    }
    const lock = platform.tryLockExclusive(fd);
    if (lock.kind === "busy") {
      const holder = lockHolder(file);
      closeSync(fd);
      return {
        ok: false,
        message:
          `Another agent${holder ? ` (pid ${holder})` : ""} is running with state directory ${directory}; ` +
          "stop it first, or give this one another --state-dir",
      };
    }
    if (lock.kind === "unavailable") {
      closeSync(fd);
      return unlocked(`Cannot lock ${file}: ${lock.reason}`);
    }
    if (!isFileAtPath(fd, file)) {
      closeSync(fd); // the previous holder unlinked it on release: lock the new one
      continue;
    }
    try {
      ftruncateSync(fd, 0);
      writeSync(fd, `${thingName}\n${process.pid}\n`, 0);
    } catch {
      // A full disk: the lock holds all the same; only the note for people is missing.
    }
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
        closeSync(fd);
      },
    };
  }
  return { ok: false, message: `Cannot take lock file ${file}: it keeps being replaced` };
}

function isFileAtPath(fd: number, file: string): boolean {
  try {
    const opened = fstatSync(fd);
    const named = statSync(file);
    return opened.dev === named.dev && opened.ino === named.ino;
  } catch {
    return false;
  }
}

function lockHolder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").split("\n")[1] ?? "", 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
