/**
 * What may appear in a statusDetails value. The Jobs API model says values match `[^\p{C}]+`,
 * yet the service accepts (and the specification shows) `\n` in `stderr`, so `\n` and `\t` are kept.
 * Every other control, format, private-use, surrogate or unassigned character becomes U+FFFD,
 * except `\r`, which is dropped so CRLF output and progress bars read naturally.
 */
const DISALLOWED = /[^\P{C}\n\t]/gu;

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
