/**
 * aws-chunked bodies (`x-amz-content-sha256: STREAMING-…`, what the SDKs and the CLI send with a
 * trailing checksum) decoded as they arrive: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` … a
 * zero-size chunk, then trailer lines (`x-amz-checksum-crc32:…`). Chunk signatures are not
 * checked (header signatures are not either). Only a header or trailer line is ever held.
 */
import { S3Error } from "./objects.ts";

/** A chunk header or the trailers longer than this are not aws-chunked (nothing sends more). */
const MAX_LINE_BYTES = 16 * 1024;

const incomplete = (what: string) => new S3Error(400, "IncompleteBody", `The aws-chunked body ${what}`);

export class AwsChunkedDecoder {
  /** Lowercase trailer names and their values, complete once `end()` returned. */
  readonly trailers: Record<string, string> = {};
  private state: "header" | "data" | "after-data" | "trailers" = "header";
  private remaining = 0;
  private pending = new Uint8Array(0);

  /** The data bytes in `bytes` (views into it: use them before the next push). */
  *push(bytes: Uint8Array): Generator<Uint8Array> {
    let i = 0;
    while (i < bytes.length) {
      if (this.state === "data") {
        const n = Math.min(this.remaining, bytes.length - i);
        yield bytes.subarray(i, i + n);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = "after-data";
        continue;
      }
      if (this.state === "trailers") {
        this.hold(bytes.subarray(i));
        return;
      }
      const end = bytes.indexOf(0x0a, i);
      if (end < 0) {
        this.hold(bytes.subarray(i));
        return;
      }
      const line = this.take(bytes.subarray(i, end));
      i = end + 1;
      if (this.state === "after-data") {
        this.state = "header";
        continue;
      }
      const size = Number.parseInt(line.split(";")[0]!, 16);
      if (!Number.isInteger(size) || size < 0) throw new S3Error(400, "InvalidArgument", "Malformed aws-chunked body");
      if (size === 0) this.state = "trailers";
      else [this.state, this.remaining] = ["data", size];
    }
  }

  /** The body ended: the trailers are read, or the body was cut short. */
  end(): void {
    if (this.state === "data") throw incomplete("is shorter than its chunks");
    if (this.state !== "trailers") throw incomplete("ends inside a chunk header");
    const text = new TextDecoder().decode(this.pending);
    const lines = text.split("\n");
    if (lines.at(-1) !== "") throw incomplete("ends inside a chunk header");
    for (const raw of lines) {
      const t = raw.replace(/\r$/, "");
      const colon = t.indexOf(":");
      if (colon > 0) this.trailers[t.slice(0, colon).trim().toLowerCase()] = t.slice(colon + 1).trim();
    }
  }

  /** Keeps the start of a line (or the trailers) until the rest arrives. */
  private hold(bytes: Uint8Array): void {
    if (this.pending.length + bytes.length > MAX_LINE_BYTES)
      throw new S3Error(400, "InvalidArgument", "Malformed aws-chunked body (a chunk header or trailer is too long)");
    const joined = new Uint8Array(this.pending.length + bytes.length);
    joined.set(this.pending);
    joined.set(bytes, this.pending.length);
    this.pending = joined;
  }

  /** A complete line: what was held and `rest`, without its line end. */
  private take(rest: Uint8Array): string {
    this.hold(rest);
    const text = new TextDecoder().decode(this.pending);
    this.pending = new Uint8Array(0);
    return text.replace(/\r$/, "");
  }
}
