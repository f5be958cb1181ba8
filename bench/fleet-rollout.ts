/**
 * Fleet roll-out through the local service (bun bench/fleet-rollout.ts [N...], default 1000 5000 10000).
 *
 * For each N: a fresh `iot-jobs-local serve` process (embedded broker, in-memory store), N things
 * with attribute fleet=bench, a dynamic group selecting them, and N light MQTT clients in this
 * process (our own client) that answer like an agent: notify-next → start-next → update SUCCEEDED.
 * Then one CreateJob targeting the group; measured: time until every execution is terminal, and
 * the service's peak RSS. Baseline in the same run, same clients and service: one shadow `get`
 * round trip per thing (a service request/reply with no Jobs work), fired the same way.
 */
import { CreateDynamicThingGroupCommand, CreateJobCommand, DescribeJobCommand, IoTClient } from "@aws-sdk/client-iot";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MqttClient } from "../src/mqtt/client.ts";

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const root = join(import.meta.dir, "..");

function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
  } catch {
    return 0;
  }
}

async function startService(): Promise<{ mqtt: string; http: string; proc: ReturnType<typeof Bun.spawn> }> {
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
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  reader.releaseLock();
  return { ...JSON.parse(text.split("\n")[0]!), proc };
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The service's CPU time (user + system) so far, in seconds (/proc/PID/stat, 100 ticks a second). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

export interface RolloutResult {
  n: number;
  setupMs: number;
  baselineMs: number;
  rolloutMs: number;
  peakMb: number;
  idleMb: number;
  /** Service CPU seconds from CreateJob until every execution was terminal (+ settleMs). */
  rolloutCpuS: number;
  /** Peak RSS during the roll-out alone. */
  rolloutPeakMb: number;
}

/**
 * `beforeJob(http)` runs once everything is connected, just before CreateJob; the CPU time is read
 * `settleMs` after the last execution ended, so work that follows a roll-out is counted too;
 * then `afterRollout()` runs, the service still up (bench/console-rollout.ts).
 */
export async function run(
  n: number,
  beforeJob?: (http: string) => Promise<void>,
  settleMs = 0,
  afterRollout?: () => Promise<void>,
): Promise<RolloutResult> {
  const svc = await startService();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(svc.proc.pid))), 50);
  const iot = new IoTClient({
    endpoint: svc.http,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
    maxAttempts: 1,
  });
  const port = Number(svc.mqtt.split(":").at(-1));
  const t0 = performance.now();
  const names = Array.from({ length: n }, (_, i) => `bench-${String(i).padStart(5, "0")}`);
  await pool(names, 64, async (thingName) => {
    const r = await fetch(`${svc.http}/things/${thingName}`, {
      method: "POST",
      body: JSON.stringify({ attributePayload: { attributes: { fleet: "bench" } } }),
    });
    if (!r.ok) throw new Error(await r.text());
  });
  await iot.send(
    new CreateDynamicThingGroupCommand({ thingGroupName: "bench", queryString: "attributes.fleet:bench" }),
  );

  let succeeded = 0;
  let shadowReplies = 0;
  let onAllDone: () => void = () => {};
  const clients: MqttClient[] = [];
  await pool(names, 200, async (thing) => {
    const prefix = `$aws/things/${thing}`;
    let client!: MqttClient;
    const connected = new Promise<void>((resolve) => {
      client = new MqttClient(
        {
          host: "127.0.0.1",
          port,
          clientId: thing,
          cleanSession: true,
          keepaliveSeconds: 600,
          connectTimeoutMs: 60_000,
          reconnectDelayMs: () => 500,
        },
        {
          connect: () => resolve(),
          message: (topic, payload) => {
            if (topic.endsWith("/shadow/get/rejected")) {
              if (++shadowReplies === n) onAllDone();
              return;
            }
            const body = JSON.parse(new TextDecoder().decode(payload));
            if (topic === `${prefix}/jobs/notify-next` && body.execution)
              void client.publish(`${prefix}/jobs/start-next`, "{}");
            else if (topic === `${prefix}/jobs/start-next/accepted` && body.execution)
              void client.publish(
                `${prefix}/jobs/${body.execution.jobId}/update`,
                JSON.stringify({ status: "SUCCEEDED", statusDetails: { reason: "bench" } }),
              );
            else if (topic.endsWith("/update/accepted") && ++succeeded === n) onAllDone();
          },
        },
      );
    });
    clients.push(client);
    await connected;
    await client.subscribe([`${prefix}/jobs/notify-next`, `${prefix}/shadow/get/rejected`]);
  });
  const setupMs = performance.now() - t0;
  const idleMb = rssMb(svc.proc.pid);

  // Baseline: one service round trip per thing, no Jobs work.
  let done = new Promise<void>((resolve) => (onAllDone = resolve));
  let t = performance.now();
  for (const [i, c] of clients.entries()) void c.publish(`$aws/things/${names[i]}/shadow/get`, "{}", 0);
  await done;
  const baselineMs = performance.now() - t;

  await beforeJob?.(svc.http);
  done = new Promise<void>((resolve) => (onAllDone = resolve));
  const setupPeak = peak;
  peak = 0;
  const cpu0 = cpuSeconds(svc.proc.pid);
  t = performance.now();
  await iot.send(
    new CreateJobCommand({
      jobId: "rollout",
      targets: ["arn:aws:iot:us-east-1:123456789012:thinggroup/bench"],
      document: JSON.stringify({
        version: "1.0",
        steps: [{ action: { name: "noop", type: "runCommand", input: { command: "true" } } }],
      }),
    }),
  );
  await done;
  const rolloutMs = performance.now() - t;
  if (settleMs) await Bun.sleep(settleMs);
  const rolloutCpuS = cpuSeconds(svc.proc.pid) - cpu0;
  await afterRollout?.(); // while the service still runs
  const rolloutPeakMb = peak;
  peak = Math.max(peak, setupPeak);
  const job = (await iot.send(new DescribeJobCommand({ jobId: "rollout" }))).job!;
  if (job.status !== "COMPLETED" || job.jobProcessDetails?.numberOfSucceededThings !== n)
    throw new Error(`job ended ${job.status} with ${job.jobProcessDetails?.numberOfSucceededThings}/${n}`);

  clearInterval(sampler);
  for (const c of clients) c.close(false);
  svc.proc.kill("SIGKILL");
  await svc.proc.exited;
  return { n, setupMs, baselineMs, rolloutMs, peakMb: peak, idleMb, rolloutCpuS, rolloutPeakMb };
}

if (import.meta.main) {
  console.log("fleet roll-out: one job, a dynamic group of N things, N simulated agents in one process");
  console.log(
    "| things | setup (things + connections) | baseline: N shadow round trips | roll-out to all terminal | ratio | service RSS connected | service peak RSS |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|");
  for (const n of sizes.length ? sizes : [1000, 5000, 10000]) {
    const r = await run(n);
    console.log(
      `| ${r.n} | ${(r.setupMs / 1000).toFixed(1)} s | ${(r.baselineMs / 1000).toFixed(2)} s | **${(r.rolloutMs / 1000).toFixed(2)} s** | ${(r.rolloutMs / r.baselineMs).toFixed(1)} | ${r.idleMb.toFixed(0)} MB | ${r.peakMb.toFixed(0)} MB |`,
    );
  }
}
