/**
 * The Node build next to the Bun executable, same run, x64 (bun bench/node-build.ts [runs]):
 * idle RSS connected and subscribed to loopback Mosquitto (and a bare `node` holding a socket as
 * the floor), start-up from spawn to the first start-next at a subscriber, and the file sizes.
 * With qemu-arm-static and the armhf libraries (test/helpers/armv7.ts): the same on the armv7l
 * Node as a Cortex-A7, for reference only (emulation is slow, and qemu's own RSS is counted).
 */
import mqtt from "mqtt";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { armv7Missing, armv7NodeCommand } from "../test/helpers/armv7.ts";
import { compiledAgent } from "../test/helpers/executables.ts";
import { Mosquitto } from "../test/helpers/mosquitto.ts";
import { nodeBinary, nodeBuild } from "../test/helpers/runtimes.ts";

const runs = Number(process.argv[2] ?? 10);
const work = mkdtempSync(join(tmpdir(), "node-build-bench-"));
const handlers = join(work, "handlers");
mkdirSync(handlers, { mode: 0o700 });
const broker = await Mosquitto.start();
const peer = await mqtt.connectAsync(broker.url, { clientId: "bench-peer" });
await peer.subscribeAsync("$aws/things/+/jobs/start-next", { qos: 0 });
const arrivals = new Map<string, number>();
peer.on("message", (topic) => arrivals.set(topic.split("/")[2]!, performance.now()));

const node = nodeBinary();
if (!node) throw new Error("no node (set IOT_JOBS_TEST_NODE)");
const bunExe = compiledAgent("linux-x64");
const nodeMjs = nodeBuild();
const agentArgs = (id: string) => [
  "--endpoint",
  broker.url,
  "--thing-name",
  id,
  "--jobs-handler-dir",
  handlers,
  "--state-dir",
  join(work, `state-${id}`),
  "--log-level",
  "ERROR",
];
const bareNode = join(work, "bare-node.mjs");
writeFileSync(
  bareNode,
  `import { connect } from "node:net"; const s = connect(${broker.port}, "127.0.0.1");\n` +
    's.on("data", () => {}); setInterval(() => {}, 1e9);\n',
);

function rss(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(s)![1]) / 1024;
}

async function startup(
  argv: string[],
  id: string,
  timeoutMs: number,
  env?: Record<string, string | undefined>,
): Promise<{ ms: number; rss: number }> {
  arrivals.delete(id);
  const t0 = performance.now();
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore", cwd: work, env });
  while (!arrivals.has(id)) {
    if (performance.now() > t0 + timeoutMs) throw new Error(`${argv.join(" ")}: no start-next within ${timeoutMs} ms`);
    await Bun.sleep(1);
  }
  const ms = arrivals.get(id)! - t0;
  await Bun.sleep(3000); // settle: idle, connected, subscribed
  const r = rss(p.pid);
  p.kill("SIGKILL");
  await p.exited;
  return { ms, rss: r };
}

async function idleOnly(argv: string[]): Promise<number> {
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore", cwd: work });
  await Bun.sleep(2500);
  const r = rss(p.pid);
  p.kill("SIGKILL");
  await p.exited;
  return r;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: { name: string; ms: number[]; rss: number[] }[] = [
  { name: "iot-jobs-agent-linux-x64 (Bun executable)", ms: [], rss: [] },
  {
    name: `iot-jobs-agent-node.mjs (node ${Bun.spawnSync([node, "--version"]).stdout.toString().trim()})`,
    ms: [],
    rss: [],
  },
];
for (let i = 0; i < runs; i++) {
  for (const [k, argv] of [
    [0, [bunExe]],
    [1, [node, nodeMjs]],
  ] as const) {
    const r = await startup([...argv, ...agentArgs(`r${k}-${i}`)], `r${k}-${i}`, 10_000);
    rows[k]!.ms.push(r.ms);
    rows[k]!.rss.push(r.rss);
  }
}
const bareRss = await idleOnly([node, bareNode]);
console.log(`x64, ${runs} runs each, alternating; medians (RSS after 3 s idle, connected and subscribed)`);
console.log("| build | file | start-up to subscribed | max | idle RSS |");
console.log("|---|---:|---:|---:|---:|");
console.log(`| floor: bare node holding a node:net socket | | | | ${bareRss.toFixed(1)} MB |`);
const size = (f: string) => statSync(f).size;
for (const [row, file] of [
  [rows[0]!, bunExe],
  [rows[1]!, nodeMjs],
] as const) {
  const s = size(file);
  const text = s > 1048576 ? `${(s / 1048576).toFixed(1)} MiB` : `${(s / 1024).toFixed(0)} KiB`;
  const [ms, max, rss] = [median(row.ms).toFixed(1), Math.max(...row.ms).toFixed(1), median(row.rss).toFixed(1)];
  console.log(`| ${row.name} | ${text} | **${ms} ms** | ${max} ms | **${rss} MB** |`);
}
if (!armv7Missing()) {
  const { command, env } = armv7NodeCommand("cortex-a7");
  const arm: { ms: number; rss: number }[] = [];
  for (let i = 0; i < 3; i++)
    arm.push(await startup([...command, nodeMjs, ...agentArgs(`arm-${i}`)], `arm-${i}`, 60_000, env));
  const ms = arm.map((a) => a.ms);
  const rss = median(arm.map((a) => a.rss)).toFixed(1);
  const name = "same .mjs, armv7l node under qemu-arm-static, QEMU_CPU=cortex-a7 (reference only)";
  console.log(
    `| ${name} | | ${median(ms).toFixed(0)} ms | ${Math.max(...ms).toFixed(0)} ms | (${rss} MB, qemu included) |`,
  );
}
await peer.endAsync(true);
await broker.stop();
