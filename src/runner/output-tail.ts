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
 * sanitiser drops) yields at least a quarter of a UTF-16 unit, so a chunk whose last `window`
 * bytes hold at least 4×`capacity` other bytes is certain to yield `capacity` characters, and
 * everything before it is irrelevant. Such a window is only copied aside and decoded when it is
 * still the last one — at `text()`, `end()`, or before a chunk that does not qualify.
 */
export class OutputTail implements ByteSink {
  private readonly ring: RingBuffer;
  private carry: Uint8Array = NOTHING;
  private total = 0;
  /** Raw bytes (starting on a character boundary) whose text has not reached the ring yet. */
  private deferred: Uint8Array | undefined;
  /** Storage for `deferred`, allocated once: no garbage per chunk while output streams. */
  private deferredStore: Uint8Array | undefined;
  /** Bytes looked at per chunk: room for 4×`capacity` non-`\r` bytes and a few `\r`s. */
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
    let head = ""; // text of the carried sequence completed by this chunk, when decoded apart
    if (this.carry.length > 0) {
      if (chunk.length > 3) {
        // Join only the continuation bytes that can finish the carried sequence (UTF-8
        // resynchronises after them), not the whole chunk: copying every chunk that follows a
        // split character made garbage of the whole stream (found by the benchmarks: RSS growth
        // tripled once the tails widened for redaction context). A chunk of 3 bytes or fewer may
        // still leave the sequence open: joined whole.
        let j = 0;
        while (j < 3 && j < chunk.length && (chunk[j]! & 0xc0) === 0x80) j++;
        const joined = new Uint8Array(this.carry.length + j);
        joined.set(this.carry);
        joined.set(chunk.subarray(0, j), this.carry.length);
        head = sanitizeText(decoder.decode(joined));
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
    if (complete.length >= this.window + 3) {
      let start = complete.length - this.window;
      while ((complete[start]! & 0xc0) === 0x80) start++;
      const tail = complete.subarray(start);
      if (tail.length - countByte(tail, CR) >= this.needed) {
        // Everything before (the head included) is irrelevant. Copied: the caller may reuse its buffer.
        this.deferredStore ??= new Uint8Array(this.window);
        this.deferredStore.set(tail);
        this.deferred = this.deferredStore.subarray(0, tail.length);
        return;
      }
    }
    this.flushDeferred();
    if (head) this.ring.write(head);
    this.decodeTail(complete);
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
    if (!this.deferred) return;
    this.ring.write(sanitizeText(decoder.decode(this.deferred)));
    this.deferred = undefined;
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
