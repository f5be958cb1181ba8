/**
 * Runs one child process for a step: its own session and process group, stdout and stderr read
 * concurrently into constant-memory tails, an optional deadline, and cancellation that takes the
 * whole process group down (SIGTERM, then SIGKILL after a grace period).
 * The child itself comes from the platform (src/platform: Bun.spawn into libc pipes, or Node's
 * child_process).
 *
 * Every wait goes through a `Clock` (systemClock by default): a step timeout of weeks must wait
 * weeks, not fire after 1 ms as the runtime's 32-bit `setTimeout` would. Steps start with umask
 * STEP_UMASK whatever the agent's own (its unit runs with 0077): files a job deploys are meant
 * for other users and services too. Output left in the pipes by a background process after the
 * step ends is read and discarded until end of stream, so the process is never hit by SIGPIPE.
 */
import type { ByteSink } from "./byte-sink.ts";
import type { StepExit } from "./step-exit.ts";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.ts";
import { platform } from "../platform/current.ts";
import type { PipedChild } from "../platform/platform.ts";

export interface SpawnRequest {
  readonly argv: readonly string[];
  readonly env: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly stdout: ByteSink;
  readonly stderr: ByteSink;
  /** 0 or undefined: no deadline. */
  readonly timeoutSeconds?: number;
  /** Aborting kills the process group; the exit is reported as canceled. */
  readonly signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL (default STEP_KILL_GRACE_MS). */
  readonly graceMs?: number;
  /** How long to keep reading after the child exits, for output still in the pipes. */
  readonly drainMs?: number;
  /** Called once the child exists, with its pid (for logs and tests). */
  readonly onSpawn?: (pid: number) => void;
  /** Time source for the deadline, the kill grace and the drain (tests pass a ManualClock). */
  readonly clock?: Clock;
}

/** SIGTERM → SIGKILL on a timeout or a cancellation: one value for the agent and `exec`. */
export const STEP_KILL_GRACE_MS = 2000;
/** SIGTERM → SIGKILL when the agent is shutting down. */
export const SHUTDOWN_GRACE_MS = 500;
/** The umask a step starts with: the usual 022 (files readable by all, writable by the owner). */
export const STEP_UMASK = 0o022;

export async function spawnStep(req: SpawnRequest): Promise<StepExit> {
  const clock = req.clock ?? systemClock;
  let proc: PipedChild;
  const refused = (error: unknown): StepExit => {
    const e = error as NodeJS.ErrnoException;
    return { kind: "refused", reason: `Could not start ${JSON.stringify(req.argv[0])}: ${e.code ?? e.message}` };
  };
  // The child inherits the umask at spawn; the spawn is synchronous, so nothing else of the agent
  // creates a file while it is changed.
  const agentUmask = process.umask(STEP_UMASK);
  try {
    proc = platform.spawnPiped({ argv: req.argv, env: req.env, cwd: req.cwd, stdout: req.stdout, stderr: req.stderr });
  } catch (error) {
    return refused(error);
  } finally {
    process.umask(agentUmask);
  }
  try {
    await proc.started;
  } catch (error) {
    return refused(error);
  }
  req.onSpawn?.(proc.pid);

  let ending: "timed-out" | "canceled" | undefined;
  const graceMs = req.graceMs ?? STEP_KILL_GRACE_MS;
  let killTimer: TimerHandle | undefined;
  const terminate = (why: "timed-out" | "canceled") => {
    if (ending) return;
    ending = why;
    signalGroup(proc.pid, "SIGTERM");
    // The agent itself is stopping (it must exit within 2 s): a shorter grace.
    const grace = req.signal?.reason === "shutdown" ? Math.min(graceMs, SHUTDOWN_GRACE_MS) : graceMs;
    killTimer = clock.setTimeout(() => signalGroup(proc.pid, "SIGKILL"), grace);
  };

  const timeoutMs = (req.timeoutSeconds ?? 0) * 1000;
  const deadline = timeoutMs > 0 ? clock.setTimeout(() => terminate("timed-out"), timeoutMs) : undefined;
  const onAbort = () => terminate("canceled");
  if (req.signal?.aborted) onAbort();
  req.signal?.addEventListener("abort", onAbort, { once: true });

  const exit = await proc.exited;
  deadline?.cancel();
  req.signal?.removeEventListener("abort", onAbort);

  if (ending) {
    // Whatever is left of the group must not outlive a canceled or overdue step.
    signalGroup(proc.pid, "SIGKILL");
  }
  killTimer?.cancel();

  // A grandchild may hold the pipes open after the child exits (a daemon started with `&`): read
  // what is there, then leave the pipes to a reader that discards until end of stream.
  let drainTimer: TimerHandle | undefined;
  const drainExpired = new Promise<false>((resolve) => {
    drainTimer = clock.setTimeout(() => resolve(false), req.drainMs ?? 1000);
  });
  const drained = await Promise.race([proc.outputDone.then(() => true), drainExpired]);
  drainTimer?.cancel();
  if (!drained) proc.detachOutput();
  req.stdout.end();
  req.stderr.end();

  if (ending === "timed-out") return { kind: "timed-out", seconds: req.timeoutSeconds! };
  if (ending === "canceled") return { kind: "canceled" };
  if (exit.signalCode) return { kind: "signaled", signal: String(exit.signalCode) };
  return { kind: "exited", code: exit.exitCode ?? -1 };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
