/**
 * Object bytes go to files as they arrive, hashed on the way: no object (a request body, a part,
 * the parts joined) is ever whole in memory, and the event loop only ever waits for one chunk's
 * hashing (a chunk is at most what the request stream hands over, or COPY_CHUNK_BYTES when
 * copying files), never for the whole object — the broker and the HTTP API share that loop.
 */
import { createHash, type Hash } from "node:crypto";
import { open, rm } from "node:fs/promises";

/** The read size when joining part files: small enough for a short pause, large enough for few calls. */
export const COPY_CHUNK_BYTES = 1024 * 1024;

export interface Digests {
  readonly size: number;
  readonly sha256: Buffer;
  /** Computed when asked for (`writeHashed(…, { md5: true })`). */
  readonly md5?: Buffer;
  /** CRC32 as S3 sends it (`x-amz-checksum-crc32`), when asked for. */
  readonly crc32?: number;
}

/**
 * Writes `chunks` to a new file (mode 0600) and returns their size and digests. If the chunks fail
 * (a body that breaks off, a checksum or size error thrown by the source) or a write does, the
 * file is removed and the error goes on.
 */
export async function writeHashed(
  file: string,
  chunks: AsyncIterable<Uint8Array>,
  options: { md5?: boolean; crc32?: boolean } = {},
): Promise<Digests> {
  const sha256 = createHash("sha256");
  const md5: Hash | undefined = options.md5 ? createHash("md5") : undefined;
  let crc32: number | undefined = options.crc32 ? 0 : undefined;
  let size = 0;
  const handle = await open(file, "w", 0o600);
  try {
    for await (const chunk of chunks) {
      if (chunk.length === 0) continue;
      sha256.update(chunk);
      md5?.update(chunk);
      if (crc32 !== undefined) crc32 = Bun.hash.crc32(chunk, crc32);
      // The chunk may be a buffer its source reuses: written in full before the next one is asked for.
      for (let at = 0; at < chunk.length; ) at += (await handle.write(chunk, at, chunk.length - at)).bytesWritten;
      size += chunk.length;
    }
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(file, { force: true });
    throw error;
  }
  return { size, sha256: sha256.digest(), md5: md5?.digest(), crc32: crc32 === undefined ? undefined : crc32 >>> 0 };
}

/** The bytes of `files` one after the other, read COPY_CHUNK_BYTES at a time into one reused buffer. */
export async function* fileChunks(files: readonly string[]): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(COPY_CHUNK_BYTES);
  for (const file of files) {
    const handle = await open(file, "r");
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await handle.close();
    }
  }
}
