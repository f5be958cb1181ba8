/**
 * End to end: the compiled x64 agent against the local service — over the service's embedded
 * broker (compiled iot-jobs-local) and over Mosquitto (the service attached as a client) — with
 * jobs created through @aws-sdk/client-iot. Runs the Device Client samples that need no network
 * or root when ../shared is present, and our own fixtures always.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateJobCommand, CreateThingCommand, DescribeJobExecutionCommand, type IoTClient } from "@aws-sdk/client-iot";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent, compiledService, spawnService } from "../helpers/executables.ts";
import { iotClient, thingArn } from "../helpers/local-service.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { projectHandlerDir, REPO_ROOT } from "../helpers/temp.ts";

const COMPAT = join(REPO_ROOT, "..", "shared", "compat", "device-client");
const compat = existsSync(COMPAT);
if (!compat) console.warn(`SKIPPED (part): the Device Client samples are not at ${COMPAT}; only our own fixtures run`);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const fixtures: [string, unknown, string, Record<string, string>][] = [
  [
    "fixture-ok",
    {
      version: "1.0",
      includeStdOut: true,
      steps: [{ action: { name: "greet", type: "runCommand", input: { command: "printf,hello from a job" } } }],
    },
    "SUCCEEDED",
    { stdout: "hello from a job" },
  ],
  [
    "fixture-fail",
    {
      version: "1.0",
      steps: [{ action: { name: "boom", type: "runCommand", input: { command: "sh,-c,echo broken >&2; exit 3" } } }],
    },
    "FAILED",
    { reason: "Exited with status: 3", stderr: "broken\n" },
  ],
  [
    "fixture-rejected",
    { version: "1.0", steps: [{ action: { name: "x", type: "runHandler", input: {} } }] },
    "REJECTED",
    {},
  ],
];
if (compat) {
  const load = (f: string) => JSON.parse(readFileSync(join(COMPAT, f), "utf8"));
  fixtures.push([
    "compat-echo",
    { ...load("job-docs/echo.json"), includeStdOut: true },
    "SUCCEEDED",
    { stdout: " Hello IoT World!\n" },
  ]);
  fixtures.push([
    "compat-old-echo",
    { ...load("old-schema-job-docs/echo.json"), includeStdOut: true },
    "SUCCEEDED",
    { stdout: '"Hello world!"\n' },
  ]);
}

async function waitTerminal(iot: IoTClient, jobId: string, thingName: string) {
  const until = Date.now() + 30_000;
  for (;;) {
    const e = (await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))).execution!;
    if (!["QUEUED", "IN_PROGRESS"].includes(e.status!)) return e;
    if (Date.now() > until) throw new Error(`${jobId} still ${e.status}`);
    await Bun.sleep(50);
  }
}

async function runAll(mqtt: string, http: string, thing: string): Promise<void> {
  const iot = iotClient(http);
  await iot.send(new CreateThingCommand({ thingName: thing }));
  const agent = AgentProcess.start({
    brokerUrl: mqtt,
    thingName: thing,
    handlerDirectory: projectHandlerDir(),
    command: [compiledAgent("linux-x64")],
  });
  cleanups.push(() => agent.kill());
  for (const [jobId, doc] of fixtures)
    await iot.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: JSON.stringify(doc) }));
  for (const [jobId, , status, details] of fixtures) {
    const e = await waitTerminal(iot, jobId, thing);
    expect([jobId, e.status]).toEqual([jobId, status]);
    expect(e.statusDetails?.detailsMap).toMatchObject(details);
  }
}

describe("compiled agent ⇄ local service", () => {
  test("over the compiled service's embedded broker", async () => {
    const svc = await spawnService([compiledService()]);
    cleanups.push(() => svc.stop());
    await runAll(svc.mqtt, svc.http, "e2e-embedded");
  }, 120_000);

  test("over Mosquitto, the service attached with --broker", async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const svc = await spawnService(
      [process.execPath, join(REPO_ROOT, "src/service/main.ts")],
      ["--broker", broker.url],
    );
    cleanups.push(() => svc.stop());
    expect(svc.mqtt).toBe(broker.url);
    await runAll(broker.url, svc.http, "e2e-mosquitto");
  }, 120_000);
});
