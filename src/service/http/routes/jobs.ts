/**
 * Jobs on the control plane (iot): CreateJob, DescribeJob, GetJobDocument, ListJobs, CancelJob,
 * DeleteJob and the execution operations; job templates (managed and custom), roll-out, abort and
 * retry configs, scheduling. Namespaces are refused.
 */
import { ServiceError } from "../../errors.ts";
import type { JobControl } from "../../jobs/job-control.ts";
import type { JobsEngine } from "../../jobs/jobs-engine.ts";
import { Type } from "@sinclair/typebox";
import { decode, StatusDetailsRequest } from "../../../protocol/messages.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { Operations } from "../router.ts";
import {
  NO_TAGS,
  controlPlaneExecution,
  executionSummary,
  jobShape,
  jobSummary,
  page,
  thingArn,
  withToken,
} from "../shapes.ts";

const NAMESPACES = "customer-managed job namespaces are not implemented";
/** CancelJobExecution's statusDetails follow the device API's rules (at most 10 entries, …). */
const CancelExecutionDetails = Type.Object({ statusDetails: Type.Optional(StatusDetailsRequest) });

export function jobRoutes(jobs: JobControl, engine: JobsEngine, fleet: Fleet, now: () => number): Operations {
  const executionOf = (jobId: string, thingName: string, executionNumber?: number) => {
    const e = engine.execution(jobId, thingName, executionNumber);
    if (!e)
      throw new ServiceError("ResourceNotFound", `Job execution for job ${jobId} on thing ${thingName} not found`);
    return e;
  };
  return {
    CreateJob: {
      honours: [
        "jobId",
        "targets",
        "document",
        "description",
        "targetSelection",
        "timeoutConfig",
        "destinationPackageVersions",
        "jobTemplateArn",
        "documentParameters",
        "jobExecutionsRolloutConfig",
        "abortConfig",
        "jobExecutionsRetryConfig",
        "schedulingConfig",
        "presignedUrlConfig",
      ],
      refuses: {
        documentSource: "job documents from S3 are not supported; give the document inline",
        namespaceId: NAMESPACES,
        tags: NO_TAGS,
      },
      handle: (input) => {
        if (input.document === undefined && input.jobTemplateArn === undefined)
          throw new ServiceError(
            "InvalidRequest",
            "document or jobTemplateArn is required (documentSource is not supported by iot-jobs-local)",
          );
        const job = jobs.createJob({
          jobId: input.jobId,
          targets: input.targets,
          document: input.document,
          description: input.description,
          targetSelection: input.targetSelection,
          timeoutConfig: input.timeoutConfig,
          destinationPackageVersions: input.destinationPackageVersions,
          jobTemplateArn: input.jobTemplateArn,
          documentParameters: input.documentParameters,
          jobExecutionsRolloutConfig: input.jobExecutionsRolloutConfig,
          abortConfig: input.abortConfig,
          jobExecutionsRetryConfig: input.jobExecutionsRetryConfig,
          schedulingConfig: input.schedulingConfig,
          presignedUrlConfig: input.presignedUrlConfig,
        });
        return { jobArn: job.jobArn, jobId: job.jobId, ...(job.description ? { description: job.description } : {}) };
      },
    },
    UpdateJob: {
      honours: [
        "jobId",
        "description",
        "timeoutConfig",
        "jobExecutionsRolloutConfig",
        "abortConfig",
        "jobExecutionsRetryConfig",
      ],
      refuses: {
        presignedUrlConfig: "changing presignedUrlConfig after CreateJob is not supported here",
        namespaceId: NAMESPACES,
      },
      handle: (input) => {
        const inProgressTimeoutInMinutes = input.timeoutConfig?.inProgressTimeoutInMinutes;
        jobs.updateJob(input.jobId, {
          description: input.description,
          inProgressTimeoutInMinutes,
          jobExecutionsRolloutConfig: input.jobExecutionsRolloutConfig,
          abortConfig: input.abortConfig,
          jobExecutionsRetryConfig: input.jobExecutionsRetryConfig,
        });
      },
    },
    AssociateTargetsWithJob: {
      honours: ["jobId", "targets", "comment"],
      refuses: { namespaceId: NAMESPACES },
      handle: (input) => {
        const job = jobs.associateTargets(input.jobId, input.targets, input.comment);
        return { jobArn: job.jobArn, jobId: job.jobId, ...(job.description ? { description: job.description } : {}) };
      },
    },
    DescribeJob: {
      honours: ["jobId", "beforeSubstitution"],
      handle: (input) => {
        const job = jobs.job(input.jobId);
        return { job: jobShape(job, engine.thingsByStatus(job.jobId), input.beforeSubstitution === true, now()) };
      },
    },
    GetJobDocument: {
      honours: ["jobId", "beforeSubstitution"],
      handle: (input) => {
        const job = jobs.job(input.jobId);
        return { document: input.beforeSubstitution === true ? job.documentBeforeSubstitution : job.document };
      },
    },
    ListJobs: {
      honours: ["status", "targetSelection", "maxResults", "nextToken", "thingGroupName", "thingGroupId"],
      refuses: { namespaceId: NAMESPACES },
      handle: (input) => {
        let group: string | undefined = input.thingGroupName;
        if (input.thingGroupId !== undefined) {
          const byId = fleet.groups().find((g) => g.thingGroupId === input.thingGroupId);
          // A group id that names no group matches no job (AWS answers an empty list).
          if (!byId || (group !== undefined && group !== byId.thingGroupName)) return { jobs: [] };
          group = byId.thingGroupName;
        }
        const list = jobs
          .jobs(input.status, group)
          .filter((j) => input.targetSelection === undefined || j.targetSelection === input.targetSelection);
        const p = page(list, input.maxResults, input.nextToken, 100);
        return { jobs: p.items.map(jobSummary), ...withToken(p.nextToken) };
      },
    },
    CancelJob: {
      honours: ["jobId", "reasonCode", "comment", "force"],
      handle: (input) => {
        const job = jobs.cancelJob(input.jobId, input.force === true, input.comment, input.reasonCode);
        return { jobArn: job.jobArn, jobId: job.jobId, ...(job.description ? { description: job.description } : {}) };
      },
    },
    DeleteJob: {
      honours: ["jobId", "force"],
      refuses: { namespaceId: NAMESPACES },
      handle: (input) => void jobs.deleteJob(input.jobId, input.force === true),
    },
    CancelJobExecution: {
      honours: ["jobId", "thingName", "force", "expectedVersion", "statusDetails"],
      handle: (input) => {
        fleet.thing(input.thingName);
        // The device API's rule for statusDetails (at most 10 entries) holds here too.
        const details = decode(CancelExecutionDetails, { statusDetails: input.statusDetails });
        if (!details.ok) throw new ServiceError("InvalidRequest", details.message);
        const result = engine.cancelExecution(
          executionOf(input.jobId, input.thingName),
          input.force === true,
          input.statusDetails,
          input.expectedVersion,
        );
        if (!result.ok) throw result.error; // the engine fails with the service's ServiceError
      },
    },
    DescribeJobExecution: {
      honours: ["jobId", "thingName", "executionNumber"],
      handle: (input) => ({
        execution: controlPlaneExecution(
          executionOf(input.jobId, input.thingName, input.executionNumber),
          engine.secondsBeforeTimedOut(executionOf(input.jobId, input.thingName, input.executionNumber)),
        ),
      }),
    },
    ListJobExecutionsForJob: {
      honours: ["jobId", "status", "maxResults", "nextToken"],
      handle: (input) => {
        jobs.job(input.jobId);
        const p = page(jobs.executionsOfJob(input.jobId, input.status), input.maxResults, input.nextToken, 100);
        return {
          executionSummaries: p.items.map((e) => ({
            thingArn: thingArn(e.thingName),
            jobExecutionSummary: executionSummary(e),
          })),
          ...withToken(p.nextToken),
        };
      },
    },
    ListJobExecutionsForThing: {
      honours: ["thingName", "status", "maxResults", "nextToken", "jobId"],
      refuses: { namespaceId: NAMESPACES },
      handle: (input) => {
        const list = engine
          .executionsOfThing(input.thingName)
          .filter((e) => input.status === undefined || e.status === input.status)
          .filter((e) => input.jobId === undefined || e.jobId === input.jobId)
          .sort((a, b) => a.sequence - b.sequence || a.executionNumber - b.executionNumber);
        const p = page(list, input.maxResults, input.nextToken, 100);
        return {
          executionSummaries: p.items.map((e) => ({ jobId: e.jobId, jobExecutionSummary: executionSummary(e) })),
          ...withToken(p.nextToken),
        };
      },
    },
  };
}
