import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./temp.ts";

/** dist/iot-jobs-agent-<suffix>, built now if it is not there yet (or is older than the sources). */
export function compiledAgent(suffix: string): string {
  const file = join(REPO_ROOT, "dist", `iot-jobs-agent-${suffix}`);
  const stale = !existsSync(file) || newestSourceMtime() > Bun.file(file).lastModified;
  if (stale) {
    const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "scripts/cross-compile/build.ts"), suffix], { cwd: REPO_ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`building ${suffix} failed:\n${r.stderr.toString()}`);
  }
  return file;
}

function newestSourceMtime(): number {
  let newest = 0;
  for (const file of new Bun.Glob("src/**/*.ts").scanSync({ cwd: REPO_ROOT })) newest = Math.max(newest, Bun.file(join(REPO_ROOT, file)).lastModified);
  return newest;
}

/** The qemu-user command prefix that runs an arm64 glibc executable here, if installed. */
export function qemuArm64(): string[] | undefined {
  const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
  if (!qemu || !existsSync("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1")) return undefined;
  return [qemu, "-L", "/usr/aarch64-linux-gnu"];
}
