/**
 * Roll-out rate through the local service (bun bench/rollout-rate.ts [N] [MINUTE_MS], default
 * 10000 things, a 2000 ms minute).
 *
 * A fresh `iot-jobs-local serve --minute-ms MINUTE_MS` process, N things in a dynamic group, one
 * CreateJob with jobExecutionsRolloutConfig.exponentialRate {base 1000/min, factor 2, every 1000
 * notified}. Measured: things reached per (shortened) minute, sampled from DescribeJob in the middle
 * of each minute, against the schedule the config implies; and the service process's CPU time
 * (utime + stime from /proc) from CreateJob until every thing is reached. Baseline in the same run
 * and process: the same group, the same job without a roll-out config (everything reached at once),
 * and the CPU an idle service spends answering the same sampling for the same time. A first,
 * unmeasured job warms the service up (JIT) so neither measured run pays for it.
 */
import { CreateDynamicThingGroupCommand, CreateJobCommand, DescribeJobCommand, IoTClient } from "@aws-sdk/client-iot";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ratePerMinute } from "../src/service/jobs/rollout.ts";

const n = Number(process.argv[2] ?? 10_000);
const minuteMs = Number(process.argv[3] ?? 2000);
const root = join(import.meta.dir, "..");
const rollout = {
  exponentialRate: {
    baseRatePerMinute: 1000,
    incrementFactor: 2,
    rateIncreaseCriteria: { numberOfNotifiedThings: 1000 },
  },
};
const doc = JSON.stringify({
  version: "1.0",
  steps: [{ action: { name: "noop", type: "runCommand", input: { command: "true" } } }],
});
const TICK = 1000 / Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim() || 100);

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK;
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const proc = Bun.spawn(
  [
    process.execPath,
    join(root, "src/service/main.ts"),
    "serve",
    "--mqtt-port",
    "0",
    "--http-port",
    "0",
    "--log-level",
    "ERROR",
    "--minute-ms",
    String(minuteMs),
  ],
  { stdout: "pipe", stderr: "inherit" },
);
const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
let text = "";
while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
reader.releaseLock();
const { http } = JSON.parse(text.split("\n")[0]!) as { http: string };
const iot = new IoTClient({
  endpoint: http,
  region: "us-east-1",
  credentials: { accessKeyId: "x", secretAccessKey: "x" },
  maxAttempts: 1,
});

const names = Array.from({ length: n }, (_, i) => `rr-${String(i).padStart(5, "0")}`);
await pool(names, 64, async (thingName) => {
  const r = await fetch(`${http}/things/${thingName}`, {
    method: "POST",
    body: JSON.stringify({ attributePayload: { attributes: { fleet: "bench" } } }),
  });
  if (!r.ok) throw new Error(await r.text());
});
await iot.send(new CreateDynamicThingGroupCommand({ thingGroupName: "bench", queryString: "attributes.fleet:bench" }));
const target = ["arn:aws:iot:us-east-1:123456789012:thinggroup/bench"];

async function reached(jobId: string): Promise<number> {
  const d = (await iot.send(new DescribeJobCommand({ jobId }))).job!.jobProcessDetails!;
  return (d.numberOfQueuedThings ?? 0) + (d.numberOfInProgressThings ?? 0) + (d.numberOfSucceededThings ?? 0);
}

// Idle: the sampling alone, for 4 minutes' time.
let c0 = cpuMs(proc.pid);
const idleUntil = performance.now() + 4 * minuteMs;
while (performance.now() < idleUntil) {
  await iot.send(new DescribeJobCommand({ jobId: "none" })).catch(() => {});
  await Bun.sleep(minuteMs / 4);
}
const idleCpuPerSecond = (cpuMs(proc.pid) - c0) / ((4 * minuteMs) / 1000);

// Warm-up (not measured): the same job once, so both measured runs meet a warmed-up service.
await iot.send(new CreateJobCommand({ jobId: "warm-up", targets: target, document: doc }));
while ((await reached("warm-up")) < n) await Bun.sleep(10);

// With the roll-out config: sample in the middle of each minute.
c0 = cpuMs(proc.pid);
let t0 = performance.now();
await iot.send(
  new CreateJobCommand({ jobId: "exp", targets: target, document: doc, jobExecutionsRolloutConfig: rollout }),
);
const observed: number[] = [];
let total = 0;
for (let minute = 0; total < n && minute < 60; minute++) {
  const mid = t0 + (minute + 0.5) * minuteMs;
  await Bun.sleep(Math.max(0, mid - performance.now()));
  const now = await reached("exp");
  observed.push(now - total);
  total = now;
}
const rolloutMs = performance.now() - t0;
const rolloutCpu = cpuMs(proc.pid) - c0;

// The configured schedule: each minute's rate from the things notified when it begins.
const expected: number[] = [];
for (let notified = 0; notified < n; ) {
  const k = Math.min(n - notified, ratePerMinute(rollout, { notified, succeeded: 0 }));
  expected.push(k);
  notified += k;
}

// Without: the same job, everything at once.
c0 = cpuMs(proc.pid);
t0 = performance.now();
await iot.send(new CreateJobCommand({ jobId: "all", targets: target, document: doc }));
while ((await reached("all")) < n) await Bun.sleep(10);
const plainMs = performance.now() - t0;
const plainCpu = cpuMs(proc.pid) - c0;

proc.kill("SIGTERM");
await proc.exited;

console.log(`${n} things, minute = ${minuteMs} ms, exponentialRate base 1000/min × 2 every 1000 notified`);
console.log("| minute | configured | observed |");
console.log("|---:|---:|---:|");
for (let i = 0; i < Math.max(expected.length, observed.length); i++)
  console.log(`| ${i} | ${expected[i] ?? 0} | ${observed[i] ?? 0} |`);
console.log("");
console.log("| run | wall | service CPU | CPU minus idle sampling |");
console.log("|---|---:|---:|---:|");
console.log(
  `| with roll-out config | ${rolloutMs.toFixed(0)} ms | ${rolloutCpu.toFixed(0)} ms | ${(rolloutCpu - (idleCpuPerSecond * rolloutMs) / 1000).toFixed(0)} ms |`,
);
console.log(
  `| without (all at once) | ${plainMs.toFixed(0)} ms | ${plainCpu.toFixed(0)} ms | ${(plainCpu - (idleCpuPerSecond * plainMs) / 1000).toFixed(0)} ms |`,
);
console.log(`idle sampling: ${idleCpuPerSecond.toFixed(1)} ms CPU per second`);
