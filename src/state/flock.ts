/**
 * flock(2) from libc through bun:ffi (Bun has no file-lock API). An exclusive lock on an open
 * descriptor belongs to that open file: the kernel drops it when the last descriptor closes,
 * which includes the process dying in any way (SIGKILL, OOM, power cut of the process alone).
 */
import { dlopen, FFIType, read, type Pointer } from "bun:ffi";

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11; // EAGAIN on Linux, every architecture we build for
const EINTR = 4;

interface Flock {
  flock(fd: number, operation: number): number;
  errno(): number;
}

let libc: Flock | null | undefined;

function loadLibc(): Flock | null {
  if (libc !== undefined) return libc;
  try {
    // "libc.so.6" is glibc's name; musl's loader maps any libc.so* name to itself.
    const lib = dlopen("libc.so.6", {
      flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      __errno_location: { args: [], returns: FFIType.ptr },
    });
    const s = lib.symbols;
    libc = { flock: (fd, op) => s.flock(fd, op), errno: () => read.i32(s.__errno_location() as Pointer, 0) };
  } catch {
    libc = null;
  }
  return libc;
}

/** "locked": ours now; "busy": another open file holds it; otherwise why it cannot be locked. */
export type FlockResult = { kind: "locked" } | { kind: "busy" } | { kind: "unavailable"; reason: string };

/** Takes an exclusive lock on `fd` without waiting. */
export function tryLockExclusive(fd: number): FlockResult {
  const c = loadLibc();
  if (!c) return { kind: "unavailable", reason: "flock() from libc cannot be loaded" };
  for (;;) {
    if (c.flock(fd, LOCK_EX | LOCK_NB) === 0) return { kind: "locked" };
    const errno = c.errno();
    if (errno === EINTR) continue;
    if (errno === EWOULDBLOCK) return { kind: "busy" };
    return { kind: "unavailable", reason: `flock() failed with errno ${errno}` };
  }
}
