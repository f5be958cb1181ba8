/**
 * Service placeholders in a job document: `${aws:iot:parameter:<key>}` (job templates),
 * `${aws:iot:package:…}` (Software Package Catalog) and `${aws:iot:s3-presigned-url:…}` are
 * filled in by AWS IoT when the job is created or delivered, never by a device. Locally (`exec`,
 * `validate`) they would reach a handler verbatim — a file named `${aws:iot:parameter:destination}`
 * — so `validate` names them and `exec` takes their values with `--param` or refuses to run.
 * Pure; works on the document's text (placeholders sit inside JSON strings).
 */

const PLACEHOLDER = /\$\{(aws:iot:[^}\s]{1,512})\}/g;

/** The distinct placeholders in a document, in order of first appearance (`aws:iot:…`, no `${}`). */
export function findPlaceholders(text: string): string[] {
  return [...new Set(Array.from(text.matchAll(PLACEHOLDER), (m) => m[1]!))];
}

/**
 * Replaces placeholders by the given values. A key without `:` names a template parameter
 * (`destination` → `${aws:iot:parameter:destination}`); a key with `:` is a whole placeholder
 * (`aws:iot:package:app:version:1.2:attributes:url`). Values are escaped for a JSON string.
 */
export function fillPlaceholders(text: string, params: readonly (readonly [string, string])[]): string {
  const values = new Map(params.map(([key, value]) => [key.includes(":") ? key : `aws:iot:parameter:${key}`, value]));
  return text.replace(PLACEHOLDER, (whole, name: string) => {
    const value = values.get(name);
    return value === undefined ? whole : JSON.stringify(value).slice(1, -1);
  });
}
