/**
 * `npm run release`: everything an operator downloads instead of building, in dist/release/:
 * every agent executable, the Node build (32-bit ARM), iot-jobs-local, the .debs, and SHA256SUMS
 * (`sha256sum -c` format).
 * Each executable is built from the current commit (version and revision inside, checked here by
 * running it where this machine can: natively, or under qemu-user for arm64).
 *
 * Options: --skip-build  package what dist/ already holds (CI builds once, then releases).
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { debFileName } from "./package/deb-names.ts";
import { NODE_BUILD_NAME } from "./cross-compile/node-build.ts";
import { TARGETS } from "./cross-compile/targets.ts";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
const out = join(dist, "release");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const revision = git(["rev-parse", "--short=12", "HEAD"]);
const skipBuild = process.argv.includes("--skip-build");

function git(args: string[]): string {
  return (
    Bun.spawnSync(["git", ...args], { cwd: root })
      .stdout.toString()
      .trim() || "unknown"
  );
}

function run(argv: string[]): void {
  const r = Bun.spawnSync(argv, { cwd: root, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.exitCode})`);
}

if (!skipBuild) {
  run([process.execPath, join(root, "scripts/cross-compile/build.ts")]);
  run([process.execPath, join(root, "scripts/package/deb.ts")]);
}

const files = [
  ...TARGETS.map((t) => join(dist, `iot-jobs-agent-${t.suffix}`)),
  join(dist, NODE_BUILD_NAME),
  join(dist, "iot-jobs-local-linux-x64"),
  ...["amd64", "arm64", "armhf"].map((arch) => join(dist, debFileName(pkg.version, arch))),
];
const missing = files.filter((f) => !existsSync(f));
if (missing.length) throw new Error(`not built: ${missing.map((f) => basename(f)).join(", ")}`);

// The executables must carry this commit: a stale dist/ would otherwise be released under a new tag.
for (const target of TARGETS) {
  const file = join(dist, `iot-jobs-agent-${target.suffix}`);
  const prefix = runnerFor(target.arch, target.libc);
  if (!prefix) {
    console.log(`(not run here: ${basename(file)})`);
    continue;
  }
  const r = Bun.spawnSync([...prefix, file, "--version"], { stdout: "pipe", stderr: "pipe" });
  const line = r.stdout.toString().trim();
  if (!line.includes(pkg.version) || !line.includes(revision)) {
    throw new Error(`${basename(file)} says "${line || r.stderr.toString().trim()}", not ${pkg.version} (${revision})`);
  }
  console.log(`${basename(file)}: ${line}`);
}

// The Node build, with the node on PATH (any CPU runs the same bundle).
const nodeBuild = join(dist, NODE_BUILD_NAME);
const node = Bun.which("node");
const nodeLine = node ? Bun.spawnSync([node, nodeBuild, "--version"], { stdout: "pipe" }).stdout.toString().trim() : "";
if (!node) console.log(`(not run here, no node: ${NODE_BUILD_NAME})`);
else if (!nodeLine.includes(pkg.version) || !nodeLine.includes(revision))
  throw new Error(`${NODE_BUILD_NAME} says "${nodeLine}", not ${pkg.version} (${revision})`);
else console.log(`${NODE_BUILD_NAME}: ${nodeLine}`);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const sums: string[] = [];
for (const file of files) {
  const name = basename(file);
  copyFileSync(file, join(out, name));
  sums.push(`${createHash("sha256").update(readFileSync(file)).digest("hex")}  ${name}`);
}
writeFileSync(join(out, "SHA256SUMS"), `${sums.join("\n")}\n`);
writeFileSync(join(out, "VERSION"), `${pkg.version} ${revision}\n`);
console.log(`${out}: ${files.length} files, SHA256SUMS, VERSION (${pkg.version} ${revision})`);

/** How this machine can run an executable of that kind, if it can. */
function runnerFor(arch: "x64" | "arm64", libc: "glibc" | "musl"): string[] | undefined {
  if (libc === "musl") return undefined;
  if (arch === process.arch) return [];
  if (arch === "arm64") {
    const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
    if (qemu && existsSync("/usr/aarch64-linux-gnu")) return [qemu, "-L", "/usr/aarch64-linux-gnu"];
  }
  return undefined;
}
