/**
 * Output (fast-check): random byte streams — invalid UTF-8, NUL, escape sequences, \r, long runs —
 * cut into random chunks through one reused buffer. Every tail is at most 1024 characters, holds no
 * control character but \n and \t, and is exactly the tail of the sanitised stream.
 */
import { test } from "bun:test";
import fc from "fast-check";
import { OutputTail } from "../../src/runner/output-tail.ts";
import { sanitizeText, truncateTail } from "../../src/runner/sanitize.ts";

const CONTROL = /[^\P{C}\n\t]/u;
const interesting = fc.oneof(
  fc.uint8Array({ maxLength: 30_000 }),
  fc.constantFrom(
    new Uint8Array([0]),
    new Uint8Array([0x1b, 0x5b, 0x33, 0x31, 0x6d]),
    new Uint8Array([0x0d]),
    new Uint8Array([0xe2, 0x82]),
    new Uint8Array([0xac]),
    new Uint8Array([0xf0, 0x9f, 0x98, 0x80]),
  ),
  fc.integer({ min: 1, max: 20_000 }).map((n) => new Uint8Array(n).fill(0x61)),
  fc.integer({ min: 1, max: 6000 }).map((n) => new Uint8Array(n).fill(0x0d)),
);

test("10,000 random streams: each tail is bounded, clean and exact", () => {
  fc.assert(
    fc.property(
      fc.array(interesting, { maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 24_000 }), { minLength: 1, maxLength: 8 }),
      (parts, cuts) => {
        const total = parts.reduce((n, p) => n + p.length, 0);
        const bytes = new Uint8Array(total);
        parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
        const tail = new OutputTail(1024);
        const shared = new Uint8Array(24_000);
        for (let at = 0, k = 0; at < total; k++) {
          const n = Math.min(total - at, cuts[k % cuts.length]!);
          shared.set(bytes.subarray(at, at + n));
          tail.push(shared.subarray(0, n));
          shared.fill(0x55);
          at += n;
        }
        tail.end();
        const text = tail.text();
        return (
          text.length <= 1024 &&
          !CONTROL.test(text) &&
          text === truncateTail(sanitizeText(new TextDecoder().decode(bytes)), 1024)
        );
      },
    ),
    { numRuns: Number(process.env.IOT_JOBS_FUZZ_OUTPUT ?? 10_000) },
  );
}, 600_000);
