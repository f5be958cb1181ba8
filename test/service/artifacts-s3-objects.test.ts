/**
 * The artifact store's streamed writes, driven directly with bodies the test holds open: what
 * happens when the bucket or the upload changes while bytes are still arriving (nothing half-kept,
 * memory and disk agree), an upload being completed refusing parts and an abort, the leftovers of
 * a stopped run removed at start, and the aws-chunked decoder fed a body split at every byte.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AwsChunkedDecoder } from "../../src/service/s3/aws-chunked.ts";
import type { Digests } from "../../src/service/s3/hashed-write.ts";
import { ObjectStore, S3Error } from "../../src/service/s3/objects.ts";
import { Store } from "../../src/service/store.ts";
import { tempDir } from "../helpers/temp.ts";

const noCheck = (_: Digests) => {};
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const bytes = (text: string) => new TextEncoder().encode(text);
/** A body of one chunk. */
const once = (text: string) =>
  (async function* () {
    yield bytes(text);
  })();

/** A body that yields `first`, then waits until `finish()` before yielding `rest` and ending. */
function heldBody(first: Uint8Array, rest: Uint8Array) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  async function* body() {
    yield first;
    started();
    await gate;
    yield rest;
  }
  return { body: body(), running, finish: release };
}

function newStore() {
  const dataDir = tempDir("s3-objects-");
  const objects = new ObjectStore(new Store(undefined), dataDir, () => 1_000);
  objects.createBucket("bkt");
  return { objects, dir: join(dataDir, "s3") };
}

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e) => (e instanceof S3Error ? e.code : String(e)),
  );
const codeOfSync = (fn: () => unknown) => {
  try {
    fn();
    return "ok";
  } catch (e) {
    return e instanceof S3Error ? e.code : String(e);
  }
};

describe("streamed writes meet changes made while they run", () => {
  test("a PutObject whose bucket is deleted before its body ends keeps nothing", async () => {
    const { objects, dir } = newStore();
    const held = heldBody(bytes("first "), bytes("second"));
    const put = objects.put("bkt", "k", held.body, "text/plain", noCheck);
    await held.running;
    objects.deleteBucket("bkt"); // empty: allowed, as in S3
    held.finish();
    expect(await codeOf(put)).toBe("NoSuchBucket");
    await objects.removals();
    expect(readdirSync(join(dir, "objects"))).toEqual([]);
  });

  test("a PutObject replaces the previous object only once its body is whole and checked", async () => {
    const { objects, dir } = newStore();
    const old = await objects.put("bkt", "k", once("old"), "text/plain", noCheck);
    const held = heldBody(bytes("new "), bytes("bytes"));
    const put = objects.put("bkt", "k", held.body, "text/plain", noCheck);
    await held.running;
    expect(objects.object("bkt", "k").etag).toBe(old.etag); // readers still get the old object
    expect(readFileSync(objects.path(objects.object("bkt", "k"))).toString()).toBe("old");
    held.finish();
    const o = await put;
    expect(o.etag).toBe(md5(bytes("new bytes")));
    expect(o.sha256).toBe(createHash("sha256").update("new bytes").digest("hex"));
    expect(readFileSync(objects.path(objects.object("bkt", "k"))).toString()).toBe("new bytes");
    await objects.removals();
    expect(readdirSync(join(dir, "objects"))).toEqual([o.file]); // the old file is gone, no temp left
  });

  test("a failed checksum keeps the previous object and leaves no file", async () => {
    const { objects, dir } = newStore();
    const old = await objects.put("bkt", "k", once("old"), "text/plain", noCheck);
    const bad = objects.put("bkt", "k", once("other"), "text/plain", () => {
      throw new S3Error(400, "BadDigest", "no");
    });
    expect(await codeOf(bad)).toBe("BadDigest");
    expect(objects.object("bkt", "k")).toEqual(old);
    await objects.removals();
    expect(readdirSync(join(dir, "objects"))).toEqual([old.file]);
  });

  test("a part whose upload is aborted before its body ends is NoSuchUpload and leaves nothing", async () => {
    const { objects, dir } = newStore();
    const id = objects.createUpload("bkt", "k");
    const held = heldBody(bytes("part "), bytes("one"));
    const part = objects.uploadPart(id, 1, held.body, noCheck);
    await held.running;
    objects.abortUpload(id);
    held.finish();
    expect(await codeOf(part)).toBe("NoSuchUpload");
    await objects.removals();
    expect(existsSync(join(dir, "uploads", id))).toBe(false);
  });

  test("a part sent again replaces the earlier one (its file removed); only the new ETag completes", async () => {
    const { objects, dir } = newStore();
    const id = objects.createUpload("bkt", "k");
    const body = (text: string) =>
      (async function* () {
        yield bytes(text);
      })();
    const first = await objects.uploadPart(id, 1, body("x"), noCheck);
    const second = await objects.uploadPart(id, 1, body("yy"), noCheck);
    await objects.removals();
    expect(readdirSync(join(dir, "uploads", id))).toHaveLength(1);
    expect(await codeOf(objects.completeUpload(id, [{ part: 1, etag: first }], "x"))).toBe("InvalidPart");
    const o = await objects.completeUpload(id, [{ part: 1, etag: second }], "x");
    expect(readFileSync(objects.path(o)).toString()).toBe("yy");
  });

  test("an upload being completed refuses an abort, another completion and a part that ends meanwhile", async () => {
    const { objects, dir } = newStore();
    const id = objects.createUpload("bkt", "k");
    const one = await objects.uploadPart(id, 1, once("AAAA"), noCheck);
    const two = await objects.uploadPart(id, 2, once("BB"), noCheck);
    const late = heldBody(bytes("CC"), bytes("CC"));
    const replacing = objects.uploadPart(id, 2, late.body, noCheck);
    await late.running;
    const parts = [
      { part: 1, etag: `"${one}"` },
      { part: 2, etag: two },
    ];
    const complete = objects.completeUpload(id, parts, "application/octet-stream");
    expect(codeOfSync(() => objects.abortUpload(id))).toBe("OperationAborted");
    expect(await codeOf(objects.completeUpload(id, parts, "x"))).toBe("OperationAborted");
    late.finish();
    expect(await codeOf(replacing)).toBe("OperationAborted");
    const o = await complete;
    expect(readFileSync(objects.path(o)).toString()).toBe("AAAABB");
    expect(o.size).toBe(6);
    expect(o.sha256).toBe(createHash("sha256").update("AAAABB").digest("hex"));
    const etags = createHash("md5").update(Buffer.from(one, "hex")).update(Buffer.from(two, "hex"));
    expect(o.etag).toBe(`${etags.digest("hex")}-2`);
    expect(codeOfSync(() => objects.abortUpload(id))).toBe("NoSuchUpload");
    await objects.removals();
    expect(existsSync(join(dir, "uploads", id))).toBe(false);
    expect(readdirSync(join(dir, "objects"))).toEqual([o.file]);
  });

  test("a completion whose bucket is deleted meanwhile keeps nothing; the upload stays for an abort", async () => {
    const { objects, dir } = newStore();
    const id = objects.createUpload("bkt", "k");
    const etag = await objects.uploadPart(id, 1, once("data"), noCheck);
    const complete = objects.completeUpload(id, [{ part: 1, etag }], "x");
    objects.deleteBucket("bkt");
    expect(await codeOf(complete)).toBe("NoSuchBucket");
    await objects.removals();
    expect(readdirSync(join(dir, "objects"))).toEqual([]);
    objects.abortUpload(id);
    await objects.removals();
    expect(existsSync(join(dir, "uploads", id))).toBe(false);
  });
});

test("files a stopped run left (temporary objects, uploads) are removed at start; objects stay", async () => {
  const dataDir = tempDir("s3-leftovers-");
  const store = new Store(dataDir);
  const first = new ObjectStore(store, dataDir, () => 1);
  first.createBucket("bkt");
  const kept = await first.put("bkt", "k", once("kept"), "x", noCheck);
  const dir = join(dataDir, "s3");
  writeFileSync(join(dir, "objects", "0f0f.part"), "half an object");
  mkdirSync(join(dir, "uploads", "abc"));
  writeFileSync(join(dir, "uploads", "abc", "1"), "a part");
  new ObjectStore(store, dataDir, () => 2);
  expect(readdirSync(join(dir, "objects"))).toEqual([kept.file]);
  expect(readdirSync(join(dir, "uploads"))).toEqual([]);
  store.close();
});

describe("aws-chunked bodies decoded as they arrive", () => {
  const data = "hello, streamed world! ".repeat(3);
  const wire = bytes(
    `${(20).toString(16)};chunk-signature=aa\r\n${data.slice(0, 20)}\r\n` +
      `${(data.length - 20).toString(16)};chunk-signature=bb\r\n${data.slice(20)}\r\n` +
      `0;chunk-signature=cc\r\nx-amz-checksum-crc32:ABCDEF==\r\nx-amz-trailer-signature:dd\r\n\r\n`,
  );

  function decode(pieces: Uint8Array[]) {
    const decoder = new AwsChunkedDecoder();
    let out = "";
    for (const piece of pieces) for (const d of decoder.push(piece)) out += new TextDecoder().decode(d);
    decoder.end();
    return { out, trailers: decoder.trailers };
  }

  test("split at every byte (and into single bytes) it gives the same data and trailers", () => {
    const whole = decode([wire]);
    expect(whole).toEqual({
      out: data,
      trailers: { "x-amz-checksum-crc32": "ABCDEF==", "x-amz-trailer-signature": "dd" },
    });
    for (let at = 0; at <= wire.length; at++) expect(decode([wire.subarray(0, at), wire.subarray(at)])).toEqual(whole);
    expect(decode([...wire].map((b) => Uint8Array.of(b)))).toEqual(whole);
  });

  test("a body cut short, a bad size, an endless header: clear errors", () => {
    const cut = (n: number) => () => decode([wire.subarray(0, n)]);
    expect(cut(30)).toThrow("The aws-chunked body is shorter than its chunks");
    expect(cut(10)).toThrow("The aws-chunked body ends inside a chunk header");
    expect(cut(wire.length - 3)).toThrow("The aws-chunked body ends inside a chunk header");
    expect(() => decode([bytes("zz\r\n")])).toThrow("Malformed aws-chunked body");
    expect(() => decode([new Uint8Array(20_000).fill(0x41)])).toThrow("too long");
  });
});
