/**
 * The compiled executables, end to end: x64 natively, arm64 (glibc) under qemu-user, each against
 * a real Mosquitto and the Jobs peer: connect, take the job, run a handler, report SUCCEEDED.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent, qemuArm64 } from "../helpers/executables.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { projectHandlerDir, REPO_ROOT, tempDir } from "../helpers/temp.ts";
import { sizeProblem, TARGETS } from "../../scripts/cross-compile/targets.ts";

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
  const agent = AgentProcess.start({
    brokerUrl: broker.url,
    thingName: thing,
    handlerDirectory: projectHandlerDir(),
    command,
  });
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
    writeFileSync(
      doc,
      JSON.stringify({
        version: "1.0",
        includeStdOut: true,
        steps: [
          { action: { name: "env", type: "runCommand", input: { command: "sh,-c,echo [$IOT_JOBS_FROM_DOTENV]" } } },
        ],
      }),
    );
    const r = Bun.spawnSync([compiledAgent("linux-x64"), "exec", doc], { cwd });
    expect(JSON.parse(r.stdout.toString()).statusDetails.stdout).toBe("[]\n");
    expect(existsSync(marker)).toBe(false);
  }, 120_000);

  test("x64: one job end to end against Mosquitto", async () => {
    await runOneJob([compiledAgent("linux-x64")], "e2e-x64");
  }, 120_000);

  const qemu = qemuArm64();
  if (!qemu)
    console.warn(
      "SKIPPED: arm64 end to end needs qemu-user-static and libc6-arm64-cross (apt-get install -y qemu-user-static libc6-arm64-cross)",
    );
  test.skipIf(!qemu)(
    "arm64 (glibc) under qemu: one job end to end against Mosquitto",
    async () => {
      await runOneJob([...qemu!, compiledAgent("linux-arm64")], "e2e-arm64");
    },
    180_000,
  );

  // Every target: the machine and the ELF interpreter the device image must provide. The musl
  // executables run end to end in musl.test.ts.
  for (const target of TARGETS) {
    test(`${target.suffix}: built for ${target.arch} with interpreter ${target.interpreter}`, () => {
      const header = new Uint8Array(readFileSync(compiledAgent(target.suffix)).subarray(0, 4096));
      expect(header[18]! | (header[19]! << 8)).toBe(target.arch === "arm64" ? 183 : 62); // e_machine: EM_AARCH64 / EM_X86_64
      expect(new TextDecoder("latin1").decode(header)).toContain(target.interpreter);
    }, 120_000);
  }

  test("an offline build from a local Bun runtime (--compile-executable-path) runs and reports its target", () => {
    // The Bun that runs this test is a linux-x64 runtime on the disk: exactly what an offline build has.
    const runtime = realpathSync(process.execPath);
    const dist = join(REPO_ROOT, "dist");
    const before = Bun.file(join(dist, "iot-jobs-agent-linux-x64")).lastModified;
    // A registry that does not answer: the build must not need it.
    const env = {
      ...process.env,
      NPM_CONFIG_REGISTRY: "http://127.0.0.1:9",
      BUN_CONFIG_REGISTRY: "http://127.0.0.1:9",
    };
    const r = Bun.spawnSync(
      [
        process.execPath,
        join(REPO_ROOT, "scripts/cross-compile/build.ts"),
        "--compile-executable-path",
        runtime,
        "linux-x64",
      ],
      { cwd: REPO_ROOT, env, stdout: "pipe", stderr: "pipe" },
    );
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    expect(Bun.file(join(dist, "iot-jobs-agent-linux-x64")).lastModified).toBeGreaterThanOrEqual(before);
    const version = Bun.spawnSync([join(dist, "iot-jobs-agent-linux-x64"), "--version"]).stdout.toString();
    expect(version).toContain("linux-x64 (glibc)");
  }, 120_000);
});

describe("the build's size check", () => {
  test("our code may add at most 2 MiB over the bare runtime of the target", () => {
    expect(sizeProblem("iot-jobs-agent", "linux-arm64", 100_000_000 + 2 * 1048576, 100_000_000)).toBeUndefined();
    expect(sizeProblem("iot-jobs-agent", "linux-arm64", 100_000_000 + 2 * 1048576 + 1, 100_000_000)).toContain(
      "over the bare Bun runtime",
    );
  });

  test("the build prints each executable's share over its bare runtime", () => {
    const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "scripts/cross-compile/build.ts"), "linux-x64"], {
      cwd: REPO_ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode, r.stderr.toString()).toBe(0);
    const share = /our code: \+([\d.]+) MiB over the bare runtime/.exec(r.stdout.toString());
    expect(share).not.toBeNull();
    expect(Number(share![1])).toBeLessThan(2);
  }, 120_000);
});
