/**
 * A deadline for TLS handshakes on the mqtts listener, kept on the raw TCP connection: Bun's
 * tls.Server ignores `handshakeTimeout`, and admission.ts counts a connection only once its
 * handshake is done — so a client that opened a connection and said nothing (or half a
 * ClientHello) held a descriptor for ever (found by a review: 1,000 silent connections, 1,018
 * descriptors, none closed). A handshake gets as long as a CONNECT would, and at most as many
 * handshakes as pending CONNECTs may be under way; beyond that a new connection is closed at once.
 */
import type { Socket } from "node:net";
import type { Clock, TimerHandle } from "../../util/clock.ts";
import { MQTT_LIMITS } from "../limits.ts";

export type HandshakeRefusal = "TLS handshake timeout" | "too many TLS handshakes";

export class HandshakeDeadlines {
  /** Keyed by the peer's address and port: what the raw socket and its TLS socket share. */
  private readonly pending = new Map<string, { raw: Socket; deadline: TimerHandle }>();

  constructor(
    private readonly clock: Clock,
    private readonly refused: (kind: HandshakeRefusal, detail: string | undefined) => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A raw connection to the TLS port (the server's "connection" event). */
  begin(raw: Socket): void {
    const key = peer(raw);
    if (this.pending.size >= MQTT_LIMITS.maxPendingConnectionsHard) {
      this.refused("too many TLS handshakes", raw.remoteAddress);
      raw.destroy();
      return;
    }
    const deadline = this.clock.setTimeout(() => {
      this.pending.delete(key);
      this.refused(
        "TLS handshake timeout",
        `${raw.remoteAddress}: no handshake within ${MQTT_LIMITS.connectTimeoutMs} ms`,
      );
      raw.destroy();
    }, MQTT_LIMITS.connectTimeoutMs);
    this.pending.set(key, { raw, deadline });
    raw.once("close", () => this.settle(key, raw));
  }

  /** The handshake completed (the server's secure-connection callback); CONNECT's deadline follows. */
  done(socket: Socket): void {
    const entry = this.pending.get(peer(socket));
    if (entry) this.settle(peer(socket), entry.raw);
  }

  private settle(key: string, raw: Socket): void {
    const entry = this.pending.get(key);
    if (!entry || entry.raw !== raw) return;
    entry.deadline.cancel();
    this.pending.delete(key);
  }
}

const peer = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
