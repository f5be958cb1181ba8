/**
 * Our MQTT client against a real Mosquitto, with mqtt.js (written by others) as the peer:
 * QoS 1 both ways, persistent sessions, offline publishes, refusals, keepalive, mutual TLS.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import mqtt from "mqtt";
import { MqttClient, type MqttClientOptions } from "../../src/mqtt/client.ts";
import { makeTestPki } from "../helpers/certs.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(options?: Parameters<typeof Mosquitto.start>[0]): Promise<Mosquitto> {
  const b = await Mosquitto.start(options);
  cleanups.push(() => b.stop());
  return b;
}

interface Seen {
  connects: boolean[];
  messages: { topic: string; payload: string }[];
  errors: string[];
  offline: number;
  /** Why each working connection ended (undefined: the broker closed it). */
  offlineReasons: (string | undefined)[];
  delays: number[];
}

function client(port: number, overrides: Partial<MqttClientOptions> = {}): { c: MqttClient; seen: Seen } {
  const seen: Seen = { connects: [], messages: [], errors: [], offline: 0, offlineReasons: [], delays: [] };
  const c = new MqttClient(
    {
      host: "127.0.0.1",
      port,
      clientId: "thing-1",
      cleanSession: false,
      keepaliveSeconds: 30,
      reconnectDelayMs: (n) => (seen.delays.push(n), 100),
      ...overrides,
    },
    {
      connect: (sp) => seen.connects.push(sp),
      message: (topic, payload) => seen.messages.push({ topic, payload: new TextDecoder().decode(payload) }),
      error: (m) => seen.errors.push(m),
      offline: (reason) => (seen.offline++, seen.offlineReasons.push(reason)),
    },
  );
  cleanups.push(() => c.close());
  return { c, seen };
}

async function peer(url: string): Promise<mqtt.MqttClient> {
  const p = await mqtt.connectAsync(url, { clientId: `peer-${Math.random()}`, reconnectPeriod: 50 });
  cleanups.push(() => p.endAsync(true));
  return p;
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

describe("MqttClient on Mosquitto", () => {
  test("QoS 1 both ways with an mqtt.js peer", async () => {
    const b = await broker();
    const { c, seen } = client(b.port);
    const granted = await c.subscribe(["$aws/things/thing-1/jobs/notify-next", "x/#"]);
    expect(granted).toEqual([1, 1]);
    const p = await peer(b.url);
    const got: string[] = [];
    p.on("message", (_t, m) => got.push(m.toString()));
    await p.subscribeAsync("up/#", { qos: 1 });
    await p.publishAsync("x/y", "down ✓", { qos: 1 });
    await c.publish("up/1", '{"status":"IN_PROGRESS"}');
    await until("the peer's message", () => seen.messages.length === 1);
    await until("our message at the peer", () => got.length === 1);
    expect(seen.messages).toEqual([{ topic: "x/y", payload: "down ✓" }]);
    expect(got).toEqual(['{"status":"IN_PROGRESS"}']);
    expect(seen.connects).toEqual([false]);
  });

  test("a persistent session keeps subscriptions and queues QoS 1 messages while the client is away", async () => {
    const b = await broker();
    const first = client(b.port);
    await first.c.subscribe(["jobs/notify"]);
    first.c.close();
    const p = await peer(b.url);
    await p.publishAsync("jobs/notify", "while away", { qos: 1 });
    const second = client(b.port);
    await until("the queued message", () => second.seen.messages.length === 1);
    expect(second.seen.connects).toEqual([true]);
    expect(second.seen.messages[0]!.payload).toBe("while away");
  });

  test("publishes made while the broker is down are delivered once it is back", async () => {
    const b = await broker();
    await b.stop();
    const { c, seen } = client(b.port, { reconnectDelayMs: () => 400 });
    const published = c.publish("up/late", "queued");
    await Bun.sleep(150);
    expect(c.connected).toBe(false);
    await b.restart();
    const p = await peer(b.url);
    const got: string[] = [];
    p.on("message", (_t, m) => got.push(m.toString()));
    await p.subscribeAsync("up/#", { qos: 1 });
    await published;
    await until("the late message", () => got.length === 1);
    expect(got).toEqual(["queued"]);
    expect(seen.errors.length).toBeGreaterThan(0); // connection refused while it was down
  });

  test("a broker restart: offline, reconnected, subscriptions renewed by the caller", async () => {
    const b = await broker();
    const { c, seen } = client(b.port);
    await c.subscribe(["a"]);
    await b.restart();
    await until("reconnection", () => seen.connects.length === 2);
    expect(seen.offline).toBe(1);
    expect(seen.connects).toEqual([false, false]); // no persistence in the test broker: session lost
  });

  test("a refused CONNECT is reported with its reason and retried with growing attempt numbers", async () => {
    const b = await broker({ global: ["allow_anonymous false"] });
    const { c, seen } = client(b.port);
    await until("two attempts", () => seen.delays.length >= 2);
    expect(c.connected).toBe(false);
    expect(seen.errors[0]).toBe("connection refused: not authorized");
    expect(seen.delays.slice(0, 2)).toEqual([1, 2]);
  });

  test("a broker that stops answering is detected by the keepalive", async () => {
    const b = await broker();
    const { c, seen } = client(b.port, { keepaliveSeconds: 1 });
    await c.subscribe(["a"]);
    b.pause();
    await until("the keepalive to notice", () => seen.offline === 1, 5000);
    expect(seen.offlineReasons).toEqual(["no answer to PINGREQ within the keepalive period"]);
    b.resume();
    await until("reconnection", () => seen.connects.length === 2, 5000);
  });

  test("garbage from the server drops the connection instead of crashing", async () => {
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { open: (s) => void s.write(new Uint8Array([0x20, 0xff, 0xff, 0xff, 0xff, 0x7f])), data() {} },
    });
    cleanups.push(() => server.stop(true));
    const { seen } = client(server.port);
    await until("a protocol error", () => seen.errors.some((e) => e.startsWith("protocol error")));
  });
});

describe("MqttClient over mutual TLS", () => {
  test("connects with a client certificate and the CA; fails with the wrong CA or no certificate", async () => {
    const pki = makeTestPki();
    const b = await broker({
      listener: [
        `cafile ${pki.caCert}`,
        `certfile ${pki.serverCert}`,
        `keyfile ${pki.serverKey}`,
        "require_certificate true",
      ],
    });
    const tls = (ca: string, withCert = true) => ({
      serverName: "127.0.0.1",
      ca: readFileSync(ca),
      ...(withCert ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}),
    });

    const good = client(b.port, { tls: tls(pki.caCert) });
    expect(await good.c.subscribe(["t"])).toEqual([1]);
    await good.c.publish("t", "over tls");
    await until("the echo", () => good.seen.messages.length === 1);
    good.c.close();

    const wrongCa = client(b.port, { clientId: "thing-2", tls: tls(pki.otherCaCert) });
    await until("a TLS failure", () => wrongCa.seen.errors.length > 0);
    expect(wrongCa.c.connected).toBe(false);
    expect(wrongCa.seen.connects).toEqual([]);

    const noCert = client(b.port, { clientId: "thing-3", tls: tls(pki.caCert, false) });
    await until("a refusal", () => noCert.seen.delays.length > 0);
    expect(noCert.seen.connects).toEqual([]);
  });
});
