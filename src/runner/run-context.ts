import type { AgentConfig } from "../config/schema.ts";
import type { Logger } from "../log/logger.ts";
import { lookupUser } from "./user-lookup.ts";
import type { RunContext } from "./run-job.ts";

/** Wires the runner to this machine: real users, PATH, the configured handler directory. */
export function runContextFor(config: AgentConfig, log: Logger, signal?: AbortSignal): RunContext {
  // Steps get the agent's own environment.
  const env = { ...process.env };
  const pathEnv = env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return {
    handlerDirectory: config.jobs.handlerDirectory,
    stepTimeoutSeconds: config.jobs.stepTimeoutSeconds,
    euid: process.geteuid?.() ?? 0,
    pathEnv,
    lookupUser: (name, userSignal) => lookupUser(name, { pathEnv, signal: userSignal }),
    env,
    signal,
    onStepStart: (step, index, isFinal) => log.info({ step: step.name, index, final: isFinal || undefined }, "Step started"),
    onStepEnd: (step, result) => log.info({ step: step.name, succeeded: result.succeeded, reason: result.reason }, "Step ended"),
  };
}
