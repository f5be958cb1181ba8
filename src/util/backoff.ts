/** Exponential backoff: `initial`, doubling, capped at `max` (attempt 0 → initial). */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const exp = Math.min(attempt, 30);
  return Math.min(maxMs, initialMs * 2 ** exp);
}

/**
 * "Full jitter" on top of exponential backoff, so a fleet that lost its broker at the same
 * moment does not reconnect in lockstep. `random` is injectable for tests.
 */
export function jitteredDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = backoffDelay(attempt, initialMs, maxMs);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
