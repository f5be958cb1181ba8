/**
 * The compiled executables, end to end: x64 natively, arm64 (glibc) under qemu-user, each against
 * a real Mosquitto and the Jobs peer: connect, take the job, run a handler, report SUCCEEDED.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent, qemuArm64 } from "../helpers/executables.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { projectHandlerDir, tempDir } from "../helpers/temp.ts";

let broker: Mosquitto;
let peer: JobsPeer;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  broker = await Mosquitto.start();
  peer = await JobsPeer.start(broker.url);
});
afterAll(async () => {
  for (const a of agents) await a.kill("SIGKILL");
  await peer.stop();
  await broker.stop();
});

async function runOneJob(command: string[], thing: string): Promise<void> {
  const agent = AgentProcess.start({ brokerUrl: broker.url, thingName: thing, handlerDirectory: projectHandlerDir(), command });
  agents.push(agent);
  peer.queueJob(thing, `e2e-${thing}`, {
    version: "1.0",
    includeStdOut: true,
    steps: [
      { action: { name: "health", type: "runHandler", input: { handler: "health-check.sh", path: "default" } } },
      { action: { name: "arch", type: "runCommand", input: { command: "sh,-c,echo arch=$(uname -m)" } } },
    ],
  });
  const done = await peer.waitForStatus(thing, `e2e-${thing}`, "SUCCEEDED", 60_000);
  expect(done.statusDetails.stdout).toMatch(/^healthy\narch=\w+\n$/);
  expect(await agent.kill("SIGTERM")).toBe(0);
}

describe("compiled executables", () => {
  test("x64: --version names version, revision and target", () => {
    const r = Bun.spawnSync([compiledAgent("linux-x64"), "--version"]);
    expect(r.stdout.toString()).toMatch(/^iot-jobs-agent \d+\.\d+\.\d+ \([0-9a-f]+\) linux-x64 \(glibc\)\n$/);
  }, 120_000);

  test("x64: a .env or bunfig.toml in the working directory is not loaded", () => {
    const cwd = tempDir();
    const marker = join(cwd, "preloaded");
    writeFileSync(join(cwd, "evil.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "x");\n`);
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
    writeFileSync(join(cwd, ".env"), "IOT_JOBS_FROM_DOTENV=loaded\n");
    const doc = join(cwd, "job.json");
    writeFileSync(doc, JSON.stringify({ version: "1.0", includeStdOut: true, steps: [{ action: { name: "env", type: "runCommand", input: { command: "sh,-c,echo [$IOT_JOBS_FROM_DOTENV]" } } }] }));
    const r = Bun.spawnSync([compiledAgent("linux-x64"), "exec", doc], { cwd });
    expect(JSON.parse(r.stdout.toString()).statusDetails.stdout).toBe("[]\n");
    expect(existsSync(marker)).toBe(false);
  }, 120_000);

  test("x64: one job end to end against Mosquitto", async () => {
    await runOneJob([compiledAgent("linux-x64")], "e2e-x64");
  }, 120_000);

  const qemu = qemuArm64();
  if (!qemu) console.warn("SKIPPED: arm64 end to end needs qemu-user-static and libc6-arm64-cross (apt-get install -y qemu-user-static libc6-arm64-cross)");
  test.skipIf(!qemu)("arm64 (glibc) under qemu: one job end to end against Mosquitto", async () => {
    await runOneJob([...qemu!, compiledAgent("linux-arm64")], "e2e-arm64");
  }, 180_000);

  test("arm64-musl: built for aarch64 with the musl interpreter (it cannot run here)", () => {
    const file = compiledAgent("linux-arm64-musl");
    const header = new Uint8Array(readFileSync(file).subarray(0, 4096));
    expect(header[18]! | (header[19]! << 8)).toBe(183); // e_machine EM_AARCH64
    const text = new TextDecoder("latin1").decode(header);
    expect(text).toContain("/lib/ld-musl-aarch64.so.1");
  }, 120_000);
});
