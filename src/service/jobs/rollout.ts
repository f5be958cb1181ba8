/**
 * jobExecutionsRolloutConfig as arithmetic (pure): how many things a job may reach in the current
 * roll-out minute. `maximumPerMinute` is a fixed rate; `exponentialRate` starts at
 * `baseRatePerMinute` and is multiplied by `incrementFactor` each time another
 * `numberOfNotifiedThings` things were reached (or `numberOfSucceededThings` succeeded): base 50,
 * factor 2, every 1000 notified → 50, 100, 200, … per minute after 1000, 2000, … things.
 * The rate never exceeds 1000 per minute, the model's largest `maximumPerMinute`.
 */
import type { RolloutConfig, RolloutProgress } from "../model.ts";

/** AWS's largest maximumPerMinute (MaxJobExecutionsPerMin); an exponential rate stops there too. */
export const MAX_RATE_PER_MINUTE = 1000;

export interface RolloutCounts {
  /** Things reached so far. */
  readonly notified: number;
  /** Things whose execution SUCCEEDED. */
  readonly succeeded: number;
}

/** Things per minute under `config` once `counts` are reached; Infinity without a roll-out config. */
export function ratePerMinute(config: RolloutConfig | undefined, counts: RolloutCounts): number {
  if (!config) return Number.POSITIVE_INFINITY;
  if (config.maximumPerMinute !== undefined && config.exponentialRate === undefined) return config.maximumPerMinute;
  const e = config.exponentialRate;
  if (!e) return Number.POSITIVE_INFINITY;
  const { numberOfNotifiedThings: notified, numberOfSucceededThings: succeeded } = e.rateIncreaseCriteria;
  const steps =
    notified !== undefined
      ? Math.floor(counts.notified / notified)
      : succeeded !== undefined
        ? Math.floor(counts.succeeded / succeeded)
        : 0;
  const rate = Math.floor(e.baseRatePerMinute * e.incrementFactor ** Math.min(steps, 64));
  const cap = config.maximumPerMinute ?? MAX_RATE_PER_MINUTE;
  return Math.max(1, Math.min(rate, cap, MAX_RATE_PER_MINUTE));
}

/**
 * How many of the unreached things may be reached now (the caller reaches them one by one in this
 * order, so a notified-things criterion raises the rate within the minute at the exact count).
 */
export function releasable(
  config: RolloutConfig | undefined,
  progress: RolloutProgress,
  succeeded: number,
): number {
  let reached = progress.reachedThisMinute;
  let notified = progress.notified;
  let n = 0;
  while (n < progress.unreached.length && reached < ratePerMinute(config, { notified, succeeded })) {
    n++;
    reached++;
    notified++;
  }
  return n;
}

/** The roll-out minute at `nowMs`: a new one begins once a whole minute has passed since the last. */
export function currentMinute(progress: RolloutProgress, nowMs: number, minuteMs: number): RolloutProgress {
  if (nowMs - progress.minuteStart < minuteMs) return progress;
  return { ...progress, minuteStart: nowMs, reachedThisMinute: 0 };
}
