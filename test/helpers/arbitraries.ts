/**
 * fast-check generators shared by the fuzz tests: job documents (valid, near-valid, hostile) whose
 * commands are harmless or nonexistent (the agent really runs them), and arbitrary payloads.
 */
import fc from "fast-check";

// Commands the agent may really run: harmless ones, and names that exist nowhere.
const safeCommand = fc.oneof(
  fc.constant("true"),
  fc.constant("false"),
  fc.constant("echo,ok"),
  fc.string({ maxLength: 12 }).map((s) => `zz-no-such-${s.replace(/[^a-z]/g, "x")}`),
);
const MEGABYTE = "x".repeat(1 << 20);
const anyString = fc.oneof(
  { arbitrary: fc.string(), weight: 4 },
  { arbitrary: fc.string({ unit: "binary" }), weight: 2 },
  { arbitrary: fc.string({ unit: "grapheme" }), weight: 2 },
  { arbitrary: fc.constant("\u0000\u001b[31m\r\n"), weight: 1 },
  { arbitrary: fc.constant(MEGABYTE), weight: 1 },
);
const hostileValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double(),
    anyString,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string(), tie("value"), { maxKeys: 5 }),
  ),
})).value;
const deepNesting = fc.integer({ min: 50, max: 5000 }).map((depth) => {
  let v: unknown = "bottom";
  for (let i = 0; i < depth; i++) v = { steps: [v] };
  return v;
});
// (A real document is at most 32 KB — ~400 steps; larger ones test the parser, not the service.)
const hugeArray = fc.integer({ min: 500, max: 5000 }).map((n) => ({
  version: "1.0",
  steps: Array.from({ length: n }, () => ({ action: { name: "s", type: "runCommand", input: { command: "true" } } })),
}));

const step = fc.record(
  {
    action: fc.record(
      {
        name: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), anyString),
        type: fc.oneof(fc.constant("runCommand"), fc.constant("runHandler"), anyString),
        input: fc.oneof(
          fc.record({ command: safeCommand }),
          fc.record(
            {
              handler: fc.oneof(
                fc.constant("health-check.sh"),
                fc.constant("../../etc/passwd"),
                fc.constant("/bin/sh"),
                fc.string().map((s) => `zz-${s}`),
              ),
              args: fc.array(anyString, { maxLength: 3 }),
            },
            { requiredKeys: ["handler"] },
          ),
          hostileValue,
        ),
        runAsUser: fc.oneof(fc.constant("nobody-here-$(id)"), fc.constant(";rm -rf /"), fc.string({ maxLength: 10 })),
        ignoreStepFailure: fc.oneof(fc.boolean(), fc.constant("true"), hostileValue),
        allowStdErr: fc.oneof(fc.integer({ min: -2, max: 5 }), hostileValue),
      },
      { requiredKeys: ["name", "type", "input"] },
    ),
  },
  { requiredKeys: [] },
);

const validish = fc.record(
  {
    version: fc.oneof(fc.constant("1.0"), fc.constant("2.0"), fc.constant(1), anyString),
    includeStdOut: fc.oneof(fc.boolean(), hostileValue),
    steps: fc.array(step, { maxLength: 4 }),
    finalStep: step,
  },
  { requiredKeys: ["version", "steps"] },
);
const oldSchema = fc.record(
  {
    operation: fc.oneof(
      fc.constant("health-check.sh"),
      fc.string().map((s) => `zz-${s}`),
    ),
    args: fc.array(anyString, { maxLength: 3 }),
    allowStdErr: fc.oneof(fc.integer(), hostileValue),
    path: fc.oneof(fc.constant("default"), fc.string()),
  },
  { requiredKeys: ["operation"] },
);
export const jobDocument: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: validish, weight: 10 },
  { arbitrary: oldSchema, weight: 4 },
  { arbitrary: hostileValue, weight: 4 },
  { arbitrary: deepNesting, weight: 1 },
  { arbitrary: hugeArray, weight: 1 },
);

/** Anything a peer might publish: bytes, text, JSON of any shape, and the 1 MB case. */
export const anyPayload: fc.Arbitrary<Uint8Array> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 512 }), weight: 3 },
  { arbitrary: fc.string().map((s) => new TextEncoder().encode(s)), weight: 2 },
  { arbitrary: hostileValue.map((v) => new TextEncoder().encode(JSON.stringify(v) ?? "null")), weight: 3 },
  { arbitrary: fc.constant(new TextEncoder().encode(`{"execution":${"[".repeat(5000)}`)), weight: 1 },
  { arbitrary: fc.constant(new Uint8Array(1 << 20).fill(0x7b)), weight: 1 },
);
