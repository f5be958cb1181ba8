import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./temp.ts";

/** dist/iot-jobs-agent-<suffix>, built now if it is not there yet (or is older than the sources). */
export function compiledAgent(suffix: string): string {
  const file = join(REPO_ROOT, "dist", `iot-jobs-agent-${suffix}`);
  const stale = !existsSync(file) || newestSourceMtime() > Bun.file(file).lastModified;
  if (stale) {
    const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "scripts/cross-compile/build.ts"), suffix], {
      cwd: REPO_ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (r.exitCode !== 0) throw new Error(`building ${suffix} failed:\n${r.stderr.toString()}`);
  }
  return file;
}

/** dist/iot-jobs-local-linux-x64, built now if missing or stale. */
export function compiledService(): string {
  const file = join(REPO_ROOT, "dist", "iot-jobs-local-linux-x64");
  const stale = !existsSync(file) || newestSourceMtime() > Bun.file(file).lastModified;
  if (stale) {
    const r = Bun.spawnSync(
      [process.execPath, join(REPO_ROOT, "scripts/cross-compile/build.ts"), "--service", "linux-x64"],
      { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" },
    );
    if (r.exitCode !== 0) throw new Error(`building iot-jobs-local failed:\n${r.stderr.toString()}`);
  }
  return file;
}

/** A running `iot-jobs-local serve` process and the addresses it printed. */
export async function spawnService(
  command: string[],
  extraArgs: string[] = [],
): Promise<{
  mqtt: string;
  http: string;
  mqtts?: string;
  rootCa?: string;
  proc: ReturnType<typeof Bun.spawn>;
  stop: () => Promise<void>;
}> {
  const proc = Bun.spawn([...command, "serve", "--mqtt-port", "0", "--http-port", "0", ...extraArgs], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (!text.includes("\n")) {
    if (Date.now() > deadline) throw new Error("iot-jobs-local did not print its addresses");
    const { done, value } = await reader.read();
    if (done) throw new Error(`iot-jobs-local exited: ${await new Response(proc.stderr as ReadableStream).text()}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const ready = JSON.parse(text.split("\n")[0]!) as { mqtt: string; http: string; mqtts?: string; rootCa?: string };
  const { mqtt, http, mqtts, rootCa } = ready;
  return {
    mqtt,
    http,
    ...(mqtts ? { mqtts, rootCa } : {}),
    proc,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

function newestSourceMtime(): number {
  let newest = 0;
  for (const file of new Bun.Glob("src/**/*.{ts,js,css,html}").scanSync({ cwd: REPO_ROOT }))
    newest = Math.max(newest, Bun.file(join(REPO_ROOT, file)).lastModified);
  return newest;
}

/** The qemu-user command prefix that runs an arm64 glibc executable here, if installed. */
export function qemuArm64(): string[] | undefined {
  const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
  if (!qemu || !existsSync("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1")) return undefined;
  return [qemu, "-L", "/usr/aarch64-linux-gnu"];
}
