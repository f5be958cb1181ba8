/**
 * One service per data directory. Two services on one directory each keep their own memory and
 * overwrite each other's rows, so the second must refuse to start.
 *
 * Why flock(2) through bun:ffi and not a pid file: the kernel releases an flock when its holder
 * dies, however it dies (SIGKILL, power loss), so there is never a stale lock to judge. The lock
 * file stays open for the life of the process; the pid written into it is only there to name the
 * holder in the refusal. If libc cannot be loaded (not seen on our targets) the service starts
 * unlocked and says so.
 */
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_FILE = "iot-jobs-local.lock";

export type DataDirLock = { readonly release: () => void; readonly degraded?: string };

let flock: ((fd: number, operation: number) => number) | null | undefined;

function loadFlock(): ((fd: number, operation: number) => number) | null {
  if (flock !== undefined) return flock;
  try {
    // "libc.so.6" is glibc's name; musl's loader maps any libc.so* name to itself.
    const lib = dlopen("libc.so.6", { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
    flock = (fd, operation) => lib.symbols.flock(fd, operation);
  } catch {
    flock = null;
  }
  return flock;
}

/** Takes the lock of `dataDir` or throws an Error naming the process that holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, LOCK_FILE);
  const lock = loadFlock();
  if (!lock) return { release: () => {}, degraded: `libc is not available: ${file} is not locked` };
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
  if (lock(fd, LOCK_EX | LOCK_NB) !== 0) {
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
