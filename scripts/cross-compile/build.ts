/**
 * Compiles the agent into one executable per target (npm run build [-- [--service] SUFFIX...]):
 * dist/iot-jobs-agent-<suffix> and its .sha256. The executable embeds version, git revision and
 * target, and never reads a .env or bunfig.toml from the directory it is started in.
 * With no arguments it also builds the local Jobs service, dist/iot-jobs-local-linux-x64 (a
 * separate entry point: nothing of it reaches the agent's executable); `--service` builds only that.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TARGETS } from "./targets.ts";

const root = join(import.meta.dir, "..", "..");
const dist = join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const revision = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root }).stdout.toString().trim() || "unknown";
const args = process.argv.slice(2);
const serviceOnly = args.includes("--service");
const wanted = args.filter((a) => a !== "--service");
const targets = wanted.length ? TARGETS.filter((t) => wanted.includes(t.suffix)) : TARGETS;
if (targets.length === 0) throw new Error(`no target named ${wanted.join(", ")}; known: ${TARGETS.map((t) => t.suffix).join(", ")}`);

const builds: { program: string; entry: string; target: (typeof TARGETS)[number] }[] = [];
if (!serviceOnly) for (const target of targets) builds.push({ program: "iot-jobs-agent", entry: "src/main.ts", target });
if (serviceOnly || wanted.length === 0) {
  for (const target of serviceOnly && wanted.length ? targets : TARGETS.filter((t) => t.suffix === "linux-x64")) builds.push({ program: "iot-jobs-local", entry: "src/service/main.ts", target });
}

mkdirSync(dist, { recursive: true });
for (const { program, entry, target } of builds) {
  const outfile = join(dist, `${program}-${target.suffix}`);
  const result = await Bun.build({
    entrypoints: [join(root, entry)],
    minify: true,
    sourcemap: "none",
    define: {
      AGENT_VERSION: JSON.stringify(pkg.version),
      AGENT_REVISION: JSON.stringify(revision),
      AGENT_TARGET: JSON.stringify(`${target.suffix} (${target.libc})`),
    },
    compile: { target: target.bunTarget as Bun.Build.CompileTarget, outfile, autoloadDotenv: false, autoloadBunfig: false },
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build of ${program} for ${target.suffix} failed`);
  }
  const bytes = readFileSync(outfile);
  const sha = createHash("sha256").update(bytes).digest("hex");
  await Bun.write(`${outfile}.sha256`, `${sha}  ${program}-${target.suffix}\n`);
  console.log(`${outfile}  ${(bytes.length / 1048576).toFixed(1)} MiB  sha256 ${sha}`);
}
