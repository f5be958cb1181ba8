/**
 * notify-next received → child spawned, on loopback Mosquitto (bun bench/notify-latency.ts [N]).
 * Time runs from the test peer's publish to the handler's first instruction (`date +%s%N`, so a
 * shell start is included). Baseline in the same run: a bare mqtt.js subscriber that spawns the
 * same handler when the message arrives (the broker hop plus a spawn, nothing else).
 * Goals: p50 ≤ 5 ms, p99 ≤ 15 ms.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { AgentProcess } from "../test/helpers/agent-process.ts";
import { compiledAgent } from "../test/helpers/executables.ts";
import { JobsPeer } from "../test/helpers/jobs-peer.ts";
import { Mosquitto } from "../test/helpers/mosquitto.ts";
import { tempDir, writeHandler } from "../test/helpers/temp.ts";

const n = Number(process.argv[2] ?? 100);
const epochNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const broker = await Mosquitto.start();
const peer = await JobsPeer.start(broker.url);
const dir = tempDir();
const stamp = join(dir, "stamp");
writeHandler(dir, "stamp.sh", `#!/bin/sh\ndate +%s%N > ${stamp}\n`);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const readStamp = () => BigInt(readFileSync(stamp, "utf8").trim());

// Baseline: subscribe, spawn on message.
const floor: number[] = [];
{
  const client = mqtt.connect(broker.url, { clientId: "latency-floor" });
  await new Promise<void>((r) => client.once("connect", () => client.subscribe("bench/floor", { qos: 1 }, () => r())));
  const sender = mqtt.connect(broker.url, { clientId: "latency-sender" });
  await new Promise<void>((r) => sender.once("connect", () => r()));
  for (let i = 0; i < n; i++) {
    writeFileSync(stamp, "0");
    const done = new Promise<void>((resolve) =>
      client.once("message", () => Bun.spawn([join(dir, "stamp.sh")]).exited.then(() => resolve())),
    );
    const t0 = epochNs();
    sender.publish("bench/floor", "{}", { qos: 1 });
    await done;
    floor.push(Number(readStamp() - t0) / 1e6);
  }
  client.end(true);
  sender.end(true);
}

// The agent.
const thing = "latency-thing";
const agent = AgentProcess.start({
  brokerUrl: broker.url,
  thingName: thing,
  handlerDirectory: dir,
  command: [compiledAgent("linux-x64")],
  extraArgs: ["--log-level", "ERROR"],
});
await Bun.sleep(1500);
const ours: number[] = [];
for (let i = 0; i < n; i++) {
  writeFileSync(stamp, "0");
  const id = `lat-${i}`;
  const t0 = epochNs();
  peer.queueJob(thing, id, {
    version: "1.0",
    steps: [{ action: { name: "s", type: "runHandler", input: { handler: "stamp.sh", path: "default" } } }],
  });
  await peer.waitForStatus(thing, id, "SUCCEEDED");
  ours.push(Number(readStamp() - t0) / 1e6);
}
await agent.kill("SIGTERM");
await peer.stop();
await broker.stop();

const line = (name: string, xs: number[]) =>
  console.log(`| ${name} | ${percentile(xs, 50).toFixed(2)} | ${percentile(xs, 99).toFixed(2)} |`);
console.log(`notify-next → handler running, ${n} jobs, ms`);
console.log("| path | p50 | p99 |");
console.log("|---|---:|---:|");
line("baseline: mqtt.js subscriber + Bun.spawn", floor);
line("iot-jobs-agent (compiled x64)", ours);
console.log(`p50 ratio to baseline: ${(percentile(ours, 50) / percentile(floor, 50)).toFixed(2)}`);
