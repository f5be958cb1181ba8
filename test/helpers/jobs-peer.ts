/**
 * Plays the AWS IoT Jobs service over MQTT on a plain broker (Mosquitto): the agent's integration
 * tests use it because it injects faults the real service never makes (rejections, lost replies).
 * Topics, request decoding (every InvalidTopic / InvalidJson / InvalidRequest), statuses and limits
 * come from src/protocol; what is left here is the execution state machine and the notification
 * rule, held to the local service's behaviour by the contract suite (test/contract/). Replies go
 * to the reply topics (a plain broker has no implicit reply delivery; devices subscribe to them).
 */
import mqtt from "mqtt";
import { NEXT_JOB_ID } from "../../src/protocol/ids.ts";
import { CANCEL_STEP_TIMER, MAX_PENDING_LIST } from "../../src/protocol/limits.ts";
import {
  acceptedPayload,
  decodeJobsRequest,
  type JobsRequest,
  type RejectedErrorCode,
  rejectedPayload,
} from "../../src/protocol/messages.ts";
import { isPending, isTerminal, type JobExecutionStatus } from "../../src/protocol/statuses.ts";
import {
  isServiceRequestTopic,
  jobsPushTopic,
  parseJobsTopic,
  replyTopic,
  SERVICE_REQUEST_FILTERS,
} from "../../src/protocol/topics.ts";

export interface PeerExecution {
  jobId: string;
  thing: string;
  document: unknown;
  status: JobExecutionStatus;
  statusDetails: Record<string, string>;
  versionNumber: number;
  executionNumber: number;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  /** The running step timer (stepTimeoutInMinutes): expiry turns the execution TIMED_OUT. */
  stepTimer?: ReturnType<typeof setTimeout>;
}

export interface RecordedUpdate {
  thing: string;
  jobId: string;
  request: Record<string, any>;
  reply: "accepted" | "rejected" | "dropped";
  code?: string;
  /** When the peer received it (Date.now()). */
  at: number;
}

/** An accepted request's reply fields; `delayMs`: the reply goes out that much later; "dropped": never. */
type Applied = { fields: object; delayMs?: number } | "dropped";

interface Refusal {
  code: RejectedErrorCode;
  message: string;
  executionState?: object;
}

export class JobsPeer {
  readonly executions: PeerExecution[] = [];
  readonly updates: RecordedUpdate[] = [];
  readonly startNexts: { thing: string; request: Record<string, unknown> }[] = [];
  /**
   * Faults for coming updates of a status, in order: a rejection code, "drop" (applied, reply
   * lost) or "delay:<ms>" (applied, reply sent that much later).
   */
  private readonly faults: { status: string; fault: string }[] = [];
  private changeListeners: (() => void)[] = [];

  private constructor(
    private readonly client: mqtt.MqttClient,
    private readonly minuteMs: number,
  ) {}

  /** `minuteMs`: how long a minute of stepTimeoutInMinutes lasts (tests shorten it). */
  static async start(brokerUrl: string, options: { minuteMs?: number } = {}): Promise<JobsPeer> {
    const client = mqtt.connect(brokerUrl, {
      clientId: `jobs-peer-${Math.random().toString(36).slice(2)}`,
      reconnectPeriod: 200,
    });
    const peer = new JobsPeer(client, options.minuteMs ?? 60_000);
    const filters = SERVICE_REQUEST_FILTERS.filter((f) => f.includes("/jobs/"));
    client.on("message", (topic, payload) => peer.onMessage(topic, payload));
    client.on("connect", () => client.subscribe(filters, { qos: 1 }));
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
    await new Promise<void>((resolve) => client.subscribe(filters, { qos: 1 }, () => resolve()));
    return peer;
  }

  async stop(): Promise<void> {
    for (const e of this.executions) clearTimeout(e.stepTimer);
    await new Promise<void>((resolve) => this.client.end(true, {}, () => resolve()));
  }

  /** Queues a new execution (CreateJob); notify / notify-next go out as the service sends them. */
  queueJob(thing: string, jobId: string, document: unknown): PeerExecution {
    const previous = this.executions.filter((e) => e.thing === thing && e.jobId === jobId).length;
    const t = now();
    const execution: PeerExecution = {
      jobId,
      thing,
      document,
      status: "QUEUED",
      statusDetails: {},
      versionNumber: 1,
      executionNumber: previous + 1,
      queuedAt: t,
      lastUpdatedAt: t,
    };
    this.changeThing(thing, () => this.executions.push(execution));
    this.changed();
    return execution;
  }

  /** CancelJobExecution with force: the execution becomes CANCELED. */
  cancel(thing: string, jobId: string): void {
    const e = this.execution(thing, jobId);
    if (!e || isTerminal(e.status)) throw new Error(`no active execution ${jobId}`);
    this.changeThing(thing, () => this.transition(e, "CANCELED"));
    this.changed();
  }

  /** The next update with this status gets `fault`: a rejection code, "drop" or "delay:<ms>". */
  injectUpdateFault(status: string, fault: string): void {
    this.faults.push({ status, fault });
  }

  /** Forgets the faults no update has taken yet. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Publishes notify-next for the current next execution (also used to send duplicates). */
  notifyNext(thing: string): void {
    const next = this.pending(thing)[0];
    this.publish(jobsPushTopic(thing, "notify-next"), {
      timestamp: now(),
      ...(next ? { execution: this.wire(next, true) } : {}),
    });
  }

  /** The latest execution of a job on a thing (or the one with `executionNumber`). */
  execution(thing: string, jobId: string, executionNumber?: number): PeerExecution | undefined {
    const all = this.executions.filter((e) => e.thing === thing && e.jobId === jobId);
    return executionNumber === undefined ? all.at(-1) : all.find((e) => e.executionNumber === executionNumber);
  }

  updatesFor(jobId: string): RecordedUpdate[] {
    return this.updates.filter((u) => u.jobId === jobId);
  }

  /** Resolves when `predicate` holds, checked after every change and every 50 ms (for files and processes). */
  async waitFor(predicate: () => boolean, timeoutMs = 20_000, what = "condition"): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => check(), 50);
      const timer = setTimeout(() => {
        clearInterval(poll);
        this.changeListeners = this.changeListeners.filter((l) => l !== check);
        reject(
          new Error(
            `timed out waiting for ${what}; updates: ` +
              JSON.stringify(this.updates.map((u) => [u.jobId, u.request.status, u.reply, u.code])),
          ),
        );
      }, timeoutMs);
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        clearInterval(poll);
        this.changeListeners = this.changeListeners.filter((l) => l !== check);
        resolve();
      };
      this.changeListeners.push(check);
    });
  }

  async waitForStatus(thing: string, jobId: string, status: string, timeoutMs = 20_000): Promise<PeerExecution> {
    await this.waitFor(() => this.execution(thing, jobId)?.status === status, timeoutMs, `${jobId} to be ${status}`);
    return this.execution(thing, jobId)!;
  }

  // ---- the state machine ----------------------------------------------------------------------

  /** QUEUED and IN_PROGRESS executions: IN_PROGRESS first, then in queue order. */
  private pending(thing: string): PeerExecution[] {
    const active = this.executions.filter((e) => e.thing === thing && isPending(e.status));
    return [...active.filter((e) => e.status === "IN_PROGRESS"), ...active.filter((e) => e.status === "QUEUED")];
  }

  /** notify when the set of pending executions changes, notify-next when its head does. */
  private changeThing<T>(thing: string, change: () => T): T {
    const key = (e: PeerExecution | undefined) => (e ? `${e.jobId}#${e.executionNumber}` : "");
    const before = this.pending(thing);
    const result = change();
    const after = this.pending(thing);
    const set = (list: PeerExecution[]) => list.map(key).sort().join(",");
    if (set(before) !== set(after)) {
      const jobs: Record<string, unknown[]> = {};
      for (const e of after.slice(0, MAX_PENDING_LIST)) {
        jobs[e.status] ??= [];
        jobs[e.status]!.push(this.summary(e));
      }
      this.publish(jobsPushTopic(thing, "notify"), { timestamp: now(), jobs });
    }
    if (key(before[0]) !== key(after[0])) this.notifyNext(thing);
    return result;
  }

  private transition(e: PeerExecution, status: JobExecutionStatus, details?: Record<string, string>): void {
    if (status === "IN_PROGRESS" && e.status === "QUEUED") e.startedAt = now();
    e.status = status;
    if (details !== undefined) e.statusDetails = details;
    e.lastUpdatedAt = now();
    e.versionNumber++;
    if (isTerminal(status)) this.setStepTimer(e, CANCEL_STEP_TIMER);
  }

  /** Starts, restarts or (with -1) cancels the step timer; undefined leaves it as it is. */
  private setStepTimer(e: PeerExecution, minutes: number | undefined): void {
    if (minutes === undefined) return;
    clearTimeout(e.stepTimer);
    delete e.stepTimer;
    if (minutes === CANCEL_STEP_TIMER) return;
    e.stepTimer = setTimeout(() => {
      if (e.status !== "IN_PROGRESS") return;
      this.changeThing(e.thing, () => this.transition(e, "TIMED_OUT"));
      this.changed();
    }, minutes * this.minuteMs);
  }

  private state(e: PeerExecution) {
    return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber };
  }

  private summary(e: PeerExecution) {
    const { jobId, queuedAt, startedAt, lastUpdatedAt, versionNumber, executionNumber } = e;
    return {
      jobId,
      queuedAt,
      ...(startedAt !== undefined ? { startedAt } : {}),
      lastUpdatedAt,
      versionNumber,
      executionNumber,
    };
  }

  private wire(e: PeerExecution, withDocument: boolean) {
    return {
      jobId: e.jobId,
      thingName: e.thing,
      ...(withDocument ? { jobDocument: e.document } : {}),
      status: e.status,
      statusDetails: e.statusDetails,
      queuedAt: e.queuedAt,
      ...(e.startedAt !== undefined ? { startedAt: e.startedAt } : {}),
      lastUpdatedAt: e.lastUpdatedAt,
      versionNumber: e.versionNumber,
      executionNumber: e.executionNumber,
    };
  }

  // ---- requests -------------------------------------------------------------------------------

  private onMessage(topic: string, payload: Buffer): void {
    if (!isServiceRequestTopic(topic)) return; // our own replies and pushes
    const reply = (kind: "accepted" | "rejected", body: Record<string, unknown>) =>
      this.publish(replyTopic(topic, kind), body);
    const decoded = decodeJobsRequest(topic, payload);
    if (!decoded.ok) {
      const parsed = parseJobsTopic(topic);
      if (parsed?.topic.kind === "update")
        this.record(parsed.thing, parsed.topic.jobId, rawBody(payload), "rejected", decoded.code);
      reply("rejected", rejectedPayload(decoded.code, decoded.message, now(), decoded.clientToken));
    } else {
      const result = this.handle(decoded.request);
      const clientToken = decoded.request.body.clientToken;
      if (result === "dropped") {
        // applied, reply lost
      } else if ("delayMs" in result) {
        const { delayMs, fields } = result;
        setTimeout(() => reply("accepted", acceptedPayload(fields, now(), clientToken)), delayMs);
      } else if ("code" in result) {
        reply("rejected", rejectedPayload(result.code, result.message, now(), clientToken, result.executionState));
      } else reply("accepted", acceptedPayload(result.fields, now(), clientToken));
    }
    this.changed();
  }

  private record(
    thing: string,
    jobId: string,
    request: Record<string, any>,
    reply: RecordedUpdate["reply"],
    code?: string,
  ): void {
    this.updates.push({ thing, jobId, request, reply, at: Date.now(), ...(code ? { code } : {}) });
  }

  private handle(request: JobsRequest): Refusal | Applied {
    const thing = request.thing;
    switch (request.kind) {
      case "get": {
        const list = this.pending(thing).slice(0, MAX_PENDING_LIST);
        const summaries = (status: JobExecutionStatus) =>
          list.filter((e) => e.status === status).map((e) => this.summary(e));
        return { fields: { inProgressJobs: summaries("IN_PROGRESS"), queuedJobs: summaries("QUEUED") } };
      }
      case "start-next": {
        this.startNexts.push({ thing, request: request.body });
        const next = this.changeThing(thing, () => {
          const head = this.pending(thing)[0];
          if (head?.status === "QUEUED")
            this.transition(head, "IN_PROGRESS", request.body.statusDetails ?? head.statusDetails);
          if (head) this.setStepTimer(head, request.body.stepTimeoutInMinutes);
          return head;
        });
        return { fields: next ? { execution: this.wire(next, true) } : {} };
      }
      case "describe": {
        const withDocument = request.body.includeJobDocument ?? true;
        const e =
          request.jobId === NEXT_JOB_ID
            ? this.pending(thing)[0]
            : this.execution(thing, request.jobId, request.body.executionNumber);
        if (!e && request.jobId !== NEXT_JOB_ID) {
          return {
            code: "ResourceNotFound",
            message: `Job execution for job ${request.jobId} on thing ${thing} not found`,
          };
        }
        return { fields: e ? { execution: this.wire(e, withDocument) } : {} };
      }
      case "update":
        return this.update(request);
    }
  }

  private update(request: Extract<JobsRequest, { kind: "update" }>): Refusal | Applied {
    const { thing, jobId, body } = request;
    const at = this.faults.findIndex((f) => f.status === body.status);
    const fault = at === -1 ? undefined : this.faults.splice(at, 1)[0]!.fault;
    const delayMs = fault?.startsWith("delay:") ? Number(fault.slice("delay:".length)) : undefined;
    if (fault && fault !== "drop" && delayMs === undefined) {
      this.record(thing, jobId, body, "rejected", fault);
      return { code: fault as RejectedErrorCode, message: "injected by the test" };
    }
    const refuse = (refusal: Refusal) => {
      this.record(thing, jobId, body, "rejected", refusal.code);
      return refusal;
    };
    const e = this.execution(thing, jobId, body.executionNumber);
    if (!e)
      return refuse({
        code: "ResourceNotFound",
        message: `Job execution for job ${jobId} on thing ${thing} not found`,
      });
    if (body.expectedVersion !== undefined && body.expectedVersion !== e.versionNumber) {
      const message = `Expected version ${body.expectedVersion} does not match the current version ${e.versionNumber}`;
      return refuse({ code: "VersionMismatch", message, executionState: this.state(e) });
    }
    if (isTerminal(e.status)) {
      const message = `Cannot update the job execution from ${e.status} to ${body.status}: it is in a terminal state`;
      return refuse({ code: "InvalidStateTransition", message, executionState: this.state(e) });
    }
    this.changeThing(thing, () => {
      this.transition(e, body.status, body.statusDetails);
      if (body.status === "IN_PROGRESS") this.setStepTimer(e, body.stepTimeoutInMinutes);
    });
    if (fault === "drop") {
      this.record(thing, jobId, body, "dropped");
      return "dropped";
    }
    this.record(thing, jobId, body, "accepted");
    const fields: Record<string, unknown> = {};
    if (body.includeJobExecutionState === true) fields.executionState = this.state(e);
    if (body.includeJobDocument === true) fields.jobDocument = e.document;
    return delayMs === undefined ? { fields } : { fields, delayMs };
  }

  private publish(topic: string, body: unknown): void {
    this.client.publish(topic, JSON.stringify(body), { qos: 1 });
  }

  private changed(): void {
    for (const l of [...this.changeListeners]) l();
  }
}

/** A request that failed to decode, as far as it can be read (for the record of updates). */
function rawBody(payload: Buffer): Record<string, any> {
  try {
    const value: unknown = JSON.parse(payload.toString());
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, any>) : {};
  } catch {
    return {};
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
