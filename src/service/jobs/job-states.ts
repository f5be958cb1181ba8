/**
 * A job's own status as data [DG-job-status]: `(status, event) → status | rejection`. Pure. The
 * engine and the job control ask `nextJobStatus` before every change of a job's status, so the job
 * statuses a user sees move only along `TABLE` (the executions have theirs: execution-states.ts).
 *
 * Events: a schedule's window closing while things are still held back (`window-closed`), opening
 * (`window-opened`) or the schedule's endTime (`schedule-ended`); CancelJob, by a user or an abort
 * threshold (`cancel`); and a SNAPSHOT job with nothing pending any more (`all-done`: no execution
 * pending and no thing left for its roll-out to reach). An event that does not apply to the status
 * leaves it as it is (a closing window does not touch a canceled job), except canceling a
 * COMPLETED job, which AWS refuses.
 */
import { ServiceError } from "../errors.ts";
import type { Job, JobStatus } from "../model.ts";

export const JOB_STATUSES: readonly JobStatus[] = [
  "SCHEDULED",
  "IN_PROGRESS",
  "CANCELED",
  "COMPLETED",
  "DELETION_IN_PROGRESS",
];

export const JOB_EVENTS = ["window-closed", "window-opened", "schedule-ended", "cancel", "all-done"] as const;
export type JobEvent = (typeof JOB_EVENTS)[number];

/** The changes; every other pair leaves the status unchanged, except the refusals below. */
const TABLE: Readonly<Partial<Record<JobStatus, Partial<Record<JobEvent, JobStatus>>>>> = {
  SCHEDULED: { "window-opened": "IN_PROGRESS", "schedule-ended": "IN_PROGRESS", cancel: "CANCELED" },
  IN_PROGRESS: { "window-closed": "SCHEDULED", cancel: "CANCELED", "all-done": "COMPLETED" },
  // CANCELED: canceling again (with force, to end what is IN_PROGRESS) keeps it CANCELED.
};

const REFUSED: Readonly<Partial<Record<JobStatus, Partial<Record<JobEvent, string>>>>> = {
  COMPLETED: { cancel: "is COMPLETED and cannot be canceled" },
  DELETION_IN_PROGRESS: { cancel: "is being deleted and cannot be canceled" },
};

export type JobTransition = { ok: true; status: JobStatus } | { ok: false; error: ServiceError };

export function nextJobStatus(job: Pick<Job, "jobId" | "status">, event: JobEvent): JobTransition {
  const refused = REFUSED[job.status]?.[event];
  if (refused) return { ok: false, error: new ServiceError("InvalidStateTransition", `Job ${job.jobId} ${refused}`) };
  return { ok: true, status: TABLE[job.status]?.[event] ?? job.status };
}

/** The status a new job starts in: SCHEDULED while a schedule holds it back. */
export const initialJobStatus = (scheduled: boolean): JobStatus => (scheduled ? "SCHEDULED" : "IN_PROGRESS");

/**
 * `all-done` applies to SNAPSHOT jobs only: a CONTINUOUS job waits for things joining its groups.
 * `pending` counts pending executions and the things a roll-out has not reached yet.
 */
export const isAllDone = (job: Pick<Job, "targetSelection">, pending: number): boolean =>
  job.targetSelection === "SNAPSHOT" && pending === 0;
