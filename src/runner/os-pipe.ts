/**
 * Kernel pipes for a child's stdout and stderr, read into one reused buffer.
 *
 * Why not Bun.spawn's "pipe": its ReadableStream allocates a fresh chunk for every read, which for
 * a step that prints gigabytes means ~1.7× the pipe's own cost and tens of MB of garbage at peak
 * (docs/BENCHMARKS.md). Why not node:fs `read`: a read on an empty pipe blocks a thread of the
 * runtime's small pool, and a grandchild that keeps the pipe open (a handler starting a daemon with
 * `&`) would hold it forever; a few such steps and every async file operation of the agent stalls.
 *
 * So: pipe2() and read() from libc through bun:ffi, the read end non-blocking. A read that finds
 * the pipe empty returns at once, nothing is allocated per read, and nothing can block.
 * If libc cannot be loaded (an exotic target), `openPipe` returns undefined and the caller falls
 * back to Bun's streams.
 */
import { dlopen, FFIType } from "bun:ffi";

const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_SETFL = 4;
const F_SETPIPE_SZ = 1031;
/** Bigger than the 64 KiB default so a fast writer rarely waits between two of our polls. */
export const PIPE_CAPACITY = 1 << 20;

interface Libc {
  pipe2(fds: Int32Array, flags: number): number;
  read(fd: number, buffer: Uint8Array, length: number): number;
  close(fd: number): number;
  fcntl(fd: number, command: number, argument: number): number;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    // "libc.so.6" is glibc's name; musl's loader maps any libc.so* name to itself.
    const lib = dlopen("libc.so.6", {
      pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
      read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
      fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    });
    const s = lib.symbols;
    libc = {
      pipe2: (fds, flags) => s.pipe2(fds, flags),
      read: (fd, buffer, length) => Number(s.read(fd, buffer, length)),
      close: (fd) => s.close(fd),
      fcntl: (fd, command, argument) => s.fcntl(fd, command, argument),
    };
  } catch {
    libc = null;
  }
  return libc;
}

export interface OsPipe {
  /** Ours: non-blocking, close-on-exec. */
  readonly readFd: number;
  /** The child's: give it to spawn, then close it here with `closeFd`. */
  readonly writeFd: number;
}

/** A close-on-exec pipe with a non-blocking read end, or undefined when libc is unavailable. */
export function openPipe(): OsPipe | undefined {
  const c = loadLibc();
  if (!c) return undefined;
  const fds = new Int32Array(2);
  if (c.pipe2(fds, O_CLOEXEC) !== 0) return undefined;
  const [readFd, writeFd] = [fds[0]!, fds[1]!];
  // Only the read end's open file description becomes non-blocking; the child's end stays blocking.
  if (c.fcntl(readFd, F_SETFL, O_NONBLOCK) !== 0) {
    c.close(readFd);
    c.close(writeFd);
    return undefined;
  }
  c.fcntl(readFd, F_SETPIPE_SZ, PIPE_CAPACITY); // best effort: refused above the user's pipe quota
  return { readFd, writeFd };
}

/** Bytes read into `buffer`; 0 at end of stream (every writer closed); -1 when nothing is there yet. */
export function readAvailable(fd: number, buffer: Uint8Array): number {
  const n = loadLibc()!.read(fd, buffer, buffer.length);
  return n < 0 ? -1 : n;
}

export function closeFd(fd: number): void {
  loadLibc()?.close(fd);
}
