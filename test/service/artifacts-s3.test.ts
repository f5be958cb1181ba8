/**
 * Artifacts as AWS serves them: the service's S3 subset driven by the AWS CLI (`aws s3 mb/cp/ls`,
 * a file over the multipart threshold up and down, byte-identical), a package version whose
 * artifact is there, and a job whose document gets a pre-signed URL at each delivery — fetched by
 * curl before expiry, after it (the clock advanced), and altered (403 in S3's XML shape).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CreateJobCommand,
  CreatePackageCommand,
  CreatePackageVersionCommand,
  CreateThingCommand,
  DescribeJobCommand,
  type IoTClient,
  UpdatePackageVersionCommand,
} from "@aws-sdk/client-iot";
import { createLogger } from "../../src/log/logger.ts";
import { type RunningService, startService } from "../../src/service/service.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { awsCliEnv, Device, iotClient, thingArn, versionArn } from "../helpers/local-service.ts";
import { tempDir } from "../helpers/temp.ts";

const hasCli = Bun.spawnSync(["sh", "-c", "command -v aws && command -v curl"]).exitCode === 0;
if (!hasCli) console.warn("artifacts-s3: the AWS CLI or curl is missing; those tests are skipped");

const clock = new ManualClock(Date.now());
let service: RunningService;
let iot: IoTClient;
const dir = tempDir("s3-files-");
const env = awsCliEnv();

async function aws(...args: string[]): Promise<{ code: number; out: string }> {
  const quiet = args[1] === "cp" || args[1] === "rm" ? ["--only-show-errors"] : [];
  const p = Bun.spawn(["aws", ...args, "--endpoint-url", service.httpUrl, ...quiet], {
    stdout: "pipe",
    stderr: "pipe",
    env,
  });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out: out + err };
}

async function curl(url: string): Promise<{ status: number; body: Buffer }> {
  const out = join(dir, `curl-${randomBytes(4).toString("hex")}`);
  const p = Bun.spawn(["curl", "-s", "-o", out, "-w", "%{http_code}", url], { stdout: "pipe" });
  const status = Number(await new Response(p.stdout).text());
  await p.exited;
  return { status, body: readFileSync(out) };
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const big = randomBytes(20 * 1024 * 1024 + 123); // over the CLI's 8 MB multipart threshold

beforeAll(async () => {
  service = await startService({
    dataDir: tempDir("s3-data-"),
    host: "127.0.0.1",
    mqttPort: 0,
    httpPort: 0,
    clock,
    log: createLogger({ level: "ERROR", type: "stdout", fd: 2 }),
  });
  iot = iotClient(service.httpUrl);
  writeFileSync(join(dir, "big.bin"), big);
});
afterAll(() => service.stop());

describe.skipIf(!hasCli)("the S3 subset with the AWS CLI", () => {
  test("mb, cp up (multipart) and down byte-identical, ls, rm", async () => {
    expect(await aws("s3", "mb", "s3://artifacts")).toEqual({ code: 0, out: "make_bucket: artifacts\n" });
    const up = await aws("s3", "cp", join(dir, "big.bin"), "s3://artifacts/pkg/1.0/big.bin");
    expect(up).toEqual({ code: 0, out: "" });
    // The CLI went multipart (its ETag is <md5 of the parts' md5s>-<parts>: 20 MB in 8 MB parts).
    const head = await aws("s3api", "head-object", "--bucket", "artifacts", "--key", "pkg/1.0/big.bin");
    expect(JSON.parse(head.out).ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    const down = await aws("s3", "cp", "s3://artifacts/pkg/1.0/big.bin", join(dir, "down.bin"));
    expect(down.code).toBe(0);
    expect(sha256(readFileSync(join(dir, "down.bin")))).toBe(sha256(big));
    const ls = await aws("s3", "ls", "s3://artifacts/", "--recursive");
    expect(ls.out).toContain(`${big.length} pkg/1.0/big.bin`);
    const top = await aws("s3", "ls", "s3://artifacts/");
    expect(top.out).toContain("PRE pkg/");
    expect((await aws("s3", "ls")).out).toContain("artifacts");
    writeFileSync(join(dir, "tmp.txt"), "gone soon");
    await aws("s3", "cp", join(dir, "tmp.txt"), "s3://artifacts/tmp.txt");
    expect((await aws("s3", "rm", "s3://artifacts/tmp.txt")).code).toBe(0);
    expect((await aws("s3", "ls", "s3://artifacts/tmp.txt")).code).not.toBe(0);
    const missing = await aws("s3", "cp", "s3://artifacts/none", join(dir, "none"));
    expect(missing.out).toContain("404");
  }, 120_000);

  test("GetObject with a Range answers 206 with the bytes asked for", async () => {
    const r = await fetch(`${service.httpUrl}/artifacts/pkg/1.0/big.bin`, {
      headers: {
        range: "bytes=10-19",
        authorization: "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/s3/aws4_request",
      },
    });
    expect(r.status).toBe(206);
    expect(r.headers.get("content-range")).toBe(`bytes 10-19/${big.length}`);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(big.subarray(10, 20));
  });
});

describe.skipIf(!hasCli)("pre-signed URLs in job documents", () => {
  let device: Device;
  beforeAll(async () => {
    await iot.send(new CreateThingCommand({ thingName: "dl-1" }));
    await iot.send(new CreatePackageCommand({ packageName: "app" }));
    await iot.send(
      new CreatePackageVersionCommand({
        packageName: "app",
        versionName: "1.0",
        artifact: { s3Location: { bucket: "artifacts", key: "pkg/1.0/big.bin", version: "1" } },
        attributes: { sha256: sha256(big) },
      }),
    );
    await iot.send(new UpdatePackageVersionCommand({ packageName: "app", versionName: "1.0", action: "PUBLISH" }));
    device = await Device.connect(service.mqttUrl, "dl-1", ["$aws/things/{thing}/jobs/start-next/accepted"]);
  });
  afterAll(() => device.client.endAsync());

  async function startNext(): Promise<Record<string, unknown>> {
    const before = device.messages.length;
    await device.publish("jobs/start-next", {});
    const until = Date.now() + 5_000;
    while (device.messages.length === before) {
      if (Date.now() > until) throw new Error("no start-next reply");
      await Bun.sleep(10);
    }
    return device.messages.at(-1)!.payload.execution.jobDocument;
  }

  test("without presignedUrlConfig the placeholder is refused at CreateJob", async () => {
    const doc = { url: "${aws:iot:package:app:version:1.0:artifact-location:s3-presigned-url}" };
    const r = iot.send(
      new CreateJobCommand({
        jobId: "dl-none",
        targets: [thingArn("dl-1")],
        document: JSON.stringify(doc),
        destinationPackageVersions: [versionArn("app", "1.0")],
      }),
    );
    expect(r).rejects.toThrow("presignedUrlConfig role ARN is required");
  });

  test("a placeholder whose URL names no S3 object is refused at CreateJob, alone or among good ones", async () => {
    for (const [jobId, doc] of [
      ["dl-bad-1", { u: "${aws:iot:s3-presigned-url:https://example.com/x}" }],
      [
        "dl-bad-2",
        {
          a: "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}",
          u: "${aws:iot:s3-presigned-url:https://example.com/x}",
        },
      ],
    ] as const) {
      const r = iot.send(
        new CreateJobCommand({
          jobId,
          targets: [thingArn("dl-1")],
          document: JSON.stringify(doc),
          presignedUrlConfig: { roleArn: "arn:aws:iam::123456789012:role/dl", expiresInSec: 60 },
        }),
      );
      expect(r).rejects.toThrow("Not an S3 object URL in a presigned-url placeholder: https://example.com/x");
    }
  });

  test("each delivery signs a fresh URL; curl gets the artifact before expiry, 403 after it and when altered", async () => {
    const doc = {
      version: "1.0",
      url: "${aws:iot:package:app:version:1.0:artifact-location:s3-presigned-url}",
      v2: "${aws:iot:s3-presigned-url-v2:https%3A%2F%2Fs3.us-east-1.amazonaws.com%2Fartifacts%2Fpkg%2F1.0%2Fbig.bin%3FversionId%3D1}",
      sha256: "${aws:iot:package:app:version:1.0:attributes:sha256}",
    };
    await iot.send(
      new CreateJobCommand({
        jobId: "dl-1",
        targets: [thingArn("dl-1")],
        document: JSON.stringify(doc),
        destinationPackageVersions: [versionArn("app", "1.0")],
        presignedUrlConfig: { roleArn: "arn:aws:iam::123456789012:role/dl", expiresInSec: 60 },
      }),
    );
    const described = (await iot.send(new DescribeJobCommand({ jobId: "dl-1" }))).job!;
    expect(described.presignedUrlConfig).toEqual({ roleArn: "arn:aws:iam::123456789012:role/dl", expiresInSec: 60 });
    const first = await startNext();
    const url = first.url as string;
    expect(url).toStartWith(`${service.httpUrl}/artifacts/pkg/1.0/big.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256`);
    expect(url).toContain("X-Amz-Expires=60");
    expect((first.v2 as string).split("?")[0]).toBe(url.split("?")[0]);
    const got = await curl(url);
    expect(got.status).toBe(200);
    expect(sha256(got.body)).toBe(first.sha256 as string);

    const altered = await curl(url.replace("big.bin", "big.bin2"));
    expect(altered.status).toBe(403);
    expect(altered.body.toString()).toContain("<Code>SignatureDoesNotMatch</Code>");
    const longer = await curl(url.replace("X-Amz-Expires=60", "X-Amz-Expires=600"));
    expect(longer.status).toBe(403);
    // Another access key id (with another path and expiry): still the service's URL, altered.
    const otherKey = await curl(
      url
        .replace(/X-Amz-Credential=[^%&]+/, "X-Amz-Credential=AKIAOTHERKEY")
        .replace("X-Amz-Expires=60", "X-Amz-Expires=604800"),
    );
    expect(otherKey.status).toBe(403);
    expect(otherKey.body.toString()).toContain("<Code>InvalidAccessKeyId</Code>");
    // The SigV2 query form botocore's presigner writes for custom endpoints: refused, saying why.
    const v2 = await curl(`${url.split("?")[0]}?AWSAccessKeyId=AKIAX&Signature=abc&Expires=9999999999`);
    expect(v2.status).toBe(400);
    expect(v2.body.toString()).toContain("fetch with a signed request instead");

    clock.advance(61_000);
    const expired = await curl(url);
    expect(expired.status).toBe(403);
    expect(expired.body.toString()).toContain("<Code>AccessDenied</Code><Message>Request has expired</Message>");

    const second = await startNext(); // the same execution again: a new delivery, a new URL
    expect(second.url).not.toBe(url);
    expect((await curl(second.url as string)).status).toBe(200);
  }, 60_000);
});

describe("the S3 subset with @aws-sdk/client-s3 (path-style)", () => {
  test("buckets, PutObject, HeadObject, GetObject with a range, ListObjectsV2, multipart upload, DeleteObject", async () => {
    const S3 = await import("@aws-sdk/client-s3");
    const s3 = new S3.S3Client({
      endpoint: service.httpUrl,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 1,
    });
    await s3.send(new S3.CreateBucketCommand({ Bucket: "sdk-bucket" }));
    const body = randomBytes(300_000);
    await s3.send(new S3.PutObjectCommand({ Bucket: "sdk-bucket", Key: "a/one.bin", Body: body }));
    const head = await s3.send(new S3.HeadObjectCommand({ Bucket: "sdk-bucket", Key: "a/one.bin" }));
    expect(head.ContentLength).toBe(body.length);
    const ranged = await s3.send(
      new S3.GetObjectCommand({ Bucket: "sdk-bucket", Key: "a/one.bin", Range: "bytes=100-199" }),
    );
    expect(Buffer.from(await ranged.Body!.transformToByteArray())).toEqual(body.subarray(100, 200));
    // Multipart, as the SDK's Upload helper does it: two 5 MiB parts and a short last one.
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1234)];
    const { UploadId } = await s3.send(new S3.CreateMultipartUploadCommand({ Bucket: "sdk-bucket", Key: "big.bin" }));
    const etags: { ETag: string; PartNumber: number }[] = [];
    for (const [i, part] of parts.entries()) {
      const r = await s3.send(
        new S3.UploadPartCommand({ Bucket: "sdk-bucket", Key: "big.bin", UploadId, PartNumber: i + 1, Body: part }),
      );
      etags.push({ ETag: r.ETag!, PartNumber: i + 1 });
    }
    await s3.send(
      new S3.CompleteMultipartUploadCommand({
        Bucket: "sdk-bucket",
        Key: "big.bin",
        UploadId,
        MultipartUpload: { Parts: etags },
      }),
    );
    const whole = await s3.send(new S3.GetObjectCommand({ Bucket: "sdk-bucket", Key: "big.bin" }));
    expect(sha256(await whole.Body!.transformToByteArray())).toBe(sha256(Buffer.concat(parts)));
    const listed = await s3.send(new S3.ListObjectsV2Command({ Bucket: "sdk-bucket", Prefix: "a/" }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(["a/one.bin"]);
    await s3.send(new S3.DeleteObjectCommand({ Bucket: "sdk-bucket", Key: "a/one.bin" }));
    await expect(s3.send(new S3.HeadObjectCommand({ Bucket: "sdk-bucket", Key: "a/one.bin" }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
  }, 60_000);
});
