/**
 * MQTT through a real HTTP proxy (Debian's tinyproxy, started here): plain and mutual-TLS tunnels,
 * Basic authentication (right, wrong and missing credentials), a proxy that refuses the tunnel,
 * no proxy at all, and the proxy restarting under a connected session. The password must appear
 * in no error the client reports.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { HttpProxy } from "../../src/config/http-proxy-config.ts";
import { MqttClient, type MqttClientOptions } from "../../src/mqtt/client.ts";
import { makeTestPki } from "../helpers/certs.ts";
import { freePort, Mosquitto } from "../helpers/mosquitto.ts";
import { Tinyproxy, tinyproxyPath } from "../helpers/tinyproxy.ts";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentProcess } from "../helpers/agent-process.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { tempDir } from "../helpers/temp.ts";

const PASSWORD = "s3cret-Pa55word";
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start<T extends { stop(): Promise<void> }>(made: Promise<T>): Promise<T> {
  const x = await made;
  cleanups.push(() => x.stop());
  return x;
}

interface Seen {
  connects: boolean[];
  messages: string[];
  errors: string[];
  offline: number;
}

function client(port: number, proxy: HttpProxy | undefined, overrides: Partial<MqttClientOptions> = {}) {
  const seen: Seen = { connects: [], messages: [], errors: [], offline: 0 };
  const c = new MqttClient(
    {
      host: "127.0.0.1",
      port,
      clientId: `proxied-${Math.random().toString(36).slice(2, 8)}`,
      cleanSession: false,
      keepaliveSeconds: 30,
      connectTimeoutMs: 5000,
      reconnectDelayMs: () => 100,
      ...(proxy ? { proxy } : {}),
      ...overrides,
    },
    {
      connect: (sp) => seen.connects.push(sp),
      message: (_topic, payload) => seen.messages.push(new TextDecoder().decode(payload)),
      error: (m) => seen.errors.push(m),
      offline: () => seen.offline++,
    },
  );
  cleanups.push(() => c.close());
  return { c, seen };
}

async function until(what: string, cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

const proxyAt = (port: number, auth?: HttpProxy["auth"]): HttpProxy => ({
  host: "localhost",
  port,
  auth,
  source: "test",
});

describe.skipIf(!tinyproxyPath())("MQTT through an HTTP proxy (tinyproxy)", () => {
  test("plain MQTT tunnelled with CONNECT: subscribe, publish, echo; the proxy saw the CONNECT", async () => {
    const broker = await start(Mosquitto.start());
    const proxy = await start(Tinyproxy.start());
    const { c, seen } = client(broker.port, proxyAt(proxy.port));
    expect(await c.subscribe(["t"])).toEqual([1]);
    expect(await c.publish("t", "through the proxy")).toBe(true);
    await until("the echo", () => seen.messages.length === 1);
    expect(seen.messages).toEqual(["through the proxy"]);
    expect(proxy.log()).toContain(`CONNECT 127.0.0.1:${broker.port}`);
  });

  test("mutual TLS inside the tunnel (the proxy carries only ciphertext)", async () => {
    const pki = makeTestPki();
    const broker = await start(
      Mosquitto.start({
        listener: [
          `cafile ${pki.caCert}`,
          `certfile ${pki.serverCert}`,
          `keyfile ${pki.serverKey}`,
          "require_certificate true",
        ],
      }),
    );
    const proxy = await start(Tinyproxy.start());
    const tls = {
      serverName: "127.0.0.1",
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    };
    const { c, seen } = client(broker.port, proxyAt(proxy.port), { tls });
    expect(await c.subscribe(["t"])).toEqual([1]);
    await c.publish("t", "tls through the proxy");
    await until("the echo", () => seen.messages.length === 1);

    const wrongCa = client(broker.port, proxyAt(proxy.port), { tls: { ...tls, ca: readFileSync(pki.otherCaCert) } });
    await until("a TLS failure", () => wrongCa.seen.errors.length > 0);
    expect(wrongCa.seen.connects).toEqual([]);
  });

  test("Basic authentication: the right credentials connect; wrong or none get a clear error without the password", async () => {
    const broker = await start(Mosquitto.start());
    const proxy = await start(Tinyproxy.start({ basicAuth: { user: "device", password: PASSWORD } }));

    const good = client(broker.port, proxyAt(proxy.port, { username: "device", password: PASSWORD }));
    await until("a connection", () => good.seen.connects.length === 1);

    const wrong = client(broker.port, proxyAt(proxy.port, { username: "device", password: `${PASSWORD}x` }));
    const none = client(broker.port, proxyAt(proxy.port));
    await until("refusals", () => wrong.seen.errors.length > 0 && none.seen.errors.length > 0);
    for (const seen of [wrong.seen, none.seen]) {
      expect(seen.connects).toEqual([]);
      expect(seen.errors[0]).toContain("wants authentication or refused the credentials");
      expect(seen.errors.join("\n")).not.toContain(PASSWORD);
      expect(seen.errors.join("\n")).not.toContain(Buffer.from(`device:${PASSWORD}`).toString("base64"));
    }
  });

  test("a proxy that refuses the tunnel (CONNECT allowed only to 443): an error naming the refusal, retried", async () => {
    const broker = await start(Mosquitto.start());
    const proxy = await start(Tinyproxy.start({ connectPorts: [443] }));
    const { seen } = client(broker.port, proxyAt(proxy.port));
    await until("two refusals (it keeps trying)", () => seen.errors.length >= 2);
    expect(seen.connects).toEqual([]);
    expect(seen.errors[0]).toStartWith("the HTTP proxy refused the tunnel (HTTP/1.");
  });

  test("no proxy listening: the error names the proxy, not the broker", async () => {
    const broker = await start(Mosquitto.start());
    const { seen } = client(broker.port, proxyAt(await freePort()));
    await until("an error", () => seen.errors.length > 0);
    expect(seen.errors[0]).toContain("cannot connect to the HTTP proxy localhost:");
  });

  test("a proxy that accepts and never answers CONNECT: each attempt times out and its socket is closed", async () => {
    const broker = await start(Mosquitto.start());
    let open = 0;
    let accepted = 0;
    const silent = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: () => void (open++, accepted++),
        data() {},
        close: () => void open--,
      },
    });
    cleanups.push(() => silent.stop(true));
    const { seen } = client(broker.port, proxyAt(silent.port), { connectTimeoutMs: 200 });
    await until("three timed-out attempts", () => seen.errors.filter((e) => e === "connection timed out").length >= 3);
    await until("the abandoned tunnels closed", () => open <= 1);
    expect(accepted).toBeGreaterThanOrEqual(3);
    expect(seen.connects).toEqual([]);
  });

  test("the proxy restarting mid-session: offline, reconnected through it, the session and its queue kept", async () => {
    const broker = await start(Mosquitto.start());
    const proxy = await start(Tinyproxy.start());
    const { c, seen } = client(broker.port, proxyAt(proxy.port));
    expect(await c.subscribe(["t"])).toEqual([1]);
    await proxy.stop();
    await until("offline", () => seen.offline === 1);
    const queued = c.publish("t", "sent while the proxy was down");
    await Bun.sleep(300);
    await proxy.restart();
    expect(await queued).toBe(true);
    await until("the queued message's echo", () => seen.messages.includes("sent while the proxy was down"));
    expect(seen.connects).toEqual([false, true]);
  });

  test("the agent process with --http-proxy-config (Basic auth): a job runs through the proxy; no password in its log", async () => {
    const broker = await start(Mosquitto.start());
    const proxy = await start(Tinyproxy.start({ basicAuth: { user: "pi", password: PASSWORD } }));
    const peer = await JobsPeer.start(broker.url);
    cleanups.push(() => peer.stop());
    const dir = tempDir();
    const conf = join(dir, "http-proxy.conf");
    writeFileSync(
      conf,
      JSON.stringify({
        "http-proxy-enabled": true,
        "http-proxy-host": "localhost",
        "http-proxy-port": String(proxy.port),
        "http-proxy-auth-method": "UserNameAndPassword",
        "http-proxy-username": "pi",
        "http-proxy-password": PASSWORD,
      }),
    );
    chmodSync(conf, 0o600);
    const handlers = tempDir();
    const agent = AgentProcess.start({
      brokerUrl: broker.url,
      thingName: "proxied-agent",
      handlerDirectory: handlers,
      extraArgs: ["--http-proxy-config", conf],
    });
    cleanups.push(() => agent.kill("SIGKILL"));
    const starting = await agent.waitForLog("Starting");
    expect(starting).toContain(`localhost:${proxy.port} (Basic authentication as pi)`);
    peer.queueJob("proxied-agent", "via-proxy", {
      version: "1.0",
      steps: [{ action: { name: "a", type: "runCommand", input: { command: "true" } } }],
    });
    await peer.waitForStatus("proxied-agent", "via-proxy", "SUCCEEDED");
    expect(proxy.log()).toContain(`CONNECT 127.0.0.1:${broker.port}`);
    const log = agent.lines.join("\n");
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(Buffer.from(`pi:${PASSWORD}`).toString("base64"));
  });
});
