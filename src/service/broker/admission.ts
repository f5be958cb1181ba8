/**
 * Connections that have not completed CONNECT: how many there may be, how long they may take
 * and how much their CONNECTs may declare in total (MQTT_LIMITS). A TCP connection costs a
 * descriptor before anyone knows who it is; 19,990 idle ones had used up the service's
 * descriptors, HTTP included. The clock is injected (tests advance a ManualClock).
 */
import type { Clock, TimerHandle } from "../../util/clock.ts";
import { MQTT_LIMITS } from "../limits.ts";
import type { RefusalKind } from "./refusal-log.ts";

export interface PendingConnection {
  refuse(kind: RefusalKind, detail: string): void;
}

interface Entry {
  readonly since: number;
  readonly deadline: TimerHandle;
  connectBytes: number;
}

export class Admission<C extends PendingConnection> {
  /** Insertion order is age order: the first is the oldest. */
  private readonly pending = new Map<C, Entry>();
  private connectBytes = 0;

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.pending.size;
  }

  /** A new connection: admitted (false: it has been refused already). */
  admit(conn: C): boolean {
    if (this.pending.size >= MQTT_LIMITS.maxPendingConnections) {
      const [oldest, entry] = this.pending.entries().next().value as [C, Entry];
      if (this.clock.now() - entry.since >= MQTT_LIMITS.pendingGraceMs) {
        this.settle(oldest);
        oldest.refuse(
          "too many pending connections",
          `over ${MQTT_LIMITS.maxPendingConnections} without CONNECT; the oldest is closed`,
        );
      } else if (this.pending.size >= MQTT_LIMITS.maxPendingConnectionsHard) {
        conn.refuse("too many pending connections", `${this.pending.size} without CONNECT; the new one is closed`);
        return false;
      }
    }
    const deadline = this.clock.setTimeout(() => {
      this.settle(conn);
      conn.refuse("connect timeout", `no CONNECT within ${MQTT_LIMITS.connectTimeoutMs} ms`);
    }, MQTT_LIMITS.connectTimeoutMs);
    this.pending.set(conn, { since: this.clock.now(), deadline, connectBytes: 0 });
    return true;
  }

  /** A pending connection's CONNECT declares `bytes`; false if that exceeds the shared budget. */
  reserveConnect(conn: C, bytes: number): boolean {
    const entry = this.pending.get(conn);
    if (!entry) return true; // connected already (a second CONNECT is the parser's to refuse)
    if (this.connectBytes + bytes > MQTT_LIMITS.pendingConnectBudgetBytes) return false;
    entry.connectBytes += bytes;
    this.connectBytes += bytes;
    return true;
  }

  /** Connected, or closed: no longer pending. */
  settle(conn: C): void {
    const entry = this.pending.get(conn);
    if (!entry) return;
    entry.deadline.cancel();
    this.connectBytes -= entry.connectBytes;
    this.pending.delete(conn);
  }

  connections(): C[] {
    return [...this.pending.keys()];
  }
}
