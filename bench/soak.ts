/**
 * RSS of the compiled x64 agent over 10,000 jobs (`bun bench/soak.ts [jobs]`): Mosquitto, the Jobs
 * peer of the tests, one job after another (two runCommand steps, includeStdOut, every other one with
 * reportProgress). VmRSS and RssAnon are sampled after job 100 and every 1,000; the goal is RSS after
 * 10,000 within 2 MB of RSS after 1,000. Builds dist/iot-jobs-agent-linux-x64 first.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentProcess } from "../test/helpers/agent-process.ts";
import { JobsPeer } from "../test/helpers/jobs-peer.ts";
import { Mosquitto } from "../test/helpers/mosquitto.ts";

const total = Number(process.argv[2] ?? 10_000);
const batch = 100;
const root = join(import.meta.dir, "..");
const build = Bun.spawnSync([process.execPath, join(root, "scripts/cross-compile/build.ts"), "linux-x64"], {
  cwd: root,
});
if (build.exitCode !== 0) throw new Error(build.stderr.toString());
const agentBin = join(root, "dist", "iot-jobs-agent-linux-x64");

const work = mkdtempSync(join(tmpdir(), "soak-"));
const handlers = join(work, "handlers");
mkdirSync(handlers, { mode: 0o700 });
chmodSync(handlers, 0o700);
const broker = await Mosquitto.start();
const peer = await JobsPeer.start(broker.url);
const thing = "soak-agent";
const agent = AgentProcess.start({
  brokerUrl: broker.url,
  thingName: thing,
  handlerDirectory: handlers,
  command: [agentBin],
  progressIntervalSeconds: 1,
  extraArgs: ["--log-level", "WARN"],
});

function memory(): { rss: number; anon: number } {
  const s = readFileSync(`/proc/${agent.pid}/status`, "utf8");
  const mb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)![1]) / 1024;
  return { rss: mb("VmRSS"), anon: mb("RssAnon") };
}

const document = (i: number) => ({
  version: "1.0",
  includeStdOut: true,
  reportProgress: i % 2 === 0,
  steps: [
    { action: { name: "first", type: "runCommand", input: { command: `sh,-c,echo job ${i}` } } },
    { action: { name: "second", type: "runCommand", input: { command: "true" } } },
  ],
});

const samples: { jobs: number; rss: number; anon: number; seconds: number }[] = [];
const started = performance.now();
try {
  for (let done = 0; done < total; ) {
    const n = Math.min(batch, total - done);
    for (let k = 1; k <= n; k++) peer.queueJob(thing, `soak-${done + k}`, document(done + k));
    await peer.waitForStatus(thing, `soak-${done + n}`, "SUCCEEDED", 120_000);
    done += n;
    // Forget what the peer recorded: its memory is not the agent's, and its scans must stay short.
    peer.executions.splice(0, peer.executions.length - 1);
    peer.updates.length = 0;
    peer.startNexts.length = 0;
    if (done === 100 || done % 1000 === 0) {
      await Bun.sleep(500);
      samples.push({ jobs: done, ...memory(), seconds: (performance.now() - started) / 1000 });
      const s = samples.at(-1)!;
      console.error(
        `${s.jobs} jobs: RSS ${s.rss.toFixed(1)} MB, anon ${s.anon.toFixed(1)} MB (${s.seconds.toFixed(0)} s)`,
      );
    }
  }
  // The floor after the work: the same agent left idle for 10 s.
  await Bun.sleep(10_000);
  samples.push({ jobs: -1, ...memory(), seconds: (performance.now() - started) / 1000 });
} finally {
  await agent.kill("SIGTERM");
  await peer.stop();
  await broker.stop();
}

console.log("| jobs done | VmRSS MB | RssAnon MB | elapsed s |");
console.log("|---:|---:|---:|---:|");
for (const s of samples)
  console.log(
    `| ${s.jobs < 0 ? "idle 10 s after the last" : s.jobs} | ${s.rss.toFixed(1)} | ${s.anon.toFixed(1)} | ${s.seconds.toFixed(0)} |`,
  );
const at1k = samples.find((s) => s.jobs === 1000);
const last = samples.filter((s) => s.jobs > 0).at(-1)!;
if (at1k && last.jobs > 1000)
  console.log(`RSS after ${last.jobs} − RSS after 1000: ${(last.rss - at1k.rss).toFixed(1)} MB (goal ≤ 2)`);
