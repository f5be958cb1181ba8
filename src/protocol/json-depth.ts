/**
 * How deep a JSON text nests, found in one linear pass without parsing. Every JSON input of the
 * service is checked before it is parsed: code that walks parsed values (validators, shadow
 * merges, template substitution) recurses, and a 45,000-deep array in an attribute made those
 * overflow the stack (a 500, found by the review of the issue 11 fixes). AWS nests shadow state
 * at most 8 levels deep; no document a device or a person writes comes near this bound.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `text` opens more than `max` arrays or objects inside each other (strings skipped). */
export function nestsDeeperThan(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
