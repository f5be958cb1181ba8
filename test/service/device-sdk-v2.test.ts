/**
 * AWS's device SDK (aws-iot-device-sdk-v2, IotJobsClientv2) against the local service. The SDK
 * runs under Node (its native addon hangs on load in Bun), in a child process.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { CreateJobCommand, CreateThingCommand } from "@aws-sdk/client-iot";
import type { RunningService } from "../../src/service/service.ts";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { REPO_ROOT } from "../helpers/temp.ts";

const node = Bun.which("node");
let service: RunningService;
beforeAll(async () => {
  service = await startLocalService();
});
afterAll(() => service.stop());

test.skipIf(!node)(
  "IotJobsClientv2: NextJobExecutionChanged, GetPending, StartNext, Describe, Update, a modeled rejection",
  async () => {
    const iot = iotClient(service.httpUrl);
    await iot.send(new CreateThingCommand({ thingName: "sdk-v2-thing" }));
    const [, host, port] = /^mqtt:\/\/([^:]+):(\d+)$/.exec(service.mqttUrl)!;
    const child = Bun.spawn(
      [node!, join(REPO_ROOT, "test/node/jobs-sdk-v2.mjs"), host!, port!, "sdk-v2-thing", "sdk-job"],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe", cwd: REPO_ROOT },
    );
    const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    while (!out.includes("READY\n")) {
      const { done, value } = await reader.read();
      if (done)
        throw new Error(
          `the SDK script ended early: ${out}${await new Response(child.stderr as ReadableStream).text()}`,
        );
      out += new TextDecoder().decode(value);
    }
    const document = {
      version: "1.0",
      steps: [{ action: { name: "s", type: "runCommand", input: { command: "true" } } }],
    };
    await iot.send(
      new CreateJobCommand({
        jobId: "sdk-job",
        targets: [thingArn("sdk-v2-thing")],
        document: JSON.stringify(document),
      }),
    );
    child.stdin!.write("GO\n");
    child.stdin!.end();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
    }
    const code = await child.exited;
    if (code !== 0) throw new Error(`exit ${code}: ${out}${await new Response(child.stderr as ReadableStream).text()}`);
    const result = JSON.parse(out.trim().split("\n").at(-1)!);
    expect(result).toEqual({
      next: "QUEUED",
      queued: ["sdk-job"],
      started: { jobId: "sdk-job", status: "IN_PROGRESS", details: { phase: "sdk-v2" } },
      document,
      updated: "SUCCEEDED",
      rejection: { code: "InvalidStateTransition", hasState: true },
    });
  },
  60_000,
);
