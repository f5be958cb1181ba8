/**
 * The job execution state machine as data [DG-life]: `(status, event) → status | rejection`. Pure.
 * The engine asks `nextStatus` before every change, so a transition that is not in `TABLE` cannot
 * happen anywhere (a job's own status: job-states.ts).
 *
 * Events: a device's UpdateJobExecution (`report-*`), StartNextPendingJobExecution (`start`), the
 * control plane's cancels, the step / in-progress timers (`time-out`), a thing leaving the group
 * of a job (`remove`, QUEUED only, as AWS does for continuous jobs) and DeleteThing
 * (`thing-deleted`: whatever is pending ends REMOVED, so the job can complete).
 */
import { isTerminal, JOB_EXECUTION_STATUSES, type JobExecutionStatus } from "../../protocol/statuses.ts";
import { ServiceError } from "../errors.ts";

export const EXECUTION_EVENTS = [
  "start",
  "report-in-progress",
  "report-succeeded",
  "report-failed",
  "report-rejected",
  "cancel",
  "force-cancel",
  "time-out",
  "remove",
  "thing-deleted",
] as const;
export type ExecutionEvent = (typeof EXECUTION_EVENTS)[number];

export const EXECUTION_STATUSES: readonly JobExecutionStatus[] = JOB_EXECUTION_STATUSES;

const REPORTS = {
  "report-in-progress": "IN_PROGRESS",
  "report-succeeded": "SUCCEEDED",
  "report-failed": "FAILED",
  "report-rejected": "REJECTED",
} as const;

/** The device's UpdateJobExecution status → its event; undefined for statuses a device cannot set. */
export function reportEvent(status: JobExecutionStatus): ExecutionEvent | undefined {
  const event = `report-${status.toLowerCase().replace("_", "-")}`;
  return event in REPORTS ? (event as ExecutionEvent) : undefined;
}

/** Allowed transitions; every other pair is refused. Terminal statuses allow nothing. */
const TABLE: Readonly<Partial<Record<JobExecutionStatus, Partial<Record<ExecutionEvent, JobExecutionStatus>>>>> = {
  QUEUED: {
    start: "IN_PROGRESS",
    ...REPORTS,
    cancel: "CANCELED",
    "force-cancel": "CANCELED",
    remove: "REMOVED",
    "thing-deleted": "REMOVED",
  },
  IN_PROGRESS: {
    start: "IN_PROGRESS",
    ...REPORTS,
    "force-cancel": "CANCELED",
    "time-out": "TIMED_OUT",
    "thing-deleted": "REMOVED",
  },
};

export type Transition = { ok: true; status: JobExecutionStatus } | { ok: false; error: ServiceError };

export function nextStatus(status: JobExecutionStatus, event: ExecutionEvent): Transition {
  const to = TABLE[status]?.[event];
  if (to !== undefined) return { ok: true, status: to };
  return { ok: false, error: new ServiceError("InvalidStateTransition", refusal(status, event)) };
}

function refusal(status: JobExecutionStatus, event: ExecutionEvent): string {
  if (event.startsWith("report-")) {
    const target = REPORTS[event as keyof typeof REPORTS];
    return isTerminal(status)
      ? `Cannot update the job execution from ${status} to ${target}: it is in a terminal state`
      : `Cannot update the job execution from ${status} to ${target}`;
  }
  if (event === "cancel" || event === "force-cancel") {
    return status === "IN_PROGRESS"
      ? "The job execution is IN_PROGRESS; cancel it with force=true"
      : `The job execution is already ${status}`;
  }
  return `The job execution is ${status}; ${event} does not apply`;
}
