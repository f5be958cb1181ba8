/**
 * Runs one child process for a step: its own session and process group, stdout and stderr read
 * concurrently into constant-memory tails, an optional deadline, and cancellation that takes the
 * whole process group down (SIGTERM, then SIGKILL after a grace period).
 * The only Bun.spawn in the agent.
 */
import type { ByteSink } from "./byte-sink.ts";
import type { StepExit } from "./step-exit.ts";
import { closeFd, openPipe, type OsPipe } from "./os-pipe.ts";
import { readPipe } from "./pipe-reader.ts";

export interface SpawnRequest {
  readonly argv: readonly string[];
  readonly uid?: number;
  readonly gid?: number;
  readonly env: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly stdout: ByteSink;
  readonly stderr: ByteSink;
  /** 0 or undefined: no deadline. */
  readonly timeoutSeconds?: number;
  /** Aborting kills the process group; the exit is reported as canceled. */
  readonly signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL. */
  readonly graceMs?: number;
  /** How long to keep reading after the child exits, for output still in the pipes. */
  readonly drainMs?: number;
  /** Called once the child exists, with its pid (for logs and tests). */
  readonly onSpawn?: (pid: number) => void;
}

/** SIGTERM → SIGKILL when the agent is shutting down. */
export const SHUTDOWN_GRACE_MS = 500;

export async function spawnStep(req: SpawnRequest): Promise<StepExit> {
  // Our own pipes when libc is reachable (reads into one reused buffer); Bun's streams otherwise.
  const pipes = openPipes();
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([...req.argv], {
      stdin: "ignore",
      stdout: pipes ? pipes[0].writeFd : "pipe",
      stderr: pipes ? pipes[1].writeFd : "pipe",
      env: req.env,
      cwd: req.cwd,
      uid: req.uid,
      gid: req.gid,
      // Own session and process group: the whole tree can be signalled, and the agent's
      // terminal signals (Ctrl-C) do not reach it directly.
      detached: true,
    });
  } catch (error) {
    for (const p of pipes ?? []) closeFd(p.readFd), closeFd(p.writeFd);
    const e = error as NodeJS.ErrnoException;
    return { kind: "refused", reason: `Could not start ${JSON.stringify(req.argv[0])}: ${e.code ?? e.message}` };
  }
  // The child has its copies; ours must go, or the read ends never see end-of-stream.
  for (const p of pipes ?? []) closeFd(p.writeFd);
  req.onSpawn?.(proc.pid);

  let ending: "timed-out" | "canceled" | undefined;
  const graceMs = req.graceMs ?? 5000;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const terminate = (why: "timed-out" | "canceled") => {
    if (ending) return;
    ending = why;
    signalGroup(proc.pid, "SIGTERM");
    // The agent itself is stopping (it must exit within 2 s): a shorter grace.
    const grace = req.signal?.reason === "shutdown" ? Math.min(graceMs, SHUTDOWN_GRACE_MS) : graceMs;
    killTimer = setTimeout(() => signalGroup(proc.pid, "SIGKILL"), grace);
  };

  const deadline = req.timeoutSeconds && req.timeoutSeconds > 0 ? setTimeout(() => terminate("timed-out"), req.timeoutSeconds * 1000) : undefined;
  const onAbort = () => terminate("canceled");
  if (req.signal?.aborted) onAbort();
  req.signal?.addEventListener("abort", onAbort, { once: true });

  const readers = pipes
    ? [readPipe(pipes[0].readFd, req.stdout), readPipe(pipes[1].readFd, req.stderr)]
    : [pump(proc.stdout as ReadableStream<Uint8Array>, req.stdout), pump(proc.stderr as ReadableStream<Uint8Array>, req.stderr)];
  const allRead = Promise.all(readers.map((r) => r.done));

  await proc.exited;
  if (deadline) clearTimeout(deadline);
  req.signal?.removeEventListener("abort", onAbort);

  if (ending) {
    // Whatever is left of the group must not outlive a canceled or overdue step.
    signalGroup(proc.pid, "SIGKILL");
  }
  if (killTimer) clearTimeout(killTimer);

  // A grandchild may hold the pipes open after the child exits; read what is there, then stop.
  const drained = await Promise.race([allRead.then(() => true), sleep(req.drainMs ?? 1000).then(() => false)]);
  if (!drained) for (const r of readers) r.stop();
  await allRead;
  req.stdout.end();
  req.stderr.end();

  if (ending === "timed-out") return { kind: "timed-out", seconds: req.timeoutSeconds! };
  if (ending === "canceled") return { kind: "canceled" };
  if (proc.signalCode) return { kind: "signaled", signal: String(proc.signalCode) };
  return { kind: "exited", code: proc.exitCode ?? -1 };
}

function openPipes(): [OsPipe, OsPipe] | undefined {
  const out = openPipe();
  if (!out) return undefined;
  const err = openPipe();
  if (!err) {
    closeFd(out.readFd);
    closeFd(out.writeFd);
    return undefined;
  }
  return [out, err];
}

/** Fallback reader over Bun's stream: one allocation per read. */
function pump(stream: ReadableStream<Uint8Array>, tail: ByteSink): { done: Promise<void>; stop: () => void } {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        tail.push(value);
      }
    } catch {
      // Canceled by stop(), or the pipe broke: what was read is kept.
    }
  })();
  return { done, stop: () => void reader.cancel().catch(() => {}) };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
