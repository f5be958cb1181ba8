/**
 * The control plane's Jobs operations: CreateJob (targets of things or groups, SNAPSHOT or
 * CONTINUOUS, timeouts, package substitution and checks), CancelJob, DeleteJob, executions — and
 * what happens when group membership changes, a thing is deleted, or an execution succeeds with
 * packages. Each command validates first, then applies in one store transaction.
 */
import { type CatalogLookup, substitute } from "../catalog/substitution.ts";
import { badPresignedUrls, hasPresignedPlaceholder } from "../s3/presigned-placeholders.ts";

/** `${aws:iot:s3-presigned-url…}` needs presignedUrlConfig, and each must name an S3 object. */
function checkPresignedUrls(document: string, configured: boolean): void {
  if (!hasPresignedPlaceholder(document)) return;
  if (!configured)
    throw new ServiceError(
      "InvalidRequest",
      "presignedUrlConfig is required to generate S3 presigned urls for the ${aws:iot:s3-presigned-url:…} placeholders in the job document",
    );
  const bad = badPresignedUrls(document);
  if (bad.length > 0)
    throw new ServiceError(
      "InvalidRequest",
      `Not an S3 object URL in a presigned-url placeholder: ${bad.slice(0, 3).join(", ")}`,
    );
}
import type { PackageCatalog } from "../catalog/packages.ts";
import { ServiceError } from "../errors.ts";
import { arn, type Execution, type Job } from "../model.ts";
import type { Fleet } from "../registry/fleet.ts";
import type { Store } from "../store.ts";
import type { JobsEngine } from "./jobs-engine.ts";
import { JOB_ID_PATTERN as JOB_ID, JOB_ID_RULE, THING_NAME_PATTERN } from "../../protocol/ids.ts";
import { MAX_DOCUMENT_CHARS, MAX_TIMEOUT_MINUTES, MIN_TIMEOUT_MINUTES } from "../../protocol/limits.ts";

const TARGET = /^arn:aws:iot:[a-z0-9-]+:\d{12}:(thing|thinggroup)\/(.+)$/;
/** IN_PROGRESS jobs by the groups they target (membership changes look only at these). */
const ACTIVE_BY_GROUP = "job.active.group";

const invalid = (message: string) => new ServiceError("InvalidRequest", message);
/** AWS: AssociateTargetsWithJob keeps a job at 100 targets at most. */
const MAX_TARGETS = 100;

export interface CreateJobInput {
  readonly jobId: string;
  readonly targets: readonly string[];
  readonly document?: string;
  readonly description?: string;
  readonly targetSelection?: string;
  readonly timeoutConfig?: { inProgressTimeoutInMinutes?: number };
  readonly destinationPackageVersions?: readonly string[];
  readonly presignedUrlConfig?: { roleArn?: string; expiresInSec?: number };
}

export interface PackageShadowWriter {
  /** Sets (version) or removes (undefined) `reported.<pkg>` in a thing's `$package` shadow. */
  reportPackages(thingName: string, versions: ReadonlyMap<string, string | undefined>): void;
}

/** The group names a job targets. */
export function targetGroups(job: Pick<Job, "targets">): string[] {
  const out: string[] = [];
  for (const t of job.targets) {
    const m = TARGET.exec(t);
    if (m?.[1] === "thinggroup") out.push(m[2]!);
  }
  return out;
}

export class JobControl {
  constructor(
    private readonly store: Store,
    private readonly engine: JobsEngine,
    private readonly fleet: Fleet,
    private readonly catalog: PackageCatalog,
    private readonly now: () => number,
  ) {
    store.defineIndex("job", ACTIVE_BY_GROUP, (j) => (j.status === "IN_PROGRESS" ? targetGroups(j) : []));
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  createJob(input: CreateJobInput): Job {
    if (!JOB_ID.test(input.jobId)) throw invalid(`jobId ${JSON.stringify(input.jobId)} must be ${JOB_ID_RULE}`);
    if (this.store.get("job", input.jobId))
      throw new ServiceError("ResourceAlreadyExists", `Job ${input.jobId} already exists`);
    if (!Array.isArray(input.targets) || input.targets.length === 0)
      throw invalid("targets must name at least one thing or thing group ARN");
    const parsedTargets = input.targets.map((t) => {
      const m = TARGET.exec(t);
      if (!m || !THING_NAME_PATTERN.test(m[2]!))
        throw invalid(`Target ${JSON.stringify(t)} is not a thing or thing group ARN`);
      return { kind: m[1] as "thing" | "thinggroup", name: m[2]! };
    });
    for (const t of parsedTargets) t.kind === "thing" ? this.fleet.thing(t.name) : this.fleet.group(t.name);
    if (typeof input.document !== "string")
      throw invalid("document is required (documentSource is not supported by the local service)");
    if (input.document.length > MAX_DOCUMENT_CHARS) {
      throw invalid(`document has ${input.document.length} characters; at most ${MAX_DOCUMENT_CHARS} are allowed`);
    }
    try {
      JSON.parse(input.document);
    } catch {
      throw invalid("document is not valid JSON");
    }
    const selection = input.targetSelection ?? "SNAPSHOT";
    if (selection !== "SNAPSHOT" && selection !== "CONTINUOUS")
      throw invalid("targetSelection must be SNAPSHOT or CONTINUOUS");
    const timeout = input.timeoutConfig?.inProgressTimeoutInMinutes;
    checkInProgressTimeout(timeout);

    const lookup: CatalogLookup = {
      version: (p, v) => this.catalog.findVersion(p, v),
      defaultVersion: (p) => this.store.get("package", p)?.defaultVersionName,
      packageExists: (p) => this.store.get("package", p) !== undefined,
    };
    const substituted = substitute(input.document, input.destinationPackageVersions ?? [], lookup, {
      presigned: input.presignedUrlConfig !== undefined,
    });
    checkPresignedUrls(substituted.document, input.presignedUrlConfig !== undefined);
    try {
      JSON.parse(substituted.document);
    } catch {
      throw invalid("The job document is not valid JSON after substitution");
    }

    return this.store.transaction(() => {
      const now = this.seconds();
      const job: Job = {
        jobId: input.jobId,
        jobArn: arn(`job/${input.jobId}`),
        targets: [...input.targets],
        targetSelection: selection,
        document: substituted.document,
        documentBeforeSubstitution: input.document as string,
        destinationPackageVersions: substituted.resolvedArns,
        destinationPackageVersionsBeforeSubstitution: [...(input.destinationPackageVersions ?? [])],
        status: "IN_PROGRESS",
        createdAt: now,
        lastUpdatedAt: now,
        sequence: this.store.next("job-sequence"),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(timeout !== undefined ? { inProgressTimeoutInMinutes: timeout } : {}),
        ...(input.presignedUrlConfig
          ? {
              presignedUrlConfig: {
                ...(input.presignedUrlConfig.roleArn ? { roleArn: input.presignedUrlConfig.roleArn } : {}),
                expiresInSec: input.presignedUrlConfig.expiresInSec ?? 3600,
              },
            }
          : {}),
      };
      this.store.put("job", job.jobId, job);
      for (const thing of this.targetThings(job)) this.engine.queue(job, thing);
      this.engine.settleJob(job.jobId); // a group with no members: a snapshot job is done at once
      return this.store.get("job", job.jobId)!;
    });
  }

  /** The things a job reaches now: named things and current members of named groups. */
  targetThings(job: Job): string[] {
    const things = new Set<string>();
    for (const t of job.targets) {
      const m = TARGET.exec(t)!;
      if (m[1] === "thing") things.add(m[2]!);
      else if (this.store.get("group", m[2]!)) for (const member of this.fleet.reach(m[2]!)) things.add(member);
    }
    return [...things].filter((t) => this.fleet.hasThing(t));
  }

  job(jobId: string): Job {
    const j = this.store.get("job", jobId);
    if (!j) throw new ServiceError("ResourceNotFound", `Job ${jobId} cannot be found.`);
    return j;
  }

  jobs(status?: string, thingGroupName?: string): Job[] {
    return [...this.store.all("job")]
      .filter((j) => !status || j.status === status)
      .filter((j) => !thingGroupName || j.targets.some((t) => t.endsWith(`:thinggroup/${thingGroupName}`)))
      .sort((a, b) => a.sequence - b.sequence);
  }

  /**
   * UpdateJob: the description and the in-progress timeout. A new timeout applies to executions
   * that go IN_PROGRESS afterwards (the timer starts then), as on AWS.
   */
  updateJob(jobId: string, update: { description?: string; inProgressTimeoutInMinutes?: number }): Job {
    const job = this.job(jobId);
    checkInProgressTimeout(update.inProgressTimeoutInMinutes);
    const next: Job = {
      ...job,
      ...(update.description !== undefined ? { description: update.description } : {}),
      ...(update.inProgressTimeoutInMinutes !== undefined
        ? { inProgressTimeoutInMinutes: update.inProgressTimeoutInMinutes }
        : {}),
      lastUpdatedAt: this.seconds(),
    };
    this.store.put("job", jobId, next);
    return next;
  }

  /**
   * AssociateTargetsWithJob: more thing groups for an IN_PROGRESS continuous job (at most 100
   * targets in all). Things the job did not reach before get an execution now.
   */
  associateTargets(jobId: string, targets: readonly string[], comment?: string): Job {
    const job = this.job(jobId);
    if (job.targetSelection !== "CONTINUOUS")
      throw invalid(`Job ${jobId} is a SNAPSHOT job; only continuous jobs take new targets`);
    if (job.status !== "IN_PROGRESS")
      throw invalid(`Job ${jobId} is ${job.status}; only an IN_PROGRESS job takes new targets`);
    for (const t of targets) {
      const m = TARGET.exec(t);
      if (m?.[1] !== "thinggroup") throw invalid(`Target ${JSON.stringify(t)} is not a thing group ARN`);
      this.fleet.group(m[2]!);
    }
    const all = [...new Set([...job.targets, ...targets])];
    if (all.length > MAX_TARGETS) {
      throw new ServiceError(
        "LimitExceeded",
        `A job has at most ${MAX_TARGETS} targets; this would make ${all.length}`,
      );
    }
    const before = new Set(this.targetThings(job));
    const next: Job = {
      ...job,
      targets: all,
      ...(comment !== undefined ? { comment } : {}),
      lastUpdatedAt: this.seconds(),
    };
    this.store.transaction(() => {
      this.store.put("job", jobId, next);
      for (const thing of this.targetThings(next)) if (!before.has(thing)) this.engine.queue(next, thing);
    });
    return next;
  }

  /** CancelJob: QUEUED executions are CANCELED; IN_PROGRESS ones only with force. */
  cancelJob(jobId: string, force: boolean, comment?: string, reasonCode?: string): Job {
    const job = this.job(jobId);
    if (job.status === "COMPLETED")
      throw new ServiceError("InvalidStateTransition", `Job ${jobId} is COMPLETED and cannot be canceled`);
    if (job.status === "CANCELED" && !force) return job;
    return this.store.transaction(() => {
      this.store.put("job", jobId, {
        ...job,
        status: "CANCELED",
        lastUpdatedAt: this.seconds(),
        ...(force ? { forceCanceled: true } : {}),
        ...(comment !== undefined ? { comment } : {}),
        ...(reasonCode !== undefined ? { reasonCode } : {}),
      });
      for (const e of this.engine.pendingExecutions(jobId)) {
        if (e.status === "QUEUED" || force) {
          const outcome = this.engine.cancelExecution(e, force);
          if (!outcome.ok) throw outcome.error;
        }
      }
      return this.store.get("job", jobId)!;
    });
  }

  /** DeleteJob: without force only a job that is not IN_PROGRESS and has nothing IN_PROGRESS (AWS). */
  deleteJob(jobId: string, force: boolean): void {
    const job = this.job(jobId);
    if (!force && job.status === "IN_PROGRESS") {
      throw new ServiceError(
        "InvalidStateTransition",
        `Job ${jobId} is IN_PROGRESS; cancel it first, or delete it with force=true`,
      );
    }
    if (!force && this.engine.pendingExecutions(jobId).some((e) => e.status === "IN_PROGRESS")) {
      throw new ServiceError(
        "InvalidStateTransition",
        `Job ${jobId} has IN_PROGRESS executions; delete it with force=true`,
      );
    }
    this.store.transaction(() => {
      this.engine.deleteExecutions(job.jobId);
      this.store.delete("job", jobId);
    });
  }

  executionsOfJob(jobId: string, status?: string): Execution[] {
    return this.engine
      .executionsOfJob(jobId)
      .filter((e) => !status || e.status === status)
      .sort((a, b) => a.thingName.localeCompare(b.thingName) || a.executionNumber - b.executionNumber);
  }

  /** IN_PROGRESS jobs that target a group. */
  activeJobsOfGroup(group: string): Job[] {
    return this.store.records("job", ACTIVE_BY_GROUP, group);
  }

  /** Group membership changed: continuous jobs reach joiners; leavers' queued executions are REMOVED. */
  onMembershipChange(thingName: string, joined: readonly string[], left: readonly string[]): void {
    const seen = new Set<string>();
    for (const group of joined) {
      for (const job of this.activeJobsOfGroup(group)) {
        if (job.targetSelection !== "CONTINUOUS" || seen.has(job.jobId)) continue;
        seen.add(job.jobId);
        this.engine.queue(job, thingName);
      }
    }
    for (const group of left) {
      for (const job of this.activeJobsOfGroup(group)) {
        // Still targeted some other way (by name, or another group it is in)? Then it stays.
        if (this.targetThings(job).includes(thingName)) continue;
        const e = this.engine.execution(job.jobId, thingName);
        if (e && e.status === "QUEUED") this.engine.removeQueued(e);
      }
    }
  }

  /** DeleteThing: the thing's pending executions end REMOVED (their jobs may complete). */
  onThingDeleted(thingName: string): void {
    this.engine.thingDeleted(thingName);
  }

  /** With versionUpdateByJobsConfig enabled, a SUCCEEDED execution updates `$package`. */
  onSucceeded(execution: Execution, job: Job, writer: PackageShadowWriter): void {
    if (!this.catalog.configuration().versionUpdateByJobsConfig.enabled) return;
    if (job.destinationPackageVersions.length === 0) return;
    const versions = new Map<string, string | undefined>();
    for (const a of job.destinationPackageVersions) {
      const m = /:package\/([^/]+)\/version\/(.+)$/.exec(a);
      if (m) versions.set(m[1]!, m[2] === "$null" ? undefined : m[2]!);
    }
    writer.reportPackages(execution.thingName, versions);
  }
}

/** timeoutConfig.inProgressTimeoutInMinutes, for CreateJob and UpdateJob alike. */
function checkInProgressTimeout(minutes: number | undefined): void {
  if (
    minutes !== undefined &&
    (!Number.isInteger(minutes) || minutes < MIN_TIMEOUT_MINUTES || minutes > MAX_TIMEOUT_MINUTES)
  ) {
    throw invalid(
      `timeoutConfig.inProgressTimeoutInMinutes must be between ${MIN_TIMEOUT_MINUTES} and ${MAX_TIMEOUT_MINUTES}`,
    );
  }
}
