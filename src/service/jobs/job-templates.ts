/**
 * Custom job templates: CreateJobTemplate (from a document, or from an existing job with its
 * configs), DescribeJobTemplate, ListJobTemplates, DeleteJobTemplate. A template is a saved
 * document plus the configs a CreateJob from it starts with (job-control.ts applies it).
 */
import { JOB_ARN_PATTERN, JOB_TEMPLATE_ARN_PATTERN } from "../../protocol/ids.ts";
import { JOB_ID_PATTERN } from "../../protocol/ids.ts";
import { MAX_DOCUMENT_CHARS } from "../../protocol/limits.ts";
import { ServiceError } from "../errors.ts";
import { arn, type JobTemplate } from "../model.ts";
import type { Store } from "../store.ts";
import { retryConfigProblem } from "./failure-policy.ts";
import { compileSchedule } from "./schedule.ts";

const invalid = (message: string) => new ServiceError("InvalidRequest", message);

export interface CreateJobTemplateInput {
  readonly jobTemplateId: string;
  readonly description: string;
  readonly jobArn?: string;
  readonly document?: string;
  readonly timeoutConfig?: JobTemplate["timeoutConfig"];
  readonly jobExecutionsRolloutConfig?: JobTemplate["jobExecutionsRolloutConfig"];
  readonly abortConfig?: JobTemplate["abortConfig"];
  readonly jobExecutionsRetryConfig?: JobTemplate["jobExecutionsRetryConfig"];
  readonly destinationPackageVersions?: readonly string[];
  readonly maintenanceWindows?: JobTemplate["maintenanceWindows"];
}

export const jobTemplateArn = (id: string) => arn(`jobtemplate/${id}`);

export class JobTemplates {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  create(input: CreateJobTemplateInput): JobTemplate {
    if (!JOB_ID_PATTERN.test(input.jobTemplateId))
      throw invalid(`jobTemplateId ${JSON.stringify(input.jobTemplateId)} must be 1-64 of a-z A-Z 0-9 _ -`);
    if (this.store.get("jobTemplate", input.jobTemplateId))
      throw new ServiceError("Conflict", `Job template ${input.jobTemplateId} already exists`);
    if ((input.jobArn === undefined) === (input.document === undefined))
      throw invalid("Give either jobArn (copy a job) or document, not both and not neither");
    let fields: Omit<JobTemplate, "jobTemplateId" | "jobTemplateArn" | "description" | "createdAt">;
    if (input.jobArn !== undefined) {
      const id = JOB_ARN_PATTERN.exec(input.jobArn)?.[1];
      const job = id === undefined ? undefined : this.store.get("job", id);
      if (!job) throw new ServiceError("ResourceNotFound", `Job ${input.jobArn} does not exist`);
      // The job's document as it was given (before package substitution) and its configs.
      fields = {
        document: job.documentBeforeSubstitution,
        ...(job.inProgressTimeoutInMinutes
          ? { timeoutConfig: { inProgressTimeoutInMinutes: job.inProgressTimeoutInMinutes } }
          : {}),
        ...(job.rolloutConfig ? { jobExecutionsRolloutConfig: job.rolloutConfig } : {}),
        ...(job.abortConfig ? { abortConfig: job.abortConfig } : {}),
        ...(job.retryConfig ? { jobExecutionsRetryConfig: job.retryConfig } : {}),
        ...(job.schedulingConfig?.maintenanceWindows
          ? { maintenanceWindows: job.schedulingConfig.maintenanceWindows }
          : {}),
        ...(job.destinationPackageVersionsBeforeSubstitution.length
          ? { destinationPackageVersions: job.destinationPackageVersionsBeforeSubstitution }
          : {}),
      };
    } else {
      const document = input.document!;
      if (document.length > MAX_DOCUMENT_CHARS)
        throw invalid(`document has ${document.length} characters; at most ${MAX_DOCUMENT_CHARS} are allowed`);
      try {
        JSON.parse(document);
      } catch {
        throw invalid("document is not valid JSON");
      }
      fields = { document };
    }
    // The request's own configs override those copied from a job.
    const template: JobTemplate = {
      ...fields,
      jobTemplateId: input.jobTemplateId,
      jobTemplateArn: jobTemplateArn(input.jobTemplateId),
      description: input.description,
      createdAt: Math.floor(this.now() / 1000),
      ...(input.timeoutConfig ? { timeoutConfig: input.timeoutConfig } : {}),
      ...(input.jobExecutionsRolloutConfig ? { jobExecutionsRolloutConfig: input.jobExecutionsRolloutConfig } : {}),
      ...(input.abortConfig ? { abortConfig: input.abortConfig } : {}),
      ...(input.jobExecutionsRetryConfig ? { jobExecutionsRetryConfig: input.jobExecutionsRetryConfig } : {}),
      ...(input.destinationPackageVersions
        ? { destinationPackageVersions: [...input.destinationPackageVersions] }
        : {}),
      ...(input.maintenanceWindows ? { maintenanceWindows: input.maintenanceWindows } : {}),
    };
    // The windows' cron expressions are checked now, not at the first CreateJob.
    if (template.maintenanceWindows) compileSchedule({ maintenanceWindows: template.maintenanceWindows }, 0, false);
    const problem = retryConfigProblem(
      template.jobExecutionsRetryConfig,
      template.timeoutConfig?.inProgressTimeoutInMinutes !== undefined,
    );
    if (problem) throw invalid(problem);
    this.store.put("jobTemplate", template.jobTemplateId, template);
    return template;
  }

  get(jobTemplateId: string): JobTemplate {
    const t = this.store.get("jobTemplate", jobTemplateId);
    if (!t) throw new ServiceError("ResourceNotFound", `Job template ${jobTemplateId} does not exist`);
    return t;
  }

  byArn(templateArn: string): JobTemplate | undefined {
    const m = JOB_TEMPLATE_ARN_PATTERN.exec(templateArn);
    return m ? this.store.get("jobTemplate", m[1]!) : undefined;
  }

  list(): JobTemplate[] {
    return [...this.store.all("jobTemplate")].sort((a, b) => a.jobTemplateId.localeCompare(b.jobTemplateId));
  }

  delete(jobTemplateId: string): void {
    this.get(jobTemplateId);
    this.store.delete("jobTemplate", jobTemplateId);
  }
}
