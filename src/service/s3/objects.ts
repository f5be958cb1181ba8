/**
 * Buckets and objects for package artifacts: object bytes in files under the data directory
 * (`<data-dir>/s3/`; a private temporary directory when the state lives in memory), their records
 * (size, MD5 ETag, SHA-256) in the store. A file is written whole under a temporary name and
 * renamed before its record is saved, so a record never names a partial file; a record that
 * cannot be saved removes its file. Multipart uploads keep their parts in files until completed
 * (in memory: an upload in progress does not survive a restart, as the CLI retries a whole copy).
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Bucket, S3Object } from "../model.ts";
import type { Store } from "../store.ts";

export type { S3Bucket, S3Object };

export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** S3's bucket naming rules (the common subset). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const objectKey = (bucket: string, key: string) => `${bucket}\u0000${key}`;

export class ObjectStore {
  private readonly dir: string;
  private readonly temporary: boolean;
  private readonly uploads = new Map<
    string,
    { bucket: string; key: string; parts: Map<number, { file: string; etag: string; size: number }> }
  >();

  constructor(
    private readonly store: Store,
    dataDir: string | undefined,
    private readonly now: () => number,
  ) {
    this.temporary = dataDir === undefined;
    this.dir = dataDir ? join(dataDir, "s3") : mkdtempSync(join(tmpdir(), "iot-jobs-local-s3-"));
    mkdirSync(join(this.dir, "objects"), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir, "uploads"), { recursive: true, mode: 0o700 });
  }

  close(): void {
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }

  buckets(): S3Bucket[] {
    return [...this.store.all("s3bucket")].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  bucket(name: string): S3Bucket {
    const b = this.store.get("s3bucket", name);
    if (!b) throw new S3Error(404, "NoSuchBucket", "The specified bucket does not exist");
    return b;
  }

  createBucket(name: string): void {
    if (!BUCKET.test(name) || name.includes(".."))
      throw new S3Error(400, "InvalidBucketName", "The specified bucket is not valid.");
    if (this.store.get("s3bucket", name))
      throw new S3Error(
        409,
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
      );
    this.store.put("s3bucket", name, { name, creationDate: this.now() });
  }

  deleteBucket(name: string): void {
    this.bucket(name);
    if (this.list(name, "").length > 0)
      throw new S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty");
    this.store.delete("s3bucket", name);
  }

  object(bucket: string, key: string): S3Object {
    this.bucket(bucket);
    const o = this.store.get("s3object", objectKey(bucket, key));
    if (!o) throw new S3Error(404, "NoSuchKey", "The specified key does not exist.");
    return o;
  }

  path(o: S3Object): string {
    return join(this.dir, "objects", o.file);
  }

  /** Objects of a bucket under a prefix, in key order. */
  list(bucket: string, prefix: string): S3Object[] {
    this.bucket(bucket);
    const out: S3Object[] = [];
    for (const o of this.store.all("s3object")) if (o.bucket === bucket && o.key.startsWith(prefix)) out.push(o);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  put(bucket: string, key: string, body: Uint8Array, contentType: string): S3Object {
    this.bucket(bucket);
    checkKey(key);
    const md5 = createHash("md5").update(body).digest("hex");
    return this.save(bucket, key, contentType, md5, (file) => writeFileSync(file, body, { mode: 0o600 }), body.length);
  }

  deleteObject(bucket: string, key: string): void {
    this.bucket(bucket);
    const o = this.store.get("s3object", objectKey(bucket, key));
    if (!o) return; // S3: deleting a missing key succeeds
    this.store.delete("s3object", objectKey(bucket, key));
    rmSync(this.path(o), { force: true });
  }

  createUpload(bucket: string, key: string): string {
    this.bucket(bucket);
    checkKey(key);
    const id = randomUUID().replaceAll("-", "");
    mkdirSync(join(this.dir, "uploads", id), { mode: 0o700 });
    this.uploads.set(id, { bucket, key, parts: new Map() });
    return id;
  }

  uploadPart(id: string, part: number, body: Uint8Array): string {
    const upload = this.upload(id);
    if (!Number.isInteger(part) || part < 1 || part > 10_000)
      throw new S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
    const file = join(this.dir, "uploads", id, String(part));
    writeFileSync(file, body, { mode: 0o600 });
    const etag = createHash("md5").update(body).digest("hex");
    upload.parts.set(part, { file, etag, size: body.length });
    return etag;
  }

  completeUpload(id: string, parts: readonly { part: number; etag: string }[], contentType: string): S3Object {
    const upload = this.upload(id);
    if (parts.length === 0) throw new S3Error(400, "MalformedXML", "The XML you provided was not well-formed");
    let last = 0;
    const chosen = parts.map(({ part, etag }) => {
      const p = upload.parts.get(part);
      if (!p || p.etag !== etag.replaceAll('"', ""))
        throw new S3Error(400, "InvalidPart", "One or more of the specified parts could not be found.");
      if (part <= last) throw new S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.");
      last = part;
      return p;
    });
    const md5s = createHash("md5");
    for (const p of chosen) md5s.update(Buffer.from(p.etag, "hex"));
    const etag = `${md5s.digest("hex")}-${chosen.length}`;
    const size = chosen.reduce((n, p) => n + p.size, 0);
    const o = this.save(
      upload.bucket,
      upload.key,
      contentType,
      etag,
      (file) => {
        writeFileSync(file, new Uint8Array(0), { mode: 0o600 });
        for (const p of chosen) writeFileSync(file, readBytes(p.file), { flag: "a" });
      },
      size,
    );
    this.abortUpload(id);
    return o;
  }

  abortUpload(id: string): void {
    this.upload(id);
    this.uploads.delete(id);
    rmSync(join(this.dir, "uploads", id), { recursive: true, force: true });
  }

  private upload(id: string) {
    const u = this.uploads.get(id);
    if (!u) throw new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist.");
    return u;
  }

  private save(
    bucket: string,
    key: string,
    contentType: string,
    etag: string,
    write: (file: string) => void,
    size: number,
  ): S3Object {
    const file = randomUUID();
    const path = join(this.dir, "objects", file);
    const temp = `${path}.part`;
    write(temp);
    const sha256 = createHash("sha256").update(readBytes(temp)).digest("hex");
    renameSync(temp, path);
    const previous = this.store.get("s3object", objectKey(bucket, key));
    const o: S3Object = { bucket, key, size, etag, sha256, contentType, lastModified: this.now(), file };
    try {
      this.store.put("s3object", objectKey(bucket, key), o);
    } catch (error) {
      rmSync(path, { force: true });
      throw error;
    }
    if (previous) rmSync(this.path(previous), { force: true });
    return o;
  }
}

function checkKey(key: string): void {
  if (key.length === 0 || Buffer.byteLength(key) > 1024)
    throw new S3Error(400, "KeyTooLongError", "Your key is too long (1 to 1024 bytes).");
}

const readBytes = (file: string) => new Uint8Array(readFileSync(file));
