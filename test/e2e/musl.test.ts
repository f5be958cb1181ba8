/**
 * The musl executables end to end: x64-musl natively through Debian's musl loader, arm64-musl under
 * qemu-user (Cortex-A53) through Debian's arm64 musl loader, each running one job against
 * Mosquitto. Bun's musl runtime needs libstdc++.so.6 and libgcc_s.so.1; test/helpers/musl.ts says
 * where they come from here (Debian's, with a shim for the glibc-only symbols).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledAgent } from "../helpers/executables.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { muslLibraryDir, muslMissing } from "../helpers/musl.ts";
import { runOneJob } from "../helpers/one-job.ts";
import { tempDir } from "../helpers/temp.ts";

const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
const x64Missing = muslMissing("x64");
const arm64Missing = muslMissing("arm64") ?? (qemu ? undefined : "needs qemu-user-static");
if (x64Missing) console.warn(`SKIPPED: x64-musl end to end ${x64Missing}`);
if (arm64Missing) console.warn(`SKIPPED: arm64-musl end to end ${arm64Missing}`);

let broker: Mosquitto;
let peer: JobsPeer;
beforeAll(async () => {
  broker = await Mosquitto.start();
  peer = await JobsPeer.start(broker.url);
});
afterAll(async () => {
  await peer.stop();
  await broker.stop();
});

/** Really musl: the agent's own mappings (a step reads its parent's) hold musl's libc, not glibc's. */
function expectMuslLoaded(command: readonly string[], env: Record<string, string | undefined>): void {
  const doc = join(tempDir("musl-job-"), "maps.json");
  const step = {
    name: "maps",
    type: "runCommand",
    input: { command: "sh,-c,grep -o '[^ ]*libc[.a-z0-9-]*' /proc/$PPID/maps | sort -u" },
  };
  writeFileSync(doc, JSON.stringify({ version: "1.0", includeStdOut: true, steps: [{ action: step }] }));
  const r = Bun.spawnSync([...command, "exec", doc], { env, stdout: "pipe", stderr: "pipe" });
  const libs = (JSON.parse(r.stdout.toString()) as { statusDetails: { stdout: string } }).statusDetails.stdout;
  expect(libs).toMatch(/-linux-musl\/libc\.so/);
  expect(libs).not.toContain("libc.so.6");
}

describe("musl executables", () => {
  test("both link libstdc++ and the musl libc dynamically (what a device image must provide)", () => {
    for (const suffix of ["linux-x64-musl", "linux-arm64-musl"]) {
      const dynamic = Bun.spawnSync(["readelf", "-d", compiledAgent(suffix)]).stdout.toString();
      const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
      expect(needed).toContain("libstdc++.so.6");
      expect(needed.some((n) => n!.startsWith("libc.musl-"))).toBe(true);
    }
  }, 240_000);

  test.skipIf(!!x64Missing)(
    "x64-musl: --version, then one job end to end against Mosquitto",
    async () => {
      const env = { ...process.env, LD_LIBRARY_PATH: muslLibraryDir("x64") };
      const exe = compiledAgent("linux-x64-musl");
      const version = Bun.spawnSync([exe, "--version"], { env });
      expect(version.stdout.toString()).toContain("linux-x64-musl (musl)");
      expectMuslLoaded([exe], env);
      await runOneJob(broker.url, peer, [exe], "musl-x64", env);
    },
    240_000,
  );

  test.skipIf(!!arm64Missing)(
    "arm64-musl under qemu (cortex-a53): one job end to end against Mosquitto",
    async () => {
      // -E sets the variable for the arm64 agent only; its (x86) steps ignore arm64 libraries anyway.
      const command = [
        qemu!,
        "-cpu",
        "cortex-a53",
        "-E",
        `LD_LIBRARY_PATH=${muslLibraryDir("arm64")}`,
        compiledAgent("linux-arm64-musl"),
      ];
      const version = Bun.spawnSync([...command, "--version"]);
      expect(version.stdout.toString()).toContain("linux-arm64-musl (musl)");
      expectMuslLoaded(command, process.env);
      await runOneJob(broker.url, peer, command, "musl-arm64");
    },
    240_000,
  );
});
