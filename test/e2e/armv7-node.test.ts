/**
 * The Node build (dist/iot-jobs-agent-node.mjs) on 32-bit ARM: the armv7l Node from the npm
 * registry under qemu-arm-static as a Cortex-A7 (QEMU_CPU=cortex-a7: the Pi 2, i.MX6UL, STM32MP1;
 * the A8/A9 boards share its ARMv7-A instruction set), one real job end to end against Mosquitto
 * on this host. Also the ARMv6 limit docs/INSTALL.md states: that Node dies with SIGILL on the
 * ARM1176 of the Pi Zero/1. Timings under qemu are for reference only (docs/BENCHMARKS.md).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { runOneJob } from "../helpers/one-job.ts";
import { armv7Missing, armv7Node, armv7NodeCommand } from "../helpers/armv7.ts";
import { nodeBuild } from "../helpers/runtimes.ts";
import { tempDir } from "../helpers/temp.ts";

const missing = armv7Missing();
if (missing) {
  if (process.env.CI) throw new Error(`the armv7 test cannot run in CI: ${missing}`);
  console.warn(`SKIPPED: the armv7 Node build test: ${missing}`);
}

let broker: Mosquitto;
let peer: JobsPeer;
beforeAll(async () => {
  if (missing) return;
  armv7Node(); // fetched once, outside the tests' timeouts
  broker = await Mosquitto.start();
  peer = await JobsPeer.start(broker.url);
}, 300_000);
afterAll(async () => {
  await peer?.stop();
  await broker?.stop();
});

describe.skipIf(!!missing)("the Node build on 32-bit ARM under qemu-user", () => {
  test("the armv7l Node reports arm and runs the build's --version as a Cortex-A7", () => {
    const { command, env } = armv7NodeCommand("cortex-a7");
    const r = Bun.spawnSync([...command, nodeBuild(), "--version"], { env, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString()).toMatch(/^iot-jobs-agent \S+ \(\S+\) linux-arm \(node v20\.\d+\.\d+\)\n$/);
  }, 120_000);

  test("cortex-a7: one job end to end against Mosquitto on the host", async () => {
    const { command, env } = armv7NodeCommand("cortex-a7");
    const started = performance.now();
    await runOneJob(broker.url, peer, [...command, nodeBuild()], "armv7-cortex-a7", env);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`armv7 (qemu cortex-a7): start to SUCCEEDED and SIGTERM in ${seconds} s`);
  }, 240_000);

  test("cortex-a7: the platform contract and the Node pipe reader's own cases pass on the armv7l Node", async () => {
    const dir = tempDir("armv7-contract-");
    const built = await Bun.build({
      entrypoints: [join(import.meta.dir, "..", "platform", "node-runner.ts")],
      target: "node",
      format: "esm",
      outdir: dir,
      naming: "[name].mjs", // no package.json says "module" here
    });
    expect(built.success).toBe(true);
    const { command, env } = armv7NodeCommand("cortex-a7");
    const r = Bun.spawnSync([...command, built.outputs[0]!.path], { env, stdout: "pipe", stderr: "pipe" });
    const results = r.stdout
      .toString()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { name: string; ok?: boolean; skip?: string; error?: string });
    expect(results.length, r.stderr.toString()).toBeGreaterThan(0);
    expect(results.filter((x) => !x.ok && !x.skip)).toEqual([]);
    // The reused-buffer reader, not its stream fallback, on the Node 32-bit ARM users run.
    const handlePath = results.find((x) => x.name.startsWith("node: a child's pipes are read through their handles"));
    expect(handlePath?.ok).toBe(true);
  }, 240_000);

  test("the control: the same Node is an illegal instruction on the ARMv6 ARM1176 (Pi Zero/1)", () => {
    const { command, env } = armv7NodeCommand("arm1176");
    const r = Bun.spawnSync([...command, "-e", "0"], { env, stdout: "pipe", stderr: "pipe" });
    expect(r.signalCode ?? r.exitCode).toBeOneOf(["SIGILL", 132]);
  }, 60_000);
});
