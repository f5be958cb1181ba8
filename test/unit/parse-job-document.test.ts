import { describe, expect, test } from "bun:test";
import { formatIssues } from "../../src/jobdoc/job-document.ts";
import { parseJobDocument } from "../../src/jobdoc/parse.ts";

function reasons(input: unknown): string {
  const r = parseJobDocument(input);
  if (r.ok) throw new Error("expected the document to be refused");
  return formatIssues(r.issues);
}

function doc(input: unknown) {
  const r = parseJobDocument(input);
  if (!r.ok) throw new Error(formatIssues(r.issues));
  return r.document;
}

const handlerStep = (name: string, extra: Record<string, unknown> = {}) => ({
  action: { name, type: "runHandler", input: { handler: `${name}.sh`, args: ["a"], path: "/opt/handlers" }, ...extra },
});

// The reference's TestJobDocument cases, re-expressed.
describe("parseJobDocument: the reference's cases", () => {
  test("SampleJobDocument: every field parses", () => {
    const d = doc({
      version: "1.0",
      includeStdOut: "true",
      conditions: [
        { key: "operatingSystem", value: ["ubuntu", "redhat"], type: "stringEqual" },
        { key: "OS", value: ["16.0"] },
      ],
      steps: [
        handlerStep("first", { runAsUser: "user1", allowStdErr: 8, ignoreStepFailure: "true" }),
        handlerStep("second"),
        handlerStep("third"),
        { action: { name: "list", type: "runCommand", input: { command: "ls,/tmp" } } },
      ],
      finalStep: handlerStep("cleanup"),
    });
    expect(d.includeStdOut).toBe(true);
    expect(d.conditions).toEqual([
      { key: "operatingSystem", value: ["ubuntu", "redhat"], type: "stringEqual" },
      { key: "OS", value: ["16.0"], type: "stringEqual" },
    ]);
    expect(d.steps).toHaveLength(4);
    expect(d.steps[0]).toEqual({
      name: "first",
      action: { kind: "handler", handler: "first.sh", args: ["a"], path: "/opt/handlers" },
      runAsUser: "user1",
      ignoreStepFailure: true,
      allowStdErr: 8,
      passUserArgument: true,
    });
    expect(d.steps[3]!.action).toEqual({ kind: "command", argv: ["ls", "/tmp"] });
    expect(d.finalStep?.name).toBe("cleanup");
  });

  test("MissingRequiredFields / invalid JSON is refused with the parser's reason", () => {
    expect(reasons('{ //version is missing\n "steps": [] }')).toStartWith("document is not valid JSON");
  });

  test("MinimumJobDocument: name, type and input are enough", () => {
    const d = doc({
      version: "1.0",
      steps: [
        { action: { name: "a", type: "runHandler", input: { handler: "x" } } },
        { action: { name: "b", type: "runCommand", input: { command: "ls,/tmp" } } },
      ],
    });
    expect(d.steps[0]).toEqual({
      name: "a",
      action: { kind: "handler", handler: "x", args: [], path: undefined },
      runAsUser: undefined,
      ignoreStepFailure: false,
      allowStdErr: undefined,
      passUserArgument: true,
    });
  });

  test("MissingRequiredFieldsValue and CommandFieldsIsEmpty: invalid JSON", () => {
    expect(reasons('{"version":"1.0","steps":[{"action":{"name": ,"type":"runHandler"}}]}')).toStartWith(
      "document is not valid JSON",
    );
    expect(
      reasons('{"version":"1.0","steps":[{"action":{"name":"a","type":"runCommand","input":{"command":}}}]}'),
    ).toStartWith("document is not valid JSON");
  });

  test("CommandContainsSpaceCharacters: surrounding whitespace is trimmed", () => {
    const d = doc({
      version: "1.0",
      steps: [{ action: { name: "a", type: "runCommand", input: { command: " \n echo \t, Hello World " } } }],
    });
    expect(d.steps[0]!.action).toEqual({ kind: "command", argv: ["echo", "Hello World"] });
  });

  test("SpaceCharactersContainedWithinFirstWordOfCommand is refused", () => {
    expect(
      reasons({
        version: "1.0",
        steps: [{ action: { name: "a", type: "runCommand", input: { command: " aws iot \t,describe-endpoint" } } }],
      }),
    ).toBe("steps[0].action.input.command: the first word must not contain whitespace; separate words with commas");
  });

  test("oldJobDocumentCompatibility: operation, args and path", () => {
    const d = doc({
      operation: "download-file.sh",
      args: ["https://example.com/f", "/tmp/Downloaded_File.tar.gz"],
      path: "default",
    });
    expect(d.schema).toBe("old");
    expect(d.steps).toEqual([
      {
        name: "download-file.sh",
        action: {
          kind: "handler",
          handler: "download-file.sh",
          args: ["https://example.com/f", "/tmp/Downloaded_File.tar.gz"],
          path: "default",
        },
        runAsUser: undefined,
        ignoreStepFailure: false,
        allowStdErr: 0,
        passUserArgument: false,
      },
    ]);
  });
});

describe("parseJobDocument: precise reasons [AGENT-reasons]", () => {
  test("names the path of a missing handler", () => {
    expect(
      reasons({ version: "1.0", steps: [handlerStep("a"), { action: { name: "b", type: "runHandler", input: {} } }] }),
    ).toBe("steps[1].action.input.handler: required");
  });
  test("refuses a version other than 1.0 and names the supported one", () => {
    expect(reasons({ version: "2.0", steps: [handlerStep("a")] })).toBe(
      'version: unsupported version "2.0"; this agent supports "1.0"',
    );
  });
  test("a wrong-typed field is an error, not ignored", () => {
    expect(reasons({ version: "1.0", includeStdOut: 1, steps: [handlerStep("a")] })).toBe(
      'includeStdOut: expected true, false, "true" or "false"',
    );
    expect(
      reasons({
        version: "1.0",
        steps: [{ action: { name: "a", type: "runHandler", input: { handler: "x", args: [1] } } }],
      }),
    ).toBe("steps[0].action.input.args[0]: expected a string");
    expect(reasons({ operation: "x", allowStdErr: "8" })).toBe("allowStdErr: expected a whole number");
  });
  test("booleans and their string forms are both accepted", () => {
    expect(
      doc({ version: "1.0", includeStdOut: true, steps: [handlerStep("a", { ignoreStepFailure: true })] }).steps[0]!
        .ignoreStepFailure,
    ).toBe(true);
    expect(doc({ version: "1.0", includeStdOut: "false", steps: [handlerStep("a")] }).includeStdOut).toBe(false);
  });
  test("an unknown step type, a missing input, no steps", () => {
    expect(reasons({ version: "1.0", steps: [{ action: { name: "a", type: "runScript", input: {} } }] })).toBe(
      'steps[0].action.type: expected "runHandler" or "runCommand"',
    );
    expect(reasons({ version: "1.0", steps: [{ action: { name: "a", type: "runHandler" } }] })).toBe(
      "steps[0].action.input: required",
    );
    expect(reasons({ version: "1.0", steps: [] })).toBe("steps: at least one step is required");
    expect(reasons({ version: "1.0" })).toBe("steps: required");
  });
  test("an empty object, an array, null and a number are refused", () => {
    expect(reasons({})).toBe('version: required (or "operation" for the old schema)');
    expect(reasons([])).toBe("document must be a JSON object");
    expect(reasons(null)).toBe("document must be a JSON object");
    expect(reasons("42")).toBe("document must be a JSON object");
  });
  test("a command of only commas names no command", () => {
    expect(
      reasons({ version: "1.0", steps: [{ action: { name: "a", type: "runCommand", input: { command: ",,," } } }] }),
    ).toBe("steps[0].action.input.command: must name a command");
  });
  test("a document over 32 KB is refused before parsing", () => {
    expect(reasons(JSON.stringify({ version: "1.0", pad: "x".repeat(40000) }))).toBe(
      "document is larger than 32768 characters",
    );
  });
  test("with both schemas' keys, version decides", () => {
    expect(doc({ version: "1.0", operation: "ignored", steps: [handlerStep("a")] }).schema).toBe("1.0");
  });
  test("unknown keys such as _comment are allowed", () => {
    expect(doc({ _comment: "hi", version: "1.0", steps: [handlerStep("a")] }).steps).toHaveLength(1);
  });
  test("deep nesting and huge arrays do not crash", () => {
    let nested: unknown = {};
    for (let i = 0; i < 5000; i++) nested = { a: nested };
    expect(() => parseJobDocument({ version: "1.0", steps: [handlerStep("a")], extra: nested })).not.toThrow();
    expect(reasons({ version: "1.0", steps: Array.from({ length: 10000 }, () => 1) })).toStartWith(
      "steps[0]: expected an object",
    );
  });
});
