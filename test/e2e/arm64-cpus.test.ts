/**
 * The arm64 (glibc) executable on the Raspberry Pi CPUs, under qemu-user with `-cpu`: Cortex-A53
 * (Pi 3, Zero 2 W: ARMv8.0, no LSE atomics, no crypto extensions assumed) and Cortex-A72 (Pi 4).
 * Each runs one job end to end against Mosquitto on this host: an instruction the CPU lacks
 * would kill the agent with SIGILL before the job could succeed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { compiledAgent, qemuArm64 } from "../helpers/executables.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { runOneJob } from "../helpers/one-job.ts";

const qemu = qemuArm64();
if (!qemu)
  console.warn(
    "SKIPPED: the Pi CPU tests need qemu-user-static and libc6-arm64-cross (apt-get install -y qemu-user-static libc6-arm64-cross)",
  );

let broker: Mosquitto;
let peer: JobsPeer;
beforeAll(async () => {
  if (!qemu) return;
  broker = await Mosquitto.start();
  peer = await JobsPeer.start(broker.url);
});
afterAll(async () => {
  await peer?.stop();
  await broker?.stop();
});

describe.skipIf(!qemu)("arm64 (glibc) on Raspberry Pi CPUs under qemu-user", () => {
  for (const cpu of ["cortex-a53", "cortex-a72"]) {
    test(`${cpu}: one job end to end against Mosquitto`, async () => {
      const [program, ...rest] = qemu!;
      await runOneJob(broker.url, peer, [program!, "-cpu", cpu, ...rest, compiledAgent("linux-arm64")], `pi-${cpu}`);
    }, 240_000);
  }

  test("qemu refuses a CPU it does not know (so -cpu is really applied)", () => {
    const [program, ...rest] = qemu!;
    const r = Bun.spawnSync([program!, "-cpu", "no-such-cpu", ...rest, compiledAgent("linux-arm64"), "--version"], {
      stderr: "pipe",
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/cpu|CPU/);
  }, 240_000);
});
