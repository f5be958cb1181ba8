/**
 * `iot-jobs-agent doctor` against iot-jobs-local's mutual-TLS listener, with a certificate from
 * CreateKeysAndCertificate and IoT policies: a good setup passes every network check; a policy that
 * leaves out notify-next makes the subscriptions check fail naming the refused filter.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { IoTClient } from "@aws-sdk/client-iot";
import { jobsMinimumPolicy, provisionDevice } from "../helpers/iot-identity.ts";
import { iotClient } from "../helpers/local-service.ts";
import { REPO_ROOT, tempDir, writeHandler } from "../helpers/temp.ts";
import { createLogger } from "../../src/log/logger.ts";
import { type RunningService, startService } from "../../src/service/service.ts";

async function doctor(args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn([process.execPath, join(REPO_ROOT, "src/main.ts"), "doctor", ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, HOME: tempDir() },
  });
  const out = await new Response(proc.stdout).text();
  return { code: await proc.exited, out };
}
const line = (out: string, verdict: string, check: string) =>
  out.split("\n").find((l) => l.startsWith(verdict) && l.includes(` ${check} `));

/** The minimum Jobs policy plus what doctor's jobs-request check uses (GetPendingJobExecutions). */
function withGet(policy: string): string {
  const p = JSON.parse(policy);
  const arn = "arn:aws:iot:us-east-1:123456789012";
  const jobs = "$aws/things/${iot:Connection.Thing.ThingName}/jobs";
  p.Statement.push(
    { Effect: "Allow", Action: "iot:Publish", Resource: `${arn}:topic/${jobs}/get` },
    { Effect: "Allow", Action: "iot:Subscribe", Resource: [`${arn}:topicfilter/${jobs}/get/*`] },
    { Effect: "Allow", Action: "iot:Receive", Resource: [`${arn}:topic/${jobs}/get/*`] },
  );
  return JSON.stringify(p);
}

let service: RunningService;
let iot: IoTClient;
beforeAll(async () => {
  service = await startService({
    dataDir: tempDir("doctor-mtls-"),
    host: "127.0.0.1",
    mqttPort: 0,
    httpPort: 0,
    mqttsPort: 0,
    log: createLogger({ level: "ERROR", type: "stdout", fd: 2 }),
  });
  iot = iotClient(service.httpUrl);
});
afterAll(() => service.stop());

function flags(c: { cert: string; key: string; rootCa: string }) {
  const handlers = join(tempDir(), "jobs");
  mkdirSync(handlers, { mode: 0o700 });
  writeHandler(handlers, "hello.sh", "#!/bin/sh\necho hello\n");
  const state = join(tempDir(), "state");
  mkdirSync(state, { mode: 0o700 });
  return [
    "--cert",
    c.cert,
    "--key",
    c.key,
    "--root-ca",
    c.rootCa,
    "--jobs-handler-dir",
    handlers,
    "--state-dir",
    state,
  ];
}

describe("doctor against iot-jobs-local over mutual TLS", () => {
  test("a certificate from CreateKeysAndCertificate with a sufficient policy: every check ok", async () => {
    const policy = withGet(jobsMinimumPolicy("us-east-1", "123456789012"));
    const c = await provisionDevice(iot, service.rootCaPath!, "doc-1", "doc-good", policy);
    const endpoint = service.mqttsUrl!.replace("mqtts://", "");
    const r = await doctor(["--endpoint", endpoint, "--thing-name", "doc-1", ...flags(c)]);
    expect(r.out).not.toContain("FAIL");
    for (const check of ["certificate", "key-pair", "root-ca", "tls", "mqtt-connect", "subscriptions", "jobs-request"])
      expect(line(r.out, "ok", check)).toBeDefined();
    expect(r.code).toBe(0);
  }, 60_000);

  test("a policy without notify-next: the subscriptions check fails naming it", async () => {
    const p = JSON.parse(withGet(jobsMinimumPolicy("us-east-1", "123456789012")));
    p.Statement[2].Resource = p.Statement[2].Resource.filter((r: string) => !r.endsWith("notify-next"));
    const c = await provisionDevice(iot, service.rootCaPath!, "doc-2", "doc-no-notify", JSON.stringify(p));
    const r = await doctor([
      "--endpoint",
      service.mqttsUrl!.replace("mqtts://", ""),
      "--thing-name",
      "doc-2",
      ...flags(c),
    ]);
    expect(line(r.out, "ok", "mqtt-connect")).toBeDefined();
    expect(line(r.out, "FAIL", "subscriptions")).toContain("refused: $aws/things/doc-2/jobs/notify-next");
    expect(r.code).toBe(1);
  }, 60_000);

  test("exactly the minimum Jobs policy: connect and subscriptions ok; jobs-request (GetPendingJobExecutions, not in it) is a warning, in bounded time", async () => {
    const c = await provisionDevice(
      iot,
      service.rootCaPath!,
      "doc-3",
      "doc-min",
      jobsMinimumPolicy("us-east-1", "123456789012"),
    );
    const r = await doctor([
      "--endpoint",
      service.mqttsUrl!.replace("mqtts://", ""),
      "--thing-name",
      "doc-3",
      ...flags(c),
    ]);
    expect(line(r.out, "ok", "subscriptions")).toBeDefined();
    expect(line(r.out, "WARN", "jobs-request")).toContain("not acknowledged");
    expect(r.out).not.toContain("FAIL");
    expect(r.code).toBe(0); // the agent works with exactly this policy
  }, 60_000);
});
