import { connectionSettings } from "../config/connection-settings.ts";
import { describeProxy } from "../config/http-proxy-config.ts";
import type { AgentConfig } from "../config/schema.ts";
import { JobsAgent } from "../jobs/agent.ts";
import { PackageReporter } from "../jobs/package-reporter.ts";
import { progressFileIn } from "../jobs/progress-file.ts";
import { type Logger, reopenLogFile } from "../log/logger.ts";
import { connect } from "../mqtt/connection.ts";
import { executionOf, runContextFor } from "../runner/run-context.ts";
import { runJob } from "../runner/run-job.ts";
import { ExecutionRecord } from "../state/execution-record.ts";
import { currentBootId, describeStep, killOrphanedStep, untilGone } from "../state/orphan-steps.ts";
import { acquireInstanceLock } from "../state/instance-lock.ts";
import { platform } from "../platform/current.ts";

/** How long a restarted agent waits for its predecessor's killed step to be gone before running anything. */
const ORPHAN_EXIT_WAIT_MS = 5000;

/** Time from SIGTERM to exit, at most; a reboot handler's SIGTERM must not wait on us. */
const SHUTDOWN_BUDGET_MS = 1500;

/** Runs the agent until SIGTERM/SIGINT. Returns the exit code. */
export async function runAgent(config: AgentConfig, log: Logger): Promise<number> {
  handleHarmlessSignals(log);
  const euid = process.geteuid?.() ?? 0;
  const checked = connectionSettings(config, euid);
  if (!checked.ok) {
    log.fatal(checked.message);
    return 1;
  }
  const settings = checked.settings;
  if (!config.jobs.enabled) {
    log.warn("The Jobs feature is disabled (jobs.enabled false / --enable-jobs false); nothing to do");
    return 0;
  }
  const lock = acquireInstanceLock(config.stateDir, settings.thingName);
  if (!lock.ok) {
    log.fatal(lock.message);
    return 1;
  }
  if (lock.degraded)
    log.warn(
      { reason: lock.degraded },
      "State directory unusable: running jobs without the instance lock and without crash-loop detection",
    );

  log.info(
    {
      endpoint: `${settings.endpoint.protocol}://${settings.endpoint.host}:${settings.endpoint.port}`,
      thingName: settings.thingName,
      handlerDirectory: config.jobs.handlerDirectory,
      ...(settings.proxy ? { httpProxy: describeProxy(settings.proxy) } : {}),
    },
    "Starting",
  );
  const record = new ExecutionRecord(config.stateDir);
  // A step the previous agent left running must not run alongside its own re-run. Before the
  // connection exists: its first CONNACK (and the stored session's messages) must find the agent
  // listening, not an await here (an agent that missed it never asked for a job).
  const orphan = record.read()?.step;
  if (orphan) {
    const killed = killOrphanedStep(orphan);
    if (killed.length) {
      log.warn({ pids: killed }, "Killed the step processes a previous agent left running");
      if (!(await untilGone(killed, ORPHAN_EXIT_WAIT_MS)))
        log.error({ pids: killed }, "The previous agent's step processes are still alive after SIGKILL");
    } else if (orphan.bootId !== currentBootId())
      log.info({ pid: orphan.pid }, "The previous agent's step ran in an earlier boot; nothing of it is left to stop");
  }
  const connection = connect(settings);
  const inventory = config.jobs.packageInventoryFile
    ? new PackageReporter(connection, settings.thingName, config.jobs.packageInventoryFile, log)
    : undefined;
  if (inventory) {
    let first = true;
    connection.onConnect((sessionPresent) => {
      const atStart = first;
      first = false;
      if (atStart || !sessionPresent) {
        inventory
          .subscribe()
          .then(() => (atStart ? inventory.report() : undefined))
          .catch((error) => log.warn({ err: error }, "Cannot subscribe to the $package shadow topics"));
      }
    });
  }
  const agent = new JobsAgent({
    thingName: settings.thingName,
    connection,
    log,
    record,
    stepTimeoutSeconds: config.jobs.stepTimeoutSeconds,
    maxReruns: config.jobs.maxReruns,
    updateRetryMs: config.jobs.updateRetrySeconds * 1000,
    progressIntervalMs: config.jobs.progressIntervalSeconds * 1000,
    progressFile: progressFileIn(config.stateDir),
    // A job's buffers and parsed messages are garbage once it is over: collect them now, while the
    // device is idle, rather than let the heap grow to the collector's own threshold first.
    afterJob: () => platform.collectGarbage(),
    afterSuccess: inventory ? () => void inventory.report() : undefined,
    runJob: (document, signal, jobLog, hooks) =>
      runJob(document, {
        ...runContextFor(config, jobLog, signal, executionOf(jobLog)),
        onStepStart: (_step, index) => hooks.onStepStart?.(index),
        progressFile: hooks.progressFile,
        onSpawn: (pid) => {
          const step = describeStep(pid);
          const error = step ? record.recordStep(step) : undefined;
          if (error)
            jobLog.warn({ err: error }, "Cannot save local state; a step left by a crash would not be cleaned up");
        },
      }),
  });
  agent.start();

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "Stopping; a running job stays IN_PROGRESS");
  const stopped = agent.stop();
  await Promise.race([stopped, sleep(SHUTDOWN_BUDGET_MS - 500)]);
  await Promise.race([connection.close(true), sleep(300)]);
  lock.release();
  return 0;
}

/**
 * Signals whose default action would kill the agent without a graceful stop (and leave its step
 * orphaned): SIGHUP reopens the log file (logrotate's postrotate; ignored when logging to
 * stdout), SIGUSR1/SIGUSR2 are ignored, SIGPIPE too (a closed socket is an error, not a death).
 */
function handleHarmlessSignals(log: Logger): void {
  process.on("SIGHUP", () => {
    try {
      if (reopenLogFile(log)) log.info("Log file reopened (SIGHUP)");
      else log.debug("SIGHUP: logging to stdout, nothing to reopen");
    } catch (error) {
      // A signal must never stop the agent: keep writing where we were, and say why.
      log.warn({ err: error }, "Cannot reopen the log file (SIGHUP); still writing to the previous one");
    }
  });
  for (const signal of ["SIGUSR1", "SIGUSR2"] as const) {
    process.on(signal, () => log.debug({ signal }, "Signal ignored"));
  }
  process.on("SIGPIPE", () => {});
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
