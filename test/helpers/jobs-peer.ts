/**
 * Plays the AWS IoT Jobs service over MQTT for the agent's integration tests: executions per
 * thing, start-next, update with the execution state machine, notify-next when the next
 * execution changes, and fault injection (rejections, lost replies). Replies are published to
 * the reply topics (Mosquitto has no implicit reply delivery; the agent subscribes to them).
 */
import mqtt from "mqtt";

export interface PeerExecution {
  jobId: string;
  thing: string;
  document: unknown;
  status: string;
  statusDetails: Record<string, string>;
  versionNumber: number;
  executionNumber: number;
  queuedAt: number;
  startedAt?: number;
}

export interface RecordedUpdate {
  thing: string;
  jobId: string;
  request: Record<string, any>;
  reply: "accepted" | "rejected" | "dropped";
  code?: string;
}

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "REJECTED", "CANCELED", "REMOVED", "TIMED_OUT"]);

export class JobsPeer {
  readonly executions: PeerExecution[] = [];
  readonly updates: RecordedUpdate[] = [];
  readonly startNexts: { thing: string; request: Record<string, unknown> }[] = [];
  /** Faults for coming update requests of a status, taken in order: a rejection code, or "drop" (applied, reply lost). */
  private readonly faults: { status: string; fault: string }[] = [];
  private changeListeners: (() => void)[] = [];

  private constructor(private readonly client: mqtt.MqttClient) {}

  static async start(brokerUrl: string): Promise<JobsPeer> {
    const client = mqtt.connect(brokerUrl, { clientId: `jobs-peer-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 200 });
    const peer = new JobsPeer(client);
    client.on("message", (topic, payload) => peer.onMessage(topic, payload));
    client.on("connect", () => client.subscribe(["$aws/things/+/jobs/start-next", "$aws/things/+/jobs/+/update"], { qos: 1 }));
    await new Promise<void>((resolve) => client.once("connect", () => resolve()));
    await new Promise<void>((resolve) => client.subscribe(["$aws/things/+/jobs/start-next", "$aws/things/+/jobs/+/update"], { qos: 1 }, () => resolve()));
    return peer;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.client.end(true, {}, () => resolve()));
  }

  /** Queues a new execution; notify-next goes out if it became the next one. */
  queueJob(thing: string, jobId: string, document: unknown): PeerExecution {
    const before = this.next(thing);
    const previous = this.executions.filter((e) => e.thing === thing && e.jobId === jobId).length;
    const execution: PeerExecution = { jobId, thing, document, status: "QUEUED", statusDetails: {}, versionNumber: 1, executionNumber: previous + 1, queuedAt: now() };
    this.executions.push(execution);
    this.notifyIfNextChanged(thing, before);
    this.changed();
    return execution;
  }

  /** CancelJob(force): the execution becomes CANCELED; notify-next shows what is next now. */
  cancel(thing: string, jobId: string): void {
    const before = this.next(thing);
    const e = this.execution(thing, jobId);
    if (!e || TERMINAL.has(e.status)) throw new Error(`no active execution ${jobId}`);
    e.status = "CANCELED";
    e.versionNumber++;
    this.notifyIfNextChanged(thing, before);
    this.changed();
  }

  /** The next update request with this status gets `fault`: a rejection code, or "drop" to apply it and lose the reply. */
  injectUpdateFault(status: string, fault: string): void {
    this.faults.push({ status, fault });
  }

  /** Publishes notify-next for the current next execution (also used to send duplicates). */
  notifyNext(thing: string): void {
    const next = this.next(thing);
    this.publish(`$aws/things/${thing}/jobs/notify-next`, { timestamp: now(), ...(next ? { execution: this.wire(next) } : {}) });
  }

  execution(thing: string, jobId: string): PeerExecution | undefined {
    return this.executions.filter((e) => e.thing === thing && e.jobId === jobId).at(-1);
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
        reject(new Error(`timed out waiting for ${what}; updates: ${JSON.stringify(this.updates.map((u) => [u.jobId, u.request.status, u.reply, u.code]))}`));
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

  private next(thing: string): PeerExecution | undefined {
    const active = this.executions.filter((e) => e.thing === thing && !TERMINAL.has(e.status));
    return active.find((e) => e.status === "IN_PROGRESS") ?? active.find((e) => e.status === "QUEUED");
  }

  private notifyIfNextChanged(thing: string, before: PeerExecution | undefined): void {
    if (this.next(thing) !== before) this.notifyNext(thing);
  }

  private wire(e: PeerExecution) {
    return {
      jobId: e.jobId,
      thingName: e.thing,
      jobDocument: e.document,
      status: e.status,
      statusDetails: e.statusDetails,
      queuedAt: e.queuedAt,
      ...(e.startedAt ? { startedAt: e.startedAt } : {}),
      lastUpdatedAt: now(),
      versionNumber: e.versionNumber,
      executionNumber: e.executionNumber,
    };
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split("/");
    const thing = parts[2]!;
    let request: Record<string, any>;
    try {
      request = JSON.parse(payload.toString());
    } catch {
      return;
    }
    if (parts[4] === "start-next") {
      this.startNexts.push({ thing, request });
      const before = this.next(thing);
      const next = before;
      if (next && next.status === "QUEUED") {
        next.status = "IN_PROGRESS";
        next.startedAt = now();
        next.versionNumber++;
        if (request.statusDetails) next.statusDetails = request.statusDetails;
      }
      this.publish(`$aws/things/${thing}/jobs/start-next/accepted`, { timestamp: now(), clientToken: request.clientToken, ...(next ? { execution: this.wire(next) } : {}) });
      this.changed();
      return;
    }
    const jobId = parts[4]!;
    this.onUpdate(thing, jobId, request);
    this.changed();
  }

  private onUpdate(thing: string, jobId: string, request: Record<string, any>): void {
    const at = this.faults.findIndex((f) => f.status === request.status);
    const fault = at === -1 ? undefined : this.faults.splice(at, 1)[0]!.fault;
    const reply = (kind: "accepted" | "rejected", body: Record<string, unknown>, code?: string) => {
      if (fault === "drop") {
        this.updates.push({ thing, jobId, request, reply: "dropped", code });
        return;
      }
      this.updates.push({ thing, jobId, request, reply: kind, code });
      this.publish(`$aws/things/${thing}/jobs/${jobId}/update/${kind}`, { timestamp: now(), clientToken: request.clientToken, ...body });
    };
    if (fault && fault !== "drop") return reply("rejected", { code: fault, message: "injected by the test" }, fault);
    const e = this.execution(thing, jobId);
    if (!e) return reply("rejected", { code: "ResourceNotFound", message: `Job execution ${jobId} not found` }, "ResourceNotFound");
    if (e.status === "CANCELED" || e.status === "REMOVED")
      return reply("rejected", { code: "TerminalStateReached", message: "Job execution is in a terminal state" }, "TerminalStateReached");
    if (TERMINAL.has(e.status))
      return reply("rejected", { code: "InvalidStateTransition", message: `Cannot update from ${e.status}`, executionState: { status: e.status, versionNumber: e.versionNumber } }, "InvalidStateTransition");
    const before = this.next(thing);
    e.status = request.status;
    if (request.statusDetails) e.statusDetails = request.statusDetails;
    if (e.status === "IN_PROGRESS" && !e.startedAt) e.startedAt = now();
    e.versionNumber++;
    reply("accepted", {});
    this.notifyIfNextChanged(thing, before);
  }

  private publish(topic: string, body: unknown): void {
    this.client.publish(topic, JSON.stringify(body), { qos: 1 });
  }

  private changed(): void {
    for (const l of [...this.changeListeners]) l();
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
