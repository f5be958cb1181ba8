/**
 * Remembers, across crashes, which execution the agent was running and how often it has started
 * it, so a job that kills the agent every time ends FAILED instead of looping [AGENT-crash-loop].
 * A small JSON file written atomically (temp file + rename). Failing to write is reported, never
 * fatal: jobs still run with a full disk or a read-only state directory.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RecordedStep } from "./orphan-steps.ts";

export interface RunningExecution {
  readonly jobId: string;
  readonly executionNumber: number | undefined;
  /**
   * When the service queued it: a job deleted and created again under its id has executionNumber 1
   * again, so only this tells its execution from the deleted one's (whose starts are not its own).
   */
  readonly queuedAt?: number;
  /** The document's fingerprint (src/jobs/same-document.ts): the same second can queue both. */
  readonly document?: string;
  /** How many times the agent has started this execution. */
  readonly starts: number;
  /** The step process (group leader) running when this was written. */
  readonly step?: RecordedStep;
}

export class ExecutionRecord {
  private readonly file: string;
  /** What the file holds, once read: only this process writes it, so it is read once. */
  private known: { value: RunningExecution | undefined } | undefined;
  private directoryMade = false;

  constructor(private readonly directory: string) {
    this.file = join(directory, "running-execution.json");
  }

  read(): RunningExecution | undefined {
    if (this.known) return this.known.value;
    this.known = { value: this.readFile() };
    return this.known.value;
  }

  private readFile(): RunningExecution | undefined {
    try {
      const value = JSON.parse(readFileSync(this.file, "utf8")) as Partial<RunningExecution>;
      if (typeof value.jobId !== "string" || typeof value.starts !== "number") return undefined;
      const recorded = value.step;
      const bootId = typeof recorded?.bootId === "string" ? { bootId: recorded.bootId } : {};
      const step =
        recorded && typeof recorded.pid === "number" && typeof recorded.startTime === "number"
          ? { pid: recorded.pid, startTime: recorded.startTime, ...bootId }
          : undefined;
      return {
        jobId: value.jobId,
        executionNumber: typeof value.executionNumber === "number" ? value.executionNumber : undefined,
        ...(typeof value.queuedAt === "number" ? { queuedAt: value.queuedAt } : {}),
        ...(typeof value.document === "string" ? { document: value.document } : {}),
        starts: value.starts,
        ...(step ? { step } : {}),
      };
    } catch {
      return undefined;
    }
  }

  /** Records one more start of this execution; returns the count, and an error if it could not be saved. */
  recordStart(
    jobId: string,
    executionNumber: number | undefined,
    identity: { readonly queuedAt?: number; readonly document?: string } = {},
  ): { starts: number; error?: Error } {
    const previous = this.read();
    const { queuedAt, document } = identity;
    const same =
      previous !== undefined &&
      previous.jobId === jobId &&
      previous.executionNumber === executionNumber &&
      previous.queuedAt === queuedAt &&
      previous.document === document;
    const starts = same ? previous.starts + 1 : 1;
    const error = this.write({
      jobId,
      executionNumber,
      ...(queuedAt !== undefined ? { queuedAt } : {}),
      ...(document !== undefined ? { document } : {}),
      starts,
    });
    return error ? { starts, error } : { starts };
  }

  /** Notes the step now running, so a restarted agent can kill it if this agent dies. */
  recordStep(step: RecordedStep): Error | undefined {
    const current = this.read();
    if (!current) return undefined;
    return this.write({ ...current, step });
  }

  private write(value: RunningExecution): Error | undefined {
    try {
      if (!this.directoryMade) mkdirSync(this.directory, { recursive: true, mode: 0o700 });
      this.directoryMade = true;
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
      renameSync(tmp, this.file);
      this.known = { value };
      return undefined;
    } catch (error) {
      this.directoryMade = false;
      return error as Error;
    }
  }

  /** The execution reached a terminal state (or is no longer ours). */
  clear(): Error | undefined {
    try {
      rmSync(this.file, { force: true });
      this.known = { value: undefined };
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }
}
