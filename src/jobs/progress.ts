/**
 * What a progress update says (documents with `reportProgress: true`): `step` = `2/3 Download-File`
 * and the entries the running handler wrote to the file named by $IOT_JOBS_PROGRESS_FILE, one
 * `key=value` per line (`echo "percent=40" >> "$IOT_JOBS_PROGRESS_FILE"`). The last value of a key
 * wins; keys outside the statusDetails key pattern, `step` itself, empty values and keys beyond the
 * room left under the 10-entry limit are ignored. Values are cut and redacted where every
 * statusDetails value is (the update publisher's gate).
 */
import { DETAILS_KEY_PATTERN } from "../protocol/ids.ts";
import { MAX_STATUS_DETAIL_VALUE_CHARS, MAX_STATUS_DETAILS_ENTRIES } from "../protocol/limits.ts";

export const PROGRESS_FILE_ENV = "IOT_JOBS_PROGRESS_FILE";
export const STEP_KEY = "step";
/** Only the end of a larger file is read: a handler that appends forever costs nothing more. */
export const MAX_PROGRESS_FILE_CHARS = 64 * 1024;

/** `2/3 Download-File`: the step's position (1-based, finalStep counted) and its name. */
export function stepLabel(index: number, total: number, name: string): string {
  return `${index + 1}/${total} ${name}`;
}

/** The handler's entries from its progress file's text, in first-seen order, last value winning. */
export function parseProgressLines(text: string): Record<string, string> {
  const entries = new Map<string, string>();
  const room = MAX_STATUS_DETAILS_ENTRIES - 1; // one entry is `step`
  for (const line of text.slice(-MAX_PROGRESS_FILE_CHARS).split("\n")) {
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line
      .slice(eq + 1)
      .replace(/\r$/, "")
      .trim()
      .slice(0, MAX_STATUS_DETAIL_VALUE_CHARS);
    if (key === STEP_KEY || !DETAILS_KEY_PATTERN.test(key)) continue;
    if (value === "") {
      entries.delete(key);
      continue;
    }
    if (!entries.has(key) && entries.size >= room) continue;
    entries.set(key, value);
  }
  return Object.fromEntries(entries);
}
