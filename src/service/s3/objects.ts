/**
 * Buckets and objects for package artifacts: object bytes in files under the data directory
 * (`<data-dir>/s3/`; a private temporary directory when the state lives in memory), their records
 * (size, MD5 ETag, SHA-256) in the store. A file is written whole under a temporary name and
 * renamed before its record is saved, so a record never names a partial file; a record that
 * cannot be saved removes its file. Multipart uploads keep their parts in files until completed
 * (in memory: an upload in progress does not survive a restart, as the CLI retries a whole copy;
 * what one left on disk is removed at the next start). Bytes are streamed and hashed on the way
 * (hashed-write.ts): memory stays bounded whatever the object's size.
 *
 * Writing takes time (awaited I/O), so state is checked again when a write is committed: the
 * bucket or the upload may be gone by then. An upload being completed refuses its parts,
 * another completion and an abort until it is done (409 OperationAborted, as S3 answers a
 * conflicting operation), so the parts it joins cannot change under it.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Bucket, S3Object } from "../model.ts";
import type { Store } from "../store.ts";
import { type Digests, fileChunks, writeHashed } from "./hashed-write.ts";

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
  private readonly uploads = new Map<string, Upload>();
  private readonly removing = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    dataDir: string | undefined,
    private readonly now: () => number,
  ) {
    this.temporary = dataDir === undefined;
    this.dir = dataDir ? join(dataDir, "s3") : mkdtempSync(join(tmpdir(), "iot-jobs-local-s3-"));
    mkdirSync(join(this.dir, "objects"), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir, "uploads"), { recursive: true, mode: 0o700 });
    this.removeLeftovers();
  }

  /** Files of writes and uploads a previous run did not finish (nothing names them). */
  private removeLeftovers(): void {
    for (const name of readdirSync(join(this.dir, "uploads")))
      rmSync(join(this.dir, "uploads", name), { recursive: true, force: true });
    for (const name of readdirSync(join(this.dir, "objects")))
      if (name.endsWith(TEMP_SUFFIX)) rmSync(join(this.dir, "objects", name), { force: true });
  }

  close(): void {
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Resolves once the files removed so far are gone (removal runs beside the requests). */
  async removals(): Promise<void> {
    while (this.removing.size > 0) await Promise.all(this.removing);
  }

  /**
   * Removes a file or directory without holding the event loop (unlinking a GB of parts takes
   * hundreds of ms). Nothing names it any more when this is called; one that stays (an I/O
   * error) is an upload's, removed at the next start, or an unnamed object file.
   */
  private remove(path: string): void {
    const done = rm(path, { recursive: true, force: true })
      .catch(() => {})
      .finally(() => this.removing.delete(done));
    this.removing.add(done);
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

  /**
   * PutObject: `body` streamed to the object's file; `check` sees its digests before the object
   * replaces the previous one (a checksum the client sent: throwing leaves nothing behind).
   */
  async put(
    bucket: string,
    key: string,
    body: AsyncIterable<Uint8Array>,
    contentType: string,
    check: (digests: Digests) => void,
  ): Promise<S3Object> {
    this.bucket(bucket);
    checkKey(key);
    const target = this.newObjectFile();
    const digests = await writeHashed(target.temp, body, { md5: true, crc32: true });
    try {
      check(digests);
    } catch (error) {
      this.remove(target.temp);
      throw error;
    }
    return this.commit(bucket, key, contentType, digests.md5!.toString("hex"), digests, target);
  }

  deleteObject(bucket: string, key: string): void {
    this.bucket(bucket);
    const o = this.store.get("s3object", objectKey(bucket, key));
    if (!o) return; // S3: deleting a missing key succeeds
    this.store.delete("s3object", objectKey(bucket, key));
    this.remove(this.path(o));
  }

  createUpload(bucket: string, key: string): string {
    this.bucket(bucket);
    checkKey(key);
    const id = randomUUID().replaceAll("-", "");
    mkdirSync(join(this.dir, "uploads", id), { mode: 0o700 });
    this.uploads.set(id, { bucket, key, parts: new Map(), completing: false });
    return id;
  }

  /** UploadPart: as `put`, into the upload's directory; the part replaces one of the same number. */
  async uploadPart(
    id: string,
    part: number,
    body: AsyncIterable<Uint8Array>,
    check: (digests: Digests) => void,
  ): Promise<string> {
    this.upload(id);
    if (!Number.isInteger(part) || part < 1 || part > 10_000)
      throw new S3Error(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
    // Each version of a part has its own file, named only by the upload's map once whole and
    // checked (no rename: one fewer metadata operation on the event loop per part).
    const file = join(this.dir, "uploads", id, `${part}.${randomUUID()}`);
    try {
      const digests = await writeHashed(file, body, { md5: true, crc32: true });
      check(digests);
      const upload = this.idle(this.upload(id)); // aborted, or being completed, while the part was written
      const etag = digests.md5!.toString("hex");
      const replaced = upload.parts.get(part);
      upload.parts.set(part, { file, etag, size: digests.size });
      if (replaced) this.remove(replaced.file);
      return etag;
    } catch (error) {
      this.remove(file);
      this.upload(id); // aborted meanwhile (its directory gone): say so rather than ENOENT
      throw error;
    }
  }

  /**
   * CompleteMultipartUpload: the chosen parts joined into the object's file (copied a chunk at a
   * time and hashed on the way), ETag `<md5 of the parts' md5s>-<count>`. If it fails, the upload
   * is left as it was (the client may complete it again or abort it).
   */
  async completeUpload(
    id: string,
    parts: readonly { part: number; etag: string }[],
    contentType: string,
  ): Promise<S3Object> {
    const upload = this.idle(this.upload(id));
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
    upload.completing = true;
    try {
      const target = this.newObjectFile();
      const digests = await writeHashed(target.temp, fileChunks(chosen.map((p) => p.file)));
      const o = this.commit(upload.bucket, upload.key, contentType, etag, digests, target);
      this.discard(id);
      return o;
    } finally {
      upload.completing = false;
    }
  }

  abortUpload(id: string): void {
    this.idle(this.upload(id));
    this.discard(id);
  }

  private discard(id: string): void {
    this.uploads.delete(id);
    this.remove(join(this.dir, "uploads", id));
  }

  private upload(id: string) {
    const u = this.uploads.get(id);
    if (!u) throw new S3Error(404, "NoSuchUpload", "The specified multipart upload does not exist.");
    return u;
  }

  /** An upload that is not being completed (its parts may change, it may end). */
  private idle(upload: Upload): Upload {
    if (upload.completing)
      throw new S3Error(
        409,
        "OperationAborted",
        "A conflicting conditional operation is currently in progress against this resource. Please try again.",
      );
    return upload;
  }

  /** A new object file's name, its path, and the temporary path it is written under. */
  private newObjectFile(): { file: string; path: string; temp: string } {
    const file = randomUUID();
    const path = join(this.dir, "objects", file);
    return { file, path, temp: `${path}${TEMP_SUFFIX}` };
  }

  /**
   * A written object takes its key: renamed into place and recorded at once (no await between, so
   * the store and the files agree); the object it replaces is removed. The bucket may have been
   * deleted while the bytes were written: then nothing is kept.
   */
  private commit(
    bucket: string,
    key: string,
    contentType: string,
    etag: string,
    digests: Digests,
    target: { file: string; path: string; temp: string },
  ): S3Object {
    try {
      this.bucket(bucket);
    } catch (error) {
      this.remove(target.temp);
      throw error;
    }
    renameSync(target.temp, target.path);
    const previous = this.store.get("s3object", objectKey(bucket, key));
    const o: S3Object = {
      bucket,
      key,
      size: digests.size,
      etag,
      sha256: digests.sha256.toString("hex"),
      contentType,
      lastModified: this.now(),
      file: target.file,
    };
    try {
      this.store.put("s3object", objectKey(bucket, key), o);
    } catch (error) {
      this.remove(target.path);
      throw error;
    }
    if (previous) this.remove(this.path(previous));
    return o;
  }
}

interface Upload {
  readonly bucket: string;
  readonly key: string;
  readonly parts: Map<number, { file: string; etag: string; size: number }>;
  /** CompleteMultipartUpload is joining the parts. */
  completing: boolean;
}

/** Files being written end so; one left by a stopped run is removed at the next start. */
const TEMP_SUFFIX = ".part";

function checkKey(key: string): void {
  if (key.length === 0 || Buffer.byteLength(key) > 1024)
    throw new S3Error(400, "KeyTooLongError", "Your key is too long (1 to 1024 bytes).");
}
