/**
 * A small seeded PRNG (mulberry32) for the generated-scenario fuzzers: one seed per run, printed
 * at the start, so any failure replays with `IOT_JOBS_FUZZ_SEED=<seed>`. Scenario n of a run uses
 * the seed `seed + n`, so one failing scenario replays alone with `IOT_JOBS_FUZZ_SEED=<seed+n>
 * IOT_JOBS_SCENARIOS=1`.
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    const total = items.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, value] of items) {
      if (w <= 0) continue;
      x -= w;
      if (x < 0) return value;
    }
    return items.filter(([w]) => w > 0).at(-1)![1];
  }
}

/** The run's seed: IOT_JOBS_FUZZ_SEED, or a fresh one. */
export function runSeed(): number {
  const given = process.env.IOT_JOBS_FUZZ_SEED;
  if (given !== undefined && given !== "") {
    const n = Number(given);
    if (!Number.isSafeInteger(n)) throw new Error(`IOT_JOBS_FUZZ_SEED must be an integer, got ${given}`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

/** How many scenarios: IOT_JOBS_SCENARIOS, else `fallback`. */
export function scenarioCount(fallback: number): number {
  const n = Number(process.env.IOT_JOBS_SCENARIOS ?? fallback);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`IOT_JOBS_SCENARIOS must be a whole number, got ${process.env.IOT_JOBS_SCENARIOS}`);
  return n;
}
