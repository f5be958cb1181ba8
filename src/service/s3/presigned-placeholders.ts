/**
 * `${aws:iot:s3-presigned-url:<url>}` and `${aws:iot:s3-presigned-url-v2:<percent-encoded url>}`
 * in a job document, replaced at each delivery (pure: the signer is passed in). The URL names an
 * S3 object path-style (`https://s3[.<region>].amazonaws.com/<bucket>/<key>`) or virtual-hosted
 * (`https://<bucket>.s3[.<region>].amazonaws.com/<key>`); the v2 form is encoded and may carry
 * `?versionId=` (accepted, ignored: objects here have one version).
 */
const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url(-v2)?:([^}"]*)\}/g;

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

/** The bucket and key an S3 URL names, or undefined. */
export function s3LocationOf(url: string): S3Location | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const path = decodeURIComponent(u.pathname).replace(/^\//, "");
  const virtual = /^([a-z0-9][a-z0-9.-]+)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$/.exec(u.hostname);
  if (virtual) return path ? { bucket: virtual[1]!, key: path } : undefined;
  if (!/^s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$/.test(u.hostname)) return undefined;
  const slash = path.indexOf("/");
  if (slash <= 0 || slash === path.length - 1) return undefined;
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

/** A non-global copy for yes/no: `test` on the global PLACEHOLDER would move its lastIndex, and a
 * later `matchAll` (which starts from a global regex's lastIndex) would skip the first placeholder. */
const ANY_PLACEHOLDER = new RegExp(PLACEHOLDER.source);

export function hasPresignedPlaceholder(document: string): boolean {
  return ANY_PLACEHOLDER.test(document);
}

/** Every placeholder's URL must name an S3 object (checked at CreateJob); the bad ones, else []. */
export function badPresignedUrls(document: string): string[] {
  const bad: string[] = [];
  for (const m of document.matchAll(PLACEHOLDER)) {
    const url = m[1] ? safeDecode(m[2]!) : m[2]!;
    if (url === undefined || !s3LocationOf(url.split("?")[0]!)) bad.push(m[2]!);
  }
  return bad;
}

const safeDecode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
};

/** The document with each placeholder replaced by `sign(location)` (a URL without quotes). */
export function renderPresigned(document: string, sign: (location: S3Location) => string): string {
  return document.replace(PLACEHOLDER, (whole, v2: string | undefined, raw: string) => {
    const url = v2 ? safeDecode(raw) : raw;
    const location = url === undefined ? undefined : s3LocationOf(url.split("?")[0]!);
    return location ? sign(location) : whole;
  });
}

/** The v1 placeholder for an S3 location (what a package version's artifact placeholder becomes). */
export const presignedPlaceholder = (l: S3Location) =>
  `\${aws:iot:s3-presigned-url:https://s3.us-east-1.amazonaws.com/${l.bucket}/${l.key}}`;
