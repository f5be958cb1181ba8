import type { ByteSink } from "./byte-sink.ts";

/**
 * Counts lines passing to another sink: newline-terminated lines plus an unterminated last one.
 * Used for allowStdErr [DC-JOBS-allowStdErr], per step.
 */
export class LineCounter implements ByteSink {
  private newlines = 0;
  private lastByte = -1;

  constructor(private readonly inner: ByteSink) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    let at = chunk.indexOf(0x0a);
    while (at !== -1) {
      this.newlines++;
      at = chunk.indexOf(0x0a, at + 1);
    }
    this.lastByte = chunk[chunk.length - 1]!;
    this.inner.push(chunk);
  }

  end(): void {
    this.inner.end();
  }

  get lines(): number {
    return this.newlines + (this.lastByte !== -1 && this.lastByte !== 0x0a ? 1 : 0);
  }
}
