/**
 * Job templates on the control plane (iot): the AWS managed templates (read-only, version 1.0)
 * and custom templates (CreateJobTemplate, DescribeJobTemplate, ListJobTemplates,
 * DeleteJobTemplate). CreateJob with jobTemplateArn lives in jobs.ts.
 */
import type { CreateJobTemplateInput, JobTemplates } from "../../jobs/job-templates.ts";
import { findManagedTemplate, MANAGED_TEMPLATES, managedTemplateArn } from "../../jobs/managed-templates.ts";
import type { JobTemplate } from "../../model.ts";
import type { Operations } from "../router.ts";
import { NO_TAGS, page, withToken } from "../shapes.ts";

const PRESIGNED = "presignedUrlConfig on job templates is not supported here; give it to CreateJob";

export function jobTemplateRoutes(templates: JobTemplates): Operations {
  return {
    ListManagedJobTemplates: {
      honours: ["templateName", "maxResults", "nextToken"],
      handle: (input) => {
        const list = MANAGED_TEMPLATES.filter(
          (t) => input.templateName === undefined || t.templateName === input.templateName,
        );
        const p = page(list, input.maxResults, input.nextToken, 50);
        return {
          managedJobTemplates: p.items.map((t) => ({
            templateArn: managedTemplateArn(t),
            templateName: t.templateName,
            description: t.description,
            environments: t.environments,
            templateVersion: t.templateVersion,
          })),
          ...withToken(p.nextToken),
        };
      },
    },
    DescribeManagedJobTemplate: {
      honours: ["templateName", "templateVersion"],
      handle: (input) => {
        const t = findManagedTemplate(input.templateName, input.templateVersion);
        return {
          templateName: t.templateName,
          templateArn: managedTemplateArn(t),
          description: t.description,
          templateVersion: t.templateVersion,
          environments: t.environments,
          documentParameters: t.documentParameters,
          document: t.document,
        };
      },
    },
    CreateJobTemplate: {
      honours: [
        "jobTemplateId",
        "jobArn",
        "document",
        "description",
        "jobExecutionsRolloutConfig",
        "abortConfig",
        "timeoutConfig",
        "jobExecutionsRetryConfig",
        "destinationPackageVersions",
        "maintenanceWindows",
      ],
      refuses: {
        documentSource: "job documents from S3 are not supported; give the document inline",
        presignedUrlConfig: PRESIGNED,
        tags: NO_TAGS,
      },
      handle: (input) => {
        const t = templates.create(input as CreateJobTemplateInput);
        return { jobTemplateArn: t.jobTemplateArn, jobTemplateId: t.jobTemplateId };
      },
    },
    DescribeJobTemplate: {
      honours: ["jobTemplateId"],
      handle: (input) => templateShape(templates.get(input.jobTemplateId)),
    },
    ListJobTemplates: {
      honours: ["maxResults", "nextToken"],
      handle: (input) => {
        const p = page(templates.list(), input.maxResults, input.nextToken, 100);
        return {
          jobTemplates: p.items.map((t) => ({
            jobTemplateArn: t.jobTemplateArn,
            jobTemplateId: t.jobTemplateId,
            description: t.description,
            createdAt: t.createdAt,
          })),
          ...withToken(p.nextToken),
        };
      },
    },
    DeleteJobTemplate: {
      honours: ["jobTemplateId"],
      handle: (input) => void templates.delete(input.jobTemplateId),
    },
  };
}

function templateShape(t: JobTemplate) {
  return {
    jobTemplateArn: t.jobTemplateArn,
    jobTemplateId: t.jobTemplateId,
    description: t.description,
    document: t.document,
    createdAt: t.createdAt,
    ...(t.jobExecutionsRolloutConfig ? { jobExecutionsRolloutConfig: t.jobExecutionsRolloutConfig } : {}),
    ...(t.abortConfig ? { abortConfig: t.abortConfig } : {}),
    ...(t.timeoutConfig ? { timeoutConfig: t.timeoutConfig } : {}),
    ...(t.jobExecutionsRetryConfig ? { jobExecutionsRetryConfig: t.jobExecutionsRetryConfig } : {}),
    ...(t.destinationPackageVersions ? { destinationPackageVersions: t.destinationPackageVersions } : {}),
    ...(t.maintenanceWindows ? { maintenanceWindows: t.maintenanceWindows } : {}),
  };
}
