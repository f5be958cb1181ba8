import { RingBuffer } from "./ring-buffer.ts";
import { sanitizeText } from "./sanitize.ts";
import type { ByteSink } from "./byte-sink.ts";

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Keeps the sanitised tail of a byte stream in constant memory.
 *
 * Only the end of each chunk can matter for the last `capacity` characters, so each chunk is
 * decoded from a window at its end, widened only if the window yields too few characters (a
 * chunk of `\r`s, say). UTF-8 is self-synchronising: starting the window on a byte that is not a
 * continuation byte gives exactly the characters the whole stream would give from that point.
 * An incomplete sequence at the end of a chunk is carried into the next one.
 */
export class OutputTail implements ByteSink {
  private readonly ring: RingBuffer;
  private carry: Uint8Array = new Uint8Array(0);
  private total = 0;

  constructor(capacity = 1024) {
    this.ring = new RingBuffer(capacity);
  }

  /** Feeds the next chunk of the stream. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;

    let bytes = chunk;
    if (this.carry.length > 0) {
      bytes = new Uint8Array(this.carry.length + chunk.length);
      bytes.set(this.carry, 0);
      bytes.set(chunk, this.carry.length);
    }
    const completeEnd = endOfCompleteSequences(bytes);
    this.carry = bytes.slice(completeEnd);
    this.decodeTail(bytes.subarray(0, completeEnd));
  }

  /** Marks the end of the stream: a dangling incomplete sequence becomes U+FFFD. */
  end(): void {
    if (this.carry.length > 0) {
      this.ring.write(sanitizeText(decoder.decode(this.carry)));
      this.carry = new Uint8Array(0);
    }
  }

  /** The sanitised last `capacity` characters seen so far. */
  text(): string {
    return this.ring.toString();
  }

  /** Bytes seen. */
  get bytes(): number {
    return this.total;
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
