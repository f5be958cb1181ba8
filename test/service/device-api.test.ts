/**
 * The local service's Jobs device API beyond the contract every implementation shares
 * (test/contract/jobs-contract.ts: requests, replies, notifications, rejections): the control
 * plane's cancel rules as the device sees them, timers on a ManualClock, and the embedded
 * broker's topic policy. mqtt.js devices, jobs created through @aws-sdk/client-iot.
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

const doc = (name = "x") =>
  JSON.stringify({ version: "1.0", steps: [{ action: { name, type: "runCommand", input: { command: "true" } } }] });

async function thingWithDevice(
  subscribe = ["{thing}/jobs/notify", "{thing}/jobs/notify-next"].map((s) => `$aws/things/${s}`),
): Promise<Device> {
  const thing = `dev-${++n}`;
  await iot.send(new CreateThingCommand({ thingName: thing }));
  const d = await Device.connect(service.mqttUrl, thing, subscribe);
  devices.push(d);
  return d;
}

async function createJob(jobId: string, things: string[], extra: Record<string, unknown> = {}): Promise<void> {
  await iot.send(new CreateJobCommand({ jobId, targets: things.map(thingArn), document: doc(jobId), ...extra }));
}

describe("control-plane cancels seen by the device", () => {
  test("a forced cancel ends an IN_PROGRESS execution; the device's next update is refused", async () => {
    const d = await thingWithDevice([]);
    await createJob("fc-1", [d.thing]);
    await d.request("jobs/start-next", {});
    await expect(iot.send(new CancelJobExecutionCommand({ jobId: "fc-1", thingName: d.thing }))).rejects.toMatchObject({
      name: "InvalidStateTransitionException",
    });
    await iot.send(new CancelJobExecutionCommand({ jobId: "fc-1", thingName: d.thing, force: true }));
    const r = await d.request("jobs/fc-1/update", { status: "SUCCEEDED" });
    expect(r.payload).toMatchObject({ code: "InvalidStateTransition", executionState: { status: "CANCELED" } });
  });
});

describe("timers (a ManualClock: time moves only when the test advances it; the step timer is in the contract suite)", () => {
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

  test("the job's in-progress timeout applies from IN_PROGRESS", async () => {
    const d = await timedDevice("tm-ip");
    await timedIot.send(
      new CreateJobCommand({
        jobId: "ip-1",
        targets: [thingArn(d.thing)],
        document: doc("ip-1"),
        timeoutConfig: { inProgressTimeoutInMinutes: 1 },
      }),
    );
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
    await timedIot.send(
      new CreateJobCommand({ jobId: "long-1", targets: [thingArn(d.thing)], document: doc("long-1") }),
    );
    await d.request("jobs/start-next", { stepTimeoutInMinutes: 10080 });
    minutes(10079);
    expect((await d.request("jobs/long-1/get", {})).payload.execution.status).toBe("IN_PROGRESS");
    minutes(1);
    expect((await d.request("jobs/long-1/get", {})).payload.execution.status).toBe("TIMED_OUT");
  });
});

describe("the topic policy of the embedded broker", () => {
  test("a client id that is not a registered thing is refused at CONNECT (not authorized)", async () => {
    await expect(
      mqtt.connectAsync(service.mqttUrl, { clientId: "nobody-registered-me", reconnectPeriod: 0 }),
    ).rejects.toThrow(/Not authorized/i);
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
    await expect(a.client.subscribeAsync(`$aws/things/${b.thing}/jobs/notify-next`, { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    );
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
});
