/**
 * Rate-limited progress of one running job: while it runs, every `intervalMs` the current step's
 * label and the handler's entries are read, and sent as IN_PROGRESS when they changed since the
 * last update — so at most one update per interval, counting the step-start updates the agent
 * sends itself (those restart the service's step timer and are not delayed). One timer, on the
 * injected Clock, cancelled by `stop()` when the job ends.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { STEP_KEY } from "./progress.ts";

export interface ProgressReporterOptions {
  readonly clock: Clock;
  readonly intervalMs: number;
  /** The handler's current entries (its progress file). */
  readonly read: () => Record<string, string>;
  readonly send: (details: Record<string, string>) => void;
  /** The first step's label, for `details()` before the job runs (no timer until `stepStarted`). */
  readonly firstStep?: string;
}

export class ProgressReporter {
  private step = "";
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private lastSent = "";
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly options: ProgressReporterOptions) {
    this.step = options.firstStep ?? "";
  }

  /** The details a step-start update carries (the handler has written nothing yet). */
  details(entries: Record<string, string> = {}): Record<string, string> {
    return { [STEP_KEY]: this.step, ...entries };
  }

  /**
   * A step began. `sentByCaller`: the agent sent IN_PROGRESS with `details()` itself (a step-start
   * update); otherwise the new label goes out at the next free slot.
   */
  stepStarted(label: string, sentByCaller: boolean): void {
    if (this.stopped) return;
    this.step = label;
    if (sentByCaller) this.markSent(this.details());
    this.arm(this.options.clock.now());
  }

  /** The job ended: no further update, no timer left. */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** A timer is armed (tests check none is left after the job). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** The next look at `earliest`, and never sooner than an interval after the last update. */
  private arm(earliest: number): void {
    this.timer?.cancel();
    const now = this.options.clock.now();
    // min(…, now): a wall clock set back (NTP's first sync without an RTC) must not hold the next
    // update until the clock reaches the old time again; at most one interval from now.
    const due = Math.max(Math.min(this.lastSentAt, now) + this.options.intervalMs, earliest, now);
    this.timer = this.options.clock.setTimeout(() => this.tick(), due - now);
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const details = this.details(this.options.read());
    if (JSON.stringify(details) !== this.lastSent) {
      this.options.send(details);
      this.markSent(details);
    }
    this.arm(this.options.clock.now() + this.options.intervalMs);
  }

  private markSent(details: Record<string, string>): void {
    this.lastSent = JSON.stringify(details);
    this.lastSentAt = this.options.clock.now();
  }
}
