/**
 * jobExecutionsRolloutConfig as arithmetic (pure): how many things a job may reach in the current
 * roll-out minute. `maximumPerMinute` is a fixed rate; `exponentialRate` starts at
 * `baseRatePerMinute` and is multiplied by `incrementFactor` each time another
 * `numberOfNotifiedThings` things were reached (or `numberOfSucceededThings` succeeded): base 50,
 * factor 2, every 1000 notified → 50, 100, 200, … per minute after 1000, 2000, … things.
 *
 * The rate of a minute is fixed when the minute begins (from the counts then): a criterion met
 * during a minute raises the rate from the next one, so no minute ever exceeds the rate it began
 * with. (AWS does not say when within a minute an increase applies; this is the conservative
 * reading.) With both members, `maximumPerMinute` caps the exponential rate.
 */
import type { RolloutConfig, RolloutProgress } from "../model.ts";

export interface RolloutCounts {
  /** Things reached so far. */
  readonly notified: number;
  /** Things whose execution SUCCEEDED. */
  readonly succeeded: number;
}

/** Things per minute under `config` once `counts` are reached; Infinity without a roll-out config. */
export function ratePerMinute(config: RolloutConfig | undefined, counts: RolloutCounts): number {
  if (!config) return Number.POSITIVE_INFINITY;
  const e = config.exponentialRate;
  if (!e) return config.maximumPerMinute ?? Number.POSITIVE_INFINITY;
  const { numberOfNotifiedThings: notified, numberOfSucceededThings: succeeded } = e.rateIncreaseCriteria;
  const steps =
    notified !== undefined
      ? Math.floor(counts.notified / notified)
      : succeeded !== undefined
        ? Math.floor(counts.succeeded / succeeded)
        : 0;
  const rate = Math.floor(e.baseRatePerMinute * e.incrementFactor ** Math.min(steps, 64));
  return Math.max(1, Math.min(rate, config.maximumPerMinute ?? Number.POSITIVE_INFINITY));
}

/** How many of the unreached things may be reached now, in the current minute. */
export function releasable(progress: RolloutProgress): number {
  const left = (progress.minuteRate ?? Number.POSITIVE_INFINITY) - progress.reachedThisMinute;
  return Math.max(0, Math.min(progress.unreached.length, left));
}

/** A roll-out minute beginning at `nowMs`, with the rate in force then. */
export function startMinute(progress: RolloutProgress, nowMs: number, rate: number): RolloutProgress {
  return { ...progress, minuteStart: nowMs, reachedThisMinute: 0, minuteRate: rate };
}

/** Whether a new roll-out minute has begun at `nowMs` (a whole minute since the last one began). */
export const minuteOver = (progress: RolloutProgress, nowMs: number, minuteMs: number) =>
  nowMs - progress.minuteStart >= minuteMs;
