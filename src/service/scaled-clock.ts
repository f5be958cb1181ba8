/**
 * The service's time control for rehearsals in a real process (`--time-scale`, `--start-time`):
 * a clock that starts at a chosen date and runs `scale` times faster than the real one, timers
 * included. Every timeout, roll-out minute and schedule of the service reads it, so
 * `--time-scale 600` makes a minute last 100 ms and a maintenance window two hours away open
 * after 12 s. In-process tests use a ManualClock instead; this is for the command line.
 */
import { type Clock, normaliseDelay, systemClock } from "../util/clock.ts";

export function scaledClock(options: { scale: number; startMs?: number }, base: Clock = systemClock): Clock {
  const realOrigin = base.now();
  const origin = options.startMs ?? realOrigin;
  const { scale } = options;
  return {
    now: () => origin + Math.floor((base.now() - realOrigin) * scale),
    setTimeout: (fn, delayMs) => base.setTimeout(fn, normaliseDelay(delayMs) / scale),
  };
}
