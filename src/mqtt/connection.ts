/**
 * The MQTT connection: QoS 1, client id = thing name, persistent session, reconnect with jittered
 * exponential backoff (reset only once a connection has lasted), incoming messages capped at
 * MAX_INCOMING_PACKET_BYTES, on our own MQTT client (./client.ts).
 */
import { readFileSync } from "node:fs";
import { MqttClient, type PublishOptions } from "./client.ts";
import type { ConnectionSettings } from "../config/connection-settings.ts";
import { jitteredDelay } from "../util/backoff.ts";
import type { Clock } from "../util/clock.ts";

/**
 * The largest incoming packet the agent reads: AWS IoT Core's 128 KB payload limit plus 8 KiB for
 * the topic and headers (a job document itself is at most 32 KB). Anything larger — only a non-AWS
 * broker can deliver it — is acknowledged and dropped (docs/COMPATIBILITY.md), so it can neither
 * make the agent buffer megabytes nor come back on every reconnect.
 */
export const MAX_INCOMING_PACKET_BYTES = 128 * 1024 + 8 * 1024;

/** Unacknowledged packets at most; the agent needs a handful (start-next, one update, the shadow). */
const MAX_IN_FLIGHT = 100;

export interface Connection {
  /**
   * Publishes at QoS 1; resolves when the broker acknowledged it (or it was queued while offline),
   * or when a later publish with the same `replace` key superseded it.
   */
  publish(topic: string, payload: string, options?: PublishOptions): Promise<void>;
  subscribe(topics: readonly string[]): Promise<void>;
  readonly connected: boolean;
  /** Resolves at the next (or current) connection. */
  whenConnected(): Promise<void>;
  /** `sessionPresent` false means subscriptions (and queued notifications) were lost. */
  onConnect(listener: (sessionPresent: boolean) => void): void;
  onMessage(listener: (topic: string, payload: Uint8Array) => void): void;
  onStatus(listener: (status: ConnectionStatus) => void): void;
  /** A message over MAX_INCOMING_PACKET_BYTES was acknowledged and dropped: topic, size, first bytes. */
  onOversized(listener: (topic: string, bytes: number, head: Uint8Array) => void): void;
  close(force?: boolean): Promise<void>;
}

/** A working connection ended, or an attempt failed; `broker` is host:port (the tunnel's far end via a proxy). */
export type ConnectionStatus =
  | {
      readonly event: "offline";
      /** undefined: the broker closed the connection (no error on our side). */
      readonly reason: string | undefined;
      readonly connectedMs: number;
      readonly broker: string;
    }
  | { readonly event: "error"; readonly detail: string; readonly broker: string };

export interface ConnectOptions {
  readonly keepaliveSeconds?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** How long a connection must last before the backoff starts again from the minimum (30 s). */
  readonly stableAfterMs?: number;
  readonly maxPacketBytes?: number;
  readonly clock?: Clock;
}

export function connect(settings: ConnectionSettings, options: ConnectOptions = {}): Connection {
  const { endpoint } = settings;
  const minMs = options.reconnectMinMs ?? 1000;
  const maxMs = options.reconnectMaxMs ?? 120_000;
  const connectListeners: ((sessionPresent: boolean) => void)[] = [];
  const statusListeners: ((status: ConnectionStatus) => void)[] = [];
  const broker = `${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
  const messageListeners: ((topic: string, payload: Uint8Array) => void)[] = [];
  const oversizedListeners: ((topic: string, bytes: number, head: Uint8Array) => void)[] = [];
  let waiters: (() => void)[] = [];

  const client = new MqttClient(
    {
      host: endpoint.host,
      port: endpoint.port,
      tls:
        endpoint.protocol === "mqtts"
          ? {
              serverName: endpoint.host,
              alpn: endpoint.alpn,
              ...(settings.cert ? { cert: readFileSync(settings.cert) } : {}),
              ...(settings.key ? { key: readFileSync(settings.key) } : {}),
              ...(settings.rootCa ? { ca: readFileSync(settings.rootCa) } : {}),
            }
          : undefined,
      clientId: settings.thingName,
      cleanSession: false,
      keepaliveSeconds: options.keepaliveSeconds ?? 60,
      connectTimeoutMs: 30_000,
      // Each failed attempt waits longer; jitter spreads a fleet's reconnects.
      reconnectDelayMs: (failures) => jitteredDelay(failures - 1, minMs, maxMs),
      stableAfterMs: options.stableAfterMs ?? 30_000,
      maxPacketBytes: options.maxPacketBytes ?? MAX_INCOMING_PACKET_BYTES,
      maxInFlight: MAX_IN_FLIGHT,
      proxy: settings.proxy,
      clock: options.clock,
    },
    {
      connect: (sessionPresent) => {
        const ready = waiters;
        waiters = [];
        for (const w of ready) w();
        for (const l of connectListeners) l(sessionPresent);
      },
      message: (topic, payload) => {
        for (const l of messageListeners) l(topic, payload);
      },
      offline: (reason, connectedMs) => {
        for (const l of statusListeners) l({ event: "offline", reason, connectedMs, broker });
      },
      error: (detail) => {
        for (const l of statusListeners) l({ event: "error", detail, broker });
      },
      oversized: (topic, bytes, head) => {
        for (const l of oversizedListeners) l(topic, bytes, head);
      },
    },
  );

  return {
    publish: async (topic, payload, publishOptions) => void (await client.publish(topic, payload, 1, publishOptions)),
    subscribe: async (topics) => {
      const granted = await client.subscribe(topics, 1);
      const refused = topics.filter((_, i) => granted[i] === 0x80);
      if (refused.length > 0) throw new Error(`subscription refused for ${refused.join(", ")} (check the IoT policy)`);
    },
    get connected() {
      return client.connected;
    },
    whenConnected: () => (client.connected ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    onConnect: (l) => void connectListeners.push(l),
    onMessage: (l) => void messageListeners.push(l),
    onStatus: (l) => void statusListeners.push(l),
    onOversized: (l) => void oversizedListeners.push(l),
    close: async (force = false) => client.close(!force),
  };
}
