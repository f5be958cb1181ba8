/**
 * Arbitrary bytes on the wire (fast-check): on every topic the agent subscribes to, and on every
 * request topic and HTTP route of the local service. Nothing crashes; the service answers with
 * its documented error shapes (never a 5xx); and afterwards both still do real work.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateJobCommand, CreateThingCommand, DescribeJobExecutionCommand } from "@aws-sdk/client-iot";
import fc from "fast-check";
import mqtt from "mqtt";
import type { RunningService } from "../../src/service/service.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { MQTT_LIMITS } from "../../src/service/limits.ts";
import { anyPayload } from "../helpers/arbitraries.ts";
import { compiledAgent } from "../helpers/executables.ts";
import { Device, iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const PER_TOPIC = Number(process.env.IOT_JOBS_FUZZ_WIRE ?? 150);

async function finishes(iot: ReturnType<typeof iotClient>, jobId: string, thing: string): Promise<string> {
  for (let n = 0; n < 600; n++) {
    const status = (await iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }))).execution!.status!;
    if (!["QUEUED", "IN_PROGRESS"].includes(status)) return status;
    await Bun.sleep(25);
  }
  throw new Error(`${jobId} did not finish`);
}

describe("arbitrary bytes on the agent's topics", () => {
  let broker: Mosquitto;
  let service: RunningService;
  let agent: AgentProcess;
  beforeAll(async () => {
    broker = await Mosquitto.start();
    service = await startLocalService({ broker: broker.url });
  });
  afterAll(async () => {
    await agent?.kill();
    await service.stop();
    await broker.stop();
  });

  test(`${PER_TOPIC} payloads on each subscribed topic; the agent lives and then runs a real job`, async () => {
    const iot = iotClient(service.httpUrl);
    await iot.send(new CreateThingCommand({ thingName: "wire-agent" }));
    const handlers = tempDir("wire-handlers-");
    writeHandler(handlers, "health-check.sh", "#!/bin/sh\necho healthy\n");
    agent = AgentProcess.start({
      brokerUrl: broker.url,
      thingName: "wire-agent",
      handlerDirectory: handlers,
      command: [compiledAgent("linux-x64")],
      extraArgs: ["--log-level", "ERROR"],
    });
    await Bun.sleep(500);
    // Mosquitto has no topic policy here: this peer plays a broken or hostile service.
    const peer = await mqtt.connectAsync(broker.url, { clientId: "wire-peer" });
    const p = "$aws/things/wire-agent/jobs";
    const topics = [
      `${p}/notify-next`,
      `${p}/start-next/accepted`,
      `${p}/start-next/rejected`,
      `${p}/some-job/update/accepted`,
      `${p}/some-job/update/rejected`,
    ];
    // No execution-shaped payload with a runnable document is generated here (the agent would run
    // it): anyPayload's JSON is of arbitrary shape, which the agent must drop or refuse.
    for (const topic of topics)
      for (const payload of fc.sample(anyPayload, PER_TOPIC))
        await peer.publishAsync(topic, Buffer.from(payload), { qos: 0 });
    await peer.endAsync(true);
    expect(agent.proc.exitCode).toBeNull();
    await iot.send(
      new CreateJobCommand({
        jobId: "after-the-noise",
        targets: [thingArn("wire-agent")],
        document: JSON.stringify({
          version: "1.0",
          steps: [{ action: { name: "h", type: "runHandler", input: { handler: "health-check.sh" } } }],
        }),
      }),
    );
    expect(await finishes(iot, "after-the-noise", "wire-agent")).toBe("SUCCEEDED");
    expect(agent.proc.exitCode).toBeNull();
  }, 300_000);
});

describe("arbitrary bytes on the local service", () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startLocalService();
    await iotClient(service.httpUrl).send(new CreateThingCommand({ thingName: "wire-device" }));
  });
  afterAll(() => service.stop());

  test(`${PER_TOPIC} payloads on every request topic: each gets a documented rejection (or an answer); the service keeps serving`, async () => {
    const d = await Device.connect(service.mqttUrl, "wire-device", ["$aws/things/wire-device/shadow/#"]);
    const suffixes = [
      "jobs/get",
      "jobs/start-next",
      "jobs/j-1/get",
      "jobs/$next/get",
      "jobs/j-1/update",
      "shadow/get",
      "shadow/update",
      "shadow/delete",
      "shadow/name/s1/get",
      "shadow/name/s1/update",
      "shadow/name/s1/delete",
      "shadow/name/$package/update",
    ];
    const codes = new Set<string>();
    for (const suffix of suffixes) {
      // Above AWS's 128 KB the broker closes the connection (test/service/broker-limits.test.ts).
      for (const payload of fc.sample(
        anyPayload.filter((p) => p.length <= MQTT_LIMITS.maxPayloadBytes),
        PER_TOPIC,
      )) {
        const r = await d.request(suffix, payload);
        if (r.topic.endsWith("/rejected")) {
          const code = String(r.payload.code);
          codes.add(code);
          expect(["InvalidJson", "InvalidRequest", "ResourceNotFound", "400", "404", "409", "413", "415"]).toContain(
            code,
          );
          expect(typeof r.payload.message).toBe("string");
        }
      }
    }
    expect(codes.size).toBeGreaterThan(3);
    expect((await d.request("jobs/get", {})).topic).toEndWith("/get/accepted");
    await d.close();
  }, 300_000);

  test(`${PER_TOPIC} bodies and query strings on every route: never a 5xx, always the AWS error shape; the service keeps serving`, async () => {
    const routes: [string, string][] = [
      ["POST", "/things/w1"],
      ["GET", "/things/w1"],
      ["PATCH", "/things/wire-device"],
      ["DELETE", "/things/nope"],
      ["GET", "/things"],
      ["POST", "/thing-groups/g1"],
      ["POST", "/dynamic-thing-groups/d1"],
      ["GET", "/thing-groups/g1"],
      ["PUT", "/thing-groups/addThingToThingGroup"],
      ["PUT", "/thing-groups/removeThingFromThingGroup"],
      ["GET", "/thing-groups/g1/things"],
      ["POST", "/indices/search"],
      ["PUT", "/jobs/j1"],
      ["GET", "/jobs/j1"],
      ["GET", "/jobs"],
      ["PUT", "/jobs/j1/cancel"],
      ["DELETE", "/jobs/j1"],
      ["GET", "/jobs/j1/job-document"],
      ["PUT", "/things/wire-device/jobs/j1/cancel"],
      ["GET", "/things/wire-device/jobs/j1"],
      ["GET", "/jobs/j1/things"],
      ["GET", "/things/wire-device/jobs"],
      ["PUT", "/packages/p1"],
      ["PATCH", "/packages/p1"],
      ["PUT", "/packages/p1/versions/v1"],
      ["PATCH", "/packages/p1/versions/v1"],
      ["GET", "/packages/p1/versions"],
      ["PATCH", "/package-configuration"],
      ["POST", "/things/wire-device/shadow"],
      ["GET", "/things/wire-device/shadow"],
      ["DELETE", "/things/wire-device/shadow"],
    ];
    const query = fc.oneof(
      fc.constant(""),
      fc.string().map((s) => `?${encodeURIComponent(s)}`),
      fc.constant("?force=true&beforeSubstitution=true&name=%24package&maxResults=-5&nextToken=zz"),
    );
    for (const [method, path] of routes) {
      for (const [payload, q] of fc.sample(fc.tuple(anyPayload, query), PER_TOPIC)) {
        const res = await fetch(`${service.httpUrl}${path}${q}`, {
          method,
          body: method === "GET" ? undefined : payload,
        });
        if (res.status >= 500) throw new Error(`${method} ${path}${q} answered ${res.status}: ${await res.text()}`);
        if (res.status >= 400) {
          expect(res.headers.get("x-amzn-errortype")).toBeTruthy();
          expect(typeof ((await res.json()) as { message?: unknown }).message).toBe("string");
        } else {
          await res.arrayBuffer();
        }
      }
    }
    expect((await fetch(`${service.httpUrl}/things`)).status).toBe(200);
  }, 300_000);
});
