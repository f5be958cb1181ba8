/**
 * The arm64 (glibc) executable on the Raspberry Pi CPUs, under qemu-user with `-cpu`: Cortex-A53
 * (Pi 3, Zero 2 W: ARMv8.0, no LSE atomics), Cortex-A72 (Pi 4) and Cortex-A76 (Pi 5).
 * Each runs one job end to end against Mosquitto on this host: an instruction the CPU lacks
 * would kill the agent with SIGILL before the job could succeed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledAgent, qemuArm64 } from "../helpers/executables.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { runOneJob } from "../helpers/one-job.ts";
import { tempDir } from "../helpers/temp.ts";

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
  for (const cpu of ["cortex-a53", "cortex-a72", "cortex-a76"]) {
    test(`${cpu}: one job end to end against Mosquitto`, async () => {
      const [program, ...rest] = qemu!;
      await runOneJob(broker.url, peer, [program!, "-cpu", cpu, ...rest, compiledAgent("linux-arm64")], `pi-${cpu}`);
    }, 240_000);
  }

  // The control: qemu really holds each model to its instruction set. An ARMv8.1 atomic (LSE
  // `ldadd`) is an illegal instruction on the A53 and A72 and runs on the A76.
  const cross = Bun.which("aarch64-linux-gnu-gcc");
  test.skipIf(!cross)("an ARMv8.1 atomic is SIGILL on cortex-a53 and -a72, and runs on cortex-a76", () => {
    const dir = tempDir("lse-");
    writeFileSync(
      join(dir, "lse.c"),
      'int main(void) { long v = 1, add = 2, old; __asm__ volatile("ldadd %2, %0, [%1]" : "=r"(old) : "r"(&v), "r"(add) : "memory"); return (int)old - 1; }\n',
    );
    execFileSync(cross!, ["-march=armv8.1-a", "-static", "-o", "lse", "lse.c"], { cwd: dir });
    const run = (cpu: string) =>
      Bun.spawnSync([qemu![0]!, "-cpu", cpu, join(dir, "lse")], { stderr: "pipe" }).signalCode;
    expect(run("cortex-a53")).toBe("SIGILL");
    expect(run("cortex-a72")).toBe("SIGILL");
    expect(run("cortex-a76")).toBeFalsy();
  });

  test("qemu refuses a CPU it does not know (so -cpu is really applied)", () => {
    const [program, ...rest] = qemu!;
    const r = Bun.spawnSync([program!, "-cpu", "no-such-cpu", ...rest, compiledAgent("linux-arm64"), "--version"], {
      stderr: "pipe",
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.toString()).toMatch(/cpu|CPU/);
  }, 240_000);
});
