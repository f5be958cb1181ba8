/**
 * What may appear in a statusDetails value. The Jobs API model says values match `[^\p{C}]+`,
 * yet the service accepts (and the specification shows) `\n` in `stderr`, so `\n` and `\t` are kept.
 * Every other control, format, private-use, surrogate or unassigned character becomes U+FFFD,
 * except `\r`, which is dropped so CRLF output and progress bars read naturally.
 * `reportableDetails` is the single gate every statusDetails value passes before it is reported.
 */
import { MAX_STATUS_DETAIL_VALUE_CHARS } from "../protocol/limits.ts";
import { redactSecrets } from "../util/redact.ts";

const DISALLOWED = /[^\P{C}\n\t]/gu;

/** The Jobs service's limit on a statusDetails value (UTF-16 units). */
export const MAX_DETAIL_CHARS = MAX_STATUS_DETAIL_VALUE_CHARS;

/**
 * How much output before the reported tail is kept for redaction: a secret's name ("Signature=")
 * may lie before the 1024-character cut while its value lies after it. A secret value longer than
 * this, cut by the tail, is not recognised (docs/RELIABILITY.md).
 */
export const REDACTION_CONTEXT_CHARS = 4096;

/** Keys whose values are output: their end (the latest lines) is what is kept. */
const OUTPUT_KEYS: ReadonlySet<string> = new Set(["stdout", "stderr"]);

/**
 * The one gate for statusDetails (reason and failedStep included): every value redacted, then
 * sanitised, then cut to the service's limit (output keeps its tail, anything else its head).
 * Values that end up empty are left out: the service refuses empty values. Idempotent.
 */
export function reportableDetails(details: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(details)) {
    const reportable = reportableValue(value, OUTPUT_KEYS.has(key) ? "tail" : "head");
    if (reportable !== "") out[key] = reportable;
  }
  return out;
}

/** One statusDetails value through the gate: `keep` says which end survives the limit. */
export function reportableValue(value: string, keep: "head" | "tail" = "head"): string {
  // Cut to a window first (bounded work on huge values), redact, then cut to the limit.
  const window = MAX_DETAIL_CHARS + REDACTION_CONTEXT_CHARS;
  const near = keep === "tail" ? value.slice(-window) : value.slice(0, window);
  const clean = sanitizeText(redactSecrets(near));
  return keep === "tail" ? truncateTail(clean, MAX_DETAIL_CHARS) : truncateHead(clean, MAX_DETAIL_CHARS);
}

/** Replacement for any character a statusDetails value may not hold. */
export const REPLACEMENT = "\uFFFD";

/** Maps text to what may be reported; a per-character mapping, so the tail of the result is the result of the tail. */
export function sanitizeText(text: string): string {
  return text.replace(DISALLOWED, (ch) => (ch === "\r" ? "" : REPLACEMENT));
}

/** First `max` UTF-16 units of a sanitised string, never splitting a surrogate pair. */
export function truncateHead(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end);
}

/** Last `max` UTF-16 units of a sanitised string, never splitting a surrogate pair. */
export function truncateTail(text: string, max: number): string {
  if (text.length <= max) return text;
  let start = text.length - max;
  const first = text.charCodeAt(start);
  if (first >= 0xdc00 && first <= 0xdfff) start += 1;
  return text.slice(start);
}
