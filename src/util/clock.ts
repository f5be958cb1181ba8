/**
 * Time, injected. Everything that reads the time or waits takes a `Clock`, so tests advance a
 * `ManualClock` instead of sleeping, and one place knows the runtime's timer limit.
 *
 * Why the chaining: `setTimeout` in Bun and Node takes a signed 32-bit delay; anything above
 * 2^31-1 ms (24.8 days) or not finite fires after 1 ms. A step timeout of 600,000 s, a
 * ×64 backoff or a schedule a month away must wait as long as asked, so long delays are
 * waited for in slices of at most MAX_TIMER_MS. Negative and NaN delays fire at once.
 */

/** The largest delay the runtime's `setTimeout` honours (2^31-1 ms). */
export const MAX_TIMER_MS = 2_147_483_647;

export interface TimerHandle {
  /** Idempotent. */
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Calls `fn` once after `delayMs` (clamped to ≥ 0; Infinity never fires). */
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
}

/** Delay normalisation shared by both clocks: NaN/negative → 0, Infinity stays. */
export function normaliseDelay(delayMs: number): number {
  if (Number.isNaN(delayMs) || delayMs < 0) return 0;
  return delayMs;
}

/**
 * The real clock: Date.now, and chained runtime timers (never the 1 ms overflow). Waits are
 * measured on the monotonic clock: a wall clock set by NTP (a board without an RTC boots in 1970
 * or at its last shutdown) neither shortens nor stretches a wait.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, delayMs) {
    const delay = normaliseDelay(delayMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cancelled = false;
    if (delay === Number.POSITIVE_INFINITY) return { cancel: () => {} };
    const due = performance.now() + delay;
    const arm = (remaining: number) => {
      timer = setTimeout(
        () => {
          if (cancelled) return;
          const left = due - performance.now();
          if (left > 0 && remaining > MAX_TIMER_MS) arm(left);
          else fn();
        },
        Math.min(remaining, MAX_TIMER_MS),
      );
      // A pending timer must not keep a finished CLI process alive on its own; long-running
      // processes are kept alive by their sockets.
      (timer as { unref?: () => void }).unref?.();
    };
    arm(delay);
    return {
      cancel() {
        cancelled = true;
        if (timer !== undefined) clearTimeout(timer);
      },
    };
  },
};

/** A clock for tests: time moves only when `advance` or `set` is called; due timers run in order. */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    const delay = normaliseDelay(delayMs);
    if (delay === Number.POSITIVE_INFINITY) return { cancel: () => {} };
    const id = ++this.seq;
    this.timers.set(id, { due: this.current + delay, fn });
    return { cancel: () => void this.timers.delete(id) };
  }

  /** Moves time forward by `ms`, running every timer that falls due (including ones they set). */
  advance(ms: number): void {
    this.set(this.current + ms);
  }

  /** Moves time to `epochMs` (a jump backwards runs nothing; timers keep their due time). */
  set(epochMs: number): void {
    const target = epochMs;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (
          entry[1].due <= target &&
          (!next || entry[1].due < next[1].due || (entry[1].due === next[1].due && entry[0] < next[0]))
        )
          next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      if (next[1].due > this.current) this.current = next[1].due;
      next[1].fn();
    }
    this.current = target;
  }

  /** How many timers are waiting (tests assert nothing is left behind). */
  pending(): number {
    return this.timers.size;
  }
}
