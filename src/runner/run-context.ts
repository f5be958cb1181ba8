import { join } from "node:path";
import type { AgentConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { platform } from "../platform/current.ts";
import { lookupUser } from "./user-lookup.ts";
import type { RunContext } from "./run-job.ts";

/** Which job execution a step belongs to, when the agent runs it (not in `exec`). */
export interface ExecutionIdentity {
  readonly jobId: string;
  readonly executionNumber: number | undefined;
}

/**
 * The execution a job's logger was made for: the agent binds jobId and executionNumber to each
 * job's child logger, the one place that carries them to the runner.
 */
export function executionOf(jobLog: Logger): ExecutionIdentity | undefined {
  const { jobId, executionNumber } = jobLog.bindings() as { jobId?: unknown; executionNumber?: unknown };
  if (typeof jobId !== "string") return undefined;
  return { jobId, executionNumber: typeof executionNumber === "number" ? executionNumber : undefined };
}

/**
 * The directories the Device Client appends to PATH at start-up (its EnvUtils), in its order:
 * `~/.aws-iot-device-client`, `~/.aws-iot-device-client/jobs`, the working directory, `jobs` in it.
 */
export function deviceClientPathAdditions(home: string | undefined, cwd: string): string[] {
  const dirs = home ? [join(home, ".aws-iot-device-client"), join(home, ".aws-iot-device-client", "jobs")] : [];
  return [...dirs, cwd, join(cwd, "jobs")];
}

/**
 * Wires the runner to this machine: real users, PATH, the configured handler directory. Steps get
 * the agent's own environment, plus IOT_JOBS_JOB_ID and IOT_JOBS_EXECUTION_NUMBER when the agent
 * runs a job (handlers tie their lock files to the execution: reboot.sh).
 */
export function runContextFor(
  config: AgentConfig,
  log: Logger,
  signal?: AbortSignal,
  execution?: ExecutionIdentity,
): RunContext {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.IOT_JOBS_JOB_ID;
  delete env.IOT_JOBS_EXECUTION_NUMBER;
  delete env.IOT_JOBS_PROGRESS_FILE; // set per step, only for documents with reportProgress
  if (execution) {
    env.IOT_JOBS_JOB_ID = execution.jobId;
    if (execution.executionNumber !== undefined) env.IOT_JOBS_EXECUTION_NUMBER = String(execution.executionNumber);
  }
  // For handlers that check signatures (download-file.sh): the device's trust anchors, and the
  // executable that checks (when compiled; from source, IOT_JOBS_AGENT is kept as given).
  delete env.IOT_JOBS_TRUSTED_CERTIFICATES;
  const anchors = config.jobs.signing.trustedCertificates;
  if (anchors) env.IOT_JOBS_TRUSTED_CERTIFICATES = anchors;
  const self = platform.selfExecutable();
  if (self) env.IOT_JOBS_AGENT = self;
  const pathEnv = env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return {
    handlerDirectory: config.jobs.handlerDirectory,
    stepTimeoutSeconds: config.jobs.stepTimeoutSeconds,
    signing: config.jobs.signing,
    euid: process.geteuid?.() ?? 0,
    pathEnv,
    deviceClientDirs: deviceClientPathAdditions(env.HOME, process.cwd()),
    lookupUser: (name, userSignal) => lookupUser(name, { pathEnv, signal: userSignal }),
    env,
    signal,
    onStepStart: (step, index, isFinal) =>
      log.info({ step: step.name, index, final: isFinal || undefined }, "Step started"),
    onWarning: (message) => log.warn(message),
    onStepEnd: (step, result) =>
      log.info({ step: step.name, succeeded: result.succeeded, reason: result.reason }, "Step ended"),
    // As the Device Client: a step's stdout at DEBUG (decoded only when DEBUG is on), stderr at WARN.
    outputLines: {
      stdout: log.isLevelEnabled("debug") ? (line) => log.debug({ stream: "stdout", line }, "Step output") : undefined,
      stderr: (line) => log.warn({ stream: "stderr", line }, "Step output"),
    },
  };
}
