import { describe, expect, test } from "bun:test";
import { compileGlob, globMatches, type StepCounter } from "../../src/service/fleet/glob.ts";

/** The glob `*`-split as the query parser splits a value. */
const glob = (pattern: string) => compileGlob(pattern.split("*"));

/** Oracle: a straightforward dynamic-programming matcher (quadratic, fine for small inputs). */
function oracle(pattern: string, text: string): boolean {
  let row = new Array<boolean>(text.length + 1).fill(false);
  row[0] = true;
  for (const p of pattern) {
    const next = new Array<boolean>(text.length + 1).fill(false);
    if (p === "*") {
      let any = false;
      for (let j = 0; j <= text.length; j++) next[j] = any = any || row[j]!;
    } else for (let j = 1; j <= text.length; j++) next[j] = row[j - 1]! && text[j - 1] === p;
    row = next;
  }
  return row[text.length]!;
}

describe("glob matcher (fleet-query values)", () => {
  test("agrees with a DP oracle on every pattern and text over {a, b, *} up to small sizes", () => {
    const words = (alphabet: string, max: number): string[] => {
      const out = [""];
      for (let n = 1; n <= max; n++)
        for (const w of out.filter((x) => x.length === n - 1)) for (const c of alphabet) out.push(w + c);
      return out;
    };
    const patterns = words("ab*", 5);
    const texts = words("ab", 6);
    let checked = 0;
    for (const p of patterns)
      for (const t of texts) {
        expect([p, t, globMatches(glob(p), t)]).toEqual([p, t, oracle(p, t)]);
        checked++;
      }
    expect(checked).toBe(patterns.length * texts.length);
  });

  test("exact, prefix, suffix and infix forms", () => {
    expect(globMatches(glob("pi-1"), "pi-1")).toBe(true);
    expect(globMatches(glob("pi-1"), "pi-10")).toBe(false);
    expect(globMatches(glob("pi*"), "pi-10")).toBe(true);
    expect(globMatches(glob("*10"), "pi-10")).toBe(true);
    expect(globMatches(glob("*-*"), "pi-10")).toBe(true);
    expect(globMatches(glob("*"), "")).toBe(true);
    expect(globMatches(glob("a*a"), "a")).toBe(false); // prefix and suffix may not overlap
  });

  test("worst cases take linear steps: at most 2 × text + pattern comparisons", () => {
    const cases: [string, string][] = [
      [`${"*a".repeat(6)}*b`, "a".repeat(100_000)], // the red team's ReDoS query
      ["*prod*eu*beta*", "prodeu".repeat(100_000)],
      [`*${"a".repeat(999)}b*`, "a".repeat(100_000)], // KMP's bad case for naive search
      [`*${"ab".repeat(50)}c*${"ab".repeat(50)}d*`, "ab".repeat(50_000)],
      [`${"*a".repeat(500)}*b`, "a".repeat(100_000)],
    ];
    for (const [pattern, text] of cases) {
      const counter: StepCounter = { steps: 0 };
      expect(globMatches(glob(pattern), text, counter)).toBe(false);
      expect(counter.steps).toBeLessThanOrEqual(2 * text.length + pattern.length);
    }
  });

  test("a 1 MB value against 500 wildcards answers in well under a second", () => {
    const text = "a".repeat(1 << 20);
    const started = performance.now();
    expect(globMatches(glob(`${"*a".repeat(500)}*b`), text)).toBe(false);
    expect(globMatches(glob(`${"*a".repeat(500)}*`), text)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
