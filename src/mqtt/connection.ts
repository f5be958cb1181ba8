/**
 * The MQTT connection: QoS 1, client id = thing name, persistent session, reconnect with jittered
 * exponential backoff, on our own MQTT client (./client.ts).
 */
import { readFileSync } from "node:fs";
import { MqttClient } from "./client.ts";
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
  const connectListeners: ((sessionPresent: boolean) => void)[] = [];
  const statusListeners: ((event: "offline" | "error", detail?: string) => void)[] = [];
  const messageListeners: ((topic: string, payload: Uint8Array) => void)[] = [];
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
      offline: () => {
        for (const l of statusListeners) l("offline");
      },
      error: (message) => {
        for (const l of statusListeners) l("error", message);
      },
    },
  );

  return {
    publish: (topic, payload) => client.publish(topic, payload, 1),
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
    close: async (force = false) => client.close(!force),
  };
}
