/**
 * Removes secrets from text bound for logs or statusDetails: pre-signed URL signatures,
 * credentials and security tokens in query strings, and PEM private keys and certificates —
 * whole, or just their end, as the last 1024 characters of a step's output may hold.
 */
const SECRET_QUERY = /([?&](?:X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|Signature|AWSAccessKeyId|x-amz-security-token|sig|token|access_token)=)[^&\s"'#]*/gi;
const PEM_BLOCK = /-----BEGIN ([A-Z ]*(?:PRIVATE KEY|CERTIFICATE))-----[\s\S]*?(?:-----END \1-----|$)/g;
const PEM_END = /-----END ([A-Z ]*(?:PRIVATE KEY|CERTIFICATE))-----/g;
const BASE64_OR_NEWLINE = /[A-Za-z0-9+/=\r\n]/;

export const REDACTED = "[REDACTED]";

export function redactSecrets(text: string): string {
  return redactPemTails(text.replace(SECRET_QUERY, `$1${REDACTED}`).replace(PEM_BLOCK, `-----BEGIN $1-----${REDACTED}`));
}

/**
 * A block's tail without its BEGIN line (the base64 lines before an END line) becomes [REDACTED].
 * Walks back from each END marker, so it stays linear however long the text (a regex doing the
 * same backtracks quadratically over a long base64-like run: found by the fuzz tests).
 */
function redactPemTails(text: string): string {
  if (!text.includes("-----END ")) return text;
  let out = "";
  let at = 0;
  for (const m of text.matchAll(PEM_END)) {
    const end = m.index!;
    let start = end;
    while (start > at && BASE64_OR_NEWLINE.test(text[start - 1]!)) start--;
    if (text.slice(start - REDACTED.length, start) === REDACTED || start === end) {
      out += text.slice(at, end + m[0].length); // already redacted, or nothing before the marker
    } else {
      out += `${text.slice(at, start)}${REDACTED}${m[0]}`;
    }
    at = end + m[0].length;
  }
  return out + text.slice(at);
}
