import { RingBuffer } from "./ring-buffer.ts";
import { sanitizeText } from "./sanitize.ts";
import type { ByteSink } from "./byte-sink.ts";

const CR = 0x0d;
const NOTHING = new Uint8Array(0);
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Keeps the sanitised tail of a byte stream in constant memory.
 *
 * Only the end of each chunk can matter for the last `capacity` characters, so each chunk is
 * decoded from a window at its end, widened only if the window yields too few characters (a
 * chunk of `\r`s, say). UTF-8 is self-synchronising: starting the window on a byte that is not a
 * continuation byte gives exactly the characters the whole stream would give from that point.
 * An incomplete sequence at the end of a chunk is carried into the next one.
 *
 * Decoding is deferred while output streams: every byte but `\r` (the one character the
 * sanitiser drops) yields at least a quarter of a UTF-16 unit, so when the stream's last `window`
 * bytes hold at least 4×`capacity` other bytes they are certain to yield `capacity` characters,
 * and everything before them is irrelevant. Those bytes are kept (copied into one of two buffers
 * allocated once, across chunks of any size: pipes deliver chunks smaller than the window) and
 * only decoded when they are still the last ones — at `text()`, `end()`, or before a chunk after
 * which they do not qualify.
 */
export class OutputTail implements ByteSink {
  private readonly ring: RingBuffer;
  private carry: Uint8Array = NOTHING;
  private total = 0;
  /** The stream's last complete bytes (≤ `window`, starting on a character boundary). */
  private recent: Uint8Array = NOTHING;
  /** Whether `recent`'s text has yet to reach the ring (decoding deferred). */
  private pending = false;
  /** Two buffers of `window` bytes, allocated on first use: `recent` lives in one, the next in the other. */
  private stores: [Uint8Array, Uint8Array] | undefined;
  private flip = 0;
  /** Bytes looked at: room for 4×`capacity` non-`\r` bytes and a few `\r`s. */
  private readonly window: number;
  private readonly needed: number;

  constructor(capacity = 1024) {
    this.ring = new RingBuffer(capacity);
    // ≥ 1 unit per ≤ 4 non-\r bytes (invalid bytes become one U+FFFD each); a fifth more room
    // keeps deferral on for output with scattered \r bytes (progress bars, random bytes).
    this.needed = capacity * 4 + 4;
    this.window = capacity * 5 + 8;
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;

    let bytes = chunk;
    let head: Uint8Array = NOTHING; // the carried sequence, finished (or proven invalid) by this chunk
    if (this.carry.length > 0) {
      if (chunk.length > 3) {
        // Join only the continuation bytes that can finish the carried sequence (UTF-8
        // resynchronises after them), not the whole chunk. A chunk of 3 bytes or fewer may still
        // leave the sequence open: joined whole.
        let j = 0;
        while (j < 3 && (chunk[j]! & 0xc0) === 0x80) j++;
        head = new Uint8Array(this.carry.length + j);
        head.set(this.carry);
        head.set(chunk.subarray(0, j), this.carry.length);
        bytes = chunk.subarray(j);
      } else {
        bytes = new Uint8Array(this.carry.length + chunk.length);
        bytes.set(this.carry, 0);
        bytes.set(chunk, this.carry.length);
      }
    }
    const completeEnd = endOfCompleteSequences(bytes);
    this.carry = completeEnd === bytes.length ? NOTHING : bytes.slice(completeEnd);
    const complete = bytes.subarray(0, completeEnd);
    if (head.length === 0 && complete.length === 0) return;

    const last = this.lastBytes(head, complete);
    if (last.length - countByte(last, CR) >= this.needed) {
      // Everything before `last` is irrelevant: decode it later, if it is still the end then.
      this.recent = last;
      this.pending = true;
      return;
    }
    this.flushDeferred();
    if (head.length > 0) this.ring.write(sanitizeText(decoder.decode(head)));
    this.decodeTail(complete);
    this.recent = last;
  }

  /**
   * The stream's last ≤ `window` complete bytes after this chunk — the kept ones, then `head`,
   * then `complete` — copied into the store `recent` is not in, starting on a character boundary.
   */
  private lastBytes(head: Uint8Array, complete: Uint8Array): Uint8Array {
    this.stores ??= [new Uint8Array(this.window), new Uint8Array(this.window)];
    this.flip ^= 1;
    const out = this.stores[this.flip]!;
    let room = this.window;
    let at = this.window;
    // Filled from the end: the newest bytes first, as many of each part as still fit.
    for (const part of [complete, head, this.recent]) {
      if (room === 0) break;
      const n = Math.min(room, part.length);
      at -= n;
      out.set(part.subarray(part.length - n), at);
      room -= n;
    }
    while (at < this.window && (out[at]! & 0xc0) === 0x80) at++;
    return out.subarray(at);
  }

  /** Marks the end of the stream: a dangling incomplete sequence becomes U+FFFD. */
  end(): void {
    this.flushDeferred();
    if (this.carry.length > 0) {
      this.ring.write(sanitizeText(decoder.decode(this.carry)));
      this.carry = NOTHING;
    }
  }

  /** The sanitised last `capacity` characters seen so far. */
  text(): string {
    this.flushDeferred();
    return this.ring.toString();
  }

  /** Bytes seen. */
  get bytes(): number {
    return this.total;
  }

  private flushDeferred(): void {
    if (!this.pending) return;
    this.ring.write(sanitizeText(decoder.decode(this.recent)));
    this.pending = false;
  }

  private decodeTail(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const want = this.ring.capacity;
    // Each character takes at most 4 bytes, so 4×capacity (+3 to re-synchronise) usually suffices.
    let window = want * 4 + 4;
    for (;;) {
      if (window >= bytes.length) {
        this.ring.write(sanitizeText(decoder.decode(bytes)));
        return;
      }
      let start = bytes.length - window;
      while (start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
      const text = sanitizeText(decoder.decode(bytes.subarray(start)));
      if (text.length >= want) {
        this.ring.write(text);
        return;
      }
      window *= 4;
    }
  }
}

/** Length of the prefix that holds no incomplete trailing UTF-8 sequence. */
function endOfCompleteSequences(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for its lead
    const need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1;
    return back < need ? n - back : n;
  }
  return n;
}

function countByte(bytes: Uint8Array, value: number): number {
  let n = 0;
  for (let at = bytes.indexOf(value); at !== -1; at = bytes.indexOf(value, at + 1)) n++;
  return n;
}
