/**
 * The Node.js build: dist/iot-jobs-agent-node.mjs, one ES module with everything bundled (no
 * node_modules), `#!/usr/bin/env node`, for Node ≥ 20 on boards Bun does not build for (32-bit
 * ARM). The same sources as the executables; the one difference is the platform adapter: the
 * plugin below resolves src/platform/current.ts's import of `./bun.ts` to `./node.ts`.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const NODE_BUILD_NAME = "iot-jobs-agent-node.mjs";

/** Resolves src/platform/current.ts's `./bun.ts` to `./node.ts` (and touches nothing else). */
export function nodePlatformPlugin(root: string): Bun.BunPlugin {
  const nodeAdapter = join(root, "src", "platform", "node.ts");
  const current = join(root, "src", "platform", "current.ts");
  return {
    name: "platform-node",
    setup(build) {
      build.onResolve({ filter: /^\.\/bun\.ts$/ }, (args) =>
        args.importer === current ? { path: nodeAdapter } : undefined,
      );
    },
  };
}

/** Builds `outfile`; `define` carries the version and revision as for the executables. */
export async function buildNodeAgent(root: string, outfile: string, define: Record<string, string>): Promise<void> {
  const result = await Bun.build({
    entrypoints: [join(root, "src", "main.ts")],
    target: "node",
    format: "esm",
    minify: true,
    sourcemap: "none",
    define,
    plugins: [nodePlatformPlugin(root)],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("the Node build failed");
  }
  const [output] = result.outputs;
  if (!output || result.outputs.length !== 1)
    throw new Error(`the Node build wrote ${result.outputs.length} files, not 1`);
  let code = await output.text();
  code = code.replace(/^#!.*\n/, "");
  // Bun marks its output "// @bun"; the file is for Node, which must be the one to run it.
  code = code.replace(/^\/\/ @bun\n/, "");
  writeFileSync(outfile, `#!/usr/bin/env node\n${code}`, { mode: 0o755 });
  chmodSync(outfile, 0o755);
  // A Bun API in the bundle would fail only when reached, on a device: refuse to ship it.
  const bunApi = /\bBun\.[a-z]+\(|from ?"bun:/.exec(readFileSync(outfile, "utf8"));
  if (bunApi) throw new Error(`the Node build uses ${bunApi[0]}: it must come through src/platform`);
}
