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
  | "request failed"
  | "no client certificate"
  | "TLS handshake failed"
  | "TLS handshake timeout"
  | "too many TLS handshakes";

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

export interface Denial {
  readonly clientId: string;
  readonly certificateId?: string;
  readonly action: string;
  readonly resource: string;
  /** The statement that decided, or why none allowed it (identity/policy.ts). */
  readonly reason: string;
}

/**
 * Policy denials, one line each: the answer to "why was my device refused?" (client, action,
 * resource, deciding statement). A client repeating the same denied request is logged once per
 * interval, and at most `maxLinesPerInterval` lines are written per interval; the rest are counted
 * in one summary line.
 */
export class DenialLog {
  private seen = new Set<string>();
  private suppressed = 0;
  private window: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly sink: RefusalSink,
    private readonly maxLinesPerInterval = 100,
  ) {}

  record(d: Denial): void {
    const key = `${d.clientId}\u0000${d.certificateId}\u0000${d.action}\u0000${d.resource}\u0000${d.reason}`;
    if (!this.window) {
      this.window = this.clock.setTimeout(() => this.rollOver(), this.intervalMs);
    }
    if (this.seen.has(key) || this.seen.size >= this.maxLinesPerInterval) {
      this.suppressed++;
      return;
    }
    this.seen.add(key);
    const fields = {
      clientId: cut(d.clientId, 128),
      ...(d.certificateId ? { certificateId: d.certificateId } : {}),
      action: d.action,
      resource: cut(d.resource, 300),
      reason: cut(d.reason, 2000),
    };
    this.sink(
      fields,
      `Denied by policy: ${d.action} ${fields.resource} for client ${fields.clientId}: ${fields.reason}`,
    );
  }

  close(): void {
    this.window?.cancel();
    this.window = undefined;
    this.flush();
  }

  private rollOver(): void {
    this.window = undefined;
    this.flush();
  }

  private flush(): void {
    if (this.suppressed > 0) {
      this.sink(
        { intervalSeconds: this.intervalMs / 1000, repeated: this.suppressed },
        "Denied by policy (repeats of the interval's denials, not logged one by one)",
      );
    }
    this.suppressed = 0;
    this.seen = new Set();
  }
}
