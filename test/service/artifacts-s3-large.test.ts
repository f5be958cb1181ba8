/**
 * Large artifacts without large memory (issue 15): a multipart object several times larger than
 * the memory the service may take for it, uploaded with @aws-sdk/client-s3 to a spawned `serve`
 * process whose VmRSS is sampled meanwhile; a cheap request during CompleteMultipartUpload (the
 * parts joined and hashed) must answer at once, and the object downloaded must hash the same.
 * Size: S3_LARGE_MB (default 300; e.g. 1200 by hand). Also the request-body paths that now stream:
 * aws-chunked bodies (chunks split anywhere, trailing checksums), BadDigest, a body cut short, one
 * too large — each leaving the previous object in place.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { Readable } from "node:stream";
import { join } from "node:path";
import * as S3 from "@aws-sdk/client-s3";
import { spawnService } from "../helpers/executables.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

const MB = Number(process.env.S3_LARGE_MB ?? 300);
const PART = 8 * 1024 * 1024;
/** Memory the service may take over its baseline, whatever the object's size (the old join: ~2× it). */
const RSS_GROWTH_LIMIT_MB = 64;
const SLOWEST_REQUEST_MS = 500;

let service: Awaited<ReturnType<typeof spawnService>>;
let s3: S3.S3Client;
const SIGNED = { authorization: "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/s3/aws4_request" };

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${service.proc.pid}/status`, "utf8"))![1]) / 1024;

/** The service's peak RSS while `work` runs (sampled every 20 ms). */
async function peakRss<T>(work: Promise<T>): Promise<{ result: T; peak: number }> {
  let done = false;
  let peak = rssMb();
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, rssMb());
      await Bun.sleep(20);
    }
  })();
  try {
    return { result: await work, peak };
  } finally {
    done = true;
    await sampler;
  }
}

/** Part `n` (from 1): a random MiB repeated, each MiB stamped with its place so no two are alike. */
const block = crypto.getRandomValues(new Uint8Array(1024 * 1024));
function part(n: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += block.length) {
    out.set(block.subarray(0, Math.min(block.length, size - at)), at);
    new DataView(out.buffer).setUint32(at, n * 1000 + at / block.length);
  }
  return out;
}

beforeAll(async () => {
  service = await spawnService(
    [process.execPath, join(REPO_ROOT, "src/service/main.ts")],
    ["--data-dir", tempDir("s3-large-"), "--log-level", "WARN"],
  );
  s3 = new S3.S3Client({
    endpoint: service.http,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  await s3.send(new S3.CreateBucketCommand({ Bucket: "large" }));
});
afterAll(async () => {
  s3?.destroy();
  await service?.stop();
});

describe("a large multipart object", () => {
  const name =
    `${MB} MB: service RSS within ${RSS_GROWTH_LIMIT_MB} MB of its baseline, ` +
    "requests answer during Complete, bytes identical";
  test(name, async () => {
    // Warm up the paths (and the JIT) with a part-sized PutObject, then take the baseline.
    await s3.send(new S3.PutObjectCommand({ Bucket: "large", Key: "warm.bin", Body: part(0, PART) }));
    await Bun.sleep(300);
    const baseline = rssMb();

    const size = MB * 1024 * 1024 + 4321; // a short last part
    const count = Math.ceil(size / PART);
    const expected = createHash("sha256");
    const { UploadId } = await s3.send(new S3.CreateMultipartUploadCommand({ Bucket: "large", Key: "big.bin" }));
    const uploaded = await peakRss(
      (async () => {
        const parts: { ETag: string; PartNumber: number }[] = [];
        for (let n = 1; n <= count; n++) {
          const body = part(n, Math.min(PART, size - (n - 1) * PART));
          expected.update(body);
          const r = await s3.send(
            new S3.UploadPartCommand({ Bucket: "large", Key: "big.bin", UploadId, PartNumber: n, Body: body }),
          );
          parts.push({ ETag: r.ETag!, PartNumber: n });
        }
        return parts;
      })(),
    );
    const sha256 = expected.digest("hex");

    // Complete, and meanwhile a ListBuckets every 20 ms (the HTTP API and the broker share one loop).
    const latencies: number[] = [];
    let completing = true;
    const complete = s3
      .send(
        new S3.CompleteMultipartUploadCommand({
          Bucket: "large",
          Key: "big.bin",
          UploadId,
          MultipartUpload: { Parts: uploaded.result },
        }),
      )
      .finally(() => (completing = false));
    const probe = (async () => {
      while (completing) {
        const t = performance.now();
        const r = await fetch(`${service.http}/`, { headers: SIGNED });
        expect(r.status).toBe(200);
        await r.text();
        latencies.push(performance.now() - t); // started while completing: it counts, whenever it ends
        await Bun.sleep(20);
      }
    })();
    const completed = await peakRss(complete);
    await probe;
    expect(completed.result.ETag).toBe(`"${completed.result.ETag!.slice(1, 33)}-${count}"`);

    // Download, hashing as the bytes arrive.
    const downloaded = await peakRss(
      (async () => {
        const got = await s3.send(new S3.GetObjectCommand({ Bucket: "large", Key: "big.bin" }));
        expect(got.ContentLength).toBe(size);
        expect(got.Metadata?.sha256).toBe(sha256); // the service's own SHA-256, hashed while joining
        const hash = createHash("sha256");
        for await (const chunk of got.Body!.transformToWebStream()) hash.update(chunk);
        return hash.digest("hex");
      })(),
    );
    expect(downloaded.result).toBe(sha256);

    const growth = {
      upload: Math.round(uploaded.peak - baseline),
      complete: Math.round(completed.peak - baseline),
      download: Math.round(downloaded.peak - baseline),
    };
    console.log(
      `S3 ${MB} MB: baseline ${baseline.toFixed(0)} MB, growth (MB) ${JSON.stringify(growth)}, ` +
        `${latencies.length} ListBuckets during Complete, slowest ${Math.max(...latencies).toFixed(0)} ms`,
    );
    expect(growth.upload).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expect(growth.complete).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expect(growth.download).toBeLessThan(RSS_GROWTH_LIMIT_MB);
    expect(latencies.length).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(SLOWEST_REQUEST_MS);
  }, 120_000);
});

describe("request bodies as they stream", () => {
  const url = (key: string) => `${service.http}/large/${key}`;
  const b64 = (algorithm: string, data: Uint8Array) => createHash(algorithm).update(data).digest("base64");
  const crc32 = (data: Uint8Array) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(Bun.hash.crc32(data) >>> 0);
    return b.toString("base64");
  };
  /** An aws-chunked body of `data` in chunks of `size`, with `trailer` lines after the last one. */
  const awsChunked = (data: Uint8Array, size: number, trailer: string) => {
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < data.length; at += size) {
      const chunk = data.subarray(at, at + size);
      pieces.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
    }
    pieces.push(Buffer.from(`0\r\n${trailer}\r\n\r\n`));
    return Buffer.concat(pieces);
  };
  const chunkedHeaders = (data: Uint8Array) => ({
    ...SIGNED,
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": String(data.length),
    "x-amz-trailer": "x-amz-checksum-crc32",
  });
  const put = (key: string, body: Uint8Array, headers: Record<string, string> = {}) =>
    fetch(url(key), { method: "PUT", body, headers: { ...SIGNED, ...headers } });
  const get = async (key: string) => Buffer.from(await (await fetch(url(key), { headers: SIGNED })).arrayBuffer());
  const errorCode = async (r: Response) => /<Code>([^<]*)<\/Code>/.exec(await r.text())?.[1];

  test("the SDK's stream body (aws-chunked, CRC32 trailer) is stored as sent", async () => {
    const pieces = Array.from({ length: 40 }, (_, i) => part(i + 1, 64 * 1024 + i));
    const whole = Buffer.concat(pieces);
    await s3.send(
      new S3.PutObjectCommand({
        Bucket: "large",
        Key: "streamed.bin",
        Body: Readable.from(pieces),
        ContentLength: whole.length,
      }),
    );
    const head = await s3.send(new S3.HeadObjectCommand({ Bucket: "large", Key: "streamed.bin" }));
    expect(head.ETag).toBe(`"${createHash("md5").update(whole).digest("hex")}"`);
    expect(head.Metadata?.sha256).toBe(createHash("sha256").update(whole).digest("hex"));
    expect((await get("streamed.bin")).equals(whole)).toBe(true);
  });

  test("a checksum that does not match is BadDigest and the previous object stays; matching ones pass", async () => {
    const before = part(7, 100_000);
    const other = part(8, 100_000);
    expect((await put("checked.bin", before, { "content-md5": b64("md5", before) })).status).toBe(200);
    const wrong: [string, Response][] = [
      ["content-md5", await put("checked.bin", other, { "content-md5": b64("md5", before) })],
      ["sha256", await put("checked.bin", other, { "x-amz-checksum-sha256": b64("sha256", before) })],
      ["crc32", await put("checked.bin", other, { "x-amz-checksum-crc32": crc32(before) })],
      [
        "crc32 trailer",
        await fetch(url("checked.bin"), {
          method: "PUT",
          body: awsChunked(other, 3000, `x-amz-checksum-crc32:${crc32(before)}`),
          headers: chunkedHeaders(other),
        }),
      ],
    ];
    for (const [name, r] of wrong) {
      expect([name, r.status, await errorCode(r)]).toEqual([name, 400, "BadDigest"]);
    }
    expect((await get("checked.bin")).equals(before)).toBe(true);
    const right = await fetch(url("checked.bin"), {
      method: "PUT",
      body: awsChunked(other, 3000, `x-amz-checksum-crc32:${crc32(other)}`),
      headers: { ...chunkedHeaders(other), "x-amz-checksum-sha256": b64("sha256", other) },
    });
    expect(right.status).toBe(200);
    expect((await get("checked.bin")).equals(other)).toBe(true);
  });

  test("an aws-chunked body cut short is IncompleteBody and keeps nothing", async () => {
    const data = part(9, 50_000);
    const cut = awsChunked(data, 20_000, "").subarray(0, 30_000);
    const r = await fetch(url("cut.bin"), { method: "PUT", body: cut, headers: chunkedHeaders(data) });
    expect([r.status, await errorCode(r)]).toEqual([400, "IncompleteBody"]);
    expect((await fetch(url("cut.bin"), { method: "HEAD", headers: SIGNED })).status).toBe(404);
  });

  test("a body over 100 MB is EntityTooLarge, declared or streamed without a length", async () => {
    const declared = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(service.http).port), "127.0.0.1");
      let reply = "";
      socket.on("data", (d) => {
        reply += d.toString();
        if (reply.includes("</Error>")) socket.destroy();
      });
      socket.on("close", () => resolve(reply));
      socket.on("error", reject);
      socket.write(
        "PUT /large/huge.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
          `Authorization: ${SIGNED.authorization}\r\nContent-Length: ${100 * 1024 * 1024 + 1}\r\n\r\n`,
      );
    });
    expect(declared).toStartWith("HTTP/1.1 400");
    expect(declared).toContain("<Code>EntityTooLarge</Code>");
    const mib = new Uint8Array(1024 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 101) controller.enqueue(mib);
        else controller.close();
      },
    });
    const streamed = await fetch(url("huge.bin"), { method: "PUT", body, headers: SIGNED });
    expect([streamed.status, await errorCode(streamed)]).toEqual([400, "EntityTooLarge"]);
    expect((await fetch(url("huge.bin"), { method: "HEAD", headers: SIGNED })).status).toBe(404);
  });
});
