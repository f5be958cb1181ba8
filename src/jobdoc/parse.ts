import * as v from "valibot";
import type { CodeSign, JobDocument, JobDocumentIssue, ParseResult, Step } from "./job-document.ts";
import { newSchemaDocument, oldSchemaDocument, type ActionInput, type NewSchemaInput } from "./schema.ts";
import { splitCommand } from "./split-command.ts";
import { MAX_DOCUMENT_CHARS } from "../protocol/limits.ts";

/**
 * Validates a job document (a JSON string or an already parsed value) in either schema.
 * A document with a `version` key is read as the new schema, otherwise one with `operation` as
 * the old schema [DC-JOBS-schema-selection]. Never throws.
 */
export function parseJobDocument(input: unknown): ParseResult {
  let value = input;
  if (typeof input === "string") {
    if (input.length > MAX_DOCUMENT_CHARS) return fail("", `document is larger than ${MAX_DOCUMENT_CHARS} characters`);
    try {
      value = JSON.parse(input);
    } catch (error) {
      return fail("", `document is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return fail("", "document must be a JSON object");

  if (Object.hasOwn(value, "version")) {
    const result = v.safeParse(newSchemaDocument, value);
    if (!result.success) return { ok: false, issues: toIssues(result.issues) };
    const doc = result.output;
    return {
      ok: true,
      document: {
        schema: "1.0",
        includeStdOut: doc.includeStdOut ?? false,
        reportProgress: doc.reportProgress ?? false,
        steps: doc.steps.map((s) => toStep(s.action)),
        finalStep: doc.finalStep ? toStep(doc.finalStep.action) : undefined,
        conditions: (doc.conditions ?? []).map((c) => ({ key: c.key, value: c.value, type: c.type ?? "stringEqual" })),
        ...(doc.codesign ? { codesign: toCodeSign(doc.codesign) } : {}),
      },
    };
  }
  if (Object.hasOwn(value, "operation")) {
    const result = v.safeParse(oldSchemaDocument, value);
    if (!result.success) return { ok: false, issues: toIssues(result.issues) };
    const doc = result.output;
    // [DC-JOBS-old-schema] one runHandler step; args start at $1; a missing allowStdErr means 0.
    const step: Step = {
      name: doc.operation,
      action: { kind: "handler", handler: doc.operation, args: doc.args ?? [], path: doc.path },
      runAsUser: undefined,
      ignoreStepFailure: false,
      allowStdErr: doc.allowStdErr ?? 0,
      passUserArgument: false,
    };
    return {
      ok: true,
      document: {
        schema: "old",
        includeStdOut: doc.includeStdOut ?? false,
        steps: [step],
        finalStep: undefined,
        conditions: [],
      },
    };
  }
  return fail("version", 'required (or "operation" for the old schema)');
}

function toCodeSign(input: NonNullable<NewSchemaInput["codesign"]>): CodeSign {
  const where = input.payloadLocation;
  let location: CodeSign["location"];
  if (where.url !== undefined) location = { url: where.url };
  else if (where.file !== undefined) location = { file: where.file };
  else if (where.s3 !== undefined) location = { s3: where.s3 };
  const { signature, signatureAlgorithm: algorithm, rawPayloadSize } = input;
  return { signature, algorithm, rawPayloadSize, location };
}

function toStep(action: ActionInput): Step {
  const common = {
    name: action.name,
    runAsUser: action.runAsUser === "" ? undefined : action.runAsUser,
    ignoreStepFailure: action.ignoreStepFailure ?? false,
    allowStdErr: action.allowStdErr,
    passUserArgument: true,
  };
  if (action.type === "runHandler") {
    const { handler, args, path } = action.input;
    return { ...common, action: { kind: "handler", handler, args: args ?? [], path: path === "" ? undefined : path } };
  }
  return { ...common, action: { kind: "command", argv: splitCommand(action.input.command) } };
}

function fail(path: string, message: string): ParseResult {
  return { ok: false, issues: [{ path, message }] };
}

function toIssues(issues: readonly v.BaseIssue<unknown>[]): [JobDocumentIssue, ...JobDocumentIssue[]] {
  const out = issues.map((issue) => ({
    path: formatPath(issue.path),
    message:
      issue.kind === "schema" && issue.received === "undefined" && issue.expected?.startsWith('"')
        ? "required"
        : issue.message,
  }));
  return out as [JobDocumentIssue, ...JobDocumentIssue[]];
}

function formatPath(path: v.BaseIssue<unknown>["path"]): string {
  let out = "";
  for (const item of path ?? []) {
    const key = item.key;
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}
