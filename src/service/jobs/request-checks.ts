/**
 * Field rules of the Jobs data plane (botocore iot-jobs-data model): statusDetails,
 * stepTimeoutInMinutes, statuses a device may set. Pure; each returns a reason or undefined.
 */
import type { JobExecutionStatus } from "../../jobs/messages.ts";

const DETAILS_KEY = /^[a-zA-Z0-9:_-]{1,128}$/;
/** Values match `[^\p{C}]+`, though the service (and the specification's examples) accept \n and \t. */
const CONTROL_EXCEPT_NL_TAB = /[^\P{C}\n\t]/u;
export const MAX_DETAILS_ENTRIES = 10;
export const MAX_DETAIL_VALUE_CHARS = 1024;

export function statusDetailsProblem(details: unknown): string | undefined {
  if (details === undefined) return undefined;
  if (details === null || typeof details !== "object" || Array.isArray(details)) return "statusDetails must be an object of string values";
  const entries = Object.entries(details as Record<string, unknown>);
  if (entries.length > MAX_DETAILS_ENTRIES) return `statusDetails has ${entries.length} entries; at most ${MAX_DETAILS_ENTRIES} are allowed`;
  for (const [key, value] of entries) {
    if (!DETAILS_KEY.test(key)) return `statusDetails key ${JSON.stringify(key.slice(0, 140))} must be 1-128 characters of [a-zA-Z0-9:_-]`;
    if (typeof value !== "string") return `statusDetails.${key} must be a string`;
    if (value.length < 1) return `statusDetails.${key} must not be empty`;
    if (value.length > MAX_DETAIL_VALUE_CHARS) return `statusDetails.${key} has ${value.length} characters; at most ${MAX_DETAIL_VALUE_CHARS} are allowed`;
    if (CONTROL_EXCEPT_NL_TAB.test(value)) return `statusDetails.${key} contains control characters`;
  }
  return undefined;
}

/** 1..10080, or -1 (update only: cancels the step timer). */
export function stepTimeoutProblem(minutes: unknown, allowCancel: boolean): string | undefined {
  if (minutes === undefined) return undefined;
  if (typeof minutes !== "number" || !Number.isInteger(minutes)) return "stepTimeoutInMinutes must be an integer";
  if (allowCancel && minutes === -1) return undefined;
  if (minutes < 1 || minutes > 10080) return `stepTimeoutInMinutes must be between 1 and 10080${allowCancel ? ", or -1 to cancel the step timer" : ""}`;
  return undefined;
}

const DEVICE_SETTABLE: readonly JobExecutionStatus[] = ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"];
const ALL_STATUSES: readonly string[] = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"];

export function deviceStatusProblem(status: unknown): string | undefined {
  if (status === undefined) return "status is required";
  if (typeof status !== "string" || !ALL_STATUSES.includes(status)) return `status ${JSON.stringify(status)} is not a job execution status`;
  if (!DEVICE_SETTABLE.includes(status as JobExecutionStatus)) return `A device cannot set status ${status}; use IN_PROGRESS, SUCCEEDED, FAILED or REJECTED`;
  return undefined;
}

export function optionalTypeProblem(body: Record<string, unknown>, field: string, type: "number" | "boolean" | "string"): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (type === "number" ? typeof v !== "number" || !Number.isInteger(v) : typeof v !== type) return `${field} must be ${type === "number" ? "an integer" : `a ${type}`}`;
  return undefined;
}
