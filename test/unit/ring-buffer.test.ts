import { describe, expect, test } from "bun:test";
import { RingBuffer } from "../../src/runner/ring-buffer.ts";

describe("RingBuffer", () => {
  // The reference's TestLimitedStreamBuffer cases, re-expressed for a true ring buffer.
  test("is empty at first", () => expect(new RingBuffer(10).toString()).toBe(""));
  test("accepts values", () => {
    const b = new RingBuffer(10);
    b.write("one");
    b.write("two");
    expect(b.toString()).toBe("onetwo");
  });
  test("evicts from the front character by character, not whole chunks", () => {
    const b = new RingBuffer(10);
    for (const s of ["one", "two", "three"]) b.write(s);
    expect(b.toString()).toBe("netwothree"); // the reference evicts whole entries and returns "twothree"
    b.write("elevenChars");
    expect(b.toString()).toBe("levenChars");
    expect(b.toString()).toBe("levenChars");
  });
  test("clips an entry longer than the capacity to its end", () => {
    const b = new RingBuffer(5);
    b.write("seventeen");
    expect(b.toString()).toBe("nteen");
  });
  test("keeps an entry of exactly the capacity", () => {
    const b = new RingBuffer(9);
    b.write("testentry");
    expect(b.toString()).toBe("testentry");
  });
  test("ignores empty writes", () => {
    const b = new RingBuffer(4);
    b.write("ab");
    b.write("");
    b.write("");
    expect(b.toString()).toBe("ab");
    expect(b.length).toBe(2);
  });
  test("wraps around many times and keeps exactly the last characters", () => {
    const b = new RingBuffer(7);
    let all = "";
    for (let i = 0; i < 1000; i++) {
      const s = `${i},`;
      b.write(s);
      all += s;
      expect(b.toString()).toBe(all.slice(-7));
    }
  });
  test("never starts with half of a surrogate pair", () => {
    const b = new RingBuffer(3);
    b.write("a😀b"); // 😀 is two UTF-16 units: the pair is whole
    expect(b.toString()).toBe("😀b");
    b.write("c"); // now the high half is evicted
    expect(b.toString()).toBe("bc");
  });
  test("refuses a capacity that is not a positive integer", () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5)).toThrow(RangeError);
  });
});
