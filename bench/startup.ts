/**
 * Start-up to subscribed (bun bench/startup.ts [runs]): from spawning the compiled agent to its
 * first start-next reaching a subscriber on loopback Mosquitto — it publishes that right after its
 * subscriptions are acknowledged. Goal on x64: ≤ 100 ms. Baseline, same run: a compiled bare
 * program that connects with Bun.connect and publishes one MQTT message the same way.
 * Also the arm64 executable under qemu-user, for reference only (emulation is slow).
 * And the size of each executable against the bare runtime of its target.
 * `--agent-before BIN` also runs an earlier build, alternating with this one (a regression check);
 * `--no-sizes` skips the sizes (which rebuild every target).
 */
import mqtt from "mqtt";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TARGETS } from "../scripts/cross-compile/targets.ts";
import { compiledAgent, qemuArm64 } from "../test/helpers/executables.ts";
import { Mosquitto } from "../test/helpers/mosquitto.ts";

const runs = Number(process.argv[2] ?? 20);
const beforeAt = process.argv.indexOf("--agent-before");
const before = beforeAt === -1 ? undefined : process.argv[beforeAt + 1];
const root = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "startup-"));
const handlers = join(work, "handlers");
mkdirSync(handlers, { mode: 0o700 });
const broker = await Mosquitto.start();
const peer = await mqtt.connectAsync(broker.url, { clientId: "startup-peer" });
await peer.subscribeAsync("$aws/things/+/jobs/start-next", { qos: 0 });
const arrivals = new Map<string, number>();
peer.on("message", (topic) => arrivals.set(topic.split("/")[2]!, performance.now()));

// Baseline: the smallest compiled program that does the same network work.
const port = broker.port;
const bareSrc = join(work, "bare.ts");
writeFileSync(
  bareSrc,
  `const id = process.argv[2]; const t = "$aws/things/" + id + "/jobs/start-next";
const enc = new TextEncoder(); const str = (s) => { const b = enc.encode(s); return [b.length >> 8, b.length & 255, ...b]; };
const body = [...str("MQTT"), 4, 2, 0, 60, ...str(id)]; const pub = [...str(t), ...enc.encode("{}")];
const s = await Bun.connect({ hostname: "127.0.0.1", port: ${port}, socket: { data(sock) { sock.write(new Uint8Array([0x30, pub.length, ...pub])); setTimeout(() => process.exit(0), 50); } } });
s.write(new Uint8Array([0x10, body.length, ...body]));`,
);
const bare = join(work, "bare");
const built = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", bareSrc, "--outfile", bare]);
if (built.exitCode !== 0) throw new Error(built.stderr.toString());

async function once(argv: string[], id: string, timeoutMs: number): Promise<number> {
  arrivals.delete(id);
  const t0 = performance.now();
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore", cwd: work });
  const until = t0 + timeoutMs;
  while (!arrivals.has(id)) {
    if (performance.now() > until) throw new Error(`${argv[0]}: no start-next within ${timeoutMs} ms`);
    await Bun.sleep(1);
  }
  p.kill("SIGKILL");
  await p.exited;
  return arrivals.get(id)! - t0;
}

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
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const x64 = compiledAgent("linux-x64");
const base: number[] = [];
const ours: number[] = [];
const earlier: number[] = [];
for (let i = 0; i < runs; i++) {
  base.push(await once([bare, `bare-${i}`], `bare-${i}`, 5000));
  // Alternating (which goes first alternates too), so load drifts land on both alike.
  const runOurs = async () => ours.push(await once([x64, ...agentArgs(`agent-${i}`)], `agent-${i}`, 5000));
  const runEarlier = async () =>
    before && earlier.push(await once([before, ...agentArgs(`before-${i}`)], `before-${i}`, 5000));
  if (i % 2 === 0) {
    await runOurs();
    await runEarlier();
  } else {
    await runEarlier();
    await runOurs();
  }
}
console.log(`start-up to subscribed (spawn → first start-next at a subscriber), ${runs} runs, medians`);
console.log(`| executable | median | max |`);
console.log(`|---|---:|---:|`);
console.log(
  `| baseline: compiled bare Bun.connect + one publish | ${median(base).toFixed(1)} ms | ${Math.max(...base).toFixed(1)} ms |`,
);
console.log(`| iot-jobs-agent linux-x64 | **${median(ours).toFixed(1)} ms** | ${Math.max(...ours).toFixed(1)} ms |`);
if (before)
  console.log(
    `| the earlier build (${before}) | ${median(earlier).toFixed(1)} ms | ${Math.max(...earlier).toFixed(1)} ms |`,
  );
const qemu = qemuArm64();
if (qemu) {
  const arm: number[] = [];
  for (let i = 0; i < 3; i++)
    arm.push(await once([...qemu, compiledAgent("linux-arm64"), ...agentArgs(`arm-${i}`)], `arm-${i}`, 30_000));
  console.log(
    `| iot-jobs-agent linux-arm64 under qemu-user (reference only) | ${median(arm).toFixed(0)} ms | ${Math.max(...arm).toFixed(0)} ms |`,
  );
}
await peer.endAsync(true);
await broker.stop();

if (process.argv.includes("--no-sizes")) {
  rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
console.log("\nexecutable sizes (the build's size check: our code ≤ 2 MiB over the bare runtime)");
const build = Bun.spawnSync(
  [process.execPath, join(root, "scripts/cross-compile/build.ts"), ...TARGETS.map((t) => t.suffix)],
  { cwd: root, stdout: "pipe", stderr: "pipe" },
);
console.log("| target | executable | our code over the bare runtime |");
console.log("|---|---:|---:|");
for (const line of build.stdout.toString().split("\n")) {
  const m = /iot-jobs-agent-(\S+)\s+([\d.]+) MiB.*our code: \+([\d.]+) MiB/.exec(line);
  if (m) console.log(`| ${m[1]} | ${m[2]} MiB | ${m[3]} MiB |`);
}
rmSync(work, { recursive: true, force: true });
