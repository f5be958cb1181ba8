/** The build-time checkers of the Jobs responses: fresh, and deciding as TypeBox does at run time. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { ExecutionResponse, RejectedResponse, UpdateAcceptedResponse } from "../../src/protocol/messages.ts";
import {
  decodeResponse,
  isExecutionResponse,
  isRejectedResponse,
  isUpdateAcceptedResponse,
} from "../../src/protocol/responses.ts";
import { CHECKERS_FILE, renderResponseCheckers } from "../../scripts/response-checkers.ts";
import { REPO_ROOT } from "../helpers/temp.ts";

describe("response checkers compiled at build time", () => {
  test("the generated file is what the schemas give now (else run: bun scripts/emit-checkers.ts)", () => {
    expect(readFileSync(join(REPO_ROOT, CHECKERS_FILE), "utf8")).toBe(renderResponseCheckers());
  });

  test("each decides exactly as TypeBox's run-time compiled checker, on arbitrary and near-valid values", () => {
    const pairs = [
      [isExecutionResponse, TypeCompiler.Compile(ExecutionResponse)],
      [isRejectedResponse, TypeCompiler.Compile(RejectedResponse)],
      [isUpdateAcceptedResponse, TypeCompiler.Compile(UpdateAcceptedResponse)],
    ] as const;
    const nearValid = fc.record(
      {
        code: fc.oneof(fc.string(), fc.integer()),
        message: fc.oneof(fc.string(), fc.constant(null)),
        clientToken: fc.oneof(fc.string(), fc.integer()),
        timestamp: fc.oneof(fc.integer(), fc.double(), fc.string()),
        execution: fc.oneof(
          fc.record(
            {
              jobId: fc.oneof(fc.string(), fc.integer()),
              statusDetails: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())),
            },
            { requiredKeys: [] },
          ),
          fc.string(),
        ),
        executionState: fc.oneof(
          fc.record(
            { status: fc.oneof(fc.string(), fc.integer()), versionNumber: fc.oneof(fc.integer(), fc.string()) },
            { requiredKeys: [] },
          ),
          fc.constant([]),
        ),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearValid), (value) => {
        for (const [generated, runtime] of pairs) expect(generated(value)).toBe(runtime.Check(value));
      }),
      { numRuns: 2000 },
    );
  });

  test("decodeResponse: JSON in, the typed value or undefined out, never a throw", () => {
    expect(decodeResponse(isRejectedResponse, '{"code":"InvalidRequest","message":"m"}')).toEqual({
      code: "InvalidRequest",
      message: "m",
    });
    expect(decodeResponse(isRejectedResponse, '{"message":"no code"}')).toBeUndefined();
    expect(decodeResponse(isRejectedResponse, new TextEncoder().encode("{not json"))).toBeUndefined();
    expect(decodeResponse(isExecutionResponse, '{"execution":{"jobId":"j","executionNumber":1}}')).toMatchObject({
      execution: { jobId: "j" },
    });
  });
});
