import { describe, expect, test } from "bun:test";
import { OutputTail } from "../../src/runner/output-tail.ts";
import { sanitizeText, truncateHead, truncateTail } from "../../src/runner/sanitize.ts";

const enc = new TextEncoder();

/** The reference answer: decode everything, sanitise, take the tail. */
function expected(bytes: Uint8Array, capacity: number): string {
  return truncateTail(sanitizeText(new TextDecoder().decode(bytes)), capacity);
}

function feed(chunks: Uint8Array[], capacity: number): string {
  const tail = new OutputTail(capacity);
  for (const c of chunks) tail.push(c);
  tail.end();
  return tail.text();
}

describe("OutputTail", () => {
  test("keeps the last characters of a long ASCII stream", () => {
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join("");
    expect(feed([enc.encode(text)], 1024)).toBe(text.slice(-1024));
  });

  test("a multi-byte character split across chunks is decoded whole", () => {
    const bytes = enc.encode("ab€cd"); // € is E2 82 AC
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(feed([bytes.subarray(0, cut), bytes.subarray(cut)], 1024)).toBe("ab€cd");
    }
  });

  test("a multi-byte character at the window boundary is not cut in half", () => {
    const text = "é".repeat(3000) + "😀".repeat(700);
    const bytes = enc.encode(text);
    expect(feed([bytes], 1024)).toBe(expected(bytes, 1024));
    // And byte by byte, every split point.
    const small = enc.encode("xé😀€y".repeat(20));
    const chunks = Array.from(small, (b) => Uint8Array.of(b));
    expect(feed(chunks, 17)).toBe(expected(small, 17));
  });

  test("invalid UTF-8 and control characters are replaced, \\n and \\t kept, \\r dropped", () => {
    const bytes = Uint8Array.from([0x41, 0xff, 0x42, 0x00, 0x1b, 0x5b, 0x0d, 0x0a, 0x09, 0xe2, 0x82]);
    expect(feed([bytes], 1024)).toBe("A\uFFFDB\uFFFD\uFFFD[\n\t\uFFFD");
  });

  test("a chunk of only dropped characters does not hide the previous tail", () => {
    const tail = new OutputTail(8);
    tail.push(enc.encode("12345678"));
    tail.push(new Uint8Array(100_000).fill(0x0d));
    expect(tail.text()).toBe("12345678");
  });

  test("random byte streams give exactly the tail of the sanitised stream", () => {
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let trial = 0; trial < 200; trial++) {
      const size = Math.floor(rnd() * 20000);
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) {
        const r = rnd();
        bytes[i] =
          r < 0.6 ? 0x20 + Math.floor(rnd() * 95) : r < 0.8 ? 0x80 + Math.floor(rnd() * 0x40) : Math.floor(rnd() * 256);
      }
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < size; ) {
        const n = 1 + Math.floor(rnd() * 9000);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      const capacity = 1 + Math.floor(rnd() * 1100);
      expect(feed(chunks, capacity)).toBe(expected(bytes, capacity));
    }
  });

  test("chunks smaller than the window (as pipes deliver them), with runs of \\r: the tail is exact", () => {
    let seed = 1234;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let trial = 0; trial < 200; trial++) {
      const size = Math.floor(rnd() * 30000);
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) {
        const r = rnd();
        // Runs of \r now and then, to make windows stop qualifying mid-stream.
        bytes[i] =
          r < 0.05
            ? 0x0d
            : r < 0.6
              ? 0x20 + Math.floor(rnd() * 95)
              : r < 0.8
                ? 0x80 + Math.floor(rnd() * 0x40)
                : Math.floor(rnd() * 256);
      }
      if (size > 100 && rnd() < 0.5)
        bytes.fill(0x0d, Math.floor(size / 2), Math.floor(size / 2) + Math.floor(rnd() * 5000));
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < size; ) {
        const n = 1 + Math.floor(rnd() * 400);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      const capacity = 1 + Math.floor(rnd() * 300);
      expect(feed(chunks, capacity)).toBe(expected(bytes, capacity));
    }
  });

  test("a reader that reuses one buffer gets the same tail, also when runs of \\r follow long output", () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const shared = new Uint8Array(16384);
    for (let trial = 0; trial < 100; trial++) {
      const parts: Uint8Array[] = [];
      for (let p = 0; p < 6; p++) {
        const n = Math.floor(rnd() * 12000);
        const kind = rnd();
        // long printable runs (deferred), runs of \r (must not hide the earlier tail), UTF-8
        parts.push(
          kind < 0.4
            ? enc.encode("x".repeat(n))
            : kind < 0.7
              ? new Uint8Array(n).fill(0x0d)
              : enc.encode("é€😀".repeat(Math.ceil(n / 9))),
        );
      }
      const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
      const capacity = 1 + Math.floor(rnd() * 1100);
      const tail = new OutputTail(capacity);
      for (let at = 0; at < bytes.length; ) {
        const n = Math.min(bytes.length - at, 1 + Math.floor(rnd() * shared.length));
        shared.set(bytes.subarray(at, at + n));
        tail.push(shared.subarray(0, n));
        shared.fill(0x41); // the reader's next read overwrites the buffer
        at += n;
      }
      tail.end();
      expect(tail.text()).toBe(expected(bytes, capacity));
    }
  });

  test("a character split before a long chunk of \\r bytes is kept (the joined-apart boundary path)", () => {
    const first = new Uint8Array([0x61, 0x62, 0x63, 0xe2, 0x82]); // "abc" + the first two bytes of "€"
    const second = new Uint8Array(20_002);
    second[0] = 0xac; // the last byte of "€"
    second.fill(0x0d, 1, 20_001); // a long run of \r, which the sanitiser drops
    second[20_001] = 0x78; // "x"
    expect(feed([first, second], 1024)).toBe("abc€x");
    expect(feed([first, second], 1024)).toBe(expected(new Uint8Array([...first, ...second]), 1024));
  });

  test("memory stays flat: 64 MiB through a 1024-character tail", () => {
    const tail = new OutputTail(1024);
    const chunk = enc.encode("x".repeat(65536));
    Bun.gc(true);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 1024; i++) tail.push(chunk);
    Bun.gc(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(16 * 1024 * 1024);
    expect(tail.text()).toBe("x".repeat(1024));
    expect(tail.bytes).toBe(64 * 1024 * 1024);
  });
});

describe("truncation", () => {
  test("head and tail never split a surrogate pair", () => {
    expect(truncateHead("ab😀", 3)).toBe("ab");
    expect(truncateTail("😀ab", 3)).toBe("ab");
    expect(truncateHead("abc", 5)).toBe("abc");
  });
});
