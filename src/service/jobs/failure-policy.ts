/**
 * What a finished execution means for its job (pure): a retry (jobExecutionsRetryConfig) and an
 * abort (abortConfig).
 *
 * Retries: FAILED and TIMED_OUT come back as a new execution of the same job on the same thing,
 * never REJECTED. A criterion counts the failures of its type in the thing's current chain of
 * attempts (from its last first attempt: a thing re-joining a continuous job starts a new chain);
 * `ALL` counts both. The execution is retried while some criterion still allows it.
 *
 * Abort: over the job's *executed* things — things whose latest execution ran to an end (SUCCEEDED, FAILED,
 * REJECTED, TIMED_OUT; not CANCELED or REMOVED), so a
 * failure that is being retried is not yet counted — the share that ended with the criterion's
 * failure type (`ALL`: FAILED, REJECTED, TIMED_OUT). Once at least `minNumberOfExecutedThings`
 * have executed and the share reaches `thresholdPercentage`, the job is canceled.
 */
import type { JobExecutionStatus } from "../../protocol/statuses.ts";
import type { AbortConfig, RetryConfig } from "../model.ts";

const FAILURES: readonly JobExecutionStatus[] = ["FAILED", "REJECTED", "TIMED_OUT"];

/** Whether an execution that just ended `status` is retried, given the statuses of its chain so far (it included). */
export function shouldRetry(
  config: RetryConfig | undefined,
  status: JobExecutionStatus,
  chain: readonly JobExecutionStatus[],
): boolean {
  if (!config || (status !== "FAILED" && status !== "TIMED_OUT")) return false;
  return config.criteriaList.some((c) => {
    if (c.failureType !== "ALL" && c.failureType !== status) return false;
    const counted = chain.filter((s) =>
      c.failureType === "ALL" ? s === "FAILED" || s === "TIMED_OUT" : s === c.failureType,
    );
    return counted.length <= c.numberOfRetries;
  });
}

/** Executed things by their final status (SUCCEEDED, FAILED, REJECTED, TIMED_OUT). */
export type ExecutedCounts = Readonly<Partial<Record<JobExecutionStatus, number>>>;

/** The abort reason when a criterion is met, given how many executed things ended each way; undefined otherwise. */
export function abortReason(config: AbortConfig | undefined, counts: ExecutedCounts): string | undefined {
  if (!config) return undefined;
  const count = (s: JobExecutionStatus) => counts[s] ?? 0;
  const executed = count("SUCCEEDED") + FAILURES.reduce((n, s) => n + count(s), 0);
  for (const c of config.criteriaList) {
    if (executed < c.minNumberOfExecutedThings) continue;
    const failed = c.failureType === "ALL" ? FAILURES.reduce((n, s) => n + count(s), 0) : count(c.failureType);
    const percentage = (failed * 100) / executed;
    if (failed > 0 && percentage >= c.thresholdPercentage) {
      const what = c.failureType === "ALL" ? "failed, were rejected or timed out" : `ended ${c.failureType}`;
      return `Aborted: ${failed} of ${executed} executed things ${what} (${round(percentage)}% ≥ ${c.thresholdPercentage}%)`;
    }
  }
  return undefined;
}

const round = (n: number) => Math.round(n * 10) / 10;

/** The retry config's own rules beyond the model: at most 10 retries in all; TIMED_OUT needs a timeout. */
export function retryConfigProblem(config: RetryConfig | undefined, hasTimeout: boolean): string | undefined {
  if (!config) return undefined;
  const total = config.criteriaList.reduce((n, c) => n + c.numberOfRetries, 0);
  if (total > 10) return `jobExecutionsRetryConfig allows ${total} retries in all; at most 10 are allowed`;
  const types = config.criteriaList.map((c) => c.failureType);
  if (new Set(types).size !== types.length) return "jobExecutionsRetryConfig names a failureType twice";
  if (!hasTimeout && types.includes("TIMED_OUT"))
    return "jobExecutionsRetryConfig retries TIMED_OUT executions, which needs a timeoutConfig";
  return undefined;
}
