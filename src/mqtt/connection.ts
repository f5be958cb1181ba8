/**
 * The MQTT connection: QoS 1, client id = thing name, persistent session, reconnect with jittered
 * exponential backoff. The only import of 'mqtt'.
 */
import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import type { ConnectionSettings } from "../config/connection-settings.ts";
import { jitteredDelay } from "../util/backoff.ts";

export interface Connection {
  /** Publishes at QoS 1; resolves when the broker acknowledged it (or it was queued while offline). */
  publish(topic: string, payload: string): Promise<void>;
  subscribe(topics: readonly string[]): Promise<void>;
  readonly connected: boolean;
  /** Resolves at the next (or current) connection. */
  whenConnected(): Promise<void>;
  /** `sessionPresent` false means subscriptions (and queued notifications) were lost. */
  onConnect(listener: (sessionPresent: boolean) => void): void;
  onMessage(listener: (topic: string, payload: Uint8Array) => void): void;
  onStatus(listener: (event: "offline" | "error", detail?: string) => void): void;
  close(force?: boolean): Promise<void>;
}

export interface ConnectOptions {
  readonly keepaliveSeconds?: number;
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

export function connect(settings: ConnectionSettings, options: ConnectOptions = {}): Connection {
  const { endpoint } = settings;
  const minMs = options.reconnectMinMs ?? 1000;
  const maxMs = options.reconnectMaxMs ?? 120_000;
  let failures = 0;
  const client = mqtt.connect({
    protocol: endpoint.protocol,
    host: endpoint.host,
    port: endpoint.port,
    clientId: settings.thingName,
    clean: false,
    resubscribe: false,
    keepalive: options.keepaliveSeconds ?? 60,
    reconnectPeriod: jitteredDelay(0, minMs, maxMs),
    connectTimeout: 30_000,
    protocolVersion: 4,
    ...(endpoint.protocol === "mqtts"
      ? {
          servername: endpoint.host,
          rejectUnauthorized: true,
          ...(settings.cert ? { cert: readFileSync(settings.cert) } : {}),
          ...(settings.key ? { key: readFileSync(settings.key) } : {}),
          ...(settings.rootCa ? { ca: readFileSync(settings.rootCa) } : {}),
          ...(endpoint.alpn ? { ALPNProtocols: [endpoint.alpn] } : {}),
        }
      : {}),
  });

  const connectListeners: ((sessionPresent: boolean) => void)[] = [];
  const statusListeners: ((event: "offline" | "error", detail?: string) => void)[] = [];
  let waiters: (() => void)[] = [];

  client.on("connect", (connack) => {
    // Small request/response messages: do not let Nagle hold them back ~40 ms.
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
    failures = 0;
    client.options.reconnectPeriod = jitteredDelay(0, minMs, maxMs);
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
    for (const l of connectListeners) l(Boolean(connack.sessionPresent));
  });
  client.on("close", () => {
    // Each failed attempt waits longer; jitter spreads a fleet's reconnects.
    failures++;
    client.options.reconnectPeriod = jitteredDelay(failures, minMs, maxMs);
  });
  client.on("offline", () => {
    for (const l of statusListeners) l("offline");
  });
  client.on("error", (error) => {
    for (const l of statusListeners) l("error", error.message);
  });

  return {
    publish: (topic, payload) =>
      new Promise((resolve, reject) => {
        client.publish(topic, payload, { qos: 1 }, (error) => (error ? reject(error) : resolve()));
      }),
    subscribe: (topics) =>
      new Promise((resolve, reject) => {
        client.subscribe([...topics], { qos: 1 }, (error, granted) => {
          if (error) return reject(error);
          const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
          if (refused.length > 0) return reject(new Error(`subscription refused for ${refused.join(", ")} (check the IoT policy)`));
          resolve();
        });
      }),
    get connected() {
      return client.connected;
    },
    whenConnected: () => (client.connected ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    onConnect: (l) => void connectListeners.push(l),
    onMessage: (l) => void client.on("message", (topic, payload) => l(topic, payload)),
    onStatus: (l) => void statusListeners.push(l),
    close: (force = false) => new Promise<void>((resolve) => client.end(force, {}, () => resolve())),
  };
}
