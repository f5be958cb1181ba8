/**
 * One service per data directory. Two services on one directory each keep their own memory and
 * overwrite each other's rows, so the second must refuse to start.
 *
 * Why flock(2) (src/state/flock.ts, shared with the agent's lock) and not a pid file: the kernel
 * releases an flock when its holder dies, however it dies (SIGKILL, power loss), so there is never
 * a stale lock to judge. The lock file stays open for the life of the process; the pid written into it is only there to name the
 * holder in the refusal. If flock cannot be used (no libc: not seen on our targets) the service
 * starts unlocked and says so.
 */
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tryLockExclusive } from "../state/flock.ts";

const LOCK_FILE = "iot-jobs-local.lock";

export type DataDirLock = { readonly release: () => void; readonly degraded?: string };

/** Takes the lock of `dataDir` or throws an Error naming the process that holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, LOCK_FILE);
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  const taken = tryLockExclusive(fd);
  if (taken.kind === "unavailable") {
    closeSync(fd);
    return { release: () => {}, degraded: `${file} is not locked: ${taken.reason}` };
  }
  if (taken.kind === "busy") {
    closeSync(fd);
    let holder = "";
    try {
      holder = readFileSync(file, "utf8").trim();
    } catch {
      // unreadable: name no pid
    }
    const who = /^\d+$/.test(holder) ? `another iot-jobs-local (pid ${holder})` : "another iot-jobs-local";
    throw new Error(
      `Data directory ${dataDir} is in use by ${who}; stop it first, or give this one another --data-dir`,
    );
  }
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch {
    // A full disk: the lock holds all the same; only the holder's pid goes unnamed.
  }
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      closeSync(fd); // closing the last descriptor releases the flock
    },
  };
}
