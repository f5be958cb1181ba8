/**
 * The Jobs agent: takes executions through the Jobs MQTT API, runs one at a time, reports
 * IN_PROGRESS and the terminal status, and stops a job the service canceled [DC-JOBS-flow].
 */
import type { JobDocument } from "../jobdoc/job-document.ts";
import { parseJobDocument } from "../jobdoc/parse.ts";
import type { Logger } from "../log/logger.ts";
import type { Connection } from "../mqtt/connection.ts";
import type { JobOutcome } from "../runner/run-job.ts";
import { truncateHead, sanitizeText } from "../runner/sanitize.ts";
import type { ExecutionRecord } from "../state/execution-record.ts";
import { notificationKey, sameNotification, type NotificationKey } from "./dedupe.ts";
import { decodeMessage, ExecutionResponse, RejectedResponse, UpdateAcceptedResponse, type JobExecution } from "../protocol/messages.ts";
import { MAX_STATUS_DETAIL_VALUE_CHARS, MAX_TIMEOUT_MINUTES } from "../protocol/limits.ts";
import { agentSubscriptions, agentTopics, parseJobsTopic } from "../protocol/topics.ts";
import { UpdatePublisher } from "./update-publisher.ts";
import { rejectionReason } from "./rejection-reason.ts";

/** Runs a parsed document; aborting the signal cancels it (the outcome is then CANCELED). */
export type JobRunner = (document: JobDocument, signal: AbortSignal, log: Logger) => Promise<JobOutcome>;

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
  /** Called once a SUCCEEDED status was accepted (the package inventory is reported then). */
  readonly afterSuccess?: () => void;
}

interface RunningJob {
  readonly jobId: string;
  readonly executionNumber: number | undefined;
  readonly abort: AbortController;
  /** The step is running (false while the final status is being reported). */
  executing: boolean;
  readonly log: Logger;
}

export class JobsAgent {
  private readonly topics;
  private readonly updates: UpdatePublisher;
  private running: RunningJob | undefined;
  private lastNotification: NotificationKey | undefined;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: AgentOptions) {
    this.topics = agentTopics(options.thingName);
    this.updates = new UpdatePublisher(options.connection, this.topics.update, options.updateRetryMs);
  }

  /** Subscribes and asks for the next execution now and whenever the session was lost. */
  start(): void {
    const { connection, log } = this.options;
    connection.onMessage((topic, payload) => {
      try {
        this.onMessage(topic, payload);
      } catch (error) {
        log.error({ err: error, topic }, "Failed to handle a message");
      }
    });
    let firstConnect = true;
    connection.onConnect((sessionPresent) => {
      log.info({ sessionPresent }, "Connected");
      // At start always (a stored session may hold an execution this process knows nothing of);
      // later only when the session, and so its subscriptions and queued messages, was lost.
      if (firstConnect || !sessionPresent) void this.subscribeAndAskForNext();
      firstConnect = false;
    });
    connection.onStatus((event, detail) => (event === "offline" ? log.warn("Disconnected; reconnecting") : log.warn({ detail }, "Connection error")));
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
    this.askForNext();
  }

  private askForNext(): void {
    if (this.stopping) return;
    const request: Record<string, unknown> = {};
    if (this.options.stepTimeoutSeconds > 0) request.stepTimeoutInMinutes = this.serviceStepTimeoutMinutes();
    this.options.connection.publish(this.topics.startNext, JSON.stringify(request)).catch(() => {});
  }

  /** The service's step timer: our own timeout rounded up, plus a minute so our report wins. */
  private serviceStepTimeoutMinutes(): number {
    return Math.min(MAX_TIMEOUT_MINUTES, Math.ceil(this.options.stepTimeoutSeconds / 60) + 1);
  }

  private onMessage(topic: string, payload: Uint8Array): void {
    const parsed = parseJobsTopic(topic);
    if (!parsed || parsed.thing !== this.options.thingName) return;
    const t = parsed.topic;
    const log = this.options.log;
    if (t.kind === "notify-next" || (t.kind === "start-next" && t.reply === "accepted")) {
      const message = decodeMessage<ExecutionResponse>(ExecutionResponse, payload);
      if (!message) return void log.warn({ topic }, "Ignoring a malformed message");
      this.onNextExecution(message.execution, t.kind === "notify-next");
    } else if (t.kind === "start-next" && t.reply === "rejected") {
      const rejection = decodeMessage<RejectedResponse>(RejectedResponse, payload);
      log.warn({ code: rejection?.code, message: rejection?.message }, "start-next was rejected");
    } else if (t.kind === "update" && t.reply === "accepted") {
      const reply = decodeMessage<UpdateAcceptedResponse>(UpdateAcceptedResponse, payload);
      if (reply) this.updates.deliver(reply.clientToken, { kind: "accepted" });
    } else if (t.kind === "update" && t.reply === "rejected") {
      const rejection = decodeMessage<RejectedResponse>(RejectedResponse, payload);
      if (rejection && !this.updates.deliver(rejection.clientToken, { kind: "rejected", rejection }))
        log.debug({ jobId: t.jobId, code: rejection.code }, "Rejection for an update no longer awaited");
    }
  }

  private onNextExecution(execution: JobExecution | undefined, fromNotify: boolean): void {
    const running = this.running;
    if (running) {
      // [AGENT-cancel] the running execution is no longer next: it was canceled or removed.
      if (fromNotify && running.executing && execution?.jobId !== running.jobId) {
        running.log.warn({ next: execution?.jobId ?? null }, "The service no longer lists this job as next; canceling it");
        running.abort.abort("canceled");
      }
      // Any other execution is picked up by the start-next sent when this job ends.
      return;
    }
    if (this.stopping) return;
    if (!execution) return void this.options.log.info("No pending jobs; waiting for the next one");
    const key = notificationKey(execution.jobId, execution.executionNumber, execution.jobDocument);
    if (sameNotification(this.lastNotification, key)) return void this.options.log.debug({ jobId: execution.jobId }, "Duplicate notification dropped");
    this.lastNotification = key;
    void this.runExecution(execution);
  }

  private async runExecution(execution: JobExecution): Promise<void> {
    const { jobId, executionNumber } = execution;
    const log = this.options.log.child({ jobId, executionNumber });
    const job: RunningJob = { jobId, executionNumber, abort: new AbortController(), executing: false, log };
    this.running = job;
    try {
      const { starts, error } = this.options.record.recordStart(jobId, executionNumber);
      if (error) log.warn({ err: error }, "Cannot save local state; crash-loop detection is off for this job");
      if (starts > this.options.maxReruns + 1) {
        const reason = `The agent stopped ${starts - 1} times while running this execution; not running it again`;
        log.error(reason);
        await this.report(job, "FAILED", { reason });
        return;
      }
      if (starts > 1) log.warn({ starts }, "Running an execution again after the agent stopped during it");

      const parsed = parseJobDocument(execution.jobDocument ?? null);
      if (!parsed.ok) {
        const reason = rejectionReason(parsed.issues);
        log.error({ reason }, "Rejecting the job");
        await this.report(job, "REJECTED", { reason });
        return;
      }

      // Sent from a microtask: it goes out right after the step's child is spawned (the path from
      // here to Bun.spawn is synchronous), so the notify → child latency does not include it,
      // and it still precedes any later update of this job.
      queueMicrotask(() => this.sendInProgress(job));
      job.executing = true;
      log.info({ steps: parsed.document.steps.length }, "Running job");
      const outcome = await this.options.runJob(parsed.document, job.abort.signal, log);
      job.executing = false;
      if (outcome.status === "CANCELED") {
        log.info({ why: String(job.abort.signal.reason) }, "Job ended without a report");
        if (job.abort.signal.reason !== "shutdown") this.options.record.clear();
        return;
      }
      log.info({ status: outcome.status, reason: outcome.statusDetails.reason }, "Job finished");
      await this.report(job, outcome.status, outcome.statusDetails);
    } catch (error) {
      log.error({ err: error }, "Job failed unexpectedly");
      await this.report(job, "FAILED", { reason: truncateHead(sanitizeText(`Agent error: ${(error as Error).message}`), MAX_STATUS_DETAIL_VALUE_CHARS) }).catch(() => {});
    } finally {
      this.running = undefined;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      if (!this.stopping) this.askForNext();
    }
  }

  private sendInProgress(job: RunningJob): void {
    const request: { status: "IN_PROGRESS"; statusDetails: Record<string, string>; stepTimeoutInMinutes?: number } = { status: "IN_PROGRESS", statusDetails: {} };
    if (this.options.stepTimeoutSeconds > 0) request.stepTimeoutInMinutes = this.serviceStepTimeoutMinutes();
    this.updates.fireAndForget(job.jobId, request, (rejection) => {
      if (rejection.code === "TerminalStateReached" || rejection.code === "InvalidStateTransition" || rejection.code === "ResourceNotFound") {
        job.log.warn({ code: rejection.code }, "The service refused IN_PROGRESS; canceling the job");
        job.abort.abort("canceled");
      }
    });
  }

  private async report(job: RunningJob, status: "SUCCEEDED" | "FAILED" | "REJECTED", statusDetails: Record<string, string>): Promise<void> {
    const result = await this.updates.send(job.jobId, { status, statusDetails }, () => this.stopping);
    if (result.kind === "accepted") {
      job.log.info({ status }, "Status reported");
      this.options.record.clear();
      if (status === "SUCCEEDED") this.options.afterSuccess?.();
    } else if (result.kind === "rejected") {
      // Not retryable: the execution is terminal or gone; nothing more to do for it.
      job.log.warn({ status, code: result.code, message: result.message }, "Status update rejected");
      this.options.record.clear();
    } else {
      job.log.warn({ status }, "Status not reported before shutdown; the job stays IN_PROGRESS");
    }
  }
}
