/**
 * One contract, every runtime adapter (the way hono runs one suite against each of its runtime
 * adapters): the Bun adapter in this process, the Node adapter inside a real Node process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { platform as bunPlatform } from "../../src/platform/bun.ts";
import { nodeVersionProblem } from "../../src/platform/node.ts";
import { makeTestPki } from "../helpers/certs.ts";
import { nodeBinary } from "../helpers/runtimes.ts";
import { tempDir } from "../helpers/temp.ts";
import { NODE_ONLY_CASES } from "./node-only-cases.ts";
import { type ContractPki, platformContract } from "./platform-contract.ts";

const pki: ContractPki = makeTestPki();

describe("platform contract: Bun adapter", () => {
  for (const c of platformContract(bunPlatform, pki)) {
    if (c.skip) test.skip(`${c.name} (${c.skip})`, () => {});
    else test(c.name, () => c.run(), 30_000);
  }
});

test("the Node build refuses a Node older than 20 with a clear reason, and accepts 20 and later", () => {
  expect(nodeVersionProblem("v18.19.0")).toBe(
    'Node.js v18.19.0 is too old: this build needs Node.js 20 or later (docs/INSTALL.md, "32-bit ARM")',
  );
  expect(nodeVersionProblem("v20.0.0")).toBeUndefined();
  expect(nodeVersionProblem("v22.12.1")).toBeUndefined();
  expect(bunPlatform.runtimeProblem).toBeUndefined();
});

describe("platform contract: Node adapter, in Node", () => {
  const node = nodeBinary();
  const results = new Map<string, { ok?: boolean; skip?: string; error?: string }>();
  beforeAll(async () => {
    if (!node) return;
    const dir = tempDir("platform-node-");
    const built = await Bun.build({
      entrypoints: [join(import.meta.dir, "node-runner.ts")],
      target: "node",
      format: "esm",
      outdir: dir,
    });
    expect(built.success).toBe(true);
    const r = spawnSync(node, [built.outputs[0]!.path], {
      env: { ...process.env, PLATFORM_PKI: JSON.stringify(pki) },
      encoding: "utf8",
      timeout: 120_000,
    });
    for (const line of r.stdout.split("\n").filter(Boolean)) {
      const x = JSON.parse(line) as { name: string; ok?: boolean; skip?: string; error?: string };
      results.set(x.name, x);
    }
    if (results.size === 0) throw new Error(`the Node runner printed nothing: ${r.stderr}`);
  }, 150_000);
  afterAll(() => results.clear());
  // The case names, from the contract itself (the Node adapter object is not needed for names).
  for (const c of [...platformContract(bunPlatform, pki), ...NODE_ONLY_CASES]) {
    test(c.name, () => {
      if (!node) return console.warn("skipped: no node binary (set IOT_JOBS_TEST_NODE)");
      const r = results.get(c.name);
      expect(r).toBeDefined();
      if (r!.skip) return console.warn(`skipped on Node: ${r!.skip}`);
      if (!r!.ok) throw new Error(r!.error);
    });
  }
});
