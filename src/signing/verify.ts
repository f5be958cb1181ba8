/**
 * Code signing: a SHA-256 signature over a whole artifact, made with an ECDSA (P-256, what AWS
 * Signer for IoT produces) or RSA (PKCS#1 v1.5) key, checked against the public keys this device
 * trusts. The artifact is hashed as it streams (a fixed buffer, whatever its size); the trust
 * anchors come from the device's configuration, never from the job. A certificate is only a
 * carrier of its public key, as in FreeRTOS OTA: no chain, no expiry (a device's clock may be
 * wrong, and an artifact signed once stays signed).
 *
 * Loaded only when a signature is checked: node:crypto costs the idle agent memory.
 */
import type { KeyObject } from "node:crypto";
import { nodeCrypto } from "../util/lazy-node.ts";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";

export type SignatureAlgorithm = "ECDSA-SHA256" | "RSA-SHA256";

/** Names people and AWS use for our two algorithms (AWS Signer, OTA job documents, openssl). */
const ALGORITHM_NAMES: Record<string, SignatureAlgorithm> = {
  "ecdsa-sha256": "ECDSA-SHA256",
  ecdsa: "ECDSA-SHA256",
  sha256withecdsa: "ECDSA-SHA256",
  "sha256-ecdsa": "ECDSA-SHA256",
  "awsiotdevicemanagement-sha256-ecdsa": "ECDSA-SHA256",
  "rsa-sha256": "RSA-SHA256",
  rsa: "RSA-SHA256",
  sha256withrsa: "RSA-SHA256",
  "sha256-rsa": "RSA-SHA256",
};

export function parseAlgorithm(name: string): SignatureAlgorithm | undefined {
  return ALGORITHM_NAMES[name.trim().toLowerCase()];
}

/** A public key the device trusts, and the file it came from (named in reasons; never its bytes). */
export interface TrustedKey {
  readonly source: string;
  readonly key: KeyObject;
  readonly algorithm: SignatureAlgorithm;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** Base64 (standard, padding optional, whitespace ignored) to bytes; undefined when it is not base64. */
export function decodeBase64(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, "");
  if (clean === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(clean) || clean.replace(/=+$/, "").length % 4 === 1)
    return undefined;
  return new Uint8Array(Buffer.from(clean, "base64"));
}

function algorithmOf(key: KeyObject): SignatureAlgorithm | undefined {
  if (key.asymmetricKeyType === "ec") return "ECDSA-SHA256";
  if (key.asymmetricKeyType === "rsa") return "RSA-SHA256";
  return undefined;
}

/** The public keys in PEM text: certificates and PUBLIC KEY blocks. */
export function keysFromPem(text: string, source: string): Checked<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const block of text.matchAll(PEM)) {
    const kind = block[1]!;
    let key: KeyObject;
    try {
      if (kind === "CERTIFICATE") key = new (nodeCrypto().X509Certificate)(block[0]).publicKey;
      else if (kind === "PUBLIC KEY" || kind === "RSA PUBLIC KEY") key = nodeCrypto().createPublicKey(block[0]);
      else continue;
    } catch (error) {
      return { ok: false, reason: `${source}: unreadable ${kind.toLowerCase()} (${(error as Error).message})` };
    }
    const algorithm = algorithmOf(key);
    if (!algorithm)
      return { ok: false, reason: `${source}: a ${key.asymmetricKeyType} key; expected an EC or RSA key` };
    keys.push({ source, key, algorithm });
  }
  if (keys.length === 0) return { ok: false, reason: `${source}: no PEM certificate or public key in it` };
  return { ok: true, value: keys };
}

/** The trusted keys in FILE, or in every file of DIRECTORY (not its subdirectories). */
export async function loadTrustedKeys(path: string): Promise<Checked<TrustedKey[]>> {
  let files: string[];
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      files = [];
      for (const name of (await readdir(path)).sort()) {
        if ((await stat(join(path, name))).isFile()) files.push(join(path, name));
      }
      if (files.length === 0) return { ok: false, reason: `${path}: no certificate files in the directory` };
    } else {
      files = [path];
    }
  } catch (error) {
    return { ok: false, reason: `cannot read trusted certificates ${path}: ${errorText(error)}` };
  }
  const keys: TrustedKey[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      return { ok: false, reason: `cannot read ${file}: ${errorText(error)}` };
    }
    const found = keysFromPem(text, basename(file));
    if (!found.ok) return found;
    keys.push(...found.value);
  }
  return { ok: true, value: keys };
}

/**
 * How to hand an ECDSA signature to OpenSSL: DER (openssl, AWS Signer) when it parses as a DER
 * SEQUENCE of the right length, raw r||s (IEEE P1363, WebCrypto) when it is exactly twice the
 * curve's size, else undefined (a truncated or padded signature).
 */
export function ecdsaEncoding(signature: Uint8Array, curveBytes: number): "der" | "ieee-p1363" | undefined {
  if (signature.length >= 8 && signature[0] === 0x30) {
    const len = signature[1]!;
    if (len < 0x80 && len === signature.length - 2) return "der";
    if (len === 0x81 && signature[2] === signature.length - 3) return "der";
  }
  if (signature.length === 2 * curveBytes) return "ieee-p1363";
  return undefined;
}

const CURVE_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

export interface VerifyRequest {
  readonly signature: Uint8Array;
  readonly keys: readonly TrustedKey[];
  /** Only keys of this algorithm; undefined: whichever each key is for. */
  readonly algorithm?: SignatureAlgorithm;
}

export interface Verified {
  readonly algorithm: SignatureAlgorithm;
  /** The file of the trusted key that verified. */
  readonly source: string;
  readonly bytes: number;
}

/** Chunks of a file through one reused buffer: constant memory for any size. */
export async function* fileChunks(path: string, bufferBytes = 1 << 20): AsyncGenerator<Uint8Array> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(bufferBytes);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, bufferBytes, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Hashes CHUNKS once per candidate key (usually one) and checks the signature. The reason of a
 * failure names the algorithm and key files, never the signature or key material.
 */
export async function verifyChunks(
  chunks: AsyncIterable<Uint8Array>,
  request: VerifyRequest,
): Promise<Checked<Verified>> {
  const candidates: {
    key: TrustedKey;
    encoding: "der" | "ieee-p1363" | undefined;
    verifier: ReturnType<ReturnType<typeof nodeCrypto>["createVerify"]>;
  }[] = [];
  const badEncoding: string[] = [];
  for (const key of request.keys) {
    if (request.algorithm && key.algorithm !== request.algorithm) continue;
    let encoding: "der" | "ieee-p1363" | undefined;
    if (key.algorithm === "ECDSA-SHA256") {
      const curve = key.key.asymmetricKeyDetails?.namedCurve ?? "prime256v1";
      encoding = ecdsaEncoding(request.signature, CURVE_BYTES[curve] ?? 32);
      if (!encoding) {
        badEncoding.push(key.source);
        continue;
      }
    } else if (request.signature.length !== (key.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8) {
      badEncoding.push(key.source);
      continue;
    }
    candidates.push({ key, encoding, verifier: nodeCrypto().createVerify("sha256") });
  }
  if (candidates.length === 0) {
    if (badEncoding.length === 0)
      return { ok: false, reason: `no trusted key is for ${request.algorithm ?? "ECDSA-SHA256 or RSA-SHA256"}` };
    const kinds = [...new Set(request.keys.filter((k) => badEncoding.includes(k.source)).map((k) => k.algorithm))].join(
      " or ",
    );
    return {
      ok: false,
      reason: `the signature (${request.signature.length} bytes) cannot be a ${kinds} signature of the trusted key (${badEncoding.join(", ")}): truncated, or made with another kind of key`,
    };
  }
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    for (const c of candidates) c.verifier.update(chunk);
  }
  for (const c of candidates) {
    const key = c.encoding ? { key: c.key.key, dsaEncoding: c.encoding } : c.key.key;
    let good = false;
    try {
      good = c.verifier.verify(key, request.signature);
    } catch {
      good = false; // malformed DER inside a well-formed length: just not a valid signature
    }
    if (good) return { ok: true, value: { algorithm: c.key.algorithm, source: c.key.source, bytes } };
  }
  const names = [...new Set(candidates.map((c) => c.key.source))].join(", ");
  return {
    ok: false,
    reason: `signature does not verify with the trusted key${candidates.length > 1 ? "s" : ""} (${names}): the artifact was changed, or signed by another key`,
  };
}

function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const known: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied",
    EISDIR: "is a directory",
  };
  return (e.code && known[e.code]) ?? e.message;
}

/** Checks ARTIFACT (a file) against SIGNATURE with the trusted KEYS. */
export async function verifyFile(path: string, request: VerifyRequest): Promise<Checked<Verified>> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return { ok: false, reason: `${path}: not a regular file` };
    return await verifyChunks(fileChunks(path), request);
  } catch (error) {
    return { ok: false, reason: `cannot read ${path}: ${errorText(error)}` };
  }
}
