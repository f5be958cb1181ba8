/**
 * Compiles the executables (npm run build [-- OPTIONS] [SUFFIX...]):
 *   dist/iot-jobs-agent-<suffix> for every target (or the SUFFIXes given), and
 *   dist/iot-jobs-local-linux-x64 (the local Jobs service) when no SUFFIX is given,
 *   dist/iot-jobs-agent-node.mjs (the Node.js build, for 32-bit ARM) when no SUFFIX or "node" is given,
 * each with a .sha256. Executables embed version, git revision and target, and never read a .env
 * or bunfig.toml from the directory they start in.
 *
 * Options:
 *   --service                        only iot-jobs-local (for the SUFFIXes given, default linux-x64)
 *   --compile-executable-path FILE   build offline from this Bun runtime binary (one SUFFIX only);
 *                                    otherwise Bun fetches the target's runtime from the npm registry
 *   --no-size-check                  skip the size check
 * The size check compiles an empty program for the same target and fails the build when ours is
 * more than 2 MiB larger (scripts/cross-compile/targets.ts).
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildNodeAgent, NODE_BUILD_NAME } from "./node-build.ts";
import { type BuildTarget, sizeProblem, TARGETS } from "./targets.ts";

const root = join(import.meta.dir, "..", "..");
const dist = join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const revision =
  Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root }).stdout.toString().trim() || "unknown";

const args = process.argv.slice(2);
const take = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  if (i === -1) return undefined;
  const value = args[i + 1];
  if (!value) throw new Error(`${flag} needs a value`);
  args.splice(i, 2);
  return value;
};
const executablePath = take("--compile-executable-path");
const serviceOnly = args.includes("--service");
const sizeCheck = !args.includes("--no-size-check");
const wantedAll = args.filter((a) => !a.startsWith("--"));
const nodeBuild = !serviceOnly && (wantedAll.length === 0 || wantedAll.includes("node"));
const wanted = wantedAll.filter((a) => a !== "node");
const targets = wanted.length ? TARGETS.filter((t) => wanted.includes(t.suffix)) : wantedAll.length ? [] : TARGETS;
if (targets.length === 0 && !nodeBuild)
  throw new Error(`no target named ${wanted.join(", ")}; known: ${TARGETS.map((t) => t.suffix).join(", ")}`);
if (executablePath && targets.length !== 1)
  throw new Error("--compile-executable-path is one target's runtime: name exactly one SUFFIX");

const builds: { program: string; entry: string; target: BuildTarget }[] = [];
if (!serviceOnly)
  for (const target of targets) builds.push({ program: "iot-jobs-agent", entry: "src/main.ts", target });
if (serviceOnly || wantedAll.length === 0) {
  for (const target of serviceOnly && wanted.length ? targets : TARGETS.filter((t) => t.suffix === "linux-x64"))
    builds.push({ program: "iot-jobs-local", entry: "src/service/main.ts", target });
}

async function compile(
  entry: string,
  target: BuildTarget,
  outfile: string,
  define: Record<string, string>,
): Promise<void> {
  const result = await Bun.build({
    entrypoints: [entry],
    minify: true,
    sourcemap: "none",
    define,
    compile: {
      target: target.bunTarget as Bun.Build.CompileTarget,
      outfile,
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(executablePath ? { executablePath } : {}),
    },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`compiling ${entry} for ${target.suffix} failed`);
  }
}

const bareSizes = new Map<string, number>();
async function bareRuntimeBytes(target: BuildTarget): Promise<number> {
  const known = bareSizes.get(target.suffix);
  if (known !== undefined) return known;
  const dir = mkdtempSync(join(tmpdir(), "iot-jobs-bare-"));
  try {
    writeFileSync(join(dir, "bare.ts"), "export {};\n");
    await compile(join(dir, "bare.ts"), target, join(dir, "bare"), {});
    const size = statSync(join(dir, "bare")).size;
    bareSizes.set(target.suffix, size);
    return size;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

mkdirSync(dist, { recursive: true });
let failed = false;
if (nodeBuild) {
  const outfile = join(dist, NODE_BUILD_NAME);
  await buildNodeAgent(root, outfile, {
    AGENT_VERSION: JSON.stringify(pkg.version),
    AGENT_REVISION: JSON.stringify(revision),
  });
  const bytes = readFileSync(outfile);
  const sha = createHash("sha256").update(bytes).digest("hex");
  await Bun.write(`${outfile}.sha256`, `${sha}  ${NODE_BUILD_NAME}\n`);
  console.log(`${outfile}  ${(bytes.length / 1024).toFixed(0)} KiB  sha256 ${sha}  (Node.js >= 20)`);
}
for (const { program, entry, target } of builds) {
  const outfile = join(dist, `${program}-${target.suffix}`);
  await compile(join(root, entry), target, outfile, {
    AGENT_VERSION: JSON.stringify(pkg.version),
    AGENT_REVISION: JSON.stringify(revision),
    AGENT_TARGET: JSON.stringify(`${target.suffix} (${target.libc})`),
  });
  const bytes = readFileSync(outfile);
  const sha = createHash("sha256").update(bytes).digest("hex");
  await Bun.write(`${outfile}.sha256`, `${sha}  ${program}-${target.suffix}\n`);
  let line = `${outfile}  ${(bytes.length / 1048576).toFixed(1)} MiB  sha256 ${sha}`;
  if (sizeCheck) {
    const bare = await bareRuntimeBytes(target);
    line += `  (our code: +${((bytes.length - bare) / 1048576).toFixed(2)} MiB over the bare runtime)`;
    const problem = sizeProblem(program, target.suffix, bytes.length, bare);
    if (problem) {
      console.error(`SIZE CHECK FAILED: ${problem}`);
      failed = true;
    }
  }
  console.log(line);
}
if (failed) process.exit(1);
