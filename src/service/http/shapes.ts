/**
 * The response shapes of the HTTP API, one function per AWS shape, shared by the routes so that one
 * record always serialises one way (DescribeJob's Job, JobExecution, JobExecutionSummary, …).
 * Times are epoch seconds, which is what AWS REST-JSON timestamps are on the wire.
 */
import type { JobsEngine } from "../jobs/jobs-engine.ts";
import { arn, type Execution, type Job, type Thing, type ThingGroup, type ThingType } from "../model.ts";
import { invalidInput } from "./api-model.ts";
import { compileSchedule, formatScheduleTime, nextWindowStarts } from "../jobs/schedule.ts";

/** Why every `tags` input is refused: nothing here stores or lists tags (no tagging API). */
export const NO_TAGS = "nothing is tagged here (no tagging API)";

export const thingArn = (name: string) => arn(`thing/${name}`);
export const groupArn = (name: string) => arn(`thinggroup/${name}`);
export const thingTypeArn = (name: string) => arn(`thingtype/${name}`);

/** The parts of a thing type that DescribeThingType and ListThingTypes share. */
export function thingTypeShape(t: ThingType) {
  return {
    thingTypeArn: thingTypeArn(t.thingTypeName),
    thingTypeProperties: {
      ...(t.description !== undefined ? { thingTypeDescription: t.description } : {}),
      ...(t.searchableAttributes.length ? { searchableAttributes: t.searchableAttributes } : {}),
    },
    thingTypeMetadata: {
      deprecated: t.deprecated,
      ...(t.deprecationDate !== undefined ? { deprecationDate: t.deprecationDate } : {}),
      creationDate: t.creationDate,
    },
  };
}

/**
 * One page of a sorted list. The token is the index of the next page's first item, as a decimal
 * string; one that this service cannot have issued is refused rather than read as "start over".
 */
export function page<T>(
  items: readonly T[],
  maxResults: number | undefined,
  nextToken: string | undefined,
  defaultSize: number,
): { items: T[]; nextToken?: string } {
  let start = 0;
  if (nextToken !== undefined) {
    if (!/^\d{1,9}$/.test(nextToken) || Number(nextToken) > items.length)
      throw invalidInput(`nextToken ${JSON.stringify(nextToken.slice(0, 64))} is not a token this service issued`);
    start = Number(nextToken);
  }
  const size = maxResults ?? defaultSize;
  const slice = items.slice(start, start + size);
  return start + size < items.length ? { items: slice, nextToken: String(start + size) } : { items: slice };
}

export const withToken = (nextToken: string | undefined) => (nextToken ? { nextToken } : {});

export function thingDescription(t: Thing) {
  return {
    defaultClientId: t.thingName,
    thingName: t.thingName,
    thingId: t.thingId,
    thingArn: thingArn(t.thingName),
    ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
    attributes: t.attributes,
    version: t.version,
  };
}

export function thingAttribute(t: Thing) {
  return {
    thingName: t.thingName,
    ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
    thingArn: thingArn(t.thingName),
    attributes: t.attributes,
    version: t.version,
  };
}

export function groupNameAndArn(g: ThingGroup) {
  return { groupName: g.thingGroupName, groupArn: groupArn(g.thingGroupName) };
}

/**
 * DescribeJob's Job. jobProcessDetails counts *things* by the status of their latest execution, so
 * a thing whose FAILED execution is being retried counts as QUEUED, not twice.
 */
/** `counts`: things by their latest execution's status (JobsEngine.thingsByStatus). */
export function jobShape(
  job: Job,
  counts: Readonly<Record<Execution["status"], number>>,
  beforeSubstitution: boolean,
  nowMs: number,
) {
  return {
    jobArn: job.jobArn,
    jobId: job.jobId,
    targetSelection: job.targetSelection,
    status: job.status,
    forceCanceled: job.forceCanceled ?? false,
    ...(job.reasonCode ? { reasonCode: job.reasonCode } : {}),
    ...(job.comment ? { comment: job.comment } : {}),
    targets: job.targets,
    ...(job.description ? { description: job.description } : {}),
    createdAt: job.createdAt,
    lastUpdatedAt: job.lastUpdatedAt,
    ...(job.completedAt ? { completedAt: job.completedAt } : {}),
    ...(job.jobTemplateArn ? { jobTemplateArn: job.jobTemplateArn } : {}),
    ...(job.documentParameters ? { documentParameters: job.documentParameters } : {}),
    ...(job.rolloutConfig ? { jobExecutionsRolloutConfig: job.rolloutConfig } : {}),
    ...(job.abortConfig ? { abortConfig: job.abortConfig } : {}),
    ...(job.retryConfig ? { jobExecutionsRetryConfig: job.retryConfig } : {}),
    ...(job.schedulingConfig ? scheduleShape(job, nowMs) : {}),
    jobProcessDetails: {
      numberOfCanceledThings: counts.CANCELED,
      numberOfSucceededThings: counts.SUCCEEDED,
      numberOfFailedThings: counts.FAILED,
      numberOfRejectedThings: counts.REJECTED,
      numberOfQueuedThings: counts.QUEUED,
      numberOfInProgressThings: counts.IN_PROGRESS,
      numberOfRemovedThings: counts.REMOVED,
      numberOfTimedOutThings: counts.TIMED_OUT,
    },
    ...(job.inProgressTimeoutInMinutes
      ? { timeoutConfig: { inProgressTimeoutInMinutes: job.inProgressTimeoutInMinutes } }
      : {}),
    ...(job.presignedUrlConfig ? { presignedUrlConfig: job.presignedUrlConfig } : {}),
    ...(job.destinationPackageVersions.length
      ? {
          destinationPackageVersions: beforeSubstitution
            ? job.destinationPackageVersionsBeforeSubstitution
            : job.destinationPackageVersions,
        }
      : {}),
    isConcurrent: isConcurrent(job),
  };
}

/** schedulingConfig as given, and the next maintenance window starts while things are held back. */
function scheduleShape(job: Job, nowMs: number) {
  const config = job.schedulingConfig!;
  const windows = config.maintenanceWindows?.length ?? 0;
  const upcoming =
    windows && job.rollout && !job.scheduleEnded
      ? nextWindowStarts(compileSchedule(config, nowMs, false), nowMs, SCHEDULED_ROLLOUTS_SHOWN)
      : [];
  return {
    schedulingConfig: config,
    ...(upcoming.length ? { scheduledJobRollouts: upcoming.map((t) => ({ startTime: formatScheduleTime(t) })) } : {}),
  };
}

/** How many upcoming window starts DescribeJob lists in scheduledJobRollouts: "the next seven" (the model). */
const SCHEDULED_ROLLOUTS_SHOWN = 7;

/** AWS: true while the job is still rolling out (things held back by its roll-out config). */
const isConcurrent = (job: Job) => job.status === "IN_PROGRESS" && job.rollout !== undefined;

export function jobSummary(j: Job) {
  return {
    jobArn: j.jobArn,
    jobId: j.jobId,
    targetSelection: j.targetSelection,
    status: j.status,
    isConcurrent: isConcurrent(j),
    createdAt: j.createdAt,
    lastUpdatedAt: j.lastUpdatedAt,
    ...(j.completedAt ? { completedAt: j.completedAt } : {}),
  };
}

/** The control plane's JobExecutionSummary (iot). */
export function executionSummary(e: Execution) {
  return {
    status: e.status,
    queuedAt: e.queuedAt,
    ...(e.startedAt ? { startedAt: e.startedAt } : {}),
    lastUpdatedAt: e.lastUpdatedAt,
    executionNumber: e.executionNumber,
    retryAttempt: e.retryAttempt ?? 0,
  };
}

/** The control plane's JobExecution (iot DescribeJobExecution). */
export function controlPlaneExecution(e: Execution, approximateSecondsBeforeTimedOut?: number) {
  return {
    jobId: e.jobId,
    status: e.status,
    forceCanceled: e.forceCanceled ?? false,
    statusDetails: { detailsMap: e.statusDetails },
    thingArn: thingArn(e.thingName),
    queuedAt: e.queuedAt,
    ...(e.startedAt ? { startedAt: e.startedAt } : {}),
    lastUpdatedAt: e.lastUpdatedAt,
    executionNumber: e.executionNumber,
    versionNumber: e.versionNumber,
    ...(approximateSecondsBeforeTimedOut !== undefined ? { approximateSecondsBeforeTimedOut } : {}),
  };
}

/**
 * The device side's JobExecution (iot-jobs-data): the same record the MQTT API sends, except
 * that the model types `jobDocument` as a string, so the document goes out as JSON text.
 */
export function deviceExecution(engine: JobsEngine, e: Execution, withDocument: boolean) {
  const out = engine.executionJson(e, withDocument);
  if (withDocument) out.jobDocument = JSON.stringify(out.jobDocument);
  return out;
}
