/**
 * Whether two job documents are the same document: equal JSON values, whatever the key order or
 * encoding (an MQTT reply carries an object; the HTTPS API and some SDKs a JSON string).
 *
 * Why: a job deleted and created again under the same jobId gets a new execution with the same
 * executionNumber (1) and versionNumber (1) as the old one, so an execution notified before the
 * delete and confirmed after it is indistinguishable by number. The document the service returns
 * with the confirmation is what tells them apart (src/jobs/agent.ts, confirmStart).
 */
export function sameDocument(a: unknown, b: unknown): boolean {
  // Every delivery of a document with pre-signed URL placeholders carries freshly signed URLs
  // (AWS and iot-jobs-local alike): the signing parameters differ between two copies of one job.
  return canonical(asValue(a)) === canonical(asValue(b));
}

/**
 * A short digest of the document that two signings of it share (the crash-loop record keeps it, so
 * never the document itself: it may hold secrets). It tells a job created again under its id from
 * the deleted one, not an attacker's forgery, so FNV-1a (two 32-bit lanes) does: node:crypto would
 * cost the agent ~7 MB of RSS from its first job on (src/util/lazy-node.ts).
 */
export function documentFingerprint(document: unknown): string {
  const text = canonical(asValue(document));
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c ^ (a >>> 7), 0x5bd1e995) >>> 0;
  }
  return `${a.toString(16).padStart(8, "0")}${b.toString(16).padStart(8, "0")}`;
}

function asValue(document: unknown): unknown {
  if (typeof document !== "string") return document;
  try {
    return JSON.parse(document);
  } catch {
    return document; // not JSON: compared as the string it is
  }
}

/** JSON with object keys sorted at every level (documents are depth-bounded before they get here). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  if (typeof value === "string") return JSON.stringify(withoutSigning(value));
  return JSON.stringify(value) ?? "undefined";
}

/** A SigV4 pre-signed URL's X-Amz-* query parameters, which change with every signing. */
const SIGV4_PARAMETER = /([?&])X-Amz-[A-Za-z-]+=[^&#\s"]*/gi;

/** The text with the signing parameters of any SigV4 pre-signed URL in it removed. */
function withoutSigning(text: string): string {
  return /X-Amz-Signature=/i.test(text) ? text.replace(SIGV4_PARAMETER, "$1") : text;
}
