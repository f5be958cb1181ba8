/**
 * `*` wildcard matching in linear time, for fleet-query values. Never a generated regex: a
 * backtracking `^a.*b.*c$` took 22 s for six `*` against 100 characters.
 *
 * A glob with only `*` is its literal segments in order: the first must be a prefix, the last a
 * suffix, and each one between is found at its leftmost place after the previous one (leftmost
 * is never worse, since a `*` absorbs whatever lies between). Each search is Knuth-Morris-Pratt
 * and starts where the previous match ended, so the text is read once: O(text + pattern).
 */

export interface Glob {
  /** Literal segments between the `*`s; a glob without `*` has exactly one. */
  readonly segments: readonly string[];
  /** KMP failure tables of the middle segments (index i ↔ segments[i]). */
  readonly failures: readonly (Int32Array | undefined)[];
}

/** Counts character comparisons, for tests that prove the bound. */
export interface StepCounter {
  steps: number;
}

/** `segments` as split on unescaped `*`, escapes and quotes already removed by the caller. */
export function compileGlob(segments: readonly string[]): Glob {
  const failures = segments.map((s, i) => (i > 0 && i < segments.length - 1 ? failureTable(s) : undefined));
  return { segments, failures };
}

export function globMatches(glob: Glob, text: string, counter?: StepCounter): boolean {
  const { segments } = glob;
  const first = segments[0]!;
  if (segments.length === 1) {
    if (counter) counter.steps += Math.min(first.length, text.length);
    return text === first;
  }
  const last = segments[segments.length - 1]!;
  if (text.length < first.length + last.length) return false;
  if (counter) counter.steps += first.length + last.length;
  if (!text.startsWith(first) || !text.endsWith(last)) return false;
  let from = first.length;
  const end = text.length - last.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const at = kmpIndexOf(text, segments[i]!, glob.failures[i]!, from, end, counter);
    if (at < 0) return false;
    from = at + segments[i]!.length;
  }
  return true;
}

function failureTable(pattern: string): Int32Array {
  const table = new Int32Array(pattern.length);
  let k = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = table[k - 1]!;
    if (pattern[i] === pattern[k]) k++;
    table[i] = k;
  }
  return table;
}

/** First index ≥ from where `pattern` lies wholly before `end`, or -1. */
function kmpIndexOf(
  text: string,
  pattern: string,
  table: Int32Array,
  from: number,
  end: number,
  counter?: StepCounter,
): number {
  if (pattern.length === 0) return from;
  let k = 0;
  for (let i = from; i < end; i++) {
    while (k > 0 && text[i] !== pattern[k]) {
      k = table[k - 1]!;
      if (counter) counter.steps++;
    }
    if (counter) counter.steps++;
    if (text[i] === pattern[k]) k++;
    if (k === pattern.length) return i - pattern.length + 1;
  }
  return -1;
}
