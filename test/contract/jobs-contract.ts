/**
 * The Jobs device API contract: one suite, run against every implementation (iot-jobs-local
 * on its embedded broker, iot-jobs-local attached to Mosquitto, the agent tests' peer) by
 * `runJobsContract({ name, start, transport, skip })`. Devices are mqtt.js clients, or, with
 * `transport: "http"`, botocore's iot-jobs-data client (./iot-jobs-data-device.ts says what each
 * request and rejection is over HTTP); expectations follow the AWS IoT Jobs documentation
 * (docs/TESTING.md lists where AWS is silent and what we chose). When the peer and the service
 * disagree here, the peer is wrong.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mqtt from "mqtt";
import { MAX_PENDING_LIST, MAX_STATUS_DETAIL_VALUE_CHARS, MAX_TIMEOUT_MINUTES } from "../../src/protocol/limits.ts";
import type { RejectedErrorCode } from "../../src/protocol/messages.ts";
import { isServiceRequestTopic, jobsTopics, thingTopicPrefix } from "../../src/protocol/topics.ts";
import { HttpDevice, httpRejection, JobsDataClient } from "./iot-jobs-data-device.ts";

/** What the suite needs from an implementation. */
export interface JobsImplementation {
  /** `mqtt://host:port` devices connect to (client id = thing name). */
  readonly mqttUrl: string;
  /** Where the implementation serves iot-jobs-data over HTTP, if it does. */
  readonly httpUrl?: string;
  /** Replies reach the requester without a subscription (AWS IoT does this; a plain broker cannot). */
  readonly directReplies: boolean;
  /** How long a minute of stepTimeoutInMinutes lasts here (a few hundred ms). */
  readonly minuteMs: number;
  /** Registers a thing (CreateThing) so it may connect and be targeted. */
  createThing(thingName: string): Promise<void>;
  /** CreateJob (snapshot) targeting these things; one execution each, queued in call order. */
  createJob(jobId: string, thingNames: readonly string[], document: object): Promise<void>;
  /** CancelJobExecution with force=true. */
  forceCancel(jobId: string, thingName: string): Promise<void>;
  stop(): Promise<void>;
}

export interface JobsContractOptions {
  readonly name: string;
  readonly start: () => Promise<JobsImplementation>;
  /** How devices reach the API: MQTT topics (the default), or iot-jobs-data over HTTP at `httpUrl`. */
  readonly transport?: "mqtt" | "http";
  /** Test name → why this implementation does not run it. */
  readonly skip?: Readonly<Record<string, string>>;
}

interface Message {
  readonly topic: string;
  readonly payload: any;
}

/** A request's answer: on MQTT the `/accepted` or `/rejected` payload, over HTTP the response or error. */
export interface Reply {
  readonly outcome: "accepted" | "rejected";
  readonly payload: any;
}

/** What every case needs of a device: requests by their MQTT topic suffix and body. */
export interface DeviceApi {
  readonly thing: string;
  request(suffix: string, body?: unknown): Promise<Reply>;
  close(): Promise<void>;
}

/** An MQTT device: records every reply and push it gets (never its own requests, which a broker may echo). */
export class ContractDevice implements DeviceApi {
  readonly messages: Message[] = [];
  private constructor(
    readonly thing: string,
    readonly client: mqtt.MqttClient,
  ) {
    client.on("message", (topic, payload) => {
      if (isServiceRequestTopic(topic)) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(payload.toString());
      } catch {
        parsed = payload.toString();
      }
      this.messages.push({ topic, payload: parsed });
    });
  }

  /** `pushes`: subscribe to notify and notify-next; replies are subscribed to unless delivered directly. */
  static async connect(impl: JobsImplementation, thing: string, pushes: boolean): Promise<ContractDevice> {
    const client = await mqtt.connectAsync(impl.mqttUrl, { clientId: thing, reconnectPeriod: 0, clean: true });
    const t = jobsTopics(thing);
    const filters = impl.directReplies ? (pushes ? [t.notify, t.notifyNext] : []) : [t.all];
    if (filters.length) await client.subscribeAsync(filters, { qos: 1 });
    return new ContractDevice(thing, client);
  }

  /** `$aws/things/<thing>/` + suffix. */
  topic(suffix: string): string {
    return thingTopicPrefix(this.thing) + suffix;
  }

  /** Publishes to `jobs/<suffix>` and waits for its accepted or rejected reply. */
  async request(suffix: string, body: unknown = {}): Promise<Reply & Message> {
    const start = this.messages.length;
    const topic = this.topic(suffix);
    const payload = typeof body === "string" ? body : JSON.stringify(body);
    await this.client.publishAsync(topic, payload, { qos: 1 });
    const reply = await this.waitFor((m) => m.topic === `${topic}/accepted` || m.topic === `${topic}/rejected`, start);
    return { ...reply, outcome: reply.topic.endsWith("/accepted") ? "accepted" : "rejected" };
  }

  async waitFor(match: (m: Message) => boolean, from = 0, timeoutMs = 5000): Promise<Message> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found) return found;
      if (Date.now() > until)
        throw new Error(`${this.thing}: no matching message; got ${JSON.stringify(this.topics(from))}`);
      await Bun.sleep(10);
    }
  }

  /** Topics received since `from`, relative to `$aws/things/<thing>/`. */
  topics(from = 0): string[] {
    return this.messages.slice(from).map((m) => m.topic.slice(thingTopicPrefix(this.thing).length));
  }

  /** Pushes (notify, notify-next) received since `from`. */
  pushes(from = 0): string[] {
    return this.topics(from).filter((t) => t === "jobs/notify" || t === "jobs/notify-next");
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

const doc = (name: string) => ({
  version: "1.0",
  steps: [{ action: { name, type: "runCommand", input: { command: "true" } } }],
});
/** Long enough for a message that is not coming to have arrived (same broker, loopback). */
const QUIET_MS = 150;

export function runJobsContract(options: JobsContractOptions): void {
  const overHttp = options.transport === "http";
  describe(`Jobs device API contract: ${options.name}`, () => {
    let impl: JobsImplementation;
    let http: JobsDataClient | undefined;
    const devices: DeviceApi[] = [];
    let n = 0;
    const run = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

    beforeAll(async () => {
      impl = await options.start();
      if (overHttp) {
        if (!impl.httpUrl) throw new Error(`${options.name}: the implementation serves no iot-jobs-data endpoint`);
        http = JobsDataClient.start(impl.httpUrl);
      }
    });
    afterAll(async () => {
      for (const d of devices) await d.close().catch(() => {});
      await http?.stop();
      await impl?.stop();
    });

    /** A new thing and its device on the suite's transport (`pushes`: MQTT subscribes to notify too). */
    async function device(pushes = false): Promise<DeviceApi> {
      const thing = `c-${run}-${++n}`;
      await impl.createThing(thing);
      const d = http ? new HttpDevice(thing, http) : await ContractDevice.connect(impl, thing, pushes);
      devices.push(d);
      return d;
    }
    /** A device of a case that exists only over MQTT (such cases are in an HTTP run's skip list). */
    async function mqttDevice(pushes = false): Promise<ContractDevice> {
      const d = await device(pushes);
      if (!(d instanceof ContractDevice)) throw new Error("an MQTT-only case: put it in this run's skip list");
      return d;
    }
    /** The device's notify / notify-next pushes where the transport has them (MQTT), else undefined. */
    const pushesOf = (d: DeviceApi) => (d instanceof ContractDevice ? d : undefined);
    const jobId = (name: string) => `${name}-${run}-${++n}`;
    async function job(d: DeviceApi, name: string): Promise<string> {
      const id = jobId(name);
      await impl.createJob(id, [d.thing], doc(id));
      return id;
    }
    const registered = new Set<string>();
    const it = (name: string, fn: () => Promise<void>) => {
      registered.add(name);
      const reason = options.skip?.[name];
      if (reason) test.skip(`${name} (skipped: ${reason})`, fn);
      else test(name, fn, 15_000);
    };
    /** The clientToken echoed on a reply: MQTT only (iot-jobs-data has no clientToken). */
    const echo = (clientToken: string) => (overHttp ? {} : { clientToken });

    /** A rejection with this code: on MQTT the rejected payload's code, over HTTP the error the model declares. */
    async function rejected(d: DeviceApi, suffix: string, body: unknown, code: RejectedErrorCode): Promise<any> {
      const r = await d.request(suffix, body);
      expect([suffix, r.outcome]).toEqual([suffix, "rejected"]);
      if (overHttp) {
        const error = httpRejection(code);
        expect([suffix, r.payload.code, r.payload.status]).toEqual([suffix, error.code, error.status]);
      } else {
        expect([suffix, r.payload.code]).toEqual([suffix, code]);
        expect(r.payload.timestamp).toBeLessThan(10_000_000_000); // epoch seconds
      }
      expect(typeof r.payload.message).toBe("string");
      return r.payload;
    }
    async function accepted(d: DeviceApi, suffix: string, body: unknown = {}): Promise<any> {
      const r = await d.request(suffix, body);
      expect([suffix, r.outcome, r.payload.code]).toEqual([suffix, "accepted", undefined]);
      if (!overHttp) expect(r.payload.timestamp).toBeLessThan(10_000_000_000);
      return r.payload;
    }

    // ---- start-next, get, describe ----------------------------------------------------------

    it("start-next with nothing pending is accepted without an execution", async () => {
      const d = await device();
      const r = await accepted(d, "jobs/start-next", { clientToken: "empty-1" });
      expect(r.execution).toBeUndefined();
      expect(r).toMatchObject(echo("empty-1"));
      expect(await accepted(d, "jobs/get")).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
      expect((await accepted(d, "jobs/$next/get")).execution).toBeUndefined();
    });

    it("start-next takes the head: QUEUED → IN_PROGRESS with the request's details; again: unchanged", async () => {
      const d = await device();
      const a = await job(d, "sn");
      const b = await job(d, "sn");
      const first = await accepted(d, "jobs/start-next", {
        statusDetails: { phase: "download" },
        stepTimeoutInMinutes: 5,
      });
      expect(first.execution).toMatchObject({
        jobId: a,
        thingName: d.thing,
        status: "IN_PROGRESS",
        statusDetails: { phase: "download" },
        versionNumber: 2,
        executionNumber: 1,
        jobDocument: doc(a),
      });
      for (const field of ["queuedAt", "startedAt", "lastUpdatedAt"])
        expect(first.execution[field]).toBeLessThan(10_000_000_000);
      // Already IN_PROGRESS: returned again, details and version untouched.
      const again = await accepted(d, "jobs/start-next", { statusDetails: { phase: "other" } });
      expect(again.execution).toMatchObject({
        jobId: a,
        status: "IN_PROGRESS",
        statusDetails: { phase: "download" },
        versionNumber: 2,
      });
      await accepted(d, `jobs/${a}/update`, { status: "SUCCEEDED" });
      const next = await accepted(d, "jobs/start-next");
      expect(next.execution).toMatchObject({ jobId: b, status: "IN_PROGRESS", statusDetails: {}, versionNumber: 2 });
    });

    it("get lists IN_PROGRESS first, then QUEUED in queue order, as summaries", async () => {
      const d = await device();
      const [j1, j2, j3] = [await job(d, "g"), await job(d, "g"), await job(d, "g")];
      await accepted(d, `jobs/${j3}/update`, { status: "IN_PROGRESS" });
      const r = await accepted(d, "jobs/get", { clientToken: "abc" });
      expect(r).toMatchObject(echo("abc"));
      expect(r.inProgressJobs.map((j: any) => j.jobId)).toEqual([j3]);
      expect(r.queuedJobs.map((j: any) => j.jobId)).toEqual([j1, j2]);
      expect(Object.keys(r.queuedJobs[0]).sort()).toEqual([
        "executionNumber",
        "jobId",
        "lastUpdatedAt",
        "queuedAt",
        "versionNumber",
      ]);
      expect(r.inProgressJobs[0]).toMatchObject({ versionNumber: 2, executionNumber: 1 });
      expect(r.inProgressJobs[0].startedAt).toBeLessThan(10_000_000_000);
    });

    it(`get lists at most ${MAX_PENDING_LIST} executions`, async () => {
      const d = await device();
      const ids: string[] = [];
      for (let i = 0; i < MAX_PENDING_LIST + 2; i++) ids.push(await job(d, "many"));
      const r = await accepted(d, "jobs/get");
      expect(r.queuedJobs.map((j: any) => j.jobId)).toEqual(ids.slice(0, MAX_PENDING_LIST));
    });

    it("describe: $next and by id, the document by default, includeJobDocument=false without it", async () => {
      const d = await device();
      const j1 = await job(d, "d");
      const j2 = await job(d, "d");
      await accepted(d, `jobs/${j2}/update`, { status: "IN_PROGRESS" });
      const next = await accepted(d, "jobs/$next/get", { clientToken: "n-1" });
      expect(next).toMatchObject(echo("n-1"));
      expect(next.execution).toMatchObject({ jobId: j2, status: "IN_PROGRESS", jobDocument: doc(j2) });
      const byId = await accepted(d, `jobs/${j1}/get`);
      expect(byId.execution).toMatchObject({
        jobId: j1,
        thingName: d.thing,
        status: "QUEUED",
        versionNumber: 1,
        executionNumber: 1,
        jobDocument: doc(j1),
      });
      expect(byId.execution.startedAt).toBeUndefined();
      const noDoc = await accepted(d, `jobs/${j1}/get`, { includeJobDocument: false });
      expect(noDoc.execution.jobDocument).toBeUndefined();
      expect(
        (await accepted(d, "jobs/$next/get", { includeJobDocument: false })).execution.jobDocument,
      ).toBeUndefined();
      expect((await accepted(d, `jobs/${j1}/get`, { executionNumber: 1 })).execution.jobId).toBe(j1);
      await rejected(d, `jobs/${j1}/get`, { executionNumber: 2 }, "ResourceNotFound");
    });

    // ---- notifications ----------------------------------------------------------------------

    // job1 queued → notify + notify-next; job2 queued → notify; job1 started → nothing; job1 done → both.
    it("the reference's worked sequence of notify and notify-next", async () => {
      const d = await mqttDevice(true);
      const j1 = await job(d, "seq");
      await d.waitFor((m) => m.topic.endsWith("/notify-next"));
      await Bun.sleep(QUIET_MS);
      expect(d.pushes()).toEqual(["jobs/notify", "jobs/notify-next"]);
      const next = d.messages.find((m) => m.topic.endsWith("notify-next"))!.payload;
      expect(next.execution).toMatchObject({
        jobId: j1,
        status: "QUEUED",
        executionNumber: 1,
        versionNumber: 1,
        jobDocument: doc(j1),
      });
      expect(next.execution.startedAt).toBeUndefined();
      expect(next.timestamp).toBeLessThan(10_000_000_000);
      const list = d.messages.find((m) => m.topic.endsWith("/notify"))!.payload;
      expect(list.jobs.QUEUED.map((j: any) => j.jobId)).toEqual([j1]);

      const mark = d.messages.length;
      const j2 = await job(d, "seq");
      await d.waitFor((m) => m.topic.endsWith("/notify"), mark);
      await Bun.sleep(QUIET_MS);
      expect(d.pushes(mark)).toEqual(["jobs/notify"]);
      expect(d.messages.at(-1)!.payload.jobs.QUEUED.map((j: any) => j.jobId)).toEqual([j1, j2]);

      const mark2 = d.messages.length;
      const started = await accepted(d, "jobs/start-next", {
        clientToken: "tok-1",
        statusDetails: { phase: "download" },
      });
      expect(started).toMatchObject({
        clientToken: "tok-1",
        execution: { jobId: j1, status: "IN_PROGRESS", versionNumber: 2 },
      });
      await Bun.sleep(QUIET_MS);
      expect(d.pushes(mark2)).toEqual([]); // neither the set nor the head changed

      const mark3 = d.messages.length;
      const done = await accepted(d, `jobs/${j1}/update`, {
        status: "SUCCEEDED",
        clientToken: "tok-2",
        includeJobExecutionState: true,
      });
      expect(done).toMatchObject({ clientToken: "tok-2", executionState: { status: "SUCCEEDED", versionNumber: 3 } });
      const nn = await d.waitFor((m) => m.topic.endsWith("/notify-next"), mark3);
      expect(nn.payload.execution).toMatchObject({ jobId: j2, status: "QUEUED" });
      const changed = await d.waitFor((m) => m.topic.endsWith("/notify"), mark3);
      expect(changed.payload.jobs).toEqual({ QUEUED: [expect.objectContaining({ jobId: j2 })] });
    });

    it("starting a job behind the head makes it the head: notify-next only (the set did not change)", async () => {
      const d = await mqttDevice(true);
      await job(d, "head");
      const j2 = await job(d, "head");
      await d.waitFor((m) => m.topic.endsWith("/notify") && m.payload.jobs.QUEUED?.length === 2);
      const mark = d.messages.length;
      await accepted(d, `jobs/${j2}/update`, { status: "IN_PROGRESS" });
      const nn = await d.waitFor((m) => m.topic.endsWith("/notify-next"), mark);
      expect(nn.payload.execution).toMatchObject({ jobId: j2, status: "IN_PROGRESS" });
      await Bun.sleep(QUIET_MS);
      expect(d.pushes(mark)).toEqual(["jobs/notify-next"]);
    });

    it("the last job ending: notify-next without an execution, notify with no jobs", async () => {
      const d = await mqttDevice(true);
      const j = await job(d, "last");
      await d.waitFor((m) => m.topic.endsWith("/notify-next"));
      await accepted(d, "jobs/start-next");
      const mark = d.messages.length;
      await accepted(d, `jobs/${j}/update`, { status: "FAILED", statusDetails: { reason: "disk full" } });
      const nn = await d.waitFor((m) => m.topic.endsWith("/notify-next"), mark);
      expect(nn.payload.execution).toBeUndefined();
      expect(nn.payload.timestamp).toBeLessThan(10_000_000_000);
      expect((await d.waitFor((m) => m.topic.endsWith("/notify"), mark)).payload.jobs).toEqual({});
    });

    it("a forced cancel of the head: notify-next names the next one; the device's next update is refused", async () => {
      const d = await device(true);
      const j1 = await job(d, "fc");
      const j2 = await job(d, "fc");
      await accepted(d, "jobs/start-next");
      const pushes = pushesOf(d);
      const mark = pushes?.messages.length;
      await impl.forceCancel(j1, d.thing);
      if (pushes) {
        const nn = await pushes.waitFor((m) => m.topic.endsWith("/notify-next"), mark);
        expect(nn.payload.execution).toMatchObject({ jobId: j2, status: "QUEUED" });
      }
      const after = { status: "SUCCEEDED", clientToken: "after-cancel" };
      expect(await rejected(d, `jobs/${j1}/update`, after, "InvalidStateTransition")).toMatchObject({
        ...echo("after-cancel"),
        executionState: { status: "CANCELED" },
      });
      expect((await accepted(d, "jobs/$next/get")).execution).toMatchObject({ jobId: j2, status: "QUEUED" });
      expect((await accepted(d, `jobs/${j1}/get`)).execution.status).toBe("CANCELED");
    });

    // ---- updates ----------------------------------------------------------------------------

    it("updates: each accepted one adds 1 to the version; executionState and jobDocument only when asked", async () => {
      const d = await device();
      const j = await job(d, "up");
      const plain = await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", clientToken: "u-1" });
      expect(plain).toMatchObject(echo("u-1"));
      expect(plain.executionState).toBeUndefined();
      expect(plain.jobDocument).toBeUndefined();
      const again = await accepted(d, `jobs/${j}/update`, {
        status: "IN_PROGRESS",
        includeJobExecutionState: true,
        includeJobDocument: true,
      });
      expect(again.executionState).toEqual({ status: "IN_PROGRESS", statusDetails: {}, versionNumber: 3 });
      expect(again.jobDocument).toEqual(doc(j));
      const done = await accepted(d, `jobs/${j}/update`, {
        status: "SUCCEEDED",
        includeJobExecutionState: true,
        includeJobDocument: false,
      });
      expect(done.executionState).toMatchObject({ status: "SUCCEEDED", versionNumber: 4 });
      expect(done.jobDocument).toBeUndefined();
      const e = (await accepted(d, `jobs/${j}/get`)).execution;
      expect(e).toMatchObject({ status: "SUCCEEDED", versionNumber: 4 });
      expect(e.startedAt).toBeLessThanOrEqual(e.lastUpdatedAt);
    });

    it("statusDetails: absent keeps them, present replaces them (values may hold \\n and \\t)", async () => {
      const d = await device();
      const j = await job(d, "sd");
      const state = async (body: object) =>
        (await accepted(d, `jobs/${j}/update`, { ...body, includeJobExecutionState: true })).executionState
          .statusDetails;
      expect(await state({ status: "IN_PROGRESS", statusDetails: { a: "1", b: "2" } })).toEqual({ a: "1", b: "2" });
      expect(await state({ status: "IN_PROGRESS" })).toEqual({ a: "1", b: "2" });
      expect(await state({ status: "IN_PROGRESS", statusDetails: { c: "line 1\nline 2\tend" } })).toEqual({
        c: "line 1\nline 2\tend",
      });
      const max = "x".repeat(MAX_STATUS_DETAIL_VALUE_CHARS);
      const ten = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k:${i}_-`, max]));
      expect(await state({ status: "FAILED", statusDetails: ten })).toEqual(ten);
    });

    it("FAILED and REJECTED end an execution from QUEUED as from IN_PROGRESS", async () => {
      const d = await device();
      const [a, b, c] = [await job(d, "end"), await job(d, "end"), await job(d, "end")];
      await accepted(d, `jobs/${a}/update`, { status: "REJECTED", statusDetails: { reason: "bad document" } });
      await accepted(d, `jobs/${b}/update`, { status: "FAILED" });
      await accepted(d, "jobs/start-next");
      await accepted(d, `jobs/${c}/update`, { status: "REJECTED" });
      for (const [id, status] of [
        [a, "REJECTED"],
        [b, "FAILED"],
        [c, "REJECTED"],
      ] as const) {
        expect((await accepted(d, `jobs/${id}/get`)).execution.status).toBe(status);
      }
      expect(await accepted(d, "jobs/get")).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
    });

    it(`stepTimeoutInMinutes: 1..${MAX_TIMEOUT_MINUTES} on start-next and update, -1 (cancel) on update`, async () => {
      const d = await device();
      const j = await job(d, "st");
      await accepted(d, "jobs/start-next", { stepTimeoutInMinutes: MAX_TIMEOUT_MINUTES });
      await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", stepTimeoutInMinutes: 1 });
      await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", stepTimeoutInMinutes: -1 });
      for (const bad of [0, -2, MAX_TIMEOUT_MINUTES + 1, 1.5, "5"]) {
        await rejected(d, `jobs/${j}/update`, { status: "IN_PROGRESS", stepTimeoutInMinutes: bad }, "InvalidRequest");
        await rejected(d, "jobs/start-next", { stepTimeoutInMinutes: bad }, "InvalidRequest");
      }
      await rejected(d, "jobs/start-next", { stepTimeoutInMinutes: -1 }, "InvalidRequest");
      expect((await accepted(d, `jobs/${j}/get`)).execution).toMatchObject({ status: "IN_PROGRESS", versionNumber: 4 });
    });

    it("the step timer turns an IN_PROGRESS execution TIMED_OUT; an update restarts it, -1 cancels it", async () => {
      const d = await device(true);
      const j = await job(d, "timer");
      await accepted(d, "jobs/start-next", { stepTimeoutInMinutes: 1 });
      await Bun.sleep(impl.minuteMs / 2);
      await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", stepTimeoutInMinutes: -1 });
      await Bun.sleep(impl.minuteMs * 2);
      expect((await accepted(d, `jobs/${j}/get`)).execution.status).toBe("IN_PROGRESS");
      await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", stepTimeoutInMinutes: 2 });
      await Bun.sleep(impl.minuteMs);
      // Restarts the 2 minutes.
      await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", stepTimeoutInMinutes: 2 });
      await Bun.sleep(impl.minuteMs * 1.5);
      expect((await accepted(d, `jobs/${j}/get`)).execution.status).toBe("IN_PROGRESS");
      const pushes = pushesOf(d);
      if (pushes) {
        const mark = pushes.messages.length;
        const nn = await pushes.waitFor((m) => m.topic.endsWith("/notify-next"), mark, impl.minuteMs * 10);
        expect(nn.payload.execution).toBeUndefined();
      } else {
        // No pushes over HTTP: asked until the timer has fired.
        const until = Date.now() + impl.minuteMs * 10;
        while ((await accepted(d, `jobs/${j}/get`)).execution.status === "IN_PROGRESS" && Date.now() < until)
          await Bun.sleep(20);
      }
      expect((await accepted(d, `jobs/${j}/get`)).execution).toMatchObject({ status: "TIMED_OUT", versionNumber: 6 });
      await rejected(d, `jobs/${j}/update`, { status: "SUCCEEDED" }, "InvalidStateTransition");
    });

    // ---- versions and terminal states -------------------------------------------------------

    it("expectedVersion: the current one is accepted, another is VersionMismatch with executionState", async () => {
      const d = await device();
      const j = await job(d, "ver");
      const stale = { status: "IN_PROGRESS", expectedVersion: 7, clientToken: "v-1" };
      expect(await rejected(d, `jobs/${j}/update`, stale, "VersionMismatch")).toMatchObject({
        ...echo("v-1"),
        executionState: { status: "QUEUED", statusDetails: {}, versionNumber: 1 },
      });
      await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", expectedVersion: 1 });
      const old = { status: "SUCCEEDED", expectedVersion: 1 };
      expect((await rejected(d, `jobs/${j}/update`, old, "VersionMismatch")).executionState.versionNumber).toBe(2);
      await accepted(d, `jobs/${j}/update`, { status: "SUCCEEDED", expectedVersion: 2 });
      // The version is checked before the terminal rule.
      await rejected(d, `jobs/${j}/update`, { status: "FAILED", expectedVersion: 1 }, "VersionMismatch");
    });

    it("terminal states are final: every later update is InvalidStateTransition with executionState", async () => {
      const d = await device();
      for (const terminal of ["SUCCEEDED", "FAILED", "REJECTED"]) {
        const j = await job(d, "term");
        await accepted(d, `jobs/${j}/update`, { status: terminal, statusDetails: { k: "v" } });
        for (const status of ["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"]) {
          const r = await rejected(d, `jobs/${j}/update`, { status, clientToken: "t" }, "InvalidStateTransition");
          expect(r).toMatchObject({
            ...echo("t"),
            executionState: { status: terminal, statusDetails: { k: "v" }, versionNumber: 2 },
          });
        }
        expect((await accepted(d, `jobs/${j}/get`)).execution).toMatchObject({ status: terminal, versionNumber: 2 });
      }
    });

    // ---- rejections -------------------------------------------------------------------------

    it("every rejected code a device can cause, in the reference's shape", async () => {
      const d = await device();
      const j = await job(d, "rej");
      expect(
        await rejected(d, `jobs/${j}/update`, { status: "DONE", clientToken: "t1" }, "InvalidRequest"),
      ).toMatchObject(echo("t1"));
      await rejected(d, `jobs/${j}/update`, {}, "InvalidRequest"); // status is required
      for (const status of ["QUEUED", "TIMED_OUT", "REMOVED", "CANCELED"]) {
        // Set by the service only.
        await rejected(d, `jobs/${j}/update`, { status }, "InvalidRequest");
      }
      const details = (statusDetails: unknown) =>
        rejected(d, `jobs/${j}/update`, { status: "IN_PROGRESS", statusDetails }, "InvalidRequest");
      await details({ n: 5 });
      expect((await details({ k: "x".repeat(MAX_STATUS_DETAIL_VALUE_CHARS + 1) })).message).toContain(
        String(MAX_STATUS_DETAIL_VALUE_CHARS),
      );
      await details(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"])));
      await details({ "bad key": "v" });
      await details({ k: "" });
      await details({ k: "bell\u0007" });
      for (const [field, value] of [
        ["expectedVersion", "1"],
        ["executionNumber", 1.5],
        ["includeJobExecutionState", "yes"],
        ["includeJobDocument", 1],
      ] as const) {
        const r = await rejected(d, `jobs/${j}/update`, { status: "IN_PROGRESS", [field]: value }, "InvalidRequest");
        expect(r.message).toContain(field);
      }
      await rejected(d, `jobs/${j}/get`, { includeJobDocument: "no" }, "InvalidRequest");
      await rejected(d, `jobs/${j}/update`, { status: "IN_PROGRESS", stepTimeoutInMinutes: 0 }, "InvalidRequest");
      const unknown = { status: "IN_PROGRESS", clientToken: "t2" };
      expect(await rejected(d, "jobs/nope/update", unknown, "ResourceNotFound")).toMatchObject(echo("t2"));
      await rejected(d, "jobs/nope/get", {}, "ResourceNotFound");
      // executionState only where the reference puts it.
      expect(
        (await rejected(d, "jobs/nope/update", { status: "IN_PROGRESS" }, "ResourceNotFound")).executionState,
      ).toBeUndefined();
      expect((await accepted(d, `jobs/${j}/get`)).execution).toMatchObject({ status: "QUEUED", versionNumber: 1 });
    });

    it("what an SDK cannot send: a payload not JSON (InvalidJson) or not an object, statusDetails a list, no such topic", async () => {
      const d = await mqttDevice();
      const j = await job(d, "rej");
      await rejected(d, `jobs/${j}/update`, "{not json", "InvalidJson");
      await rejected(d, `jobs/${j}/update`, [], "InvalidRequest");
      await rejected(d, `jobs/${j}/update`, { status: "IN_PROGRESS", statusDetails: ["v"] }, "InvalidRequest");
      for (const suffix of [
        `jobs/${j}/cancel`,
        "jobs/start-next/now",
        "jobs/$next/update",
        "jobs/a/b/c",
        "jobs/bad id/update",
      ]) {
        await rejected(d, suffix, { clientToken: "t3" }, "InvalidTopic");
      }
      expect((await accepted(d, `jobs/${j}/get`)).execution).toMatchObject({ status: "QUEUED", versionNumber: 1 });
    });

    it("clientToken: echoed on every reply; over 64 characters it is InvalidRequest and not echoed", async () => {
      const d = await mqttDevice();
      const j = await job(d, "tok");
      for (const suffix of ["jobs/get", "jobs/$next/get", `jobs/${j}/get`, "jobs/start-next"]) {
        expect((await accepted(d, suffix, { clientToken: `${suffix}!` })).clientToken).toBe(`${suffix}!`);
      }
      expect(
        (await accepted(d, `jobs/${j}/update`, { status: "IN_PROGRESS", clientToken: "x".repeat(64) })).clientToken,
      ).toBe("x".repeat(64));
      const long = { status: "IN_PROGRESS", clientToken: "x".repeat(65) };
      expect((await rejected(d, `jobs/${j}/update`, long, "InvalidRequest")).clientToken).toBeUndefined();
      await rejected(d, "jobs/get", { clientToken: 42 }, "InvalidRequest");
      expect((await accepted(d, "jobs/get")).clientToken).toBeUndefined();
    });

    it("malformed input on every request topic gets a clear rejection, and serving goes on", async () => {
      const d = await mqttDevice();
      for (const suffix of ["jobs/get", "jobs/start-next", "jobs/x/get", "jobs/x/update"]) {
        // 120,000 bytes: over every document limit, under AWS's 128 KB MQTT payload limit (above it
        // the broker closes the connection: test/service/broker-limits.test.ts).
        for (const bad of ["{", "[]", "\u0000\u00ff", "x".repeat(120_000), "null", "17"]) {
          const r = await d.request(suffix, bad);
          expect(r.topic).toEndWith("/rejected");
          expect(["InvalidJson", "InvalidRequest"]).toContain(r.payload.code);
        }
      }
      // An empty payload is an empty request.
      expect((await d.request("jobs/get", "")).topic).toEndWith("/get/accepted");
      expect((await d.request("jobs/get", {})).topic).toEndWith("/get/accepted");
    });

    test("the skip list names only cases of this suite", () => {
      expect(Object.keys(options.skip ?? {}).filter((name) => !registered.has(name))).toEqual([]);
    });
  });
}
