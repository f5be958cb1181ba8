/**
 * CreateJob latency through the HTTP API (bun bench/create-job-latency.ts [JOBS] [THINGS] [SOURCE_ROOT]).
 * A fresh `iot-jobs-local serve` from SOURCE_ROOT (default: this checkout) on a data directory,
 * THINGS things in a static group; then JOBS CreateJob calls on the group, one after the other,
 * each queueing THINGS executions in one command. Baseline, same run and service: DescribeThing.
 * Printed: p50 and p99 of both and the ratio of the p50s. SOURCE_ROOT lets the same bench measure
 * another checkout (the service before its one-transaction-per-command store, say).
 */
import {
  AddThingToThingGroupCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeThingCommand,
  IoTClient,
} from "@aws-sdk/client-iot";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const jobs = Number(process.argv[2] ?? 50);
const things = Number(process.argv[3] ?? 200);
const root = process.argv[4] ?? join(import.meta.dir, "..");
const dataDir = mkdtempSync(join(tmpdir(), "bench-createjob-"));
const service = Bun.spawn(
  [
    process.execPath,
    join(root, "src/service/main.ts"),
    "serve",
    "--mqtt-port",
    "0",
    "--http-port",
    "0",
    "--data-dir",
    dataDir,
  ],
  { stdout: "pipe", stderr: "ignore" },
);
const reader = (service.stdout as ReadableStream<Uint8Array>).getReader();
let text = "";
while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
const { http } = JSON.parse(text.split("\n")[0]!) as { http: string };
const iot = new IoTClient({
  endpoint: http,
  region: "us-east-1",
  credentials: { accessKeyId: "x", secretAccessKey: "x" },
  maxAttempts: 1,
});

try {
  const group = await iot.send(new CreateThingGroupCommand({ thingGroupName: "bench" }));
  for (let i = 0; i < things; i++) {
    await iot.send(new CreateThingCommand({ thingName: `t-${i}` }));
    await iot.send(new AddThingToThingGroupCommand({ thingGroupName: "bench", thingName: `t-${i}` }));
  }
  const time = async (call: () => Promise<unknown>) => {
    const t0 = performance.now();
    await call();
    return performance.now() - t0;
  };
  const create: number[] = [];
  const describe: number[] = [];
  for (let j = 0; j < jobs; j++) {
    describe.push(await time(() => iot.send(new DescribeThingCommand({ thingName: `t-${j % things}` }))));
    create.push(
      await time(() =>
        iot.send(
          new CreateJobCommand({
            jobId: `bench-${j}`,
            targets: [group.thingGroupArn!],
            document: JSON.stringify({
              version: "1.0",
              steps: [{ action: { name: "a", type: "runCommand", input: { command: "true" } } }],
            }),
          }),
        ),
      ),
    );
  }
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  console.log(`CreateJob on a group of ${things} things, ${jobs} jobs (service from ${root})`);
  console.log(`| call | p50 | p99 |\n|---|---:|---:|`);
  console.log(
    `| DescribeThing (baseline) | ${pct(describe, 0.5).toFixed(1)} ms | ${pct(describe, 0.99).toFixed(1)} ms |`,
  );
  console.log(
    `| CreateJob (${things} executions) | ${pct(create, 0.5).toFixed(1)} ms | ${pct(create, 0.99).toFixed(1)} ms |`,
  );
  console.log(`ratio of p50s: ${(pct(create, 0.5) / pct(describe, 0.5)).toFixed(1)}`);
} finally {
  service.kill("SIGTERM");
  await service.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
