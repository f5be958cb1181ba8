/**
 * Reads a child's stdout or stderr on Node into one reused buffer per pipe, the way the Bun
 * adapter's pipe-reader.ts does with pipe2/read — but woken by libuv's readiness, not by polling.
 *
 * A child_process pipe stream allocates a fresh 64 KiB buffer for every read() and sends it through
 * the stream machinery: at 1 GiB that is 16,000 buffers or more for the young generation, the RSS
 * growth docs/BENCHMARKS.md measured. Node has a reused-buffer read for sockets (net.Socket's `onread`
 * option), but child_process makes its pipe sockets itself and offers no way to pass it. So the
 * reader takes the pipe's handle over before the event loop has read anything from it: stops the
 * stream's reading and wraps the same handle in a new net.Socket with `onread`. The old stream is
 * destroyed without its handle, so child_process's own bookkeeping ('close') still happens.
 *
 * That takeover uses Node internals, not public API (a socket's `_handle`, the handle's
 * `readStop`, `useUserBuffer` and `reading`); where they are not there, the reader falls back to the
 * stream's 'data' events — same bytes, only slower. test/platform/node-only-cases.ts fails when a
 * Node the tests run on no longer takes the fast path.
 *
 * What the sink gets either way: ScannableBytes views of buffers that may be reused (ByteSink's
 * rule: copy what you keep), small reads gathered so the output tail decodes fewer, larger pieces.
 */
import { Socket, type SocketConstructorOpts } from "node:net";
import type { Readable } from "node:stream";
import type { ByteSink } from "../runner/byte-sink.ts";

const BUFFER_BYTES = 64 * 1024;

/**
 * The bytes the sinks get: a Uint8Array in every respect (slice copies, subarray is a view) whose
 * indexOf of a byte value is Node's memchr (Buffer's) instead of V8's element loop — 150 ms against
 * 6 ms per 512 MiB without a match here. The runner scans every chunk for newlines three times
 * (output log, line count, tail); on output without newlines that was the largest part of its
 * busy time (docs/BENCHMARKS.md, the Node build).
 */
export class ScannableBytes extends Uint8Array {
  override indexOf(value: number, fromIndex?: number): number {
    if (
      Number.isInteger(value) &&
      value >= 0 &&
      value <= 255 &&
      (fromIndex === undefined || Number.isInteger(fromIndex))
    )
      return bufferIndexOf.call(this, value, fromIndex);
    return super.indexOf(value, fromIndex);
  }
}
const bufferIndexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: number, from?: number) => number;

export interface ChildPipeReading {
  /** Settles at end of stream (or when the pipe fails: what was read is kept). */
  readonly done: Promise<void>;
  /** "handle": the reused-buffer reader; "stream": the fallback over 'data' events. */
  readonly mode: "handle" | "stream";
  /** Discard what comes from now on, read to end of stream without keeping the process alive. */
  detach(): void;
}

const discard: ByteSink = { push: () => {}, end: () => {} };

/** Call right after spawn(), in the same turn of the event loop (before anything was read). */
export function readChildPipe(stream: Readable, target: ByteSink): ChildPipeReading {
  let sink = target;
  const batch = new ChunkBatch((bytes) => sink.push(bytes));
  let settle!: () => void;
  const done = new Promise<void>((resolve) => (settle = resolve));
  const finish = () => {
    batch.flush();
    settle();
  };

  const handle = takeHandle(stream);
  let socket: Socket | undefined;
  if (handle) {
    const buffer = new ScannableBytes(BUFFER_BYTES);
    const options: SocketConstructorOpts = {
      handle: handle as unknown as SocketConstructorOpts["handle"], // wrapped, not opened again
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (n: number) => {
          batch.push(buffer.subarray(0, n));
          return true; // keep reading (false would pause the socket)
        },
      },
    };
    socket = new Socket(options);
    // With `onread`, no 'data' events: end of stream is 'end', then 'close'.
    socket.once("close", finish);
    socket.once("error", finish);
    socket.resume();
  } else {
    stream.on("data", (chunk: Buffer) => batch.push(chunk));
    stream.once("close", finish);
    stream.once("error", finish);
  }
  return {
    done,
    mode: handle ? "handle" : "stream",
    detach: () => {
      batch.flush();
      sink = discard;
      const owner = (socket ?? stream) as unknown as { unref?: () => void };
      owner.unref?.();
    },
  };
}

interface PipeHandle {
  readStop(): number;
  readStart(): number;
  useUserBuffer(buffer: Uint8Array): void;
  reading?: boolean;
}

/** The pipe's libuv handle, no longer read by `stream`; undefined when this Node has no such thing. */
function takeHandle(stream: Readable): PipeHandle | undefined {
  const internals = stream as unknown as { _handle?: Partial<PipeHandle> | null };
  const handle = internals._handle;
  if (
    !(stream instanceof Socket) ||
    !handle ||
    typeof handle.readStop !== "function" ||
    typeof handle.readStart !== "function" ||
    typeof handle.useUserBuffer !== "function" ||
    stream.bytesRead !== 0
  )
    return undefined;
  handle.readStop();
  handle.reading = false; // net.Socket starts reading only a handle it believes idle
  internals._handle = null;
  stream.destroy(); // without a handle: closes nothing, emits 'close' for child_process
  return handle as PipeHandle;
}

/**
 * A pipe's output comes in whatever pieces each read() returned — often the 4 KiB a writer like
 * `tr` writes at a time — and every piece costs the output tail a decode. Small pieces are
 * gathered into one reused 64 KiB buffer and passed on together, once per turn of the event loop
 * or when the buffer fills.
 */
class ChunkBatch {
  private readonly buffer = new ScannableBytes(BUFFER_BYTES);
  private filled = 0;
  private scheduled = false;

  constructor(private readonly deliver: (bytes: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    if (chunk.length >= this.buffer.length) {
      this.flush();
      // A full read passes on as it is, as a view (a stream's Buffer, whose slice would not copy, too).
      this.deliver(
        chunk instanceof ScannableBytes
          ? chunk
          : new ScannableBytes(chunk.buffer as ArrayBuffer, chunk.byteOffset, chunk.length),
      );
      return;
    }
    if (this.filled + chunk.length > this.buffer.length) this.flush();
    this.buffer.set(chunk, this.filled);
    this.filled += chunk.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.filled === 0) return;
    const bytes = this.buffer.subarray(0, this.filled);
    this.filled = 0;
    this.deliver(bytes); // a view of the reused buffer: sinks copy what they keep (ByteSink's rule)
  }
}
