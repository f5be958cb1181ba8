/**
 * A small MQTT 3.1.1 client on the platform's socket (src/platform: Bun.connect; node:net/tls in the
 * Node build): TCP or TLS (client certificate, CA, SNI, ALPN), QoS 0/1, persistent or clean
 * sessions, keepalive, and reconnection with a caller-chosen delay. Unacknowledged PUBLISH and SUBSCRIBE packets are kept and sent again
 * (PUBLISH with DUP) after a reconnect, so a publish or subscribe never fails — it waits.
 *
 * What a flapping link cannot make grow: the failure count (so the reconnect delay) is reset only
 * after a connection has stayed up `stableAfterMs`; the unacknowledged window is bounded — an
 * identical pending SUBSCRIBE is shared, a PUBLISH with a `replace` key supersedes the pending one
 * with that key, and beyond `maxInFlight` the oldest PUBLISH is given up — so packet ids never run
 * out. An incoming PUBLISH over `maxPacketBytes` is acknowledged and dropped (reported through
 * `oversized`), never buffered, and never a reason to drop the link. Timers run on the injected Clock.
 *
 * Why Bun.connect rather than node:net: node:net pulls in the Node stream machinery, +7.6 MB RSS
 * on an otherwise idle process (docs/BENCHMARKS.md).
 */
import type { HttpProxy } from "../config/http-proxy-config.ts";
import { platform } from "../platform/current.ts";
import type { PlatformSocket, SocketHandlers } from "../platform/platform.ts";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.ts";
import {
  CONNACK_REASONS,
  DISCONNECT,
  encodeConnect,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  type IncomingPacket,
  PacketReader,
  PacketType,
  PINGREQ,
} from "./packets.ts";

export interface TlsSettings {
  readonly cert?: Uint8Array | string;
  readonly key?: Uint8Array | string;
  readonly ca?: Uint8Array | string;
  readonly serverName: string;
  readonly alpn?: string;
}

export interface MqttClientOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsSettings;
  readonly clientId: string;
  readonly cleanSession: boolean;
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs?: number;
  /** Delay before reconnect attempt number `failures` (1 = the first retry). */
  readonly reconnectDelayMs: (failures: number) => number;
  /** Incoming PUBLISHes larger than this are acknowledged and dropped; other packets drop the link. */
  readonly maxPacketBytes?: number;
  /** A connection up this long resets the failure count (default 30 s). */
  readonly stableAfterMs?: number;
  /** Unacknowledged packets kept at most (default 10,000, at most 65535; the agent uses 100). */
  readonly maxInFlight?: number;
  /** Tunnel through this HTTP proxy (CONNECT); the connect timeout covers the tunnel too. */
  readonly proxy?: HttpProxy;
  readonly clock?: Clock;
}

export interface PublishOptions {
  /** A pending PUBLISH with the same key is superseded (it resolves false). */
  readonly replace?: string;
}

export interface MqttClientEvents {
  connect?(sessionPresent: boolean): void;
  message?(topic: string, payload: Uint8Array): void;
  /** A working connection (after CONNACK) ended: why (undefined: the broker closed it), after how long. */
  offline?(reason: string | undefined, connectedMs: number): void;
  /** No working connection came of an attempt (refused, TLS, CONNACK refusal, timeout): why. */
  error?(message: string): void;
  /** An incoming PUBLISH over maxPacketBytes, already acknowledged: its size and first bytes. */
  oversized?(topic: string, bytes: number, head: Uint8Array): void;
}

type Pending =
  | { kind: "publish"; topic: string; payload: Uint8Array; replace?: string; resolve: (acknowledged: boolean) => void }
  | {
      kind: "subscribe";
      topics: readonly string[];
      qos: 0 | 1;
      done: Promise<number[]>;
      resolve: (granted: number[]) => void;
    };

const DEFAULT_STABLE_AFTER_MS = 30_000;
/** Room for a service publishing to thousands of things in a burst; still far below the id space. */
const DEFAULT_MAX_IN_FLIGHT = 10_000;
const MAX_PACKET_ID = 0xffff;

const encoder = new TextEncoder();

export class MqttClient {
  private socket: PlatformSocket | undefined;
  private reader: PacketReader;
  private outbox: Uint8Array[] = [];
  /** Sent (or to be sent) and not yet acknowledged, in order; resent after a reconnect. */
  private readonly pending = new Map<number, Pending>();
  private lastPacketId = 0;
  private ready = false;
  private closed = false;
  private failures = 0;
  /** clock.now() at the current connection's CONNACK. */
  private connectedAt = 0;
  private awaitingPong = false;
  /** An attempt (connecting or connected) is under way; a drop ends it exactly once. */
  private attempting = false;
  private attemptNumber = 0;
  /** Closes the current attempt's proxy tunnel if it is not standing yet. */
  private abandonAttempt: (() => void) | undefined;
  private timers: { reconnect?: TimerHandle; connect?: TimerHandle; keepalive?: TimerHandle; stable?: TimerHandle } =
    {};
  private readonly clock: Clock;
  private readonly maxInFlight: number;
  private readonly lifeline: ReturnType<typeof setInterval>;

  constructor(
    private readonly options: MqttClientOptions,
    private readonly events: MqttClientEvents = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.maxInFlight = Math.max(1, Math.min(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, MAX_PACKET_ID));
    this.reader = new PacketReader(options.maxPacketBytes);
    // The clock's timers do not keep the process alive (systemClock unrefs them), and between
    // reconnect attempts there is no socket either: an open client holds the process up itself.
    this.lifeline = setInterval(() => {}, 1 << 30);
    this.open();
  }

  /** Unacknowledged PUBLISH and SUBSCRIBE packets (bounded by maxInFlight). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** True between CONNACK and the connection's end. */
  get connected(): boolean {
    return this.ready;
  }

  /**
   * QoS 1: resolves true on PUBACK (after reconnects if need be), false when superseded (`replace`)
   * or given up for room in the window. QoS 0: true once written or queued.
   */
  publish(topic: string, payload: string | Uint8Array, qos: 0 | 1 = 1, options: PublishOptions = {}): Promise<boolean> {
    const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
    if (qos === 0) {
      if (this.ready) this.send(encodePublish(topic, bytes, 0, 0));
      return Promise.resolve(true);
    }
    if (options.replace !== undefined) {
      for (const [id, p] of this.pending) {
        if (p.kind === "publish" && p.replace === options.replace) this.giveUp(id);
      }
    }
    return new Promise((resolve) => {
      const id = this.allocatePacketId();
      this.pending.set(id, { kind: "publish", topic, payload: bytes, replace: options.replace, resolve });
      if (this.ready) this.send(encodePublish(topic, bytes, 1, id));
    });
  }

  /** Resolves with the granted QoS per topic (0x80 = refused). An identical pending request is shared. */
  subscribe(topics: readonly string[], qos: 0 | 1 = 1): Promise<number[]> {
    for (const p of this.pending.values()) {
      if (p.kind === "subscribe" && p.qos === qos && sameList(p.topics, topics)) return p.done;
    }
    let resolve!: (granted: number[]) => void;
    const done = new Promise<number[]>((r) => (resolve = r));
    let id: number;
    try {
      id = this.allocatePacketId();
    } catch (error) {
      return Promise.reject(error);
    }
    this.pending.set(id, { kind: "subscribe", topics: [...topics], qos, done, resolve });
    if (this.ready) this.send(encodeSubscribe(id, topics, qos));
    return done;
  }

  /** Ends the connection for good; a graceful end sends DISCONNECT first. */
  close(graceful = true): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.lifeline);
    this.clearTimers();
    if (this.socket && this.ready && graceful) this.send(DISCONNECT);
    this.ready = false;
    this.attempting = false;
    this.socket?.end();
    this.socket = undefined;
  }

  private open(): void {
    if (this.closed) return;
    const { host, port, tls } = this.options;
    this.reader = new PacketReader(this.options.maxPacketBytes);
    this.outbox = [];
    this.awaitingPong = false;
    this.attempting = true;
    this.timers.connect = this.clock.setTimeout(
      () => this.drop("connection timed out"),
      this.options.connectTimeoutMs ?? 30_000,
    );
    const attempt = ++this.attemptNumber;
    const handlers: SocketHandlers = {
      // A late answer to an attempt already given up (timed out) must not end or join the current one.
      open: (socket) => (attempt === this.attemptNumber ? this.onOpen(socket) : socket.terminate()),
      data: (socket, data) => void (socket === this.socket && this.onData(data)),
      drain: (socket) => void (socket === this.socket && this.flush()),
      close: (socket) => void (socket === this.socket && this.drop()),
      error: (socket, message) => void (socket === this.socket && this.drop(message)),
      connectError: (message) => void (attempt === this.attemptNumber && this.drop(message)),
    };
    const tlsOptions = tls
      ? {
          cert: tls.cert,
          key: tls.key,
          ca: tls.ca,
          serverName: tls.serverName,
          ...(tls.alpn ? { ALPNProtocols: alpnWireFormat(tls.alpn) } : {}),
        }
      : undefined;
    // Through an HTTP proxy the platform hands the same handlers the tunnelled socket.
    const pending = platform.connect({ hostname: host, port, tls: tlsOptions, proxy: this.options.proxy }, handlers);
    this.abandonAttempt = () => pending.abandon();
  }

  private onOpen(socket: PlatformSocket): void {
    if (this.closed) {
      socket.end();
      return;
    }
    this.socket = socket;
    // Small request/response messages: do not let Nagle's algorithm hold them back ~40 ms.
    (socket as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const { clientId, cleanSession, keepaliveSeconds } = this.options;
    this.send(encodeConnect({ clientId, cleanSession, keepaliveSeconds }));
  }

  private onData(data: Uint8Array): void {
    let packets: IncomingPacket[];
    try {
      packets = this.reader.push(data);
    } catch (error) {
      this.drop(`protocol error: ${(error as Error).message}`);
      return;
    }
    for (const packet of packets) this.onPacket(packet);
  }

  private onPacket(packet: IncomingPacket): void {
    switch (packet.type) {
      case PacketType.Connack: {
        this.timers.connect?.cancel();
        if (packet.returnCode !== 0) {
          this.drop(`connection refused: ${CONNACK_REASONS[packet.returnCode] ?? `code ${packet.returnCode}`}`);
          return;
        }
        this.ready = true;
        this.connectedAt = this.clock.now();
        // A broker that accepts and drops at once must not reset the backoff: only a link that lasts.
        this.timers.stable = this.clock.setTimeout(() => {
          this.failures = 0;
        }, this.options.stableAfterMs ?? DEFAULT_STABLE_AFTER_MS);
        this.startKeepalive();
        // What the broker never acknowledged goes again, in the original order.
        for (const [id, p] of this.pending) {
          this.send(
            p.kind === "publish"
              ? encodePublish(p.topic, p.payload, 1, id, true)
              : encodeSubscribe(id, p.topics, p.qos),
          );
        }
        this.events.connect?.(packet.sessionPresent);
        return;
      }
      case PacketType.Publish:
        if (packet.qos === 1) this.send(encodePuback(packet.packetId));
        // QoS 2 is never subscribed to; a broker that sends it anyway gets no PUBREC and resends.
        if (packet.qos <= 1) this.events.message?.(packet.topic, packet.payload);
        return;
      case PacketType.OversizedPublish:
        // Acknowledged so the broker does not deliver it again on every reconnect; then dropped.
        if (packet.qos === 1) this.send(encodePuback(packet.packetId));
        this.events.oversized?.(packet.topic, packet.bytes, packet.head);
        return;
      case PacketType.Puback:
      case PacketType.Suback: {
        const p = this.pending.get(packet.packetId);
        if (!p) return;
        this.pending.delete(packet.packetId);
        if (p.kind === "publish") p.resolve(true);
        else p.resolve(packet.type === PacketType.Suback ? packet.granted : []);
        return;
      }
      case PacketType.Pingresp:
        this.awaitingPong = false;
        return;
      default:
        return;
    }
  }

  private startKeepalive(): void {
    this.timers.keepalive?.cancel();
    const seconds = this.options.keepaliveSeconds;
    if (seconds <= 0) return;
    // A PINGREQ every keepalive period; no PINGRESP by the next one means the link is dead.
    const tick = () => {
      if (this.awaitingPong) return this.drop("no answer to PINGREQ within the keepalive period");
      this.awaitingPong = true;
      this.send(PINGREQ);
      this.timers.keepalive = this.clock.setTimeout(tick, seconds * 1000);
    };
    this.timers.keepalive = this.clock.setTimeout(tick, seconds * 1000);
  }

  private send(bytes: Uint8Array): void {
    this.outbox.push(bytes);
    if (this.outbox.length === 1) this.flush();
  }

  /** Writes what the socket takes now; the rest waits for `drain`. */
  private flush(): void {
    const socket = this.socket;
    if (!socket) return;
    while (this.outbox.length > 0) {
      const head = this.outbox[0]!;
      const written = socket.write(head);
      if (written < 0) return; // closed; `close` follows
      if (written < head.length) {
        this.outbox[0] = head.subarray(written);
        return;
      }
      this.outbox.shift();
    }
  }

  /** The connection is gone (or must go): tell, then try again after the backoff. */
  private drop(reason?: string, socket = this.socket): void {
    if (!this.attempting) return;
    this.attempting = false;
    const wasUp = this.ready;
    this.clearTimers();
    socket?.terminate();
    this.socket = undefined;
    this.ready = false;
    if (this.closed) return;
    // One event per drop: a working connection went offline (with its reason), or an attempt failed.
    if (wasUp) this.events.offline?.(reason, this.clock.now() - this.connectedAt);
    else if (reason) this.events.error?.(reason);
    this.failures++;
    this.timers.reconnect = this.clock.setTimeout(() => {
      this.timers.reconnect = undefined;
      this.open();
    }, this.options.reconnectDelayMs(this.failures));
  }

  private clearTimers(): void {
    this.abandonAttempt?.();
    this.abandonAttempt = undefined;
    this.timers.connect?.cancel();
    this.timers.keepalive?.cancel();
    this.timers.reconnect?.cancel();
    this.timers.stable?.cancel();
    this.timers = {};
  }

  /** Forgets a pending PUBLISH: it will not be sent again; its promise resolves false. */
  private giveUp(id: number): void {
    const p = this.pending.get(id);
    if (p?.kind !== "publish") return;
    this.pending.delete(id);
    p.resolve(false);
  }

  /**
   * A packet id not in use. The window is kept below maxInFlight (≤ 65535) first — the oldest
   * PUBLISH is given up — so a free id always exists and the search ends within the window's size.
   */
  private allocatePacketId(): number {
    if (this.pending.size >= this.maxInFlight) {
      let oldest: number | undefined;
      for (const [id, p] of this.pending) {
        if (p.kind !== "publish") continue;
        oldest = id; // the Map keeps insertion order: the first PUBLISH is the oldest
        break;
      }
      if (oldest === undefined)
        throw new Error(`${this.pending.size} subscriptions are awaiting acknowledgement; not sending more`);
      this.giveUp(oldest);
    }
    for (let tries = 0; tries <= this.pending.size; tries++) {
      this.lastPacketId = this.lastPacketId === MAX_PACKET_ID ? 1 : this.lastPacketId + 1;
      if (!this.pending.has(this.lastPacketId)) return this.lastPacketId;
    }
    throw new Error("no free MQTT packet id"); // unreachable: the window is smaller than the id space
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** ALPN protocol list as TLS sends it: each name prefixed by its length. */
export function alpnWireFormat(protocol: string): Uint8Array {
  const name = encoder.encode(protocol);
  const out = new Uint8Array(1 + name.length);
  out[0] = name.length;
  out.set(name, 1);
  return out;
}
