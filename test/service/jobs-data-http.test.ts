/**
 * The Jobs device API over HTTP (iot-jobs-data): told from the control plane by the SigV4
 * credential scope, served by the same engine as the MQTT API, with the same checks.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as Iot from "@aws-sdk/client-iot";
import type { RunningService } from "../../src/service/service.ts";
import { awsCliEnv, Device, iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";

let service: RunningService;
let iot: Iot.IoTClient;
const doc = JSON.stringify({
  version: "1.0",
  steps: [{ action: { name: "s", type: "runCommand", input: { command: "true" } } }],
});

beforeAll(async () => {
  service = await startLocalService();
  iot = iotClient(service.httpUrl);
  await iot.send(new Iot.CreateThingCommand({ thingName: "jd-1" }));
  for (const jobId of ["jd-a", "jd-b"])
    await iot.send(new Iot.CreateJobCommand({ jobId, targets: [thingArn("jd-1")], document: doc }));
});
afterAll(async () => {
  await service.stop();
});

/** A request whose SigV4 scope names `api` (the signature itself is not checked). */
async function signed(api: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${service.httpUrl}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: {
      "content-type": "application/json",
      authorization: `AWS4-HMAC-SHA256 Credential=local/20261130/us-east-1/${api}/aws4_request, SignedHeaders=host, Signature=00`,
    },
  });
  return { status: res.status, type: res.headers.get("x-amzn-errortype"), body: (await res.json()) as any };
}

describe("iot-jobs-data over HTTP", () => {
  test("the shared path answers by the credential scope: the device API's pending lists vs the control plane's summaries", async () => {
    const device = await signed("iot-jobs-data", "GET", "/things/jd-1/jobs");
    expect(device.status).toBe(200);
    expect(device.body.queuedJobs.map((j: { jobId: string }) => j.jobId)).toEqual(["jd-a", "jd-b"]);
    const control = await signed("iot", "GET", "/things/jd-1/jobs");
    expect(control.body.executionSummaries.map((e: { jobId: string }) => e.jobId)).toEqual(["jd-a", "jd-b"]);
    const unsigned = await (await fetch(`${service.httpUrl}/things/jd-1/jobs`)).json();
    expect(Object.keys(unsigned as object)).toEqual(["executionSummaries"]);
  });

  test("start-next over HTTP, then the MQTT API sees the same execution; update rejections match MQTT's", async () => {
    const started = await signed("iot-jobs-data", "PUT", "/things/jd-1/jobs/$next", { statusDetails: { step: "1" } });
    expect(started.body.execution).toMatchObject({
      jobId: "jd-a",
      status: "IN_PROGRESS",
      statusDetails: { step: "1" },
      versionNumber: 2,
    });
    expect(JSON.parse(started.body.execution.jobDocument)).toEqual(JSON.parse(doc));

    const d = await Device.connect(service.mqttUrl, "jd-1", ["$aws/things/{thing}/jobs/#"]);
    try {
      const mqtt = await d.request("jobs/jd-a/get", {});
      expect(mqtt.payload.execution).toMatchObject({ status: "IN_PROGRESS", versionNumber: 2 });

      const tooMany = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, "v"]));
      const overHttp = await signed("iot-jobs-data", "POST", "/things/jd-1/jobs/jd-a", {
        status: "SUCCEEDED",
        statusDetails: tooMany,
      });
      const overMqtt = await d.request("jobs/jd-a/update", { status: "SUCCEEDED", statusDetails: tooMany });
      expect([overHttp.status, overHttp.type]).toEqual([400, "InvalidRequestException"]);
      expect(overMqtt.payload.code).toBe("InvalidRequest");
      expect(overHttp.body.message).toBe(overMqtt.payload.message);

      const stale = await signed("iot-jobs-data", "POST", "/things/jd-1/jobs/jd-a", {
        status: "SUCCEEDED",
        expectedVersion: 1,
      });
      expect([stale.status, stale.type]).toEqual([409, "InvalidStateTransitionException"]);
      const done = await signed("iot-jobs-data", "POST", "/things/jd-1/jobs/jd-a", {
        status: "SUCCEEDED",
        expectedVersion: 2,
        includeJobExecutionState: true,
      });
      expect(done.body.executionState).toMatchObject({ status: "SUCCEEDED", versionNumber: 3 });
      const again = await d.request("jobs/jd-a/update", { status: "IN_PROGRESS" });
      expect(again.payload.code).toBe("InvalidStateTransition");
      const describe = await signed("iot-jobs-data", "GET", "/things/jd-1/jobs/jd-a?includeJobDocument=false");
      expect(describe.body.execution.status).toBe("SUCCEEDED");
      expect(describe.body.execution.jobDocument).toBeUndefined();
    } finally {
      await d.close();
    }
  });

  test("a request signed for an API this service does not serve is NotImplemented, naming it", async () => {
    // (s3 is served: the artifact store.)
    const r = await signed("dynamodb", "GET", "/things/jd-1/jobs");
    expect([r.status, r.type]).toEqual([501, "NotImplementedException"]);
    expect(r.body.message).toContain("dynamodb");
  });

  const hasCli = Bun.spawnSync(["aws", "--version"], { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
  test.skipIf(!hasCli)(
    "the AWS CLI's iot-jobs-data commands reach the device API",
    async () => {
      const env = awsCliEnv();
      // Spawned asynchronously: the service runs in this process and must keep answering.
      const r = Bun.spawn(
        [
          "aws",
          "--endpoint-url",
          service.httpUrl,
          "--output",
          "json",
          "iot-jobs-data",
          "get-pending-job-executions",
          "--thing-name",
          "jd-1",
        ],
        { env, stdout: "pipe", stderr: "pipe" },
      );
      const [out, err] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
      expect(err).toBe("");
      expect(JSON.parse(out).queuedJobs.map((j: { jobId: string }) => j.jobId)).toEqual(["jd-b"]);
    },
    30_000,
  );
});

describe("UpdateJob", () => {
  test("a new in-progress timeout applies to executions that start afterwards", async () => {
    // A 300 ms "minute", as the device API's timer tests use.
    const fast = await startLocalService({ minuteMs: 300 });
    try {
      const api = iotClient(fast.httpUrl);
      await api.send(new Iot.CreateThingCommand({ thingName: "slow-1" }));
      await api.send(
        new Iot.CreateJobCommand({
          jobId: "long",
          targets: [thingArn("slow-1")],
          document: doc,
          timeoutConfig: { inProgressTimeoutInMinutes: 600 },
        }),
      );
      await api.send(
        new Iot.UpdateJobCommand({
          jobId: "long",
          description: "now short",
          timeoutConfig: { inProgressTimeoutInMinutes: 1 },
        }),
      );
      const job = (await api.send(new Iot.DescribeJobCommand({ jobId: "long" }))).job!;
      expect([job.description, job.timeoutConfig?.inProgressTimeoutInMinutes]).toEqual(["now short", 1]);
      const start = await fetch(`${fast.httpUrl}/things/slow-1/jobs/$next`, {
        method: "PUT",
        body: "{}",
        headers: {
          "content-type": "application/json",
          authorization: "AWS4-HMAC-SHA256 Credential=l/20261130/us-east-1/iot-jobs-data/aws4_request",
        },
      });
      expect(((await start.json()) as { execution: { status: string } }).execution.status).toBe("IN_PROGRESS");
      const until = Date.now() + 5000;
      let status: string | undefined;
      while (Date.now() < until && status !== "TIMED_OUT") {
        await Bun.sleep(50);
        status = (await api.send(new Iot.DescribeJobExecutionCommand({ jobId: "long", thingName: "slow-1" }))).execution
          ?.status;
      }
      expect(status).toBe("TIMED_OUT");
    } finally {
      await fast.stop();
    }
  });
});
