/**
 * Runs a job document's steps in order [DC-JOBS-steps]: stop at the first failing step unless it
 * has ignoreStepFailure, run finalStep only when every step succeeded, and build the
 * statusDetails the Jobs service gets (reason, stdout with includeStdOut, stderr when non-empty).
 */
import { closeSync, openSync, readSync } from "node:fs";
import type { SigningConfig } from "../config/schema.ts";
import type { JobDocument, Step } from "../jobdoc/job-document.ts";
import type { Clock } from "../util/clock.ts";
import { resolveHandler } from "./handler-path.ts";
import type { ByteSink } from "./byte-sink.ts";
import { HANDLER_HEAD_BYTES, handlerSchemaMismatch } from "./handler-schema.ts";
import { LineCounter } from "./line-counter.ts";
import { OutputLog } from "./output-log.ts";
import { OutputTail } from "./output-tail.ts";
import { checkUser, planExecution, type RunAsContext } from "./run-as-user.ts";
import { MAX_DETAIL_CHARS, REDACTION_CONTEXT_CHARS, reportableDetails } from "./sanitize.ts";
import { spawnStep } from "./spawn-step.ts";
import { exitReason, type StepExit } from "./step-exit.ts";
import { PROGRESS_FILE_ENV } from "../jobs/progress.ts";

export { MAX_DETAIL_CHARS };

export interface RunContext extends RunAsContext {
  readonly handlerDirectory: string;
  /** Searched for handlers without a path, after PATH, with the directory checks (handler-path.ts). */
  readonly deviceClientDirs?: readonly string[];
  readonly env: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly stepTimeoutSeconds: number;
  readonly signal?: AbortSignal;
  readonly graceMs?: number;
  /** Time source for step deadlines and kill grace (default: the system clock). */
  readonly clock?: Clock;
  readonly onStepStart?: (step: Step, index: number, isFinal: boolean) => void;
  readonly onStepEnd?: (step: Step, result: StepResult) => void;
  readonly onSpawn?: (pid: number) => void;
  /** Something about a step the operator should know (a handler set that does not fit the schema). */
  readonly onWarning?: (message: string) => void;
  /** Documents with reportProgress: given to each step in $IOT_JOBS_PROGRESS_FILE (src/jobs/progress.ts). */
  readonly progressFile?: string;
  /** Code signing: artifacts the job names are verified before its first step (src/signing). */
  readonly signing?: SigningConfig;
  /** Each line a step prints, for the agent's log (stdout only when it would be logged). */
  readonly outputLines?: { readonly stdout?: (line: string) => void; readonly stderr?: (line: string) => void };
}

export interface StepResult {
  readonly name: string;
  readonly exit: StepExit;
  readonly succeeded: boolean;
  readonly reason: string;
  readonly stderrLines: number;
}

export interface JobOutcome {
  readonly status: "SUCCEEDED" | "FAILED" | "CANCELED";
  readonly statusDetails: Record<string, string>;
  readonly steps: readonly StepResult[];
}

export async function runJob(doc: JobDocument, ctx: RunContext): Promise<JobOutcome> {
  if (ctx.signing?.trustedCertificates) {
    // Loaded only on devices that trust signing keys: node:crypto costs the idle agent memory.
    const { checkJobSignatures } = await import("../signing/job-signature.ts");
    const signing = { ...ctx, signing: ctx.signing, timeoutSeconds: ctx.stepTimeoutSeconds };
    const refused = await checkJobSignatures(doc, signing);
    if (refused === "canceled") return { status: "CANCELED", statusDetails: {}, steps: [] };
    if (refused) return { status: "FAILED", statusDetails: reportableDetails({ reason: refused }), steps: [] };
  }
  // One tail per stream for the whole job, as the reference keeps (output accumulates across steps);
  // kept wider than what is reported, so a secret's name just before the cut is still seen.
  const stdout = new OutputTail(MAX_DETAIL_CHARS + REDACTION_CONTEXT_CHARS);
  const stderr = new OutputTail(MAX_DETAIL_CHARS + REDACTION_CONTEXT_CHARS);
  const results: StepResult[] = [];
  let failed: StepResult | undefined;

  const plan: { step: Step; isFinal: boolean }[] = doc.steps.map((step) => ({ step, isFinal: false }));
  if (doc.finalStep) plan.push({ step: doc.finalStep, isFinal: true });

  for (const [index, { step, isFinal }] of plan.entries()) {
    if (isFinal && failed) break; // finalStep only when every step succeeded
    ctx.onStepStart?.(step, index, isFinal);
    const result = await runStep(step, ctx, stdout, stderr);
    results.push(result);
    ctx.onStepEnd?.(step, result);
    if (result.exit.kind === "canceled") return { status: "CANCELED", statusDetails: {}, steps: results };
    if (!result.succeeded && !step.ignoreStepFailure) {
      failed = result;
      break;
    }
  }

  const last = failed ?? results.at(-1);
  const details: Record<string, string> = {};
  details.reason = last ? last.reason : "No steps ran";
  if (failed && plan.length > 1) details.failedStep = failed.name;
  if (doc.includeStdOut) details.stdout = stdout.text();
  details.stderr = stderr.text();
  // Redaction, sanitising and the limits: one gate for every value (empty ones are left out).
  return { status: failed ? "FAILED" : "SUCCEEDED", statusDetails: reportableDetails(details), steps: results };
}

async function runStep(step: Step, ctx: RunContext, stdout: OutputTail, stderr: OutputTail): Promise<StepResult> {
  const refused = (reason: string): StepResult => ({
    name: step.name,
    exit: { kind: "refused", reason },
    succeeded: false,
    reason,
    stderrLines: 0,
  });
  // Canceled while the user was looked up: nothing started.
  const canceled = (): StepResult => {
    return { name: step.name, exit: { kind: "canceled" }, succeeded: false, reason: "Canceled", stderrLines: 0 };
  };

  let argv: readonly string[];
  let env = ctx.env;
  let releaseHandler = () => {};
  const action = step.action;
  if (action.kind === "handler") {
    // The handler drops privileges itself: the user is its $1 (new schema), as the public handlers expect.
    if (step.runAsUser !== undefined) {
      const user = await checkUser(step.runAsUser, ctx, ctx.signal);
      if (!user.ok) return refused(user.reason);
    }
    if (ctx.signal?.aborted) return canceled();
    const lookup = {
      handlerDirectory: ctx.handlerDirectory,
      euid: ctx.euid,
      pathEnv: ctx.pathEnv,
      deviceClientDirs: ctx.deviceClientDirs,
    };
    const handler = resolveHandler(action.handler, action.path, lookup);
    if (!handler.ok) return refused(handler.reason);
    const mismatch = ctx.onWarning
      ? handlerSchemaMismatch(action.handler, readHead(handler.file), step.passUserArgument)
      : undefined;
    if (mismatch) ctx.onWarning?.(mismatch);
    const userArg = step.passUserArgument ? [step.runAsUser ?? ""] : [];
    // Tells our handlers whether $1 is the user (new schema) or the first arg (old schema).
    env = { ...ctx.env, IOT_JOBS_USER_ARG: step.passUserArgument ? "1" : "0" };
    const program = handler.viaShell ? ["/bin/sh", handler.execPath] : [handler.execPath];
    argv = [...program, ...userArg, ...action.args];
    releaseHandler = handler.release;
  } else {
    const plan = await planExecution(action.argv, step.runAsUser, ctx, ctx.signal);
    if (ctx.signal?.aborted) return canceled();
    if (!plan.ok) return refused(plan.reason);
    argv = plan.argv;
    if (plan.env) env = { ...ctx.env, ...plan.env };
  }

  if (ctx.progressFile) env = { ...env, [PROGRESS_FILE_ENV]: ctx.progressFile };
  // Count stderr lines for this step alone; the job-wide tail keeps the text; lines go to the log too.
  const logged = (sink: ByteSink, line: ((text: string) => void) | undefined) =>
    line ? new OutputLog(sink, { line, clock: ctx.clock }) : sink;
  const stepStdout = logged(stdout, ctx.outputLines?.stdout);
  const stepStderr = new LineCounter(logged(stderr, ctx.outputLines?.stderr));
  let exit: StepExit;
  try {
    exit = await spawnStep({
      argv,
      env,
      cwd: ctx.cwd,
      stdout: stepStdout,
      stderr: stepStderr,
      timeoutSeconds: ctx.stepTimeoutSeconds,
      signal: ctx.signal,
      graceMs: ctx.graceMs,
      clock: ctx.clock,
      onSpawn: ctx.onSpawn,
    });
  } finally {
    releaseHandler(); // the handler's pinned descriptor
  }
  const lines = stepStderr.lines;
  let succeeded = exit.kind === "exited" && exit.code === 0;
  let reason = exitReason(exit);
  if (succeeded && step.allowStdErr !== undefined && lines > step.allowStdErr) {
    succeeded = false;
    reason = `Printed ${lines} line${lines === 1 ? "" : "s"} on stderr; allowStdErr is ${step.allowStdErr}`;
  }
  return { name: step.name, exit, succeeded, reason, stderrLines: lines };
}

/** The first bytes of a handler, as text (empty when it cannot be read). */
function readHead(file: string): string {
  try {
    const fd = openSync(file, "r");
    try {
      const buffer = Buffer.alloc(HANDLER_HEAD_BYTES);
      return buffer.subarray(0, readSync(fd, buffer, 0, HANDLER_HEAD_BYTES, 0)).toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return "";
  }
}
