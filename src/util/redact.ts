/**
 * Removes secrets from text bound for logs or statusDetails: pre-signed URL signatures,
 * credentials and security tokens in query strings, and PEM private keys and certificates —
 * whole, or just their end, as the last 1024 characters of a step's output may hold.
 */
const SECRET_QUERY = /([?&](?:X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|Signature|AWSAccessKeyId|x-amz-security-token|sig|token|access_token)=)[^&\s"'#]*/gi;
const PEM_BLOCK = /-----BEGIN ([A-Z ]*(?:PRIVATE KEY|CERTIFICATE))-----[\s\S]*?(?:-----END \1-----|$)/g;
/** A block's tail without its BEGIN line: base64 lines (the first possibly cut) before an END line. */
const PEM_TAIL = /[A-Za-z0-9+/=]*(?:\r?\n[A-Za-z0-9+/=]+)*\r?\n?-----END ([A-Z ]*(?:PRIVATE KEY|CERTIFICATE))-----/g;

export const REDACTED = "[REDACTED]";

export function redactSecrets(text: string): string {
  return text
    .replace(SECRET_QUERY, `$1${REDACTED}`)
    .replace(PEM_BLOCK, `-----BEGIN $1-----${REDACTED}`)
    .replace(PEM_TAIL, (match, label: string) => (match.startsWith(REDACTED) ? match : `${REDACTED}-----END ${label}-----`));
}
