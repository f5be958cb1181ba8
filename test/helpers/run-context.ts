import type { JobDocument } from "../../src/jobdoc/job-document.ts";
import { parseJobDocument } from "../../src/jobdoc/parse.ts";
import { lookupUser } from "../../src/runner/user-lookup.ts";
import type { RunContext } from "../../src/runner/run-job.ts";

/** A RunContext on this machine, as the agent builds it, with overrides. */
export function testRunContext(handlerDirectory: string, overrides: Partial<RunContext> = {}): RunContext {
  const pathEnv = overrides.pathEnv ?? process.env.PATH ?? "/usr/bin:/bin";
  return {
    handlerDirectory,
    stepTimeoutSeconds: 0,
    euid: process.geteuid!(),
    pathEnv,
    lookupUser: (name, signal) => lookupUser(name, { pathEnv, signal }),
    env: { ...process.env },
    graceMs: 500,
    ...overrides,
  };
}

export function parsed(document: unknown): JobDocument {
  const r = parseJobDocument(document);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.document;
}

export const handlerStep = (
  name: string,
  handler: string,
  args: string[] = [],
  extra: Record<string, unknown> = {},
) => ({
  action: { name, type: "runHandler", input: { handler, args, path: "default" }, ...extra },
});

export const commandStep = (name: string, command: string, extra: Record<string, unknown> = {}) => ({
  action: { name, type: "runCommand", input: { command }, ...extra },
});
