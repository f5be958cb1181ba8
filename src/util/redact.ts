/**
 * Removes secrets from text bound for logs or statusDetails: pre-signed URL signatures,
 * credentials and security tokens — in a plain query string, JSON-escaped (`\u0026`), HTML-escaped
 * (`&amp;`), URL-encoded inside another URL once or twice (`%26`, `%3F`, `%3D`, `%2526`), as quoted keys
 * (`"X-Amz-Signature": "…"`), passwords in URLs (`https://user:pw@host`), SigV4 `Authorization` headers
 * (`Credential=`, `Signature=`) and `X-Amz-*` headers, AWS credential variables (env dumps,
 * credential files, `aws sts` JSON) — and PEM private keys and certificates, whole or just their end.
 * Every pattern is anchored on a name and consumes its value once, so the work stays linear.
 */

/** What may precede a parameter name: start, a separator, or an escaped `&`/`?`. */
const PARAM_START = String.raw`(?:(?<![^\s?&#,;:"'({\[<>/|])|(?<=\\u0026|%26|%3F|%2526|%253F))`;
const PARAM_NAMES =
  "X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|X-Goog-Signature|X-Goog-Credential|Signature|Credential" +
  "|AWSAccessKeyId|sig|token|access_token" +
  "|refresh_token|id_token|client_secret|password|passwd|api_key|apikey";
/** A value ends at a separator, at an escaped `&` (`%26`, `\u0026`), or at a quote. */
const VALUE = String.raw`(?:[^&\s"'#\\<>,;%]|%(?!26|3F)|\\/)*`;
/** `name=value` in any of the encodings above. */
const SECRET_PARAM = new RegExp(String.raw`${PARAM_START}((?:${PARAM_NAMES})(?:=|%3D|%253D))${VALUE}`, "gi");
/** `X-Amz-Security-Token: value` (curl -v, HTTP dumps) and bearer/basic credentials. */
const SECRET_HEADER =
  /((?<![\w-])(?:(?:x-amz-security-token|x-amz-signature|x-amz-credential)[ \t]*:|authorization[ \t]*:[ \t]*(?:bearer|basic|token)\b)[ \t]*)[^\s"',;]+/gi;
/** AWS credential variables and JSON fields: `AWS_SECRET_ACCESS_KEY=…`, `"SessionToken": "…"`. */
const SECRET_ASSIGNMENT =
  /((?<![A-Za-z0-9_])(?:aws_secret_access_key|aws_session_token|aws_security_token|SecretAccessKey|SessionToken)["']?[ \t]*[=:][ \t]*["']?)[^\s"',;]+/gi;
/** A parameter name as a quoted key (JSON, a Python dict): `"X-Amz-Signature": "value"`. */
const SECRET_QUOTED_KEY = new RegExp(String.raw`(["'](?:${PARAM_NAMES})["'][ \t]*:[ \t]*["'])[^"'\n]*`, "gi");
/** A password in a URL's user information: `https://user:PASSWORD@host`. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@]+:)[^\s/@]+(?=@)/gi;
const PEM_BLOCK = /-----BEGIN ([A-Z ]*(?:PRIVATE KEY|CERTIFICATE))-----[\s\S]*?(?:-----END \1-----|$)/g;
const PEM_END = /-----END ([A-Z ]*(?:PRIVATE KEY|CERTIFICATE))-----/g;
const BASE64_OR_NEWLINE = /[A-Za-z0-9+/=\r\n]/;

export const REDACTED = "[REDACTED]";

export function redactSecrets(text: string): string {
  const named = text
    .replace(SECRET_PARAM, `$1${REDACTED}`)
    .replace(SECRET_HEADER, `$1${REDACTED}`)
    .replace(SECRET_ASSIGNMENT, `$1${REDACTED}`)
    .replace(SECRET_QUOTED_KEY, `$1${REDACTED}`)
    .replace(URL_PASSWORD, `$1${REDACTED}`);
  return redactPemTails(named.replace(PEM_BLOCK, `-----BEGIN $1-----${REDACTED}`));
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
