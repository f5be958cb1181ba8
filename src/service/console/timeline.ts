/**
 * A job's roll-out over time: how many of its executions were in each status at the end of each
 * interval, rebuilt from the timestamps every execution already carries (queuedAt, startedAt,
 * lastUpdatedAt), so nothing more is stored and a restart loses no history. Pure.
 *
 * An execution counts as QUEUED from queuedAt, IN_PROGRESS from startedAt, and in its terminal
 * status from lastUpdatedAt. An attempt a retry (or a re-join) superseded stops counting when its
 * successor was queued: like DescribeJob, every point counts each thing once, by its latest
 * execution then. Each one adds +1/-1 to a difference array, so the cost is
 * executions + intervals, never their product (10,000 executions cost about a millisecond).
 * The interval is a minute for roll-outs that last hours; a shorter one keeps a seconds-long
 * roll-out (tests, `--minute-ms`) readable: the first of STEPS that gives at most MAX_POINTS points.
 */
import type { Execution } from "../model.ts";
import { isTerminal } from "../model.ts";
import { JOB_EXECUTION_STATUSES, type JobExecutionStatus } from "../../protocol/statuses.ts";

export const STEPS_SECONDS = [1, 5, 15, 60, 300, 900, 3600, 21_600, 86_400] as const;
export const MAX_POINTS = 180;

export interface Timeline {
  /** Epoch seconds of the end of the first interval (the one before the job began). */
  readonly start: number;
  /** Length of one interval, in seconds. */
  readonly stepSeconds: number;
  /** Per status, the executions in it at the end of each interval (statuses never seen are left out). */
  readonly counts: Partial<Record<JobExecutionStatus, number[]>>;
}

export type TimedExecution = Pick<
  Execution,
  "thingName" | "executionNumber" | "superseded" | "status" | "queuedAt" | "startedAt" | "lastUpdatedAt"
>;

const attemptKey = (thingName: string, executionNumber: number) => `${thingName}\u0000${executionNumber}`;

export function timeline(executions: readonly TimedExecution[], from: number, now: number): Timeline {
  const span = Math.max(1, now - from + 1);
  const stepSeconds = STEPS_SECONDS.find((s) => Math.ceil(span / s) <= MAX_POINTS) ?? STEPS_SECONDS.at(-1)!;
  // Points are interval ends; the first is the end of the interval before the job began (all
  // zeros), so a job that ended within its first interval still draws a line.
  const start = Math.floor(from / stepSeconds) * stepSeconds - 1;
  const points = Math.ceil((now - start) / stepSeconds) + 1;
  // The first point whose interval ends at or after t: an execution counts from there on.
  const pointOf = (t: number) => Math.max(0, Math.ceil((t - start) / stepSeconds));
  const deltas = new Map<JobExecutionStatus, Int32Array>();
  const add = (status: JobExecutionStatus, fromT: number, untilT: number | undefined) => {
    const a = pointOf(fromT);
    const b = untilT === undefined ? points : Math.min(points, pointOf(untilT));
    if (a >= b) return;
    let d = deltas.get(status);
    if (!d) {
      d = new Int32Array(points + 1);
      deltas.set(status, d);
    }
    d[a]! += 1;
    d[b]! -= 1;
  };
  // When each superseded attempt was replaced: its successor's queuedAt (executionNumbers are consecutive).
  const replacedAt = new Map<string, number>();
  for (const e of executions)
    if (e.executionNumber > 1) replacedAt.set(attemptKey(e.thingName, e.executionNumber - 1), e.queuedAt);
  const earliest = (a: number | undefined, b: number | undefined) =>
    a === undefined ? b : b === undefined ? a : Math.min(a, b);
  for (const e of executions) {
    const ended = isTerminal(e.status) ? e.lastUpdatedAt : undefined;
    const started =
      e.startedAt !== undefined && (ended === undefined || e.startedAt <= ended) ? e.startedAt : undefined;
    const replaced = e.superseded
      ? (replacedAt.get(attemptKey(e.thingName, e.executionNumber)) ?? e.lastUpdatedAt)
      : undefined;
    add("QUEUED", e.queuedAt, earliest(started ?? ended, replaced));
    if (started !== undefined) add("IN_PROGRESS", started, earliest(ended, replaced));
    if (ended !== undefined) add(e.status, ended, replaced);
  }
  const counts: Partial<Record<JobExecutionStatus, number[]>> = {};
  for (const status of JOB_EXECUTION_STATUSES) {
    const d = deltas.get(status);
    if (!d) continue;
    const series: number[] = new Array(points);
    let running = 0;
    for (let i = 0; i < points; i++) {
      running += d[i]!;
      series[i] = running;
    }
    counts[status] = series;
  }
  return { start, stepSeconds, counts };
}
