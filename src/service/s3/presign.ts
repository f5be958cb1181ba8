/**
 * S3 pre-signed URLs, SigV4 query form (as S3 and the SDKs make them): the service signs GET URLs
 * with its own key (an access key id and a secret kept in the store) and checks them when they
 * come back: past `X-Amz-Date + X-Amz-Expires` → expired; any changed path, query or host →
 * the signature does not match. Pure over node:crypto; the clock is passed in.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface SigningKey {
  readonly accessKeyId: string;
  readonly secret: string;
}

const REGION = "us-east-1";
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");
/** RFC 3986 encoding, as SigV4 wants it ('/' kept in paths). */
const encode = (s: string, slash = true) =>
  encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(slash ? /%2F/g : /$^/, "/");

const amzDate = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

function signature(key: SigningKey, method: string, host: string, path: string, query: [string, string][]): string {
  const date = query.find(([k]) => k === "X-Amz-Date")?.[1] ?? "";
  const scope = `${date.slice(0, 8)}/${REGION}/s3/aws4_request`;
  const canonicalQuery = query
    .filter(([k]) => k !== "X-Amz-Signature")
    .map(([k, v]) => [encode(k, false), encode(v, false)])
    .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = [method, encode(path), canonicalQuery, `host:${host}`, "", "host", "UNSIGNED-PAYLOAD"].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", date, scope, sha256(canonical)].join("\n");
  let k = hmac(`AWS4${key.secret}`, date.slice(0, 8));
  for (const part of [REGION, "s3", "aws4_request"]) k = hmac(k, part);
  return createHmac("sha256", k).update(toSign).digest("hex");
}

/** A GET URL for `path` (`/bucket/key`, unencoded) on `origin` (`http://host:port`), valid `expiresInSec`. */
export function presignGet(key: SigningKey, origin: string, path: string, nowMs: number, expiresInSec: number): string {
  const host = new URL(origin).host;
  const date = amzDate(nowMs);
  const query: [string, string][] = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${key.accessKeyId}/${date.slice(0, 8)}/${REGION}/s3/aws4_request`],
    ["X-Amz-Date", date],
    ["X-Amz-Expires", String(expiresInSec)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const sig = signature(key, "GET", host, path, query);
  const qs = [...query, ["X-Amz-Signature", sig]]
    .map(([k, v]) => `${encode(k!, false)}=${encode(v!, false)}`)
    .join("&");
  return `${origin}${encode(path)}?${qs}`;
}

export type PresignCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Checks a request carrying X-Amz-Signature. Pre-signed URLs here are the service's own: one that
 * names another access key id is refused (the service knows no other secret, so it could not tell
 * a user's URL from one of its own altered).
 */
export function checkPresigned(key: SigningKey, method: string, url: URL, host: string, nowMs: number): PresignCheck {
  const q = url.searchParams;
  const date = q.get("X-Amz-Date") ?? "";
  const expires = Number(q.get("X-Amz-Expires"));
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
  if (!m || !Number.isInteger(expires) || expires < 1 || expires > 604_800)
    return {
      ok: false,
      code: "AuthorizationQueryParametersError",
      message: "X-Amz-Date or X-Amz-Expires is malformed",
    };
  const signedAt = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (nowMs > signedAt + expires * 1000) return { ok: false, code: "AccessDenied", message: "Request has expired" };
  if (!(q.get("X-Amz-Credential") ?? "").startsWith(`${key.accessKeyId}/`))
    return {
      ok: false,
      code: "InvalidAccessKeyId",
      message:
        "The AWS access key Id you provided does not exist in our records (pre-signed URLs here are the service's own)",
    };
  const query = [...q.entries()] as [string, string][];
  const expected = Buffer.from(
    signature(key, method === "HEAD" ? "HEAD" : method, host, decodeURIComponent(url.pathname), query),
  );
  const given = Buffer.from(q.get("X-Amz-Signature") ?? "");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return {
      ok: false,
      code: "SignatureDoesNotMatch",
      message: "The request signature we calculated does not match the signature you provided.",
    };
  }
  return { ok: true };
}
