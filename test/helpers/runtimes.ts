/**
 * Which runtime the agent tests run the agent on: `IOT_JOBS_TEST_RUNTIME=bun` (default: bun
 * src/main.ts) or `node` (dist/iot-jobs-agent-node.mjs, built when missing or stale, run by
 * `IOT_JOBS_TEST_NODE` or the `node` on PATH). The same tests, one contract, both runtimes.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./temp.ts";

export type AgentRuntime = "bun" | "node";

export function testRuntime(): AgentRuntime {
  const wanted = process.env.IOT_JOBS_TEST_RUNTIME ?? "bun";
  if (wanted !== "bun" && wanted !== "node")
    throw new Error(`IOT_JOBS_TEST_RUNTIME must be bun or node, not ${wanted}`);
  return wanted;
}

/** The Node binary the tests use, or undefined when there is none. */
export function nodeBinary(): string | undefined {
  return process.env.IOT_JOBS_TEST_NODE ?? Bun.which("node") ?? undefined;
}

export const NODE_BUILD = join(REPO_ROOT, "dist", "iot-jobs-agent-node.mjs");

/** dist/iot-jobs-agent-node.mjs, built now if missing or older than the sources. */
export function nodeBuild(): string {
  const stale = !existsSync(NODE_BUILD) || newestSourceMtime() > statSync(NODE_BUILD).mtimeMs;
  if (stale) {
    const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "scripts/cross-compile/build.ts"), "node"], {
      cwd: REPO_ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (r.exitCode !== 0) throw new Error(`the Node build failed:\n${r.stderr.toString()}`);
  }
  return NODE_BUILD;
}

/** The command that runs the agent on `runtime`. */
export function agentCommand(runtime: AgentRuntime = testRuntime()): string[] {
  if (runtime === "bun") return [process.execPath, join(REPO_ROOT, "src/main.ts")];
  const node = nodeBinary();
  if (!node) throw new Error("IOT_JOBS_TEST_RUNTIME=node but there is no node (set IOT_JOBS_TEST_NODE)");
  return [node, nodeBuild()];
}

function newestSourceMtime(): number {
  let newest = 0;
  for (const file of new Bun.Glob("src/**/*.ts").scanSync({ cwd: REPO_ROOT }))
    newest = Math.max(newest, statSync(join(REPO_ROOT, file)).mtimeMs);
  return newest;
}
