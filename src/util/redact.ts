/**
 * Removes secrets from text bound for logs or statusDetails: pre-signed URL signatures,
 * credentials and security tokens in query strings, and PEM private keys.
 */
const SECRET_QUERY = /([?&](?:X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|Signature|AWSAccessKeyId|x-amz-security-token|sig|token|access_token)=)[^&\s"'#]*/gi;
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;

export const REDACTED = "[REDACTED]";

export function redactSecrets(text: string): string {
  return text.replace(SECRET_QUERY, `$1${REDACTED}`).replace(PEM_PRIVATE_KEY, `-----BEGIN $1PRIVATE KEY-----${REDACTED}`);
}
