/**
 * Runs the Python model test (test/model/test_model.py) against a fresh local service: every
 * implemented operation's raw responses and input checks judged by botocore's own models. Skips,
 * saying why, where python3 or botocore is missing.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ServiceName } from "../../src/service/http/api-model.ts";
import { operations } from "../../src/service/http/routes/index.ts";
import type { RunningService } from "../../src/service/service.ts";
import { startLocalService } from "../helpers/local-service.ts";

const SCRIPT = join(import.meta.dir, "test_model.py");
const probe = Bun.spawnSync(["python3", "-c", "import botocore"], { stderr: "pipe" });
const hasBotocore = probe.exitCode === 0;
if (!hasBotocore) console.warn("test/model: skipped — python3 with botocore is not installed (pip install botocore)");

let service: RunningService | undefined;
afterEach(async () => {
  await service?.stop();
  service = undefined;
});

async function run(args: string[]): Promise<{ code: number; out: string }> {
  service = await startLocalService();
  const proc = Bun.spawn(["python3", SCRIPT, "--endpoint", service.httpUrl, ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out: out + err };
}

describe.skipIf(!hasBotocore)("the AWS models (botocore)", () => {
  test("every implemented operation: responses, errors and input checks agree with the model (zero findings)", async () => {
    const implemented = Object.entries(operations({} as never)).flatMap(([api, ops]) =>
      Object.keys(ops).map((op) => `${api as ServiceName}:${op}`),
    );
    const { code, out } = await run(["--implemented", implemented.join(",")]);
    if (code !== 0) console.error(out);
    expect(out).toContain(" 0 failed");
    expect(code).toBe(0);
  }, 120_000);

  test("self-test: each of six deliberately broken cases is caught by a finding of its kind", async () => {
    const { code, out } = await run(["--self-test"]);
    if (code !== 0) console.error(out);
    expect(out.match(/: caught /g)?.length).toBe(6);
    expect(code).toBe(0);
  }, 60_000);
});
