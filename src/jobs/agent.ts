/**
 * The Jobs agent: takes executions through the Jobs MQTT API, runs one at a time, reports
 * IN_PROGRESS and the terminal status, and stops a job the service canceled [DC-JOBS-flow].
 *
 * Cancel checks run on every path where a job may start or keep running [AGENT-cancel]: before
 * the first step the agent waits for the service to accept IN_PROGRESS (a notification replayed
 * from a stored session may name an execution canceled meanwhile); each later step sends
 * IN_PROGRESS again (it also restarts the service's step timer); after every reconnect a running
 * job is confirmed the same way (a force-cancel sent while the session was lost reaches no one
 * else). A refusal of any of these ends the job without a report.
 */
import type { JobDocument } from "../jobdoc/job-document.ts";
import { parseJobDocument } from "../jobdoc/parse.ts";
import type { Logger } from "../log/logger.ts";
import type { Connection } from "../mqtt/connection.ts";
import type { JobOutcome } from "../runner/run-job.ts";
import type { ExecutionRecord } from "../state/execution-record.ts";
import { MAX_TIMEOUT_MINUTES } from "../protocol/limits.ts";
import type { JobExecution } from "../protocol/messages.ts";
import {
  decodeResponse,
  isExecutionResponse,
  isRejectedResponse,
  isUpdateAcceptedResponse,
} from "../protocol/responses.ts";
import { agentSubscriptions, agentTopics, parseJobsTopic } from "../protocol/topics.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { notificationKey, RecentExecution } from "./dedupe.ts";
import { connectionStatusLog } from "./connection-log.ts";
import { jobIdOfTruncatedExecution } from "./oversized-message.ts";
import { type UpdateRequest, UpdatePublisher, type UpdateResult } from "./update-publisher.ts";
import { rejectionReason } from "./rejection-reason.ts";
import { documentFingerprint, sameDocument } from "./same-document.ts";
import { stepLabel } from "./progress.ts";
import { ProgressReporter } from "./progress-reporter.ts";

/** The file a step's handler writes `key=value` progress lines to (src/jobs/progress.ts). */
export interface ProgressFile {
  readonly path: string;
  /** Empties it (created mode 600) before a step. */
  reset(): void;
  /** Its entries now ({} when absent or unreadable). */
  read(): Record<string, string>;
  remove(): void;
}

const DEFAULT_PROGRESS_INTERVAL_MS = 30_000;

/** Step events the runner reports to the agent. */
export interface RunHooks {
  /** A step (0-based, finalStep included) is about to start. */
  readonly onStepStart?: (index: number) => void;
  /** Documents with reportProgress: the file whose path steps get in $IOT_JOBS_PROGRESS_FILE. */
  readonly progressFile?: string;
}

/** Runs a parsed document; aborting the signal cancels it (the outcome is then CANCELED). */
export type JobRunner = (
  document: JobDocument,
  signal: AbortSignal,
  log: Logger,
  hooks: RunHooks,
) => Promise<JobOutcome>;

export interface AgentOptions {
  readonly thingName: string;
  readonly connection: Connection;
  readonly log: Logger;
  readonly runJob: JobRunner;
  readonly record: ExecutionRecord;
  /** 0: no step timeout (nothing is sent to the service either). */
  readonly stepTimeoutSeconds: number;
  readonly maxReruns: number;
  readonly updateRetryMs: number;
  /** Documents with reportProgress: at most one progress update per this (default 30 s). */
  readonly progressIntervalMs?: number;
  /** The handler's progress file (documents with reportProgress); without it only `step` is reported. */
  readonly progressFile?: ProgressFile;
  /** Called when a job is over (reported or not): the agent returns what it used (a GC hint). */
  readonly afterJob?: () => void;
  /** Called once a SUCCEEDED status was accepted (the package inventory is reported then). */
  readonly afterSuccess?: () => void;
  readonly clock?: Clock;
}

interface RunningJob {
  readonly jobId: string;
  readonly executionNumber: number | undefined;
  /** When the service queued this execution: a job deleted and created again has the same id, not this. */
  readonly queuedAt: number | undefined;
  /** The execution's version as the service last reported it (the terminal report's expectedVersion). */
  version?: number;
  /** The service named another execution under this jobId (deleted and created again): never report on it. */
  superseded?: boolean;
  /** A notify-next named no execution or another one while this one ran: it is no longer pending. */
  notNext?: boolean;
  readonly abort: AbortController;
  /** The step is running (false while the final status is being reported). */
  executing: boolean;
  /** The latest IN_PROGRESS update (a step's start, progress); the next one waits for it (settle). */
  stepUpdate?: InProgressUpdate;
  /** Documents with reportProgress: the rate-limited progress updates. */
  progress?: ProgressReporter;
  readonly log: Logger;
}

/** An IN_PROGRESS update in the background: `settled` when it has its answer or gave up. */
interface InProgressUpdate {
  readonly controller: AbortController;
  settled: Promise<void>;
  /** The service's step timer restart it asks for (a step's start, or carried from one), if any. */
  stepTimeoutInMinutes: number | undefined;
  /** The service accepted it. */
  accepted: boolean;
}

/** The execution a message names is the running one: same job, and (when known) same queue time and number. */
function isSameExecution(job: RunningJob, execution: JobExecution | undefined): boolean {
  if (!execution || execution.jobId !== job.jobId) return false;
  if (job.queuedAt !== undefined && execution.queuedAt !== undefined && execution.queuedAt !== job.queuedAt)
    return false;
  return !(
    job.executionNumber !== undefined &&
    execution.executionNumber !== undefined &&
    execution.executionNumber !== job.executionNumber
  );
}

/** Rejections meaning the execution is no longer pending: canceled, removed, deleted or ended. */
const GONE_CODES: ReadonlySet<string> = new Set([
  "TerminalStateReached",
  "InvalidStateTransition",
  "ResourceNotFound",
  "VersionMismatch",
]);

/** A VersionMismatch with the execution IN_PROGRESS at another version: our own updates raced. */
function isOwnRace(result: UpdateResult): boolean {
  return (
    result.kind === "rejected" &&
    result.code === "VersionMismatch" &&
    result.currentStatus === "IN_PROGRESS" &&
    result.currentVersion !== undefined
  );
}

/** Sent when the service refused a terminal update's details (InvalidRequest): plain, short, safe. */
const FALLBACK_REASON = "The service refused this job's status details; the agent's log has them";

export class JobsAgent {
  private readonly topics;
  private readonly updates: UpdatePublisher;
  private running: RunningJob | undefined;

  private readonly recent = new RecentExecution();
  private stopping = false;
  /** A start-next this process sent is unanswered (a stored answer from before a restart comes without one). */
  private startNextAwaited = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: AgentOptions) {
    this.topics = agentTopics(options.thingName);
    this.updates = new UpdatePublisher(
      options.connection,
      this.topics.update,
      options.updateRetryMs,
      options.clock ?? systemClock,
    );
  }

  /** Subscribes and asks for the next execution now and whenever the session was lost. */
  start(): void {
    const { connection, log } = this.options;
    connection.onMessage((topic, payload) => {
      try {
        this.onMessage(topic, payload);
      } catch (error) {
        log.error({ err: error }, "Failed to handle a message");
      }
    });
    connection.onOversized((topic, bytes, head) => this.onOversized(topic, bytes, head));
    let firstConnect = true;
    connection.onConnect((sessionPresent) => {
      log.info({ sessionPresent }, "Connected");
      // At start always (a stored session may hold an execution this process knows nothing of);
      // later only when the session, and so its subscriptions and queued messages, was lost.
      if (firstConnect || !sessionPresent) void this.subscribeAndAskForNext();
      else this.confirmRunning();
      firstConnect = false;
    });
    connection.onStatus((status) => {
      const line = connectionStatusLog(status, this.options.thingName);
      log.warn(line.fields, line.msg);
    });
  }

  /** Stops taking jobs; a running job is ended without a report, so it stays IN_PROGRESS. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.running?.abort.abort("shutdown");
    if (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private async subscribeAndAskForNext(): Promise<void> {
    const { connection, log } = this.options;
    try {
      await connection.subscribe(agentSubscriptions(this.options.thingName));
      log.debug("Subscribed to the Jobs topics");
    } catch (error) {
      // Not fatal (the reference client aborts here): the next reconnect tries again.
      log.error({ err: error }, "Subscribing to the Jobs topics failed; check the IoT policy");
      return;
    }
    // While a job runs, start-next would move the next execution to IN_PROGRESS before this one
    // ends: confirm the running one instead (confirmRunning); start-next follows its end.
    if (this.running) this.confirmRunning();
    else this.askForNext();
  }

  private askForNext(): void {
    if (this.stopping) return;
    const request: Record<string, unknown> = {};
    if (this.options.stepTimeoutSeconds > 0) request.stepTimeoutInMinutes = this.serviceStepTimeoutMinutes();
    const topic = this.topics.startNext;
    this.startNextAwaited = true;
    this.options.connection.publish(topic, JSON.stringify(request), { replace: topic }).catch(() => {});
  }

  /** The service's step timer: our own timeout rounded up, plus a minute so our report wins. */
  private serviceStepTimeoutMinutes(): number {
    return Math.min(MAX_TIMEOUT_MINUTES, Math.ceil(this.options.stepTimeoutSeconds / 60) + 1);
  }

  /** IN_PROGRESS at a step's start: restarts the service's step timer for this step. */
  private stepStartRequest(details: Record<string, string> = {}): UpdateRequest {
    const request: { status: "IN_PROGRESS"; statusDetails: Record<string, string>; stepTimeoutInMinutes?: number } = {
      status: "IN_PROGRESS",
      statusDetails: details,
    };
    if (this.options.stepTimeoutSeconds > 0) request.stepTimeoutInMinutes = this.serviceStepTimeoutMinutes();
    return request;
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const parsed = parseJobsTopic(topic);
    if (!parsed || parsed.thing !== this.options.thingName) return;
    const t = parsed.topic;
    const log = this.options.log;
    if (t.kind === "start-next" && t.reply) this.startNextReplied();
    if (t.kind === "notify-next" || (t.kind === "start-next" && t.reply === "accepted")) {
      const message = decodeResponse(isExecutionResponse, payload);
      if (!message) return void log.warn({ topic }, "Ignoring a malformed message");
      this.onNextExecution(message.execution, t.kind === "notify-next");
    } else if (t.kind === "start-next" && t.reply === "rejected") {
      const rejection = decodeResponse(isRejectedResponse, payload);
      log.warn({ code: rejection?.code, message: rejection?.message }, "start-next was rejected");
    } else if (t.kind === "update" && t.reply === "accepted") {
      const reply = decodeResponse(isUpdateAcceptedResponse, payload);
      const version = (reply?.executionState as { versionNumber?: unknown } | undefined)?.versionNumber;
      // Only forward: a reply that comes after a newer one (its update was given up) names an older version.
      const running = this.running;
      if (typeof version === "number" && running?.jobId === t.jobId && version > (running.version ?? -1))
        running.version = version;
      if (reply) this.updates.deliver(reply.clientToken, { kind: "accepted", jobDocument: reply.jobDocument });
    } else if (t.kind === "update" && t.reply === "rejected") {
      const rejection = decodeResponse(isRejectedResponse, payload);
      if (rejection && !this.updates.deliver(rejection.clientToken, { kind: "rejected", rejection }))
        log.debug({ jobId: t.jobId, code: rejection.code }, "Rejection for an update no longer awaited");
    }
  }

  /**
   * A message over the connection's size limit was acknowledged and dropped (docs/COMPATIBILITY.md).
   * If it carried the next execution, that execution is REJECTED with the reason, so the queue
   * moves on instead of the same message coming back for ever. Its jobId alone cannot tell a
   * stored notification of a job since deleted and created again (small) under that id from the
   * job the service holds now: only the answer to a start-next this process asked for is trusted;
   * a notification, or a stored answer nobody here awaited, only asks start-next again.
   */
  private onOversized(topic: string, bytes: number, head: Uint8Array): void {
    const log = this.options.log;
    const parsed = parseJobsTopic(topic);
    const t = parsed?.thing === this.options.thingName ? parsed.topic : undefined;
    const carriesExecution = t?.kind === "notify-next" || (t?.kind === "start-next" && t.reply === "accepted");
    const jobId = carriesExecution ? jobIdOfTruncatedExecution(head) : undefined;
    log.error({ topic, bytes, jobId }, "Dropped a message larger than the agent accepts");
    const answersOurRequest = t?.kind === "start-next" && t.reply !== undefined && this.startNextReplied();
    if (!jobId || this.running || this.stopping) return;
    if (!answersOurRequest) return void this.askForNext();
    const reason = `The job's message (${bytes} bytes) exceeds the agent's limit; AWS IoT allows at most 128 KB`;
    void this.handle(jobId, undefined, undefined, async (job) => {
      await this.report(job, "REJECTED", { reason });
    });
  }

  /** Takes a start-next reply; true when this process was awaiting one. */
  private startNextReplied(): boolean {
    const awaited = this.startNextAwaited;
    this.startNextAwaited = false;
    return awaited;
  }

  private onNextExecution(execution: JobExecution | undefined, fromNotify: boolean): void {
    const running = this.running;
    if (running) {
      // [AGENT-cancel] the running execution is no longer next: it was canceled or removed — or
      // deleted and created again with the same jobId (another queuedAt): not ours to report on.
      if (fromNotify && running.executing && !isSameExecution(running, execution)) {
        running.log.warn(
          { next: execution?.jobId ?? null },
          "The service no longer lists this job as next; canceling it",
        );
        running.notNext = true;
        running.abort.abort("canceled");
      }
      // Any other execution is picked up by the start-next sent when this job ends.
      return;
    }
    if (this.stopping) return;
    // start-next's answer says it once; the notify-next (empty) that follows a finished job says the same.
    if (!execution) {
      if (fromNotify) return void this.options.log.debug("notify-next: no pending job");
      return void this.options.log.info("No pending jobs; waiting for the next one");
    }
    const key = notificationKey(execution.jobId, execution.executionNumber, execution.jobDocument, execution.queuedAt);
    if (this.recent.isRepeat(key, fromNotify)) {
      return void this.options.log.info({ jobId: execution.jobId }, "Duplicate notification dropped");
    }
    void this.handle(execution.jobId, execution.executionNumber, execution.queuedAt, (job) => {
      if (typeof execution.versionNumber === "number") job.version = execution.versionNumber;
      return this.runExecution(job, execution);
    });
  }

  /** One execution at a time: `work` runs as the running job; then the agent asks for the next. */
  private async handle(
    jobId: string,
    executionNumber: number | undefined,
    queuedAt: number | undefined,
    work: (job: RunningJob) => Promise<void>,
  ): Promise<void> {
    const log = this.options.log.child({ jobId, executionNumber });
    const job: RunningJob = { jobId, executionNumber, queuedAt, abort: new AbortController(), executing: false, log };
    this.running = job;
    try {
      await work(job);
    } catch (error) {
      log.error({ err: error }, "Job failed unexpectedly");
      await this.report(job, "FAILED", { reason: `Agent error: ${(error as Error).message}` }).catch(() => {});
    } finally {
      job.stepUpdate?.controller.abort();
      this.running = undefined;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      if (!this.stopping) this.askForNext();
      this.options.afterJob?.();
    }
  }

  private async runExecution(job: RunningJob, execution: JobExecution): Promise<void> {
    const { log } = job;
    // A job deleted and created again under this id has executionNumber 1 again: the old one's starts are not its own.
    const identity = {
      ...(job.queuedAt !== undefined ? { queuedAt: job.queuedAt } : {}),
      document: documentFingerprint(execution.jobDocument ?? null),
    };
    const { starts, error } = this.options.record.recordStart(job.jobId, job.executionNumber, identity);
    if (error) log.warn({ err: error }, "Cannot save local state; crash-loop detection is off for this job");
    const parsed = parseJobDocument(execution.jobDocument ?? null);
    const document = parsed.ok ? parsed.document : undefined;
    const total = document ? document.steps.length + (document.finalStep ? 1 : 0) : 0;
    const label = (index: number) => stepLabel(index, total, (document!.steps[index] ?? document!.finalStep)!.name);
    if (document?.reportProgress && starts <= this.options.maxReruns + 1)
      job.progress = this.progressReporter(job, label(0));

    // [AGENT-cancel] nothing runs, and nothing is reported, before the service confirms the
    // execution is still pending — and is still the one this document came with: a notification
    // stored before its job was deleted and created again must not reject or fail the new one.
    if (!(await this.confirmStart(job, execution.jobDocument))) return;

    if (starts > this.options.maxReruns + 1) {
      const reason = `The agent stopped ${starts - 1} times while running this execution; not running it again`;
      log.error(reason);
      return this.report(job, "FAILED", { reason });
    }
    if (starts > 1) log.warn({ starts }, "Running an execution again after the agent stopped during it");
    if (!parsed.ok) {
      const reason = rejectionReason(parsed.issues);
      log.error({ reason }, "Rejecting the job");
      return this.report(job, "REJECTED", { reason });
    }

    job.executing = true;
    log.info({ steps: parsed.document.steps.length }, "Running job");
    const progressFile = job.progress ? this.options.progressFile : undefined;
    let outcome: JobOutcome;
    try {
      outcome = await this.options.runJob(parsed.document, job.abort.signal, log, {
        onStepStart: (index) => {
          if (progressFile) progressFile.reset();
          if (index === 0) job.progress?.stepStarted(label(0), true);
          else this.sendStepStart(job, label(index));
        },
        ...(progressFile ? { progressFile: progressFile.path } : {}),
      });
    } finally {
      job.progress?.stop();
      progressFile?.remove();
    }
    job.executing = false;
    if (outcome.status === "CANCELED") {
      job.stepUpdate?.controller.abort();
      log.info({ why: String(job.abort.signal.reason) }, "Job ended without a report");
      if (job.abort.signal.reason !== "shutdown") {
        this.options.record.clear();
        this.afterGone(job);
      }
      return;
    }
    log.info({ status: outcome.status, reason: outcome.statusDetails.reason }, "Job finished");
    if (job.stepUpdate) await this.settle(job.stepUpdate, job.abort.signal);
    await this.report(job, outcome.status, outcome.statusDetails);
  }

  /**
   * Waits for an IN_PROGRESS update's reply, one reply window at most, then ends its attempts.
   * Its reply carries the version the next update of the job must expect: one sent before it (a
   * short step ends before the reply comes) is refused as a VersionMismatch with our own update.
   * So the terminal report and each later IN_PROGRESS wait here first. The job's abort (a cancel,
   * the agent stopping) ends the wait at once: stopping must not take a reply window longer.
   */
  private async settle(update: InProgressUpdate, jobAborted: AbortSignal): Promise<void> {
    if (!this.stopping && !jobAborted.aborted) {
      let timer: { cancel(): void } | undefined;
      let onAbort: (() => void) | undefined;
      const window = new Promise<void>((resolve) => {
        timer = (this.options.clock ?? systemClock).setTimeout(resolve, this.options.updateRetryMs);
        onAbort = resolve;
        jobAborted.addEventListener("abort", onAbort, { once: true });
      });
      await Promise.race([update.settled, window]);
      timer?.cancel();
      if (onAbort) jobAborted.removeEventListener("abort", onAbort);
    }
    update.controller.abort();
  }

  /**
   * IN_PROGRESS for the first step, awaited: true when the execution may run. It asks for the
   * service's document back: a notification stored in the session before the job was deleted and
   * created again under its id names an execution with the same numbers as the new one (and the
   * version tells nothing either: our own start-next may have moved either), so only the document
   * tells them apart (sameDocument). Then the new execution is IN_PROGRESS by this very update,
   * as start-next would have made it: start-next, sent when this one ends, returns it with its
   * own document.
   */
  private async confirmStart(job: RunningJob, document: unknown): Promise<boolean> {
    const request: UpdateRequest = { ...this.stepStartRequest(job.progress?.details()), includeJobDocument: true };
    const result = await this.updates.send(job.jobId, request, {
      shouldStop: () => this.stopping,
      signal: job.abort.signal,
    });
    if (result.kind === "accepted") {
      if (result.jobDocument === undefined || sameDocument(result.jobDocument, document)) return true;
      job.log.warn("This jobId names another job now (deleted and created again); running that one instead");
      // start-next's answer carries that job; its dedupe key may look like this one's (same second).
      this.options.record.clear();
      this.recent.forget(job.jobId);
      return false;
    }
    if (result.kind === "abandoned") {
      job.log.info("Stopped before the first step; nothing ran");
      return false;
    }
    if (GONE_CODES.has(result.code)) {
      job.log.warn(
        { code: result.code, message: result.message },
        "The service no longer has this execution pending; not running it",
      );
      this.options.record.clear();
      this.recent.refusedStart(job.jobId);
      return false;
    }
    job.log.error({ code: result.code, message: result.message }, "The service refused IN_PROGRESS; failing the job");
    await this.report(job, "FAILED", { reason: `The service refused IN_PROGRESS: ${result.code} ${result.message}` });
    return false;
  }

  /**
   * IN_PROGRESS at a later step's start, in the background; a refusal cancels the job. Sent when
   * there is a step timer to restart; otherwise a document with reportProgress names the new step
   * at the progress reporter's next slot.
   */
  private sendStepStart(job: RunningJob, label: string): void {
    const restartsTimer = this.options.stepTimeoutSeconds > 0;
    job.progress?.stepStarted(label, restartsTimer);
    if (restartsTimer) this.sendInProgress(job, this.stepStartRequest(job.progress?.details()));
  }

  /** A progress reporter for the job: its updates are IN_PROGRESS without a step timer change. */
  private progressReporter(job: RunningJob, firstLabel: string): ProgressReporter {
    const file = this.options.progressFile;
    const reporter = new ProgressReporter({
      clock: this.options.clock ?? systemClock,
      intervalMs: this.options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
      read: () => (file ? file.read() : {}),
      send: (statusDetails) => this.sendInProgress(job, { status: "IN_PROGRESS", statusDetails }),
      firstStep: firstLabel, // confirmStart sends it
    });
    return reporter;
  }

  /**
   * One IN_PROGRESS in the background, after the job's previous one; a refusal cancels the job.
   * It carries the version last seen: without one it would move a job deleted and created again
   * under this id (QUEUED, version 1) to IN_PROGRESS, and the old run could then report on it.
   * A mismatch with the execution IN_PROGRESS is a race with our own update: once more at its version.
   */
  private sendInProgress(job: RunningJob, request: UpdateRequest): void {
    const previous = job.stepUpdate;
    const controller = new AbortController();
    const options = { shouldStop: () => this.stopping, signal: controller.signal };
    const update: InProgressUpdate = {
      controller,
      settled: Promise.resolve(),
      stepTimeoutInMinutes: request.stepTimeoutInMinutes,
      accepted: false,
    };
    job.stepUpdate = update;
    update.settled = (async () => {
      let body = request;
      if (previous) {
        // One at a time: the previous update's reply first (its version).
        await this.settle(previous, job.abort.signal);
        // A step's start the service has not accepted is not sent now (below) or was lost: this
        // update carries its step timer restart, or the service would time the step out on the
        // previous step's timer. Decided after the wait, when that answer is known.
        const carried = previous.accepted ? undefined : previous.stepTimeoutInMinutes;
        if (carried !== undefined && body.stepTimeoutInMinutes === undefined) {
          body = { ...body, stepTimeoutInMinutes: carried };
          update.stepTimeoutInMinutes = carried;
        }
        // Not sent: an update a newer one followed while it waited (the newer one says more), nor
        // one for a job canceled or an agent stopping. One still waiting when the job's steps
        // ended is sent: every step's start reaches the service, then the report.
        if (controller.signal.aborted || job.stepUpdate !== update) return;
        if (job.abort.signal.aborted || this.stopping) return;
      }
      const send = () =>
        this.updates.send(
          job.jobId,
          job.version === undefined ? body : { ...body, expectedVersion: job.version },
          options,
        );
      let result = await send();
      for (let again = 0; again < 3 && isOwnRace(result); again++) {
        if (result.kind === "rejected" && result.currentVersion !== undefined) job.version = result.currentVersion;
        result = await send();
      }
      if (result.kind === "accepted") update.accepted = true;
      if (result.kind !== "rejected" || !GONE_CODES.has(result.code) || !job.executing || isOwnRace(result)) return;
      job.log.warn({ code: result.code }, "The service refused IN_PROGRESS; canceling the job");
      job.abort.abort("canceled");
    })();
  }

  /**
   * A VersionMismatch on a report names what the execution is now. Our status already: an earlier
   * attempt was applied and its reply lost (accepted). IN_PROGRESS at a later version: ours, with
   * a reply lost on the way (once more at that version). Anything else — QUEUED above all — is not
   * the execution this run started: a job deleted and created again under the same id (NEW-1).
   */
  private async afterVersionMismatch(
    job: RunningJob,
    status: string,
    statusDetails: Record<string, string>,
    result: UpdateResult,
  ): Promise<UpdateResult> {
    if (result.kind !== "rejected" || result.code !== "VersionMismatch") return result;
    if (result.currentStatus === status) return { kind: "accepted" };
    if (result.currentStatus !== "IN_PROGRESS" || result.currentVersion === undefined) {
      job.superseded = true;
      return result;
    }
    job.version = result.currentVersion;
    const retry = { status: status as "SUCCEEDED", statusDetails, expectedVersion: result.currentVersion };
    const again = await this.updates.send(job.jobId, retry, { shouldStop: () => this.stopping });
    if (again.kind === "rejected" && again.code === "VersionMismatch" && again.currentStatus === status)
      return { kind: "accepted" };
    return again;
  }

  /**
   * After a reconnect: is the running execution still ours? IN_PROGRESS with the version we last
   * saw (no timer is reset). A job deleted and created again under the same id has a new QUEUED
   * execution at version 1: VersionMismatch names it, and this run stops without reporting (NEW-1,
   * found by fuzzing); a canceled or removed one refuses the transition.
   */
  private confirmRunning(): void {
    const job = this.running;
    if (!job?.executing) return;
    const expected = job.version !== undefined ? { expectedVersion: job.version } : {};
    void this.updates
      .send(job.jobId, { status: "IN_PROGRESS", ...expected }, { shouldStop: () => this.stopping })
      .then((result) => {
        if (result.kind !== "rejected" || !job.executing) return;
        if (result.code === "VersionMismatch" && result.currentStatus === "IN_PROGRESS") {
          if (result.currentVersion !== undefined) job.version = result.currentVersion; // a reply of ours was lost
          return;
        }
        if (!GONE_CODES.has(result.code)) return;
        if (result.code === "VersionMismatch") job.superseded = true;
        job.log.warn(
          { code: result.code },
          "After reconnecting: the service no longer has this job pending; canceling it",
        );
        job.abort.abort("canceled");
      });
  }

  /**
   * This run's execution is gone without our report. The service naming another one as next (a
   * notify-next, a VersionMismatch with it QUEUED) is a job deleted and created again: one that
   * looks the same to the dedupe (same second, same document) is new, whoever names it. After a
   * refusal only a notify-next is believed (see RecentExecution.isRepeat): a start-next answer
   * naming what was just refused must not run it again.
   */
  private afterGone(job: RunningJob): void {
    if (job.superseded || job.notNext) this.recent.forget(job.jobId);
    else this.recent.refusedStart(job.jobId);
  }

  private async report(
    job: RunningJob,
    status: "SUCCEEDED" | "FAILED" | "REJECTED",
    statusDetails: Record<string, string>,
  ): Promise<void> {
    const shouldStop = () => this.stopping;
    if (job.superseded) {
      job.log.warn({ status }, "This jobId now names another execution (deleted and created again); not reporting");
      this.options.record.clear();
      this.afterGone(job);
      return;
    }
    // expectedVersion: a job deleted and created again under the same id while this one ran (a
    // new execution, version 1) must not take this run's result (NEW-1, found by fuzzing).
    const expected = job.version !== undefined ? { expectedVersion: job.version } : {};
    let result = await this.updates.send(job.jobId, { status, statusDetails, ...expected }, { shouldStop });
    if (result.kind === "rejected" && result.code === "InvalidRequest") {
      // The details were refused; the status must still get through, or the thing's queue waits.
      job.log.warn(
        { status, code: result.code, message: result.message, statusDetails },
        "Status details refused; reporting with a plain reason",
      );
      result = await this.updates.send(
        job.jobId,
        { status, statusDetails: { reason: FALLBACK_REASON }, ...expected },
        { shouldStop },
      );
    }
    // A version mismatch with the execution already in our status: an earlier attempt of this very
    // report was applied and its reply lost. Any other mismatch: the execution is not ours any more.
    result = await this.afterVersionMismatch(job, status, statusDetails, result);
    if (result.kind === "accepted") {
      job.log.info({ status }, "Status reported");
      this.options.record.clear();
      this.recent.forget(job.jobId);
      if (status === "SUCCEEDED") this.options.afterSuccess?.();
    } else if (result.kind === "rejected") {
      // Not retryable: the execution is terminal or gone (or refuses even a plain reason).
      const gone = GONE_CODES.has(result.code);
      job.log[gone ? "warn" : "error"](
        { status, code: result.code, message: result.message },
        "Status update rejected",
      );
      this.options.record.clear();
      // Not for other refusals: the execution is still IN_PROGRESS and start-next names it again.
      if (gone) this.afterGone(job);
    } else {
      job.log.warn({ status }, "Status not reported before shutdown; the job stays IN_PROGRESS");
    }
  }
}
