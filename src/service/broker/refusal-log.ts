/**
 * Broker refusals, logged so that a flood cannot fill the disk: the first refusal after a quiet
 * interval is logged at once, the rest of the interval is counted and summed up in one line at
 * its end (per kind: how many, and the first example). Details are cut short, so a 60 KB topic
 * filter costs the log 200 characters once per interval, not 60 KB per SUBSCRIBE.
 */
import type { Clock, TimerHandle } from "../../util/clock.ts";

export type RefusalKind =
  | "unregistered client id"
  | "connect timeout"
  | "too many pending connections"
  | "pending CONNECT budget full"
  | "packet too large"
  | "bad topic"
  | "malformed packet"
  | "publish outside own topics"
  | "publish to a subscribe-only topic"
  | "retained publish"
  | "subscribe outside own topics"
  | "too many subscriptions"
  | "not reading (unsent output over the limit)"
  | "persistent session queue full"
  | "over the request rate (dropped)"
  | "request failed";

export interface Refusal {
  readonly kind: RefusalKind;
  readonly clientId?: string;
  readonly detail?: string;
}

/** What one log line gets: a single refusal, or the interval's summary. */
export type RefusalSink = (fields: Record<string, unknown>, message: string) => void;

const cut = (text: string | undefined, max: number) =>
  text === undefined || text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;

export class RefusalLog {
  private window: TimerHandle | undefined;
  private counts = new Map<RefusalKind, { count: number; first: Refusal }>();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly sink: RefusalSink,
  ) {}

  record(refusal: Refusal): void {
    const shown = { kind: refusal.kind, clientId: cut(refusal.clientId, 128), detail: cut(refusal.detail, 200) };
    if (!this.window) {
      this.sink(shown, "Refused by the broker");
      this.openWindow();
      return;
    }
    const entry = this.counts.get(refusal.kind);
    if (entry) entry.count++;
    else this.counts.set(refusal.kind, { count: 1, first: shown });
  }

  close(): void {
    this.window?.cancel();
    this.flush();
  }

  private openWindow(): void {
    this.window = this.clock.setTimeout(() => {
      this.window = undefined;
      if (this.flush()) this.openWindow();
    }, this.intervalMs);
  }

  /** Logs the summary if anything was counted; true if it did. */
  private flush(): boolean {
    if (this.counts.size === 0) return false;
    const refusals = Object.fromEntries(
      [...this.counts].map(([kind, { count, first }]) => [
        kind,
        { count, first: { clientId: first.clientId, detail: first.detail } },
      ]),
    );
    this.counts = new Map();
    this.sink({ intervalSeconds: this.intervalMs / 1000, refusals }, "Refused by the broker (summary of the interval)");
    return true;
  }
}
