/**
 * A job with pre-signed URLs, whose every delivery the service signs anew, runs once on the
 * compiled agent. The agent checks that the document the service returns with its first
 * IN_PROGRESS is the one it was notified of (a job deleted and created again under the same id
 * has the same numbers); two signings of one document must count as the same document.
 *
 * The service runs on a clock that moves 1.001 s on every reading, so no two deliveries share an
 * X-Amz-Date (without the agent's normalisation the job would never start).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CreateJobCommand, CreateThingCommand, DescribeJobExecutionCommand, type IoTClient } from "@aws-sdk/client-iot";
import { createLogger } from "../../src/log/logger.ts";
import { type RunningService, startService } from "../../src/service/service.ts";
import { type Clock, systemClock } from "../../src/util/clock.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent } from "../helpers/executables.ts";
import { iotClient, thingArn } from "../helpers/local-service.ts";
import { projectHandlerDir, tempDir } from "../helpers/temp.ts";

let offset = 0;
const ticking: Clock = {
  now: () => {
    offset += 1001;
    return systemClock.now() + offset;
  },
  setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
};

let service: RunningService;
let iot: IoTClient;
let agent: AgentProcess | undefined;
beforeAll(async () => {
  service = await startService({
    dataDir: tempDir("presign-data-"),
    host: "127.0.0.1",
    mqttPort: 0,
    httpPort: 0,
    clock: ticking,
    log: createLogger({ level: "ERROR", type: "stdout", fd: 2 }),
  });
  iot = iotClient(service.httpUrl);
});
afterAll(async () => {
  await agent?.kill("SIGKILL");
  await service.stop();
});

test("a job whose URLs are signed anew on every delivery runs once and ends SUCCEEDED", async () => {
  const thing = "presigned-1";
  await iot.send(new CreateThingCommand({ thingName: thing }));
  const log = join(tempDir("presign-log-"), "runs");
  const url = "${aws:iot:s3-presigned-url:https://s3.us-east-1.amazonaws.com/artifacts/app/1.0/app.tgz}";
  const document = {
    version: "1.0",
    includeStdOut: true,
    steps: [
      {
        action: {
          name: "fetch",
          type: "runCommand",
          input: { command: `sh,-c,echo run >> ${log}; echo "$0",${url}` },
        },
      },
    ],
  };
  await iot.send(
    new CreateJobCommand({
      jobId: "presigned-job",
      targets: [thingArn(thing)],
      document: JSON.stringify(document),
      presignedUrlConfig: { roleArn: "arn:aws:iam::123456789012:role/dl", expiresInSec: 3600 },
    }),
  );
  agent = AgentProcess.start({
    brokerUrl: service.mqttUrl,
    thingName: thing,
    handlerDirectory: projectHandlerDir(),
    command: [compiledAgent("linux-x64")],
  });
  const until = Date.now() + 20_000;
  let e = (await iot.send(new DescribeJobExecutionCommand({ jobId: "presigned-job", thingName: thing }))).execution!;
  while (["QUEUED", "IN_PROGRESS"].includes(e.status!) && Date.now() < until) {
    await Bun.sleep(50);
    e = (await iot.send(new DescribeJobExecutionCommand({ jobId: "presigned-job", thingName: thing }))).execution!;
  }
  expect(e.status).toBe("SUCCEEDED");
  expect(e.statusDetails?.detailsMap?.stdout).toContain("X-Amz-Signature=");
  expect(readFileSync(log, "utf8")).toBe("run\n");
  expect(agent.lines.join("\n")).not.toContain("names another job now");
}, 30_000);
