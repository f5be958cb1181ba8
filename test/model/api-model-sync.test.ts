/**
 * The generated model module and the routes against the AWS models: the committed
 * api-model.generated.ts is what scripts/api-model/generate.py makes from the installed botocore
 * (skipped without it), and every input member of every implemented operation is either honoured
 * or refused by its route — none is silently dropped.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { inputMembers, MODEL, operationSpec, type ServiceName } from "../../src/service/http/api-model.ts";
import { operations } from "../../src/service/http/routes/index.ts";

const ROOT = join(import.meta.dir, "..", "..");
const hasBotocore = Bun.spawnSync(["python3", "-c", "import botocore"], { stderr: "pipe" }).exitCode === 0;
if (!hasBotocore) console.warn("api-model sync: skipped the generator check — python3 with botocore is not installed");

describe("the generated model module", () => {
  test.skipIf(!hasBotocore)("is in sync with botocore's models", () => {
    const r = Bun.spawnSync(["python3", join(ROOT, "scripts/api-model/generate.py"), "--check"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("every implemented operation is in the model and honours or refuses each of its input members", () => {
    const problems: string[] = [];
    for (const [api, ops] of Object.entries(operations({} as never)) as [
      ServiceName,
      Record<string, { honours: readonly string[]; refuses?: Record<string, string> }>,
    ][]) {
      for (const [name, op] of Object.entries(ops)) {
        const spec = operationSpec(api, name);
        if (!spec) {
          problems.push(`${api}:${name} is not an operation of the model`);
          continue;
        }
        const declared = Object.keys(inputMembers(spec)).sort();
        const handled = [
          ...new Set([...op.honours, ...Object.keys(op.refuses ?? {}).map((m) => m.split(".")[0]!)]),
        ].sort();
        const dropped = declared.filter((m) => !handled.includes(m));
        const unknown = handled.filter((m) => !declared.includes(m));
        if (dropped.length) problems.push(`${api}:${name} neither honours nor refuses ${dropped.join(", ")}`);
        if (unknown.length)
          problems.push(`${api}:${name} names members the model does not have: ${unknown.join(", ")}`);
      }
    }
    expect(problems).toEqual([]);
    expect(MODEL.operations.length).toBeGreaterThan(280);
  });
});
