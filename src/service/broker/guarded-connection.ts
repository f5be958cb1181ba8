/**
 * The stream aedes reads and writes instead of the raw socket: the socket's bytes pass through a
 * PacketGuard before the broker's parser sees them, and the broker's output goes to the socket
 * only while the peer is reading.
 *
 * - Oversized packets, bad topics and malformed framing close the connection at the header,
 *   before the body is buffered (packet-guard.ts).
 * - Requests above MQTT_LIMITS.requestsPerSecond are not refused: the rest of the chunk is held
 *   and the socket is not read until the bucket has a token, so TCP backpressure throttles the
 *   sender and nothing piles up here.
 * - Output: if more than maxUnsentBytesPerConnection is waiting in the socket, the peer is not
 *   reading; the connection is closed (what AWS does to slow consumers) instead of buffering
 *   every reply it asked for (one client's 200,000 requests had made 6.7 GB of replies).
 */
import { Duplex } from "node:stream";
import type { Socket } from "node:net";
import type { Clock, TimerHandle } from "../../util/clock.ts";
import { MQTT_LIMITS } from "../limits.ts";
import { type GuardRefusal, PacketGuard } from "./packet-guard.ts";
import type { RefusalKind } from "./refusal-log.ts";
import { TokenBucket } from "./token-bucket.ts";

export interface GuardedConnectionEvents {
  /** The connection is being closed for this reason (before the socket is destroyed). */
  refused(kind: RefusalKind, detail: string): void;
  /** Its CONNECT declares this many bytes: may they be read? (admission.ts) */
  admitConnect(bytes: number): boolean;
}

const KIND: Record<GuardRefusal["kind"], RefusalKind> = {
  "too-large": "packet too large",
  "bad-topic": "bad topic",
  malformed: "malformed packet",
  "connect-budget": "pending CONNECT budget full",
};

export class GuardedConnection extends Duplex {
  private readonly guard: PacketGuard;
  private readonly bucket: TokenBucket;
  /** Bytes read but held back by the rate limit; the guard has not scanned them yet. */
  private held: Uint8Array | undefined;
  private resumeTimer: TimerHandle | undefined;
  private wantsData = true;
  /** The CONNECT's client id once it is known (for the log). */
  clientId: string | undefined;

  constructor(
    readonly socket: Socket,
    private readonly clock: Clock,
    private readonly events: GuardedConnectionEvents,
  ) {
    super({ allowHalfOpen: false });
    this.bucket = new TokenBucket(clock, MQTT_LIMITS.requestsPerSecond, MQTT_LIMITS.requestBurst);
    this.guard = new PacketGuard(
      () => this.bucket.take(),
      (bytes) => events.admitConnect(bytes),
    );
    socket.on("data", (chunk: Buffer) => {
      // Bytes already on their way when the socket was paused go behind the held ones, in order.
      if (this.held) {
        this.held = Buffer.concat([this.held, chunk]);
        socket.pause();
      } else this.receive(chunk);
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (error) => this.destroy(error));
    socket.on("close", () => this.destroy());
  }

  /** Closes the connection for a reason the caller logs once. */
  refuse(kind: RefusalKind, detail: string): void {
    if (this.destroyed) return;
    this.events.refused(kind, detail);
    this.destroy();
  }

  private receive(chunk: Uint8Array): void {
    if (this.destroyed) return;
    const result = this.guard.scan(chunk);
    if (result.status === "refused") {
      this.refuse(KIND[result.refusal.kind], result.refusal.detail);
      return;
    }
    if (result.end > 0) this.wantsData = this.push(chunk.subarray(0, result.end));
    if (result.status === "throttled") {
      this.held = chunk.subarray(result.end);
      this.socket.pause();
      this.resumeTimer = this.clock.setTimeout(() => this.release(), Math.max(1, this.bucket.msUntilToken()));
    } else if (!this.wantsData) this.socket.pause();
  }

  /** The bucket has a token again: scan what was held, then read on. */
  private release(): void {
    this.resumeTimer = undefined;
    const held = this.held;
    this.held = undefined;
    if (held && held.length > 0) this.receive(held);
    if (!this.held && this.wantsData && !this.destroyed) this.socket.resume();
  }

  override _read(): void {
    this.wantsData = true;
    if (!this.held && !this.resumeTimer) this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const unsent = this.socket.writableLength;
    if (this.socket.destroyed) {
      // Nothing to do: the connection is going.
    } else if (unsent + chunk.length > MQTT_LIMITS.maxUnsentBytesPerConnection) {
      this.refuse("not reading (unsent output over the limit)", `${unsent} bytes unsent`);
    } else this.socket.write(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.resumeTimer?.cancel();
    this.held = undefined;
    this.socket.destroy();
    callback(error);
  }
}
