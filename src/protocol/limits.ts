/**
 * Limits of the AWS IoT Jobs and shadow APIs that more than one side enforces or respects (the
 * agent keeps its reports inside them, the service and the test peer refuse what exceeds them).
 */

/** A job document, in characters (JobDocument max 32768). */
export const MAX_DOCUMENT_CHARS = 32768;

/** stepTimeoutInMinutes and inProgressTimeoutInMinutes: 1..10080 (a week). */
export const MIN_TIMEOUT_MINUTES = 1;
export const MAX_TIMEOUT_MINUTES = 10080;
/** On UpdateJobExecution only: cancels the running step timer. */
export const CANCEL_STEP_TIMER = -1;

/** statusDetails: at most 10 entries, each value 1..1024 characters. */
export const MAX_STATUS_DETAILS_ENTRIES = 10;
export const MAX_STATUS_DETAIL_VALUE_CHARS = 1024;

/**
 * clientToken: the Jobs API documents no limit; the shadow service refuses tokens over 64, and so
 * does the local service on both (a device that works here works on AWS).
 */
export const MAX_CLIENT_TOKEN_CHARS = 64;

/** A shadow request's clientToken, in UTF-8 bytes ("Invalid clientToken" beyond) [SH-err]. */
export const MAX_SHADOW_CLIENT_TOKEN_BYTES = 64;

/** Pending executions in a GetPendingJobExecutions reply and a notify message [DG-limits]. */
export const MAX_PENDING_LIST = 10;

/**
 * Progress updates of a long job (IN_PROGRESS with `step` and the handler's entries): at most one
 * per interval, and the interval never below this. AWS throttles UpdateJobExecution per account
 * (RequestThrottled, retried with backoff); one update per second per device keeps a fleet's
 * progress far below what a step-start update per step already costs.
 */
export const MIN_PROGRESS_INTERVAL_SECONDS = 1;
export const DEFAULT_PROGRESS_INTERVAL_SECONDS = 30;
