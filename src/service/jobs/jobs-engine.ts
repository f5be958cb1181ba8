/**
 * Job executions: the state machine, per-thing queues, notify / notify-next, step and in-progress
 * timers, and job completion. Device requests and control-plane calls both end up here, so the
 * rules live in one place. Notifications are derived, not scattered: every change to a thing's
 * executions goes through `changeThing`, which compares the pending list and its head before and
 * after (the reference's worked sequence: a new head → notify-next; a changed set → notify).
 */
import type { JobExecutionStatus } from "../../protocol/statuses.ts";
import { type Execution, isPending, isTerminal, type Job } from "../model.ts";
import { executionKey, type Store } from "../store.ts";
import { MAX_PENDING_LIST as LIST_LIMIT } from "../../protocol/limits.ts";

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export interface EngineOptions {
  /** How long a "minute" of stepTimeoutInMinutes / inProgressTimeoutInMinutes lasts (tests shorten it). */
  readonly minuteMs: number;
  readonly clock: Clock;
  /** A push message for a thing's subscribers (`notify`, `notify-next`). */
  readonly notify: (thingName: string, topicSuffix: "notify" | "notify-next", payload: object) => void;
  /** An execution reached SUCCEEDED (package versions go to `$package`). */
  readonly onSucceeded?: (execution: Execution, job: Job) => void;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; code: RejectCode; message: string; executionState?: ExecutionState };
export type RejectCode = "InvalidRequest" | "InvalidStateTransition" | "ResourceNotFound" | "VersionMismatch" | "TerminalStateReached";

export interface ExecutionState {
  status: JobExecutionStatus;
  statusDetails: Record<string, string>;
  versionNumber: number;
}

export class JobsEngine {
  /** thing → keys of all its executions. */
  private readonly byThing = new Map<string, Set<string>>();
  /** job → how many of its executions are QUEUED or IN_PROGRESS (completion without a scan). */
  private readonly pendingCount = new Map<string, number>();
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: EngineOptions,
  ) {
    for (const e of store.all("execution")) {
      this.index(e);
      if (isPending(e.status)) this.adjustPending(e.jobId, 1);
    }
  }

  private adjustPending(jobId: string, delta: number): void {
    this.pendingCount.set(jobId, (this.pendingCount.get(jobId) ?? 0) + delta);
  }

  /** Starts the timer sweep (deadlines persist; a restart resumes them). */
  start(): void {
    const period = Math.max(20, Math.min(1000, Math.floor(this.options.minuteMs / 10)));
    this.sweeper = setInterval(() => this.expireTimers(), period);
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private seconds(): number {
    return Math.floor(this.options.clock.now() / 1000);
  }

  private index(e: Execution): void {
    let keys = this.byThing.get(e.thingName);
    if (!keys) this.byThing.set(e.thingName, (keys = new Set()));
    keys.add(executionKey(e.jobId, e.thingName, e.executionNumber));
  }

  executionsOfThing(thingName: string): Execution[] {
    const out: Execution[] = [];
    for (const key of this.byThing.get(thingName) ?? []) {
      const e = this.store.get("execution", key);
      if (e) out.push(e);
    }
    return out;
  }

  /** The latest execution of a job on a thing (or the one with `executionNumber`). */
  execution(jobId: string, thingName: string, executionNumber?: number): Execution | undefined {
    let latest: Execution | undefined;
    for (const e of this.executionsOfThing(thingName)) {
      if (e.jobId !== jobId) continue;
      if (executionNumber !== undefined) {
        if (e.executionNumber === executionNumber) return e;
        continue;
      }
      if (!latest || e.executionNumber > latest.executionNumber) latest = e;
    }
    return latest;
  }

  /** QUEUED and IN_PROGRESS executions, IN_PROGRESS first, then in queue order. */
  pending(thingName: string): Execution[] {
    return this.executionsOfThing(thingName)
      .filter((e) => isPending(e.status))
      .sort((a, b) => (a.status === b.status ? 0 : a.status === "IN_PROGRESS" ? -1 : 1) || a.queuedAt - b.queuedAt || a.sequence - b.sequence);
  }

  // ---- changes --------------------------------------------------------------------------------

  /** Every change to a thing's executions goes through here, so notifications follow from it. */
  private changeThing<T>(thingName: string, change: () => T): T {
    const before = this.pending(thingName);
    const result = change();
    const after = this.pending(thingName);
    const ids = (list: Execution[]) => list.map((e) => `${e.jobId}#${e.executionNumber}`).sort().join(",");
    if (ids(before) !== ids(after)) this.options.notify(thingName, "notify", this.listNotification(after));
    const head = (list: Execution[]) => (list[0] ? `${list[0].jobId}#${list[0].executionNumber}` : "");
    if (head(before) !== head(after)) {
      this.options.notify(thingName, "notify-next", after[0] ? { timestamp: this.seconds(), execution: this.executionJson(after[0], true) } : { timestamp: this.seconds() });
    }
    return result;
  }

  private save(e: Execution): void {
    this.store.put("execution", executionKey(e.jobId, e.thingName, e.executionNumber), e);
  }

  /** Queues a new execution of `job` on a thing (CreateJob, a thing joining a continuous job's group). */
  queue(job: Job, thingName: string): Execution | undefined {
    const previous = this.execution(job.jobId, thingName);
    if (previous && (isPending(previous.status) || job.targetSelection === "SNAPSHOT")) return undefined;
    return this.changeThing(thingName, () => {
      const now = this.seconds();
      const e: Execution = {
        jobId: job.jobId,
        thingName,
        executionNumber: (previous?.executionNumber ?? 0) + 1,
        status: "QUEUED",
        statusDetails: {},
        queuedAt: now,
        lastUpdatedAt: now,
        versionNumber: 1,
        sequence: job.sequence,
      };
      this.save(e);
      this.index(e);
      this.adjustPending(job.jobId, 1);
      return e;
    });
  }

  private transition(e: Execution, job: Job | undefined, status: JobExecutionStatus, details?: Record<string, string>): void {
    const now = this.seconds();
    if (isPending(e.status) && isTerminal(status)) this.adjustPending(e.jobId, -1);
    if (status === "IN_PROGRESS" && e.status === "QUEUED") {
      e.startedAt = now;
      const minutes = job?.inProgressTimeoutInMinutes;
      if (minutes) e.inProgressDeadline = this.options.clock.now() + minutes * this.options.minuteMs;
    }
    e.status = status;
    if (details !== undefined) e.statusDetails = details;
    e.lastUpdatedAt = now;
    e.versionNumber++;
    if (isTerminal(status)) {
      delete e.stepDeadline;
      delete e.inProgressDeadline;
    }
    this.save(e);
    // After this change (and its notifications) is complete: `$package` updates can move the
    // thing between dynamic groups, which changes its executions again.
    if (status === "SUCCEEDED" && job) queueMicrotask(() => this.options.onSucceeded?.(e, job));
    if (isTerminal(status) && job) this.completeIfDone(job);
  }

  private setStepTimer(e: Execution, minutes: number | undefined): void {
    if (minutes === undefined) return;
    if (minutes === -1) delete e.stepDeadline;
    else e.stepDeadline = this.options.clock.now() + minutes * this.options.minuteMs;
  }

  /** A snapshot job is COMPLETED once every execution is terminal. */
  completeIfDone(job: Job): void {
    if (job.status !== "IN_PROGRESS" || job.targetSelection !== "SNAPSHOT") return;
    if ((this.pendingCount.get(job.jobId) ?? 0) > 0) return;
    job.status = "COMPLETED";
    job.completedAt = job.lastUpdatedAt = this.seconds();
    this.store.put("job", job.jobId, job);
  }

  // ---- device API -----------------------------------------------------------------------------

  startNext(thingName: string, statusDetails: Record<string, string> | undefined, stepTimeoutInMinutes: number | undefined): Execution | undefined {
    return this.changeThing(thingName, () => {
      const next = this.pending(thingName)[0];
      if (!next) return undefined;
      if (next.status === "QUEUED") {
        this.transition(next, this.store.get("job", next.jobId), "IN_PROGRESS", statusDetails ?? next.statusDetails);
      }
      this.setStepTimer(next, stepTimeoutInMinutes);
      this.save(next);
      return next;
    });
  }

  /** UpdateJobExecution from the device. */
  update(
    thingName: string,
    jobId: string,
    request: { status: JobExecutionStatus; statusDetails?: Record<string, string>; expectedVersion?: number; executionNumber?: number; stepTimeoutInMinutes?: number },
  ): Outcome<Execution> {
    const e = this.execution(jobId, thingName, request.executionNumber);
    if (!e) return { ok: false, code: "ResourceNotFound", message: `Job execution for job ${jobId} on thing ${thingName} not found` };
    if (request.expectedVersion !== undefined && request.expectedVersion !== e.versionNumber) {
      return { ok: false, code: "VersionMismatch", message: `Expected version ${request.expectedVersion} does not match the current version ${e.versionNumber}`, executionState: this.state(e) };
    }
    if (isTerminal(e.status)) {
      return { ok: false, code: "InvalidStateTransition", message: `Cannot update the job execution from ${e.status} to ${request.status}: it is in a terminal state`, executionState: this.state(e) };
    }
    if (request.status === "IN_PROGRESS" && e.status !== "QUEUED" && e.status !== "IN_PROGRESS") {
      return { ok: false, code: "InvalidStateTransition", message: `Cannot update the job execution from ${e.status} to IN_PROGRESS`, executionState: this.state(e) };
    }
    this.changeThing(thingName, () => {
      this.setStepTimer(e, request.status === "IN_PROGRESS" ? request.stepTimeoutInMinutes : undefined);
      this.transition(e, this.store.get("job", jobId), request.status, request.statusDetails);
    });
    return { ok: true, value: e };
  }

  state(e: Execution): ExecutionState {
    return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber };
  }

  // ---- control plane --------------------------------------------------------------------------

  /** CancelJobExecution: QUEUED always; IN_PROGRESS only with force. */
  cancelExecution(e: Execution, force: boolean, statusDetails?: Record<string, string>, expectedVersion?: number): Outcome<Execution> {
    if (expectedVersion !== undefined && expectedVersion !== e.versionNumber) return { ok: false, code: "VersionMismatch", message: `Expected version ${expectedVersion} does not match the current version ${e.versionNumber}` };
    if (isTerminal(e.status)) return { ok: false, code: "InvalidStateTransition", message: `The job execution is already ${e.status}` };
    if (e.status === "IN_PROGRESS" && !force) return { ok: false, code: "InvalidStateTransition", message: "The job execution is IN_PROGRESS; cancel it with force=true" };
    this.changeThing(e.thingName, () => {
      if (force && e.status === "IN_PROGRESS") e.forceCanceled = true;
      this.transition(e, this.store.get("job", e.jobId), "CANCELED", statusDetails ?? e.statusDetails);
    });
    return { ok: true, value: e };
  }

  /** A thing left a dynamic group: its queued executions of the group's jobs are REMOVED. */
  removeQueued(e: Execution): void {
    if (e.status !== "QUEUED") return;
    this.changeThing(e.thingName, () => this.transition(e, this.store.get("job", e.jobId), "REMOVED"));
  }

  /** DeleteJob: the executions vanish (pending ones first leave the queue, with notifications). */
  deleteExecutions(jobId: string): void {
    const byThing = new Map<string, Execution[]>();
    for (const e of this.store.all("execution")) if (e.jobId === jobId) byThing.set(e.thingName, [...(byThing.get(e.thingName) ?? []), e]);
    for (const [thing, list] of byThing) {
      this.changeThing(thing, () => {
        for (const e of list) {
          const key = executionKey(e.jobId, e.thingName, e.executionNumber);
          this.store.delete("execution", key);
          this.byThing.get(thing)?.delete(key);
          if (isPending(e.status)) this.adjustPending(jobId, -1);
        }
      });
    }
  }

  /** Step and in-progress timers that have passed → TIMED_OUT. */
  expireTimers(): void {
    const now = this.options.clock.now();
    const due: Execution[] = [];
    for (const e of this.store.all("execution")) {
      if (e.status !== "IN_PROGRESS") continue;
      if ((e.stepDeadline !== undefined && e.stepDeadline <= now) || (e.inProgressDeadline !== undefined && e.inProgressDeadline <= now)) due.push(e);
    }
    for (const e of due) {
      const which = e.stepDeadline !== undefined && e.stepDeadline <= now ? "step" : "in-progress";
      this.changeThing(e.thingName, () => this.transition(e, this.store.get("job", e.jobId), "TIMED_OUT", { ...e.statusDetails, timedOut: `${which} timer expired` }));
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
    return out;
  }

  summaryJson(e: Execution): Record<string, unknown> {
    const out: Record<string, unknown> = { jobId: e.jobId, queuedAt: e.queuedAt };
    if (e.startedAt !== undefined) out.startedAt = e.startedAt;
    out.lastUpdatedAt = e.lastUpdatedAt;
    out.versionNumber = e.versionNumber;
    out.executionNumber = e.executionNumber;
    return out;
  }

  /** The job document as the device gets it over MQTT: a JSON object. */
  documentObject(jobId: string): unknown {
    const job = this.store.get("job", jobId);
    if (!job) return undefined;
    try {
      return JSON.parse(job.document);
    } catch {
      return job.document;
    }
  }

  listNotification(pending: Execution[]): object {
    const jobs: Record<string, unknown[]> = {};
    for (const e of pending.slice(0, LIST_LIMIT)) (jobs[e.status] ??= []).push(this.summaryJson(e));
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
