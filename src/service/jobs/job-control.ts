/**
 * The control plane's Jobs operations: CreateJob (targets of things or groups, SNAPSHOT or
 * CONTINUOUS, timeouts, package substitution and checks), CancelJob, DeleteJob, executions — and
 * what happens when group membership changes, a thing is deleted, or an execution succeeds with
 * packages. Each command validates first, then applies in one store transaction.
 */
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../protocol/json-depth.ts";
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
import type { Clock, TimerHandle } from "../../util/clock.ts";
import {
  type AbortConfig,
  arn,
  type Execution,
  type Job,
  type RetryConfig,
  type RolloutConfig,
  type RolloutProgress,
} from "../model.ts";
import { abortReason, type ExecutedCounts, retryConfigProblem, shouldRetry } from "./failure-policy.ts";
import { initialJobStatus, nextJobStatus } from "./job-states.ts";
import type { JobTemplates } from "./job-templates.ts";
import { applyDocumentParameters, findManagedTemplate, parseManagedArn } from "./managed-templates.ts";
import { minuteOver, ratePerMinute, releasable, startMinute } from "./rollout.ts";
import { compileSchedule, phaseAt, type SchedulingConfig } from "./schedule.ts";
import type { Fleet } from "../registry/fleet.ts";
import type { Store } from "../store.ts";
import type { JobsEngine } from "./jobs-engine.ts";
import { JOB_ID_PATTERN as JOB_ID, JOB_ID_RULE, THING_NAME_PATTERN } from "../../protocol/ids.ts";
import { MAX_DOCUMENT_CHARS, MAX_TIMEOUT_MINUTES, MIN_TIMEOUT_MINUTES } from "../../protocol/limits.ts";

const TARGET = /^arn:aws:iot:[a-z0-9-]+:\d{12}:(thing|thinggroup)\/(.+)$/;
/** IN_PROGRESS jobs by the groups they target (membership changes look only at these). */
const ACTIVE_BY_GROUP = "job.active.group";
/** Statuses of an execution that ran (CANCELED and REMOVED ones never did): the abort criteria count these. */
const EXECUTED: readonly Execution["status"][] = ["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT"];
/** Jobs whose schedule still decides something (start, windows, endTime): their timers are armed at start. */
const UNDER_SCHEDULE = "job.under-schedule";
const underSchedule = (j: Job) =>
  j.schedulingConfig !== undefined && !j.scheduleEnded && (j.status === "SCHEDULED" || j.status === "IN_PROGRESS");
/** Jobs whose roll-out still holds things back (their timers are armed at start). */
const ROLLING_OUT = "job.rolling-out";

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
  readonly jobTemplateArn?: string;
  readonly documentParameters?: Readonly<Record<string, string>>;
  readonly jobExecutionsRolloutConfig?: RolloutConfig;
  readonly abortConfig?: AbortConfig;
  readonly jobExecutionsRetryConfig?: RetryConfig;
  readonly schedulingConfig?: SchedulingConfig;
  readonly presignedUrlConfig?: { roleArn?: string; expiresInSec?: number };
}

export interface JobControlOptions {
  readonly clock: Clock;
  /** How long a roll-out minute lasts (the service's `--minute-ms`). */
  readonly minuteMs: number;
  /** A roll-out step could not be saved (it is retried). */
  readonly onRolloutError?: (error: unknown) => void;
}

/** A roll-out step whose change could not be saved tries again after this long. */
const ROLLOUT_RETRY_MS = 1000;

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
  private readonly rolloutTimers = new Map<string, TimerHandle>();
  private readonly scheduleTimers = new Map<string, TimerHandle>();
  private started = false;
  private templates: JobTemplates | undefined;

  constructor(
    private readonly store: Store,
    private readonly engine: JobsEngine,
    private readonly fleet: Fleet,
    private readonly catalog: PackageCatalog,
    private readonly now: () => number,
    private readonly options: JobControlOptions,
  ) {
    store.defineIndex("job", ACTIVE_BY_GROUP, (j) => (j.status === "IN_PROGRESS" ? targetGroups(j) : []));
    store.defineIndex("job", ROLLING_OUT, (j) => (j.rollout ? ["yes"] : []));
    store.defineIndex("job", UNDER_SCHEDULE, (j) => (underSchedule(j) ? ["yes"] : []));
  }

  /** Custom templates (CreateJob with a custom template's ARN). */
  useTemplates(templates: JobTemplates): void {
    this.templates = templates;
  }

  /** Arms the roll-out timers of jobs that still hold things back (progress persists; a restart resumes). */
  start(): void {
    this.started = true;
    for (const key of this.store.lookup(ROLLING_OUT, "yes")) this.armRollout(key);
    // A schedule event missed while the service was down (a window, endTime) applies now.
    for (const key of [...this.store.lookup(UNDER_SCHEDULE, "yes")]) this.scheduleTick(key);
  }

  stop(): void {
    this.started = false;
    for (const t of [...this.rolloutTimers.values(), ...this.scheduleTimers.values()]) t.cancel();
    this.rolloutTimers.clear();
    this.scheduleTimers.clear();
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  createJob(given: CreateJobInput): Job {
    const input = this.withTemplate(given);
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
    if (nestsDeeperThan(input.document)) throw invalid(`document nests deeper than ${MAX_JSON_DEPTH} levels`);
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
    const retryProblem = retryConfigProblem(input.jobExecutionsRetryConfig, timeout !== undefined);
    if (retryProblem) throw invalid(retryProblem);
    checkRollout(input.jobExecutionsRolloutConfig);
    const schedule = input.schedulingConfig && compileSchedule(input.schedulingConfig, this.options.clock.now(), true);

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
        status: initialJobStatus(false),
        createdAt: now,
        lastUpdatedAt: now,
        sequence: this.store.next("job-sequence"),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(timeout !== undefined ? { inProgressTimeoutInMinutes: timeout } : {}),
        ...(input.jobTemplateArn !== undefined ? { jobTemplateArn: input.jobTemplateArn } : {}),
        ...(input.documentParameters !== undefined ? { documentParameters: { ...input.documentParameters } } : {}),
        ...(input.jobExecutionsRolloutConfig ? { rolloutConfig: input.jobExecutionsRolloutConfig } : {}),
        ...(input.abortConfig ? { abortConfig: input.abortConfig } : {}),
        ...(input.jobExecutionsRetryConfig ? { retryConfig: input.jobExecutionsRetryConfig } : {}),
        ...(input.schedulingConfig ? { schedulingConfig: input.schedulingConfig } : {}),
        ...(input.presignedUrlConfig
          ? {
              presignedUrlConfig: {
                ...(input.presignedUrlConfig.roleArn ? { roleArn: input.presignedUrlConfig.roleArn } : {}),
                expiresInSec: input.presignedUrlConfig.expiresInSec ?? 3600,
              },
            }
          : {}),
      };
      const things = this.targetThings(job);
      if (schedule) {
        // Held back until the schedule opens (and then at the roll-out's rate, if any).
        const rollout = { unreached: things, minuteStart: this.options.clock.now(), reachedThisMinute: 0, notified: 0 };
        this.store.put("job", job.jobId, {
          ...job,
          status: initialJobStatus(true),
          rollout: this.withRate(job, rollout),
        });
        this.applySchedule(job.jobId);
      } else if (job.rolloutConfig) {
        // Everything is held back; the roll-out reaches the first minute's things at once.
        const rollout = { unreached: things, minuteStart: this.options.clock.now(), reachedThisMinute: 0, notified: 0 };
        this.store.put("job", job.jobId, { ...job, rollout: this.withRate(job, rollout) });
        this.releaseRollout(job.jobId);
      } else {
        this.store.put("job", job.jobId, job);
        for (const thing of things) this.engine.queue(job, thing);
      }
      this.engine.settleJob(job.jobId); // a group with no members: a snapshot job is done at once
      return this.store.get("job", job.jobId)!;
    });
  }

  /**
   * CreateJob from a template: a managed template's document with its parameters applied, or a
   * custom template's document and configs; the request's own fields override the template's.
   * documentParameters belong to managed templates only (the model says so).
   */
  private withTemplate(input: CreateJobInput): CreateJobInput {
    if (input.jobTemplateArn === undefined) {
      if (input.documentParameters !== undefined)
        throw invalid("documentParameters can only be used with an AWS managed job template (jobTemplateArn)");
      return input;
    }
    if (input.document !== undefined)
      throw invalid("Give either document or jobTemplateArn, not both: the template supplies the document");
    const managed = parseManagedArn(input.jobTemplateArn);
    if (managed) {
      const template = findManagedTemplate(managed.name, managed.version);
      return { ...input, document: applyDocumentParameters(template, input.documentParameters ?? {}) };
    }
    if (input.documentParameters !== undefined) {
      throw invalid(
        "documentParameters can only be used with an AWS managed job template, not with a custom one " +
          `(${input.jobTemplateArn})`,
      );
    }
    const template = this.templates?.byArn(input.jobTemplateArn);
    if (!template) throw new ServiceError("ResourceNotFound", `Job template ${input.jobTemplateArn} does not exist`);
    return {
      ...input,
      document: template.document,
      description: input.description ?? template.description,
      timeoutConfig: input.timeoutConfig ?? template.timeoutConfig,
      destinationPackageVersions: input.destinationPackageVersions ?? template.destinationPackageVersions,
      jobExecutionsRolloutConfig: input.jobExecutionsRolloutConfig ?? template.jobExecutionsRolloutConfig,
      abortConfig: input.abortConfig ?? template.abortConfig,
      jobExecutionsRetryConfig: input.jobExecutionsRetryConfig ?? template.jobExecutionsRetryConfig,
      // The template's maintenance windows, unless the job brings its own.
      schedulingConfig:
        template.maintenanceWindows && !input.schedulingConfig?.maintenanceWindows
          ? { ...input.schedulingConfig, maintenanceWindows: template.maintenanceWindows }
          : input.schedulingConfig,
    };
  }

  // ---- roll-out ---------------------------------------------------------------------------------

  /**
   * Reaches as many held-back things as the rate allows in the current roll-out minute, in one
   * transaction with the job's progress (so a crash neither loses nor repeats one), and arms the
   * timer for the next minute.
   */
  private releaseRollout(jobId: string): void {
    const job = this.store.get("job", jobId);
    if (!job?.rollout || job.status === "SCHEDULED") return;
    if (job.status !== "IN_PROGRESS") {
      this.store.put("job", jobId, withoutRollout(job));
      return;
    }
    const nowMs = this.options.clock.now();
    let progress = minuteOver(job.rollout, nowMs, this.options.minuteMs)
      ? this.withRate(job, startMinute(job.rollout, nowMs, 0))
      : job.rollout;
    progress = this.stillTargeted(job, progress);
    const n = releasable(progress);
    const reach = progress.unreached.slice(0, n);
    const unreached = progress.unreached.slice(n);
    const next: Job =
      unreached.length === 0
        ? withoutRollout(job)
        : {
            ...job,
            rollout: {
              ...progress,
              unreached,
              reachedThisMinute: progress.reachedThisMinute + n,
              notified: progress.notified + n,
            },
          };
    if (n === 0 && next.rollout === job.rollout) {
      this.store.afterCommit(() => this.armRollout(jobId));
      return;
    }
    this.store.put("job", jobId, next);
    for (const thing of reach) {
      // Reached already (a continuous job's joiner): nothing to queue.
      if (!this.engine.execution(jobId, thing)) this.engine.queue(next, thing);
    }
    this.engine.settleJob(jobId);
    this.store.afterCommit(() => this.armRollout(jobId));
  }

  private armRollout(jobId: string): void {
    this.rolloutTimers.get(jobId)?.cancel();
    this.rolloutTimers.delete(jobId);
    if (!this.started) return;
    const rollout = this.store.get("job", jobId)?.rollout;
    if (!rollout) return;
    const due = rollout.minuteStart + this.options.minuteMs - this.options.clock.now();
    this.rolloutTimers.set(
      jobId,
      this.options.clock.setTimeout(() => this.rolloutTick(jobId), due),
    );
  }

  private rolloutTick(jobId: string): void {
    this.rolloutTimers.delete(jobId);
    try {
      this.store.transaction(() => this.releaseRollout(jobId));
    } catch (error) {
      this.options.onRolloutError?.(error);
      this.rolloutTimers.set(
        jobId,
        this.options.clock.setTimeout(() => this.rolloutTick(jobId), ROLLOUT_RETRY_MS),
      );
    }
  }

  // ---- scheduling -------------------------------------------------------------------------------

  /**
   * Puts a scheduled job in the phase its schedule says for now: SCHEDULED while it waits (for
   * its start or between maintenance windows), IN_PROGRESS and rolling out while open, the end
   * behaviour at endTime; then arms the timer for the next change. The schedule governs only while
   * things are held back: once every thing is reached, a closing window no longer pauses the job.
   */
  private applySchedule(jobId: string): void {
    const job = this.store.get("job", jobId);
    if (!job || !underSchedule(job)) return;
    const nowMs = this.options.clock.now();
    const phase = phaseAt(compileSchedule(job.schedulingConfig!, nowMs, false), nowMs);
    const now = this.seconds();
    if (phase.kind === "ended") {
      const behavior = job.schedulingConfig!.endBehavior ?? "STOP_ROLLOUT";
      this.store.put("job", jobId, {
        ...withoutRollout(job),
        status: jobStatus(job, "schedule-ended"),
        scheduleEnded: true,
        lastUpdatedAt: now,
      });
      if (behavior === "STOP_ROLLOUT") this.engine.settleJob(jobId);
      else this.cancelJob(jobId, behavior === "FORCE_CANCEL", `schedulingConfig.endTime reached (${behavior})`);
    } else if (phase.kind === "waiting" && job.rollout) {
      const status = jobStatus(job, "window-closed");
      if (status !== job.status) this.store.put("job", jobId, { ...job, status, lastUpdatedAt: now });
    } else if (jobStatus(job, "window-opened") !== job.status) {
      // Open (or nothing left to hold back): roll out; a new roll-out minute starts now.
      const rollout = job.rollout && this.withRate(job, startMinute(this.withJoiners(job, job.rollout), nowMs, 0));
      this.store.put("job", jobId, {
        ...job,
        status: jobStatus(job, "window-opened"),
        lastUpdatedAt: now,
        ...(rollout ? { rollout } : {}),
      });
      this.releaseRollout(jobId);
      this.engine.settleJob(jobId);
    }
    const until = phase.kind === "ended" ? undefined : phase.until;
    this.store.afterCommit(() => this.armSchedule(jobId, until));
  }

  private armSchedule(jobId: string, until: number | undefined): void {
    this.scheduleTimers.get(jobId)?.cancel();
    this.scheduleTimers.delete(jobId);
    if (!this.started || until === undefined || until === Number.POSITIVE_INFINITY) return;
    const delay = until - this.options.clock.now();
    this.scheduleTimers.set(
      jobId,
      this.options.clock.setTimeout(() => this.scheduleTick(jobId), delay),
    );
  }

  private scheduleTick(jobId: string): void {
    this.scheduleTimers.delete(jobId);
    try {
      this.store.transaction(() => this.applySchedule(jobId));
    } catch (error) {
      this.options.onRolloutError?.(error);
      this.scheduleTimers.set(
        jobId,
        this.options.clock.setTimeout(() => this.scheduleTick(jobId), ROLLOUT_RETRY_MS),
      );
    }
  }

  /**
   * A continuous job follows its groups while SCHEDULED too: things that joined meanwhile (the
   * membership hook sees only IN_PROGRESS jobs) are held back with the others when it opens.
   */
  private withJoiners(job: Job, progress: RolloutProgress): RolloutProgress {
    if (job.targetSelection !== "CONTINUOUS") return progress;
    const held = new Set(progress.unreached);
    const joiners = this.targetThings(job).filter((t) => !held.has(t) && !this.engine.execution(job.jobId, t));
    return joiners.length ? { ...progress, unreached: [...progress.unreached, ...joiners] } : progress;
  }

  /**
   * Held-back things that can no longer be reached drop out before the rate is applied (they take
   * no slot): deleted things, and for a continuous job, things that left its groups.
   */
  private stillTargeted(job: Job, progress: RolloutProgress): RolloutProgress {
    const targeted = job.targetSelection === "CONTINUOUS" ? new Set(this.targetThings(job)) : undefined;
    const unreached = progress.unreached.filter((t) => this.fleet.hasThing(t) && (!targeted || targeted.has(t)));
    return unreached.length === progress.unreached.length ? progress : { ...progress, unreached };
  }

  /** The progress with the rate of its current minute set from the job's config and counts now. */
  private withRate(job: Job, progress: RolloutProgress): RolloutProgress {
    const criteria = job.rolloutConfig?.exponentialRate?.rateIncreaseCriteria;
    const succeeded = criteria?.numberOfSucceededThings !== undefined ? this.succeededThings(job.jobId) : 0;
    const rate = ratePerMinute(job.rolloutConfig, { notified: progress.notified, succeeded });
    const { minuteRate: _, ...rest } = progress;
    return Number.isFinite(rate) ? { ...rest, minuteRate: rate } : rest;
  }

  private succeededThings(jobId: string): number {
    return this.engine.latestCount(jobId, "SUCCEEDED");
  }

  // ---- retries and abort --------------------------------------------------------------------------

  /**
   * An execution ended (engine's onFinished, inside its transaction): the abort criteria first
   * (an aborted job retries nothing), then a retry, then a succeeded-things roll-out criterion.
   */
  onFinished(e: Execution): void {
    const job = this.store.get("job", e.jobId);
    if (job?.status !== "IN_PROGRESS") return;
    if (job.abortConfig && EXECUTED.includes(e.status)) {
      const retrying = shouldRetry(job.retryConfig, e.status, this.chain(e));
      const reason = abortReason(job.abortConfig, this.executedCounts(job.jobId, retrying ? e : undefined));
      if (reason) {
        this.cancelJob(job.jobId, false, reason);
        return;
      }
    }
    if (shouldRetry(job.retryConfig, e.status, this.chain(e))) this.engine.queueRetry(e);
  }

  /** The statuses of a thing's current chain of attempts (since its last first attempt), `e` included. */
  private chain(e: Execution): Execution["status"][] {
    const all = this.engine
      .executionsOfJobOnThing(e.jobId, e.thingName)
      .filter((x) => x.executionNumber <= e.executionNumber);
    let start = 0;
    for (const [i, x] of all.entries()) if ((x.retryAttempt ?? 0) === 0) start = i;
    return all.slice(start).map((x) => x.status);
  }

  /**
   * Executed things by final status, from the index of each thing's latest execution (cost
   * independent of the fleet). `retrying`: an execution about to be retried is not final yet.
   */
  private executedCounts(jobId: string, retrying: Execution | undefined): ExecutedCounts {
    const counts: Partial<Record<Execution["status"], number>> = {};
    for (const s of EXECUTED) counts[s] = this.engine.latestCount(jobId, s);
    if (retrying) counts[retrying.status] = (counts[retrying.status] ?? 1) - 1;
    return counts;
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
  updateJob(
    jobId: string,
    update: {
      description?: string;
      inProgressTimeoutInMinutes?: number;
      jobExecutionsRolloutConfig?: RolloutConfig;
      abortConfig?: AbortConfig;
      jobExecutionsRetryConfig?: RetryConfig;
    },
  ): Job {
    const job = this.job(jobId);
    checkInProgressTimeout(update.inProgressTimeoutInMinutes);
    checkRollout(update.jobExecutionsRolloutConfig);
    const timeout = update.inProgressTimeoutInMinutes ?? job.inProgressTimeoutInMinutes;
    const retryProblem = retryConfigProblem(update.jobExecutionsRetryConfig, timeout !== undefined);
    if (retryProblem) throw invalid(retryProblem);
    const next: Job = {
      ...job,
      ...(update.description !== undefined ? { description: update.description } : {}),
      ...(update.inProgressTimeoutInMinutes !== undefined
        ? { inProgressTimeoutInMinutes: update.inProgressTimeoutInMinutes }
        : {}),
      ...(update.jobExecutionsRolloutConfig ? { rolloutConfig: update.jobExecutionsRolloutConfig } : {}),
      ...(update.abortConfig ? { abortConfig: update.abortConfig } : {}),
      ...(update.jobExecutionsRetryConfig ? { retryConfig: update.jobExecutionsRetryConfig } : {}),
      lastUpdatedAt: this.seconds(),
    };
    return this.store.transaction(() => {
      // A new roll-out config sets the rate of the current minute too.
      const rollout =
        next.rollout && update.jobExecutionsRolloutConfig ? this.withRate(next, next.rollout) : next.rollout;
      this.store.put("job", jobId, { ...next, ...(rollout ? { rollout } : {}) });
      if (next.rollout && update.jobExecutionsRolloutConfig) this.releaseRollout(jobId);
      return this.store.get("job", jobId)!;
    });
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
    const next = nextJobStatus(job, "cancel");
    if (!next.ok) throw next.error;
    if (job.status === "CANCELED" && !force) return job;
    return this.store.transaction(() => {
      this.store.put("job", jobId, {
        ...withoutRollout(job),
        status: next.status,
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
  /** [CP-DeleteJob] Without force only a COMPLETED or CANCELED job with nothing IN_PROGRESS goes. */
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

/** The job without its roll-out progress (everything reached, or the job stopped rolling out). */
function withoutRollout(job: Job): Job {
  const { rollout: _, ...rest } = job;
  return rest;
}

/** A roll-out config has either a fixed or an exponential rate (the model allows both members). */
function checkRollout(config: RolloutConfig | undefined): void {
  if (config && config.maximumPerMinute === undefined && config.exponentialRate === undefined)
    throw invalid("jobExecutionsRolloutConfig needs maximumPerMinute or exponentialRate");
  const criteria = config?.exponentialRate?.rateIncreaseCriteria;
  if (criteria) {
    const given = [criteria.numberOfNotifiedThings, criteria.numberOfSucceededThings].filter((c) => c !== undefined);
    if (given.length !== 1)
      throw invalid(
        "exponentialRate.rateIncreaseCriteria needs exactly one of numberOfNotifiedThings and numberOfSucceededThings",
      );
  }
  const factor = config?.exponentialRate?.incrementFactor;
  if (factor !== undefined && Math.round(factor * 10) !== factor * 10)
    throw invalid(`exponentialRate.incrementFactor ${factor} must have at most one decimal digit`);
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

/** A job's status after a schedule event (job-states.ts); those events are never refused. */
function jobStatus(job: Job, event: "window-closed" | "window-opened" | "schedule-ended"): Job["status"] {
  const next = nextJobStatus(job, event);
  return next.ok ? next.status : job.status;
}
