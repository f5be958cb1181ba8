/**
 * Contract suite for the Jobs device MQTT API of the local service: mqtt.js devices on the
 * embedded broker, jobs created through @aws-sdk/client-iot.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CancelJobExecutionCommand, CreateJobCommand, CreateThingCommand, type IoTClient } from "@aws-sdk/client-iot";
import mqtt from "mqtt";
import type { RunningService } from "../../src/service/service.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { Device, iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";

let service: RunningService;
let iot: IoTClient;
const devices: Device[] = [];
let n = 0;

beforeAll(async () => {
  service = await startLocalService({ minuteMs: 300 });
  iot = iotClient(service.httpUrl);
});
afterAll(async () => {
  for (const d of devices) await d.close().catch(() => {});
  await service.stop();
});

const doc = (name = "x") => JSON.stringify({ version: "1.0", steps: [{ action: { name, type: "runCommand", input: { command: "true" } } }] });

async function thingWithDevice(subscribe = ["{thing}/jobs/notify", "{thing}/jobs/notify-next"].map((s) => `$aws/things/${s}`)): Promise<Device> {
  const thing = `dev-${++n}`;
  await iot.send(new CreateThingCommand({ thingName: thing }));
  const d = await Device.connect(service.mqttUrl, thing, subscribe);
  devices.push(d);
  return d;
}

async function createJob(jobId: string, things: string[], extra: Record<string, unknown> = {}): Promise<void> {
  await iot.send(new CreateJobCommand({ jobId, targets: things.map(thingArn), document: doc(jobId), ...extra }));
}

describe("notifications", () => {
  test("the worked sequence: job1 → notify + notify-next, job2 → notify only, job1 IN_PROGRESS → nothing, job1 done → both", async () => {
    const d = await thingWithDevice();
    await createJob("seq-1", [d.thing]);
    await d.waitFor((m) => m.topic.endsWith("/notify-next"));
    await Bun.sleep(100);
    expect(d.topics()).toEqual(["jobs/notify", "jobs/notify-next"]);
    const next = d.messages.find((m) => m.topic.endsWith("notify-next"))!.payload;
    expect(next.execution).toMatchObject({ jobId: "seq-1", status: "QUEUED", executionNumber: 1, versionNumber: 1, jobDocument: JSON.parse(doc("seq-1")) });
    expect(next.execution.startedAt).toBeUndefined();
    expect(next.timestamp).toBeLessThan(10_000_000_000); // epoch seconds

    const mark = d.messages.length;
    await createJob("seq-2", [d.thing]);
    await d.waitFor((m) => m.topic.endsWith("/notify"), mark);
    await Bun.sleep(150);
    expect(d.topics(mark)).toEqual(["jobs/notify"]);
    expect(d.messages.at(-1)!.payload.jobs.QUEUED.map((j: any) => j.jobId)).toEqual(["seq-1", "seq-2"]);

    const mark2 = d.messages.length;
    const started = await d.request("jobs/start-next", { clientToken: "tok-1", statusDetails: { phase: "download" } });
    expect(started.payload).toMatchObject({ clientToken: "tok-1", execution: { jobId: "seq-1", status: "IN_PROGRESS", statusDetails: { phase: "download" }, versionNumber: 2 } });
    await Bun.sleep(150);
    expect(d.topics(mark2)).toEqual(["jobs/start-next/accepted"]); // no notify, no notify-next

    const mark3 = d.messages.length;
    const done = await d.request("jobs/seq-1/update", { status: "SUCCEEDED", clientToken: "tok-2", includeJobExecutionState: true });
    expect(done.payload).toMatchObject({ clientToken: "tok-2", executionState: { status: "SUCCEEDED", versionNumber: 3 } });
    await d.waitFor((m) => m.topic.endsWith("/notify-next"), mark3);
    expect(d.messages.slice(mark3).find((m) => m.topic.endsWith("notify-next"))!.payload.execution.jobId).toBe("seq-2");
  });

  test("an empty queue: start-next is accepted without an execution; notify-next without one when the last job ends", async () => {
    const d = await thingWithDevice();
    expect((await d.request("jobs/start-next", {})).payload.execution).toBeUndefined();
    await createJob("empty-1", [d.thing]);
    await d.request("jobs/start-next", {});
    const mark = d.messages.length;
    await d.request("jobs/empty-1/update", { status: "FAILED", statusDetails: { reason: "disk full" } });
    const nn = await d.waitFor((m) => m.topic.endsWith("/notify-next"), mark);
    expect(nn.payload.execution).toBeUndefined();
    expect((await d.waitFor((m) => m.topic.endsWith("/notify"), mark)).payload.jobs).toEqual({});
  });
});

describe("requests and replies", () => {
  test("replies reach the requester without a subscription, clientToken echoed, get lists IN_PROGRESS first", async () => {
    const d = await thingWithDevice([]);
    await createJob("r-1", [d.thing]);
    await createJob("r-2", [d.thing]);
    await d.request("jobs/r-2/update", { status: "IN_PROGRESS" });
    const pending = await d.request("jobs/get", { clientToken: "abc" });
    expect(pending.topic).toEndWith("/jobs/get/accepted");
    expect(pending.payload.clientToken).toBe("abc");
    expect(pending.payload.inProgressJobs.map((j: any) => j.jobId)).toEqual(["r-2"]);
    expect(pending.payload.queuedJobs.map((j: any) => j.jobId)).toEqual(["r-1"]);
    const next = await d.request("jobs/$next/get", {});
    expect(next.payload.execution).toMatchObject({ jobId: "r-2", status: "IN_PROGRESS" });
    expect(next.payload.execution.jobDocument).toEqual(JSON.parse(doc("r-2")));
    const noDoc = await d.request("jobs/r-1/get", { includeJobDocument: false });
    expect(noDoc.payload.execution.jobDocument).toBeUndefined();
  });

  test("every rejected code, in the reference's shape", async () => {
    const d = await thingWithDevice([]);
    await createJob("rej-1", [d.thing]);
    const reject = async (suffix: string, body: unknown) => {
      const r = await d.request(suffix, body);
      expect(r.topic).toEndWith("/rejected");
      expect(typeof r.payload.message).toBe("string");
      expect(r.payload.timestamp).toBeLessThan(10_000_000_000);
      return r.payload;
    };
    expect((await reject("jobs/rej-1/update", "{not json")).code).toBe("InvalidJson");
    expect(await reject("jobs/rej-1/update", { status: "DONE", clientToken: "t1" })).toMatchObject({ code: "InvalidRequest", clientToken: "t1" });
    expect((await reject("jobs/rej-1/update", {})).code).toBe("InvalidRequest"); // status is required
    expect((await reject("jobs/rej-1/update", { status: "QUEUED" })).code).toBe("InvalidRequest");
    expect((await reject("jobs/rej-1/update", { status: "IN_PROGRESS", statusDetails: { n: 5 } })).code).toBe("InvalidRequest");
    expect((await reject("jobs/rej-1/update", { status: "IN_PROGRESS", statusDetails: { k: "x".repeat(1025) } })).message).toContain("1024");
    expect((await reject("jobs/rej-1/update", { status: "IN_PROGRESS", statusDetails: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"])) })).code).toBe("InvalidRequest");
    expect((await reject("jobs/rej-1/update", { status: "IN_PROGRESS", stepTimeoutInMinutes: 0 })).code).toBe("InvalidRequest");
    expect((await reject("jobs/start-next", { stepTimeoutInMinutes: -1 })).code).toBe("InvalidRequest"); // -1 only on update
    expect((await reject("jobs/nope/update", { status: "IN_PROGRESS" })).code).toBe("ResourceNotFound");
    expect((await reject("jobs/nope/get", {})).code).toBe("ResourceNotFound");
    const mismatch = await reject("jobs/rej-1/update", { status: "IN_PROGRESS", expectedVersion: 7 });
    expect(mismatch).toMatchObject({ code: "VersionMismatch", executionState: { status: "QUEUED", versionNumber: 1 } });
    await d.request("jobs/rej-1/update", { status: "SUCCEEDED" });
    const terminal = await reject("jobs/rej-1/update", { status: "IN_PROGRESS" });
    expect(terminal).toMatchObject({ code: "InvalidStateTransition", executionState: { status: "SUCCEEDED" } });
    expect((await reject("jobs/rej-1/cancel", {})).code).toBe("InvalidTopic");
  });

  test("a forced cancel ends an IN_PROGRESS execution; the device's next update is refused", async () => {
    const d = await thingWithDevice([]);
    await createJob("fc-1", [d.thing]);
    await d.request("jobs/start-next", {});
    await expect(iot.send(new CancelJobExecutionCommand({ jobId: "fc-1", thingName: d.thing }))).rejects.toMatchObject({ name: "InvalidStateTransitionException" });
    await iot.send(new CancelJobExecutionCommand({ jobId: "fc-1", thingName: d.thing, force: true }));
    const r = await d.request("jobs/fc-1/update", { status: "SUCCEEDED" });
    expect(r.payload).toMatchObject({ code: "InvalidStateTransition", executionState: { status: "CANCELED" } });
  });
});

describe("timers (a ManualClock: time moves only when the test advances it)", () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  let timed: RunningService;
  let timedIot: IoTClient;
  beforeAll(async () => {
    timed = await startLocalService({ minuteMs: 60_000, clock });
    timedIot = iotClient(timed.httpUrl);
  });
  afterAll(async () => {
    await timed.stop();
    expect(clock.pending()).toBe(0); // stopping cancels every timer
  });
  const timedDevice = async (thing: string, subscribe: string[] = []) => {
    await timedIot.send(new CreateThingCommand({ thingName: thing }));
    const d = await Device.connect(timed.mqttUrl, thing, subscribe);
    devices.push(d);
    return d;
  };
  const minutes = (m: number) => clock.advance(m * 60_000);

  test("the step timer turns an IN_PROGRESS execution TIMED_OUT; an update resets it, -1 cancels it", async () => {
    const d = await timedDevice("tm-st", ["$aws/things/tm-st/jobs/notify-next"]);
    await timedIot.send(new CreateJobCommand({ jobId: "st-1", targets: [thingArn(d.thing)], document: doc("st-1") }));
    await d.request("jobs/start-next", { stepTimeoutInMinutes: 1 });
    minutes(0.5);
    await d.request("jobs/st-1/update", { status: "IN_PROGRESS", stepTimeoutInMinutes: -1 });
    minutes(60);
    expect((await d.request("jobs/st-1/get", {})).payload.execution.status).toBe("IN_PROGRESS");
    await d.request("jobs/st-1/update", { status: "IN_PROGRESS", stepTimeoutInMinutes: 2 });
    minutes(1.99);
    expect((await d.request("jobs/st-1/get", {})).payload.execution.status).toBe("IN_PROGRESS");
    const mark = d.messages.length;
    minutes(0.01);
    await d.waitFor((m) => m.topic.endsWith("/notify-next"), mark);
    const after = (await d.request("jobs/st-1/get", {})).payload.execution;
    expect([after.status, after.statusDetails.timedOut]).toEqual(["TIMED_OUT", "step timer expired"]);
  });

  test("the job's in-progress timeout applies from IN_PROGRESS", async () => {
    const d = await timedDevice("tm-ip");
    await timedIot.send(new CreateJobCommand({ jobId: "ip-1", targets: [thingArn(d.thing)], document: doc("ip-1"), timeoutConfig: { inProgressTimeoutInMinutes: 1 } }));
    minutes(5);
    expect((await d.request("jobs/ip-1/get", {})).payload.execution.status).toBe("QUEUED");
    await d.request("jobs/start-next", {});
    minutes(0.99);
    expect((await d.request("jobs/ip-1/get", {})).payload.execution.status).toBe("IN_PROGRESS");
    minutes(0.01);
    const after = (await d.request("jobs/ip-1/get", {})).payload.execution;
    expect([after.status, after.statusDetails.timedOut]).toEqual(["TIMED_OUT", "in-progress timer expired"]);
  });

  test("a step timeout of 10,080 minutes (the maximum) fires after exactly that long", async () => {
    const d = await timedDevice("tm-long");
    await timedIot.send(new CreateJobCommand({ jobId: "long-1", targets: [thingArn(d.thing)], document: doc("long-1") }));
    await d.request("jobs/start-next", { stepTimeoutInMinutes: 10080 });
    minutes(10079);
    expect((await d.request("jobs/long-1/get", {})).payload.execution.status).toBe("IN_PROGRESS");
    minutes(1);
    expect((await d.request("jobs/long-1/get", {})).payload.execution.status).toBe("TIMED_OUT");
  });
});

describe("the topic policy of the embedded broker", () => {
  test("a client id that is not a registered thing is refused at CONNECT (not authorized)", async () => {
    await expect(mqtt.connectAsync(service.mqttUrl, { clientId: "nobody-registered-me", reconnectPeriod: 0 })).rejects.toThrow(/Not authorized/i);
    const d = await thingWithDevice([]);
    expect(d.client.connected).toBe(true);
  });

  test("the service listens on loopback only by default", async () => {
    const { networkInterfaces } = await import("node:os");
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
    if (!external) return console.warn("SKIPPED (part): no non-loopback IPv4 address on this machine");
    const port = (url: string) => Number(url.split(":").at(-1));
    const { connect } = await import("node:net");
    for (const p of [port(service.mqttUrl), port(service.httpUrl)]) {
      const refused = await new Promise<boolean>((resolve) => {
        const s = connect(p, external);
        s.once("connect", () => (s.destroy(), resolve(false)));
        s.once("error", () => resolve(true));
      });
      expect([p, refused]).toEqual([p, true]);
    }
  });

  test("thing A cannot subscribe to thing B's topics (SUBACK 0x80)", async () => {
    const a = await thingWithDevice([]);
    const b = await thingWithDevice([]);
    // mqtt.js turns a 0x80 grant into an error.
    await expect(a.client.subscribeAsync(`$aws/things/${b.thing}/jobs/notify-next`, { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await expect(a.client.subscribeAsync("$aws/things/+/jobs/notify", { qos: 1 })).rejects.toThrow(/Subscribe error/);
    expect((await a.client.subscribeAsync(`$aws/things/${a.thing}/jobs/notify`, { qos: 1 }))[0]!.qos).toBe(1);
  });

  test("thing A publishing to thing B's jobs is disconnected and changes nothing", async () => {
    const a = await thingWithDevice([]);
    const b = await thingWithDevice([]);
    await createJob("pol-1", [b.thing]);
    const closed = new Promise<void>((resolve) => a.client.once("close", () => resolve()));
    a.client.publish(`$aws/things/${b.thing}/jobs/pol-1/update`, JSON.stringify({ status: "SUCCEEDED" }), { qos: 1 });
    await closed;
    expect((await b.request("jobs/pol-1/get", {})).payload.execution.status).toBe("QUEUED");
  });

  test("malformed input on every request topic gets a clear rejection and the service keeps serving", async () => {
    const d = await thingWithDevice([]);
    for (const suffix of ["jobs/get", "jobs/start-next", "jobs/x/get", "jobs/x/update"]) {
      for (const bad of ["{", "[]", "\u0000\u00ff", "x".repeat(200_000)]) {
        const r = await d.request(suffix, bad);
        expect(r.topic).toEndWith("/rejected");
        expect(["InvalidJson", "InvalidRequest"]).toContain(r.payload.code);
      }
    }
    expect((await d.request("jobs/get", {})).topic).toEndWith("/accepted");
  });
});
