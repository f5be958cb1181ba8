/**
 * A small MQTT 3.1.1 client on Bun's native sockets (Bun.connect): TCP or TLS (client
 * certificate, CA, SNI, ALPN), QoS 0/1, persistent or clean sessions, keepalive, and reconnection
 * with a caller-chosen delay. Unacknowledged PUBLISH and SUBSCRIBE packets are kept and sent again
 * (PUBLISH with DUP) after a reconnect, so a publish or subscribe never fails — it waits.
 *
 * Why Bun.connect rather than node:net: node:net pulls in the Node stream machinery, +7.6 MB RSS
 * on an otherwise idle process (docs/BENCHMARKS.md).
 */
import type { Socket } from "bun";
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
  /** Incoming packets larger than this drop the connection. */
  readonly maxPacketBytes?: number;
}

export interface MqttClientEvents {
  connect?(sessionPresent: boolean): void;
  message?(topic: string, payload: Uint8Array): void;
  offline?(): void;
  error?(message: string): void;
}

type Pending =
  | { kind: "publish"; topic: string; payload: Uint8Array; resolve: () => void }
  | { kind: "subscribe"; topics: readonly string[]; resolve: (granted: number[]) => void };

const encoder = new TextEncoder();

export class MqttClient {
  private socket: Socket<undefined> | undefined;
  private reader: PacketReader;
  private outbox: Uint8Array[] = [];
  /** Sent (or to be sent) and not yet acknowledged, in order; resent after a reconnect. */
  private readonly pending = new Map<number, Pending>();
  private lastPacketId = 0;
  private ready = false;
  private closed = false;
  private failures = 0;
  private awaitingPong = false;
  /** An attempt (connecting or connected) is under way; a drop ends it exactly once. */
  private attempting = false;
  private timers: { reconnect?: Timer; connect?: Timer; keepalive?: Timer } = {};

  constructor(
    private readonly options: MqttClientOptions,
    private readonly events: MqttClientEvents = {},
  ) {
    this.reader = new PacketReader(options.maxPacketBytes);
    this.open();
  }

  /** True between CONNACK and the connection's end. */
  get connected(): boolean {
    return this.ready;
  }

  /** QoS 1: resolves on PUBACK (after reconnects if need be). QoS 0: once written or queued. */
  publish(topic: string, payload: string | Uint8Array, qos: 0 | 1 = 1): Promise<void> {
    const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
    if (qos === 0) {
      if (this.ready) this.send(encodePublish(topic, bytes, 0, 0));
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const id = this.nextPacketId();
      this.pending.set(id, { kind: "publish", topic, payload: bytes, resolve });
      if (this.ready) this.send(encodePublish(topic, bytes, 1, id));
    });
  }

  /** Resolves with the granted QoS per topic (0x80 = refused). */
  subscribe(topics: readonly string[], qos: 0 | 1 = 1): Promise<number[]> {
    return new Promise((resolve) => {
      const id = this.nextPacketId();
      this.pending.set(id, { kind: "subscribe", topics, resolve });
      if (this.ready) this.send(encodeSubscribe(id, topics, qos));
    });
  }

  /** Ends the connection for good; a graceful end sends DISCONNECT first. */
  close(graceful = true): void {
    if (this.closed) return;
    this.closed = true;
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
    this.timers.connect = setTimeout(() => this.drop("connection timed out"), this.options.connectTimeoutMs ?? 30_000);
    Bun.connect({
      hostname: host,
      port,
      tls: tls
        ? {
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            serverName: tls.serverName,
            rejectUnauthorized: true,
            ...(tls.alpn ? { ALPNProtocols: alpnWireFormat(tls.alpn) } : {}),
          }
        : undefined,
      socket: {
        open: (socket) => this.onOpen(socket),
        data: (socket, data) => void (socket === this.socket && this.onData(data)),
        drain: (socket) => void (socket === this.socket && this.flush()),
        close: (socket) => void (socket === this.socket && this.drop()),
        end: (socket) => void (socket === this.socket && this.drop()),
        error: (socket, error) => void (socket === this.socket && this.drop(error.message)),
        connectError: (_socket, error) => this.drop(error.message),
        handshake: (socket, success, verifyError) => {
          if (!success || verifyError) this.drop(`TLS handshake failed: ${verifyError?.message ?? "unknown reason"}`, socket);
        },
      },
    }).catch((error: Error) => this.drop(error.message));
  }

  private onOpen(socket: Socket<undefined>): void {
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
      return this.drop(`protocol error: ${(error as Error).message}`);
    }
    for (const packet of packets) this.onPacket(packet);
  }

  private onPacket(packet: IncomingPacket): void {
    switch (packet.type) {
      case PacketType.Connack: {
        clearTimeout(this.timers.connect);
        if (packet.returnCode !== 0) {
          return this.drop(`connection refused: ${CONNACK_REASONS[packet.returnCode] ?? `code ${packet.returnCode}`}`);
        }
        this.ready = true;
        this.failures = 0;
        this.startKeepalive();
        // What the broker never acknowledged goes again, in the original order.
        for (const [id, p] of this.pending) {
          this.send(p.kind === "publish" ? encodePublish(p.topic, p.payload, 1, id, true) : encodeSubscribe(id, p.topics, 1));
        }
        this.events.connect?.(packet.sessionPresent);
        return;
      }
      case PacketType.Publish:
        if (packet.qos === 1) this.send(encodePuback(packet.packetId));
        // QoS 2 is never subscribed to; a broker that sends it anyway gets no PUBREC and resends.
        if (packet.qos <= 1) this.events.message?.(packet.topic, packet.payload);
        return;
      case PacketType.Puback:
      case PacketType.Suback: {
        const p = this.pending.get(packet.packetId);
        if (!p) return;
        this.pending.delete(packet.packetId);
        if (p.kind === "publish") p.resolve();
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
    clearInterval(this.timers.keepalive);
    const seconds = this.options.keepaliveSeconds;
    if (seconds <= 0) return;
    // A PINGREQ every keepalive period; no PINGRESP by the next one means the link is dead.
    this.timers.keepalive = setInterval(() => {
      if (this.awaitingPong) return this.drop("no answer to PINGREQ within the keepalive period");
      this.awaitingPong = true;
      this.send(PINGREQ);
    }, seconds * 1000);
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
    if (reason) this.events.error?.(reason);
    if (wasUp) this.events.offline?.();
    this.failures++;
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      this.open();
    }, this.options.reconnectDelayMs(this.failures));
  }

  private clearTimers(): void {
    clearTimeout(this.timers.connect);
    clearInterval(this.timers.keepalive);
    clearTimeout(this.timers.reconnect);
    this.timers = {};
  }

  private nextPacketId(): number {
    for (;;) {
      this.lastPacketId = this.lastPacketId === 0xffff ? 1 : this.lastPacketId + 1;
      if (!this.pending.has(this.lastPacketId)) return this.lastPacketId;
    }
  }
}

/** ALPN protocol list as TLS sends it: each name prefixed by its length. */
export function alpnWireFormat(protocol: string): Uint8Array {
  const name = encoder.encode(protocol);
  const out = new Uint8Array(1 + name.length);
  out[0] = name.length;
  out.set(name, 1);
  return out;
}
