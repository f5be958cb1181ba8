/**
 * A fixed-capacity buffer of the most recent UTF-16 code units written to it.
 *
 * Memory is allocated once; writing any amount of text costs O(min(len, capacity)).
 * Reading never returns half of a surrogate pair: if the oldest kept unit is the low half of a
 * pair whose high half was evicted, it is left out, so the result is always valid text of at most
 * `capacity` UTF-16 units (and therefore at most `capacity` code points).
 */
export class RingBuffer {
  readonly capacity: number;
  private readonly units: Uint16Array;
  private head = 0; // index of the next write
  private size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0)
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.units = new Uint16Array(capacity);
  }

  /** Appends text, evicting the oldest units beyond capacity. */
  write(text: string): void {
    const length = text.length;
    if (length === 0) return;
    const start = length > this.capacity ? length - this.capacity : 0;
    for (let i = start; i < length; i++) {
      this.units[this.head] = text.charCodeAt(i);
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    }
    this.size = Math.min(this.capacity, this.size + (length - start));
  }

  /** Number of UTF-16 units currently held. */
  get length(): number {
    return this.size;
  }

  /** The kept text, oldest first. */
  toString(): string {
    if (this.size === 0) return "";
    const begin = (this.head - this.size + this.capacity) % this.capacity;
    let ordered: Uint16Array;
    if (begin + this.size <= this.capacity) {
      ordered = this.units.subarray(begin, begin + this.size);
    } else {
      ordered = new Uint16Array(this.size);
      const firstPart = this.capacity - begin;
      ordered.set(this.units.subarray(begin), 0);
      ordered.set(this.units.subarray(0, this.size - firstPart), firstPart);
    }
    const first = ordered[0]!;
    // A lone low surrogate at the front means its high half was evicted.
    if (first >= 0xdc00 && first <= 0xdfff) ordered = ordered.subarray(1);
    return decodeUnits(ordered);
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }
}

function decodeUnits(units: Uint16Array): string {
  // String.fromCharCode with spread is limited by the argument count; capacity is small here,
  // but chunk it anyway so a large capacity cannot overflow the stack.
  let out = "";
  for (let i = 0; i < units.length; i += 4096) {
    out += String.fromCharCode(...units.subarray(i, i + 4096));
  }
  return out;
}
