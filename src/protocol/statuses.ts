/**
 * Job execution statuses: the one list, which of them a device may set, and which are final
 * [DG-life]. Every other status list in the project is derived from these.
 */

export const JOB_EXECUTION_STATUSES = [
  "QUEUED",
  "IN_PROGRESS",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "REJECTED",
  "REMOVED",
  "CANCELED",
] as const;
export type JobExecutionStatus = (typeof JOB_EXECUTION_STATUSES)[number];

/** What UpdateJobExecution accepts from a device; the others are set by the service only. */
export const DEVICE_SETTABLE_STATUSES = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"] as const;
export type DeviceSettableStatus = (typeof DEVICE_SETTABLE_STATUSES)[number];

/** QUEUED and IN_PROGRESS: the execution is still waiting for, or being worked on by, the device. */
export const isPending = (s: JobExecutionStatus): boolean => s === "QUEUED" || s === "IN_PROGRESS";
/** Every other status is final: no device update changes it. */
export const isTerminal = (s: JobExecutionStatus): boolean => !isPending(s);

export const isJobExecutionStatus = (s: unknown): s is JobExecutionStatus =>
  typeof s === "string" && (JOB_EXECUTION_STATUSES as readonly string[]).includes(s);
