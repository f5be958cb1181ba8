/**
 * Job executions [JOBS-API-notify] [DG-timeouts]: per-thing queues, notify / notify-next, step
 * and in-progress timers, and job completion. Device requests and control-plane calls both end up here; which transitions exist
 * is decided by execution-states.ts. Notifications are derived, not scattered: every change to a
 * thing's executions goes through `changeThing`, which compares the pending list and its head
 * before and after (the reference's worked sequence: a new head → notify-next; a changed set →
 * notify), and sends them only once the store has committed.
 *
 * Cost: the store indexes executions by thing, by job, and the pending ones by thing and by job,
 * so a device's request costs the same on its first job and on its ten-thousandth.
 */
import { JOB_EXECUTION_STATUSES, type JobExecutionStatus } from "../../protocol/statuses.ts";
import { MAX_PENDING_LIST as LIST_LIMIT } from "../../protocol/limits.ts";
import type { Clock, TimerHandle } from "../../util/clock.ts";
import { type DeviceErrorCode, ServiceError } from "../errors.ts";
import { type Execution, isPending, isTerminal, type Job } from "../model.ts";
import { executionKey, type Store } from "../store.ts";
import { type ExecutionEvent, nextStatus, reportEvent } from "./execution-states.ts";
import { isAllDone, nextJobStatus } from "./job-states.ts";

export type { Clock } from "../../util/clock.ts";

export interface EngineOptions {
  /** How long a "minute" of stepTimeoutInMinutes / inProgressTimeoutInMinutes lasts (tests shorten it). */
  readonly minuteMs: number;
  readonly clock: Clock;
  /** A push message for a thing's subscribers (`notify`, `notify-next`); called after commit. */
  readonly notify: (thingName: string, topicSuffix: "notify" | "notify-next", payload: object) => void;
  /** An execution reached SUCCEEDED: runs inside the same transaction (package versions → `$package`). */
  readonly onSucceeded?: (execution: Execution, job: Job) => void;
  /** A timer's change could not be saved (it is retried). */
  readonly onTimerError?: (error: unknown) => void;
  /**
   * An execution reached a terminal status (retries, abort, roll-out criteria decide what follows);
   * runs inside the change's transaction, inside `changeThing` for its thing, before the job settles.
   */
  readonly onFinished?: (execution: Execution) => void;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ServiceError; executionState?: ExecutionState };
/** The device API's rejected codes (kept for its imports). */
export type RejectCode = DeviceErrorCode;

export interface ExecutionState {
  readonly status: JobExecutionStatus;
  readonly statusDetails: Readonly<Record<string, string>>;
  readonly versionNumber: number;
}

/** A timer whose change could not be saved tries again after this long. */
const TIMER_RETRY_MS = 1000;

const BY_THING = "execution.thing";
const BY_JOB = "execution.job";
const BY_JOB_THING = "execution.job+thing";
const PENDING_BY_THING = "execution.pending.thing";
const PENDING_BY_JOB = "execution.pending.job";
/** Each thing's latest execution of a job, by job and status: per-status counts of things. */
const LATEST_BY_JOB_STATUS = "execution.latest.job+status";

const keyOf = (e: Execution) => executionKey(e.jobId, e.thingName, e.executionNumber);
const pendingOrder = (a: Execution, b: Execution) =>
  (a.status === b.status ? 0 : a.status === "IN_PROGRESS" ? -1 : 1) ||
  a.queuedAt - b.queuedAt ||
  a.sequence - b.sequence;

export class JobsEngine {
  private readonly timers = new Map<string, TimerHandle>();
  private started = false;

  constructor(
    private readonly store: Store,
    private readonly options: EngineOptions,
  ) {
    store.defineIndex("execution", BY_THING, (e) => [e.thingName]);
    store.defineIndex("execution", BY_JOB, (e) => [e.jobId]);
    store.defineIndex("execution", BY_JOB_THING, (e) => [`${e.jobId}\u0000${e.thingName}`]);
    store.defineIndex("execution", PENDING_BY_THING, (e) => (isPending(e.status) ? [e.thingName] : []));
    store.defineIndex("execution", PENDING_BY_JOB, (e) => (isPending(e.status) ? [e.jobId] : []));
    store.defineIndex("execution", LATEST_BY_JOB_STATUS, (e) => (e.superseded ? [] : [`${e.jobId}\u0000${e.status}`]));
  }

  /** Arms the timers of IN_PROGRESS executions (deadlines persist; a restart resumes them). */
  start(): void {
    this.started = true;
    for (const e of this.store.all("execution")) if (e.status === "IN_PROGRESS") this.armTimer(keyOf(e));
  }

  stop(): void {
    this.started = false;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private seconds(): number {
    return Math.floor(this.options.clock.now() / 1000);
  }

  executionsOfThing(thingName: string): Execution[] {
    return this.store.records("execution", BY_THING, thingName);
  }

  executionsOfJob(jobId: string): Execution[] {
    return this.store.records("execution", BY_JOB, jobId);
  }

  /** How many things' latest execution of a job has `status` (as staged); cost independent of the fleet. */
  latestCount(jobId: string, status: JobExecutionStatus): number {
    return this.store.sizeOf(LATEST_BY_JOB_STATUS, `${jobId}\u0000${status}`);
  }

  /**
   * Things by the status of their latest execution (an attempt a retry superseded no longer
   * counts): the one rule DescribeJob's jobProcessDetails and the console both show.
   */
  thingsByStatus(jobId: string): Record<JobExecutionStatus, number> {
    const counts = {} as Record<JobExecutionStatus, number>;
    for (const s of JOB_EXECUTION_STATUSES) counts[s] = this.latestCount(jobId, s);
    return counts;
  }

  pendingCount(jobId: string): number {
    return this.store.sizeOf(PENDING_BY_JOB, jobId);
  }

  /** Things with a QUEUED or IN_PROGRESS execution (startup checks). */
  pendingExecutions(jobId: string): Execution[] {
    return this.store.records("execution", PENDING_BY_JOB, jobId);
  }

  /** The latest execution of a job on a thing (or the one with `executionNumber`). */
  execution(jobId: string, thingName: string, executionNumber?: number): Execution | undefined {
    if (executionNumber !== undefined)
      return this.store.get("execution", executionKey(jobId, thingName, executionNumber));
    let latest: Execution | undefined;
    for (const e of this.store.records("execution", BY_JOB_THING, `${jobId}\u0000${thingName}`)) {
      if (!latest || e.executionNumber > latest.executionNumber) latest = e;
    }
    return latest;
  }

  /** Every execution of a job on one thing (retries included), in executionNumber order. */
  executionsOfJobOnThing(jobId: string, thingName: string): Execution[] {
    return this.store
      .records("execution", BY_JOB_THING, `${jobId}\u0000${thingName}`)
      .sort((a, b) => a.executionNumber - b.executionNumber);
  }

  /** QUEUED and IN_PROGRESS executions, IN_PROGRESS first, then in queue order. */
  pending(thingName: string): Execution[] {
    return this.store.records("execution", PENDING_BY_THING, thingName).sort(pendingOrder);
  }

  // ---- changes --------------------------------------------------------------------------------

  /** Every change to a thing's executions goes through here, so notifications follow from it. */
  private changeThing<T>(thingName: string, change: () => T): T {
    return this.store.transaction(() => {
      const before = this.pending(thingName);
      const result = change();
      const after = this.pending(thingName);
      const ids = (list: Execution[]) =>
        list
          .map((e) => `${e.jobId}#${e.executionNumber}`)
          .sort()
          .join(",");
      if (ids(before) !== ids(after)) {
        const payload = this.listNotification(after);
        this.store.afterCommit(() => this.options.notify(thingName, "notify", payload));
      }
      const head = (list: Execution[]) => (list[0] ? `${list[0].jobId}#${list[0].executionNumber}` : "");
      if (head(before) !== head(after)) {
        const timestamp = this.seconds();
        const payload = after[0] ? { timestamp, execution: this.executionJson(after[0], true) } : { timestamp };
        this.store.afterCommit(() => this.options.notify(thingName, "notify-next", payload));
      }
      return result;
    });
  }

  private save(e: Execution): Execution {
    const key = keyOf(e);
    this.store.put("execution", key, e);
    this.store.afterCommit(() => this.armTimer(key));
    return e;
  }

  /** Queues a new execution of `job` on a thing (CreateJob, a thing joining a continuous job's group). */
  queue(job: Job, thingName: string): Execution | undefined {
    const previous = this.execution(job.jobId, thingName);
    if (previous && (isPending(previous.status) || job.targetSelection === "SNAPSHOT")) return undefined;
    return this.changeThing(thingName, () => {
      if (previous) this.store.put("execution", keyOf(previous), { ...previous, superseded: true });
      const now = this.seconds();
      return this.save({
        jobId: job.jobId,
        thingName,
        executionNumber: (previous?.executionNumber ?? 0) + 1,
        status: "QUEUED",
        statusDetails: {},
        queuedAt: now,
        lastUpdatedAt: now,
        versionNumber: 1,
        sequence: job.sequence,
      });
    });
  }

  /**
   * A retry (jobExecutionsRetryConfig): the same job on the same thing, QUEUED again with the next
   * executionNumber and `retryAttempt` + 1. Called from `onFinished`, i.e. inside the change that
   * ended `previous`, so the thing's notifications cover both.
   */
  queueRetry(previous: Execution): Execution {
    this.store.put("execution", keyOf(previous), { ...previous, superseded: true });
    const now = this.seconds();
    return this.save({
      jobId: previous.jobId,
      thingName: previous.thingName,
      executionNumber: previous.executionNumber + 1,
      status: "QUEUED",
      statusDetails: {},
      queuedAt: now,
      lastUpdatedAt: now,
      versionNumber: 1,
      sequence: previous.sequence,
      retryAttempt: (previous.retryAttempt ?? 0) + 1,
    });
  }

  /**
   * Applies `event` to `e` (the caller checked `nextStatus`): the new record, the step timer,
   * the job's status — all in the caller's transaction.
   */
  private transition(
    e: Execution,
    event: ExecutionEvent,
    changes: {
      statusDetails?: Readonly<Record<string, string>>;
      stepTimeoutInMinutes?: number;
      forceCanceled?: boolean;
    },
  ): Execution {
    const step = nextStatus(e.status, event);
    if (!step.ok) throw step.error;
    const job = this.store.get("job", e.jobId);
    const nowMs = this.options.clock.now();
    const now = this.seconds();
    const status = step.status;
    const next: { -readonly [K in keyof Execution]: Execution[K] } = {
      ...e,
      status,
      lastUpdatedAt: now,
      versionNumber: e.versionNumber + 1,
    };
    if (changes.statusDetails !== undefined) next.statusDetails = changes.statusDetails;
    if (changes.forceCanceled) next.forceCanceled = true;
    if (status === "IN_PROGRESS" && e.status === "QUEUED") {
      next.startedAt = now;
      const minutes = job?.inProgressTimeoutInMinutes;
      if (minutes) next.inProgressDeadline = nowMs + minutes * this.options.minuteMs;
    }
    if (status === "IN_PROGRESS" && changes.stepTimeoutInMinutes !== undefined) {
      if (changes.stepTimeoutInMinutes === -1) delete next.stepDeadline;
      else next.stepDeadline = nowMs + changes.stepTimeoutInMinutes * this.options.minuteMs;
    }
    if (status !== "IN_PROGRESS") {
      delete next.stepDeadline;
      delete next.inProgressDeadline;
    }
    this.save(next);
    if (job && isPending(e.status) && isTerminal(status)) this.options.onFinished?.(next);
    if (job) this.settleJob(job.jobId);
    return next;
  }

  /** [DG-job-status] A SNAPSHOT job completes when no execution of it is pending any more (job-states.ts). */
  settleJob(jobId: string): void {
    const job = this.store.get("job", jobId);
    if (!job) return;
    // Things a roll-out has not reached yet count as pending: the job is not done before them.
    if (!isAllDone(job, this.pendingCount(jobId) + (job.rollout?.unreached.length ?? 0))) return;
    const next = nextJobStatus(job, "all-done");
    if (!next.ok || next.status === job.status) return;
    const status = next.status;
    const now = this.seconds();
    this.store.put("job", jobId, {
      ...job,
      status,
      lastUpdatedAt: now,
      ...(status === "COMPLETED" ? { completedAt: now } : {}),
    });
  }

  /** After the change (and its notifications) is decided, SUCCEEDED may update `$package`, in the same transaction. */
  private succeeded(e: Execution): void {
    if (e.status !== "SUCCEEDED") return;
    const job = this.store.get("job", e.jobId);
    if (job) this.options.onSucceeded?.(e, job);
  }

  // ---- device API -----------------------------------------------------------------------------

  startNext(
    thingName: string,
    statusDetails: Readonly<Record<string, string>> | undefined,
    stepTimeoutInMinutes: number | undefined,
  ): Execution | undefined {
    const outcome = this.attempt(() =>
      this.changeThing(thingName, () => this.startNextChange(thingName, statusDetails, stepTimeoutInMinutes)),
    );
    if (!outcome.ok) throw outcome.error; // a ServiceError: the device API answers InternalError
    return outcome.value;
  }

  private startNextChange(
    thingName: string,
    statusDetails: Readonly<Record<string, string>> | undefined,
    stepTimeoutInMinutes: number | undefined,
  ): Execution | undefined {
    const next = this.pending(thingName)[0];
    if (!next) return undefined;
    if (next.status === "QUEUED") {
      return this.transition(next, "start", {
        statusDetails: statusDetails ?? next.statusDetails,
        stepTimeoutInMinutes,
      });
    }
    if (stepTimeoutInMinutes === undefined) return next;
    // Already IN_PROGRESS: only the step timer changes (the version stays).
    return this.save({
      ...next,
      stepDeadline: this.options.clock.now() + stepTimeoutInMinutes * this.options.minuteMs,
    });
  }

  /** UpdateJobExecution from the device. */
  update(
    thingName: string,
    jobId: string,
    request: {
      status: JobExecutionStatus;
      statusDetails?: Readonly<Record<string, string>>;
      expectedVersion?: number;
      executionNumber?: number;
      stepTimeoutInMinutes?: number;
    },
  ): Outcome<Execution> {
    const e = this.execution(jobId, thingName, request.executionNumber);
    if (!e)
      return {
        ok: false,
        error: new ServiceError("ResourceNotFound", `Job execution for job ${jobId} on thing ${thingName} not found`),
      };
    if (request.expectedVersion !== undefined && request.expectedVersion !== e.versionNumber) {
      const message = `Expected version ${request.expectedVersion} does not match the current version ${e.versionNumber}`;
      return { ok: false, error: new ServiceError("VersionConflict", message), executionState: this.state(e) };
    }
    const event = reportEvent(request.status);
    if (!event)
      return { ok: false, error: new ServiceError("InvalidRequest", `A device cannot set status ${request.status}`) };
    const step = nextStatus(e.status, event);
    if (!step.ok) return { ok: false, error: step.error, executionState: this.state(e) };
    return this.attempt(() => {
      const changes = { statusDetails: request.statusDetails, stepTimeoutInMinutes: request.stepTimeoutInMinutes };
      const next = this.changeThing(thingName, () => this.transition(e, event, changes));
      this.succeeded(next);
      return next;
    });
  }

  state(e: Execution): ExecutionState {
    return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber };
  }

  /** Runs a change as one transaction; a refusal by the store becomes an InternalFailure outcome. */
  private attempt<T>(change: () => T): Outcome<T> {
    // Inside a caller's transaction any failure must abort the whole command: let it through.
    if (this.store.inTransaction) return { ok: true, value: change() };
    try {
      return { ok: true, value: this.store.transaction(change) };
    } catch (error) {
      if (error instanceof ServiceError) return { ok: false, error };
      return {
        ok: false,
        error: new ServiceError("InternalFailure", `The change could not be saved: ${(error as Error).message}`),
      };
    }
  }

  // ---- control plane --------------------------------------------------------------------------

  /** CancelJobExecution: QUEUED always; IN_PROGRESS only with force. Joins the caller's transaction. */
  cancelExecution(
    e: Execution,
    force: boolean,
    statusDetails?: Readonly<Record<string, string>>,
    expectedVersion?: number,
  ): Outcome<Execution> {
    if (expectedVersion !== undefined && expectedVersion !== e.versionNumber) {
      const message = `Expected version ${expectedVersion} does not match the current version ${e.versionNumber}`;
      return { ok: false, error: new ServiceError("VersionConflict", message) };
    }
    const event = force ? "force-cancel" : "cancel";
    const step = nextStatus(e.status, event);
    if (!step.ok) return { ok: false, error: step.error };
    const changes = {
      statusDetails: statusDetails ?? e.statusDetails,
      forceCanceled: force && e.status === "IN_PROGRESS",
    };
    return this.attempt(() => this.changeThing(e.thingName, () => this.transition(e, event, changes)));
  }

  /** A thing left the group of a job: its QUEUED execution is REMOVED (others stay). */
  /** [DG-continuous] A thing left the group of a continuous job: its QUEUED execution is REMOVED. */
  removeQueued(e: Execution): void {
    if (!nextStatus(e.status, "remove").ok) return;
    this.changeThing(e.thingName, () => this.transition(e, "remove", {}));
  }

  /** DeleteThing: the thing's pending executions end REMOVED, so their jobs can complete. */
  /** [CP-DeleteThing] What is pending ends REMOVED, so the thing's jobs can complete. */
  thingDeleted(thingName: string): void {
    this.changeThing(thingName, () => {
      for (const e of this.pending(thingName)) this.transition(e, "thing-deleted", {});
    });
  }

  /** DeleteJob: the executions vanish (pending ones first leave the queue, with notifications). */
  deleteExecutions(jobId: string): void {
    const byThing = new Map<string, Execution[]>();
    for (const e of this.executionsOfJob(jobId)) byThing.set(e.thingName, [...(byThing.get(e.thingName) ?? []), e]);
    for (const [thing, list] of byThing) {
      this.changeThing(thing, () => {
        for (const e of list) {
          const key = keyOf(e);
          this.store.delete("execution", key);
          this.store.afterCommit(() => this.armTimer(key));
        }
      });
    }
  }

  // ---- timers ---------------------------------------------------------------------------------

  /** (Re)arms the timer of one execution from its committed record; none once it is not IN_PROGRESS. */
  private armTimer(key: string): void {
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
    if (!this.started) return;
    const e = this.store.get("execution", key);
    if (e?.status !== "IN_PROGRESS") return;
    const due = Math.min(e.stepDeadline ?? Infinity, e.inProgressDeadline ?? Infinity);
    if (due === Infinity) return;
    this.timers.set(
      key,
      this.options.clock.setTimeout(() => this.expire(key), due - this.options.clock.now()),
    );
  }

  /** A timer fired: the step or in-progress deadline has passed → TIMED_OUT. */
  private expire(key: string): void {
    this.timers.delete(key);
    const e = this.store.get("execution", key);
    if (e?.status !== "IN_PROGRESS") return;
    const now = this.options.clock.now();
    const stepDue = e.stepDeadline !== undefined && e.stepDeadline <= now;
    if (!stepDue && !(e.inProgressDeadline !== undefined && e.inProgressDeadline <= now)) {
      this.armTimer(key);
      return;
    }
    const statusDetails = { ...e.statusDetails, timedOut: `${stepDue ? "step" : "in-progress"} timer expired` };
    const result = this.attempt(() =>
      this.changeThing(e.thingName, () => this.transition(e, "time-out", { statusDetails })),
    );
    if (!result.ok) {
      this.options.onTimerError?.(result.error);
      this.timers.set(
        key,
        this.options.clock.setTimeout(() => this.expire(key), TIMER_RETRY_MS),
      );
    }
  }

  // ---- wire shapes ----------------------------------------------------------------------------

  executionJson(e: Execution, withDocument: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = { jobId: e.jobId, thingName: e.thingName };
    if (withDocument) out.jobDocument = this.documentObject(e.jobId);
    out.status = e.status;
    out.statusDetails = e.statusDetails;
    out.queuedAt = e.queuedAt;
    if (e.startedAt !== undefined) out.startedAt = e.startedAt;
    out.lastUpdatedAt = e.lastUpdatedAt;
    out.versionNumber = e.versionNumber;
    out.executionNumber = e.executionNumber;
    const left = this.secondsBeforeTimedOut(e);
    if (left !== undefined) out.approximateSecondsBeforeTimedOut = left;
    return out;
  }

  /**
   * approximateSecondsBeforeTimedOut of an IN_PROGRESS execution with a timer: the real seconds
   * until the earlier of its step and in-progress deadlines (with a shortened minute, shortened).
   */
  secondsBeforeTimedOut(e: Execution): number | undefined {
    if (e.status !== "IN_PROGRESS") return undefined;
    const due = Math.min(e.stepDeadline ?? Infinity, e.inProgressDeadline ?? Infinity);
    if (due === Infinity) return undefined;
    return Math.max(0, Math.ceil((due - this.options.clock.now()) / 1000));
  }

  summaryJson(e: Execution): Record<string, unknown> {
    const out: Record<string, unknown> = { jobId: e.jobId, queuedAt: e.queuedAt };
    if (e.startedAt !== undefined) out.startedAt = e.startedAt;
    out.lastUpdatedAt = e.lastUpdatedAt;
    out.versionNumber = e.versionNumber;
    out.executionNumber = e.executionNumber;
    return out;
  }

  /** What each delivery does to a document first (pre-signed URLs are made per delivery). */
  private renderDocument: (job: Job) => string = (job) => job.document;

  setDocumentRenderer(render: (job: Job) => string): void {
    this.renderDocument = render;
  }

  /** The job document as the device gets it over MQTT: a JSON object. */
  documentObject(jobId: string): unknown {
    const job = this.store.get("job", jobId);
    if (!job) return undefined;
    const document = this.renderDocument(job);
    try {
      return JSON.parse(document);
    } catch {
      return document;
    }
  }

  listNotification(pending: Execution[]): object {
    const jobs: Record<string, unknown[]> = {};
    for (const e of pending.slice(0, LIST_LIMIT)) {
      jobs[e.status] ??= [];
      jobs[e.status]!.push(this.summaryJson(e));
    }
    return { timestamp: this.seconds(), jobs };
  }

  pendingLists(thingName: string): { inProgressJobs: unknown[]; queuedJobs: unknown[] } {
    const list = this.pending(thingName).slice(0, LIST_LIMIT);
    return {
      inProgressJobs: list.filter((e) => e.status === "IN_PROGRESS").map((e) => this.summaryJson(e)),
      queuedJobs: list.filter((e) => e.status === "QUEUED").map((e) => this.summaryJson(e)),
    };
  }
}
