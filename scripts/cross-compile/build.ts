/**
 * Compiles the agent into one executable per target (npm run build [-- SUFFIX...]):
 * dist/iot-jobs-agent-<suffix> and its .sha256. The executable embeds version, git revision and
 * target, and never reads a .env or bunfig.toml from the directory it is started in.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TARGETS } from "./targets.ts";

const root = join(import.meta.dir, "..", "..");
const dist = join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const revision = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root }).stdout.toString().trim() || "unknown";
const wanted = process.argv.slice(2);
const targets = wanted.length ? TARGETS.filter((t) => wanted.includes(t.suffix)) : TARGETS;
if (targets.length === 0) throw new Error(`no target named ${wanted.join(", ")}; known: ${TARGETS.map((t) => t.suffix).join(", ")}`);

mkdirSync(dist, { recursive: true });
for (const target of targets) {
  const outfile = join(dist, `iot-jobs-agent-${target.suffix}`);
  const result = await Bun.build({
    entrypoints: [join(root, "src/main.ts")],
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
    throw new Error(`build for ${target.suffix} failed`);
  }
  const bytes = readFileSync(outfile);
  const sha = createHash("sha256").update(bytes).digest("hex");
  await Bun.write(`${outfile}.sha256`, `${sha}  iot-jobs-agent-${target.suffix}\n`);
  console.log(`${outfile}  ${(bytes.length / 1048576).toFixed(1)} MiB  sha256 ${sha}`);
}
