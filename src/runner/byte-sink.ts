/** Where a child's output goes, chunk by chunk. */
export interface ByteSink {
  push(chunk: Uint8Array): void;
  /** The stream ended (the child's side is closed). */
  end(): void;
}
