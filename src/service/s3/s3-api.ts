/**
 * The S3 subset package artifacts need, path-style on the service's HTTP port (requests signed
 * for `s3`, or carrying a pre-signed URL's query): enough for `aws s3 cp` / `aws s3 ls` and
 * @aws-sdk/client-s3 with `forcePathStyle`. ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
 * PutObject, multipart upload (Create, UploadPart, Complete, Abort), GetObject (with a Range),
 * HeadObject, ListObjectsV2, DeleteObject. Errors in S3's XML shape. Header signatures are not
 * checked (as on the rest of the HTTP API); pre-signed URLs the service issued are (presign.ts).
 *
 * Why not an embeddable S3 server: the maintained ones (MinIO, s3rver's successors, LocalStack)
 * are separate servers in other runtimes or unmaintained Node packages with their own storage;
 * this subset is small, keeps objects with the rest of the data directory, and shares its clock.
 */
import type { Clock } from "../../util/clock.ts";
import { AwsChunkedDecoder } from "./aws-chunked.ts";
import type { Digests } from "./hashed-write.ts";
import { type ObjectStore, S3Error, type S3Object } from "./objects.ts";
import { checkPresigned, type SigningKey } from "./presign.ts";

/**
 * The largest request body: a single PutObject or one part (the CLI's parts are 8 MB and it
 * switches to multipart at 8 MB). Below Bun.serve's own 128 MB request limit. Bodies are
 * streamed to files, never held whole (hashed-write.ts).
 */
export const S3_MAX_BODY_BYTES = 100 * 1024 * 1024;

const xmlEscape = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]!);
const iso = (ms: number) => new Date(ms).toISOString();
/** `<name>…</name>` around already-escaped content; `text` escapes a value first. */
const el = (name: string, ...content: string[]) => `<${name}>${content.join("")}</${name}>`;
const text = (name: string, value: string | number | boolean) => el(name, xmlEscape(String(value)));
const etag = (value: string) => `<ETag>&quot;${value}&quot;</ETag>`;
const xml = (status: number, body: string, headers: Record<string, string> = {}) =>
  new Response(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`, {
    status,
    headers: { "content-type": "application/xml", ...headers },
  });
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

export function s3ErrorResponse(e: S3Error, resource: string, head = false): Response {
  if (head) return new Response(null, { status: e.status, headers: { "x-amz-error-code": e.code } });
  return xml(
    e.status,
    el(
      "Error",
      text("Code", e.code),
      text("Message", e.message),
      text("Resource", resource),
      text("RequestId", crypto.randomUUID()),
    ),
  );
}

/** Checksums a client sent (headers or trailers) must match the bytes. */
function verifyChecksums(digests: Digests, fields: Record<string, string | null | undefined>): void {
  const md5 = fields["content-md5"];
  if (md5 && digests.md5?.toString("base64") !== md5)
    throw new S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
  const sha = fields["x-amz-checksum-sha256"];
  if (sha && digests.sha256.toString("base64") !== sha)
    throw new S3Error(400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.");
  const crc = fields["x-amz-checksum-crc32"];
  if (crc) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(digests.crc32 ?? 0);
    if (digests.crc32 === undefined || b.toString("base64") !== crc)
      throw new S3Error(400, "BadDigest", "The CRC32 you specified did not match the calculated checksum.");
  }
}

const tooLarge = () =>
  new S3Error(
    400,
    "EntityTooLarge",
    `Your proposed upload exceeds the maximum allowed size here (${S3_MAX_BODY_BYTES} bytes per request; ` +
      "use multipart upload)",
  );

/**
 * The body of a PutObject or UploadPart as it arrives (aws-chunked decoded; more than
 * S3_MAX_BODY_BYTES is refused, declared or not), and the check of the checksums the client sent
 * in headers or trailers, to run on its digests once it is all written.
 */
function requestBody(request: Request): { chunks: AsyncIterable<Uint8Array>; check: (d: Digests) => void } {
  if (Number(request.headers.get("content-length") ?? 0) > S3_MAX_BODY_BYTES) throw tooLarge();
  const headers = Object.fromEntries(request.headers.entries());
  const decoder = (headers["x-amz-content-sha256"] ?? "").startsWith("STREAMING-") ? new AwsChunkedDecoder() : null;
  const stream = request.body;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let received = 0;
    if (stream)
      for await (const chunk of stream) {
        received += chunk.length;
        if (received > S3_MAX_BODY_BYTES) throw tooLarge();
        if (decoder) yield* decoder.push(chunk);
        else yield chunk;
      }
    decoder?.end();
  }
  return { chunks: chunks(), check: (d) => verifyChecksums(d, { ...headers, ...decoder?.trailers }) };
}

function objectHeaders(o: S3Object): Record<string, string> {
  return {
    etag: `"${o.etag}"`,
    "last-modified": new Date(o.lastModified).toUTCString(),
    "content-type": o.contentType,
    "accept-ranges": "bytes",
    "x-amz-meta-sha256": o.sha256,
  };
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` → [start, end] inclusive, or undefined for the whole object. */
function range(header: string | null, size: number): [number, number] | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // S3 ignores a range it cannot parse
  let start: number;
  let end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) throw new S3Error(416, "InvalidRange", "The requested range is not satisfiable");
  return [start, end];
}

/**
 * Whether a request is for S3: signed for `s3` (header or query) — the API's signing name — or a
 * SigV2 pre-signed URL (`AWSAccessKeyId` + `Signature`, what botocore's presigner writes for a
 * custom endpoint), which only S3 has, so that it gets S3's answer rather than the control plane's.
 */
export function isS3Request(credentialService: string | undefined, query?: URLSearchParams): boolean {
  return credentialService === "s3" || isSigV2Query(query);
}

const isSigV2Query = (query: URLSearchParams | undefined) =>
  query !== undefined && query.has("AWSAccessKeyId") && query.has("Signature");

export class S3Api {
  constructor(
    readonly objects: ObjectStore,
    private readonly key: () => SigningKey,
    private readonly clock: Clock,
  ) {}

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const method = request.method;
    const head = method === "HEAD";
    try {
      if (isSigV2Query(url.searchParams))
        throw new S3Error(
          400,
          "InvalidRequest",
          "The authorization mechanism you have provided is not supported (SigV2). Pre-signed URLs here are " +
            "the service's own (in job documents); fetch with a signed request instead (aws s3 cp, an SDK)",
        );
      if (url.searchParams.has("X-Amz-Signature")) {
        const check = checkPresigned(
          this.key(),
          method,
          url,
          request.headers.get("host") ?? url.host,
          this.clock.now(),
        );
        if (!check.ok) throw new S3Error(403, check.code, check.message);
      }
      const [, bucket = "", ...rest] = url.pathname.split("/");
      const key = rest.map((s) => decodeURIComponent(s)).join("/");
      const q = url.searchParams;
      if (bucket === "") {
        if (method !== "GET")
          throw new S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
        const list = this.objects
          .buckets()
          .map(
            (b) =>
              `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${iso(b.creationDate)}</CreationDate></Bucket>`,
          )
          .join("");
        return xml(
          200,
          `<ListAllMyBucketsResult ${NS}>${el("Owner", text("ID", "local"))}${el("Buckets", list)}` +
            "</ListAllMyBucketsResult>",
        );
      }
      if (key === "") return this.bucketOperation(method, decodeURIComponent(bucket), q);
      return await this.objectOperation(request, method, decodeURIComponent(bucket), key, q);
    } catch (error) {
      if (error instanceof S3Error) return s3ErrorResponse(error, url.pathname, head);
      return s3ErrorResponse(new S3Error(500, "InternalError", (error as Error).message), url.pathname, head);
    }
  }

  private bucketOperation(method: string, bucket: string, q: URLSearchParams): Response {
    switch (method) {
      case "PUT":
        this.objects.createBucket(bucket);
        return new Response(null, { status: 200, headers: { location: `/${bucket}` } });
      case "HEAD":
        this.objects.bucket(bucket);
        return new Response(null, { status: 200, headers: { "x-amz-bucket-region": "us-east-1" } });
      case "DELETE":
        this.objects.deleteBucket(bucket);
        return new Response(null, { status: 204 });
      case "GET": {
        if (q.has("location")) {
          this.objects.bucket(bucket);
          return xml(200, `<LocationConstraint ${NS}></LocationConstraint>`);
        }
        if (
          q.get("list-type") !== "2" &&
          [...q.keys()].some((k) => !["prefix", "delimiter", "max-keys", "encoding-type"].includes(k))
        )
          throw new S3Error(501, "NotImplemented", "Only ListObjectsV2 (list-type=2) lists objects here");
        return this.listV2(bucket, q);
      }
      default:
        throw new S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    }
  }

  private listV2(bucket: string, q: URLSearchParams): Response {
    const prefix = q.get("prefix") ?? "";
    const delimiter = q.get("delimiter") ?? "";
    const max = Math.min(1000, Math.max(0, Number(q.get("max-keys") ?? 1000) || 0));
    const after = q.get("continuation-token") ?? q.get("start-after") ?? "";
    const contents: S3Object[] = [];
    const prefixes: string[] = [];
    let truncated = false;
    let last = "";
    for (const o of this.objects.list(bucket, prefix)) {
      if (o.key <= after) continue;
      let entry: S3Object | string = o;
      if (delimiter) {
        const at = o.key.indexOf(delimiter, prefix.length);
        if (at >= 0) entry = o.key.slice(0, at + delimiter.length);
      }
      if (typeof entry === "string" && (prefixes.at(-1) === entry || entry <= after)) continue;
      if (contents.length + prefixes.length >= max) {
        truncated = true;
        break;
      }
      if (typeof entry === "string") {
        prefixes.push(entry);
        last = `${entry}\uffff`;
      } else {
        contents.push(entry);
        last = entry.key;
      }
    }
    const items = contents
      .map((o) =>
        el(
          "Contents",
          text("Key", o.key),
          text("LastModified", iso(o.lastModified)),
          etag(o.etag),
          text("Size", o.size),
          text("StorageClass", "STANDARD"),
        ),
      )
      .join("");
    const common = prefixes.map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`).join("");
    return xml(
      200,
      `<ListBucketResult ${NS}>${[
        text("Name", bucket),
        text("Prefix", prefix),
        delimiter ? text("Delimiter", delimiter) : "",
        text("MaxKeys", max),
        text("KeyCount", contents.length + prefixes.length),
        text("IsTruncated", truncated),
        truncated ? text("NextContinuationToken", last) : "",
        items,
        common,
      ].join("")}</ListBucketResult>`,
    );
  }

  private async objectOperation(
    request: Request,
    method: string,
    bucket: string,
    key: string,
    q: URLSearchParams,
  ): Promise<Response> {
    const uploadId = q.get("uploadId");
    const contentType = request.headers.get("content-type") ?? "binary/octet-stream";
    if (method === "POST" && q.has("uploads")) {
      const id = this.objects.createUpload(bucket, key);
      return xml(
        200,
        `<InitiateMultipartUploadResult ${NS}>${text("Bucket", bucket)}${text("Key", key)}${text("UploadId", id)}` +
          "</InitiateMultipartUploadResult>",
      );
    }
    if (method === "PUT" && uploadId !== null) {
      if (request.headers.has("x-amz-copy-source"))
        throw new S3Error(501, "NotImplemented", "UploadPartCopy is not implemented");
      const body = requestBody(request);
      const etag = await this.objects.uploadPart(uploadId, Number(q.get("partNumber")), body.chunks, body.check);
      return new Response(null, { status: 200, headers: { etag: `"${etag}"` } });
    }
    if (method === "POST" && uploadId !== null) {
      const body = await request.text();
      const parts = [...body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
        part: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1]!)?.[1]),
        etag: (/<ETag>([^<]*)<\/ETag>/.exec(m[1]!)?.[1] ?? "").replaceAll("&quot;", '"'),
      }));
      const o = await this.objects.completeUpload(uploadId, parts, contentType);
      return xml(
        200,
        `<CompleteMultipartUploadResult ${NS}>${text("Bucket", bucket)}${text("Key", key)}${etag(o.etag)}` +
          "</CompleteMultipartUploadResult>",
      );
    }
    if (method === "DELETE" && uploadId !== null) {
      this.objects.abortUpload(uploadId);
      return new Response(null, { status: 204 });
    }
    switch (method) {
      case "PUT": {
        if (request.headers.has("x-amz-copy-source"))
          throw new S3Error(501, "NotImplemented", "CopyObject is not implemented");
        const body = requestBody(request);
        const o = await this.objects.put(bucket, key, body.chunks, contentType, body.check);
        return new Response(null, { status: 200, headers: { etag: `"${o.etag}"` } });
      }
      case "GET":
      case "HEAD": {
        const o = this.objects.object(bucket, key);
        const r = method === "GET" ? range(request.headers.get("range"), o.size) : undefined;
        const file = Bun.file(this.objects.path(o));
        if (r) {
          return new Response(file.slice(r[0], r[1] + 1), {
            status: 206,
            headers: {
              ...objectHeaders(o),
              "content-range": `bytes ${r[0]}-${r[1]}/${o.size}`,
              "content-length": String(r[1] - r[0] + 1),
            },
          });
        }
        return new Response(method === "HEAD" ? null : file, {
          status: 200,
          headers: { ...objectHeaders(o), "content-length": String(o.size) },
        });
      }
      case "DELETE":
        this.objects.deleteObject(bucket, key);
        return new Response(null, { status: 204 });
      default:
        throw new S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
    }
  }
}
