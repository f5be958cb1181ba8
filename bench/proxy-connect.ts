/**
 * Time to CONNACK, direct and through an HTTP proxy (tinyproxy on loopback), plain MQTT and mutual
 * TLS: `bun bench/proxy-connect.ts`. 100 sequential connects each; p50 and p95 in ms. A minimal
 * CONNECT relay written here (no auth, TCP_NODELAY both ways) separates the tunnel's own cost from
 * tinyproxy's relaying.
 */
import { readFileSync } from "node:fs";
import type { HttpProxy } from "../src/config/http-proxy-config.ts";
import { MqttClient, type TlsSettings } from "../src/mqtt/client.ts";
import { makeTestPki } from "../test/helpers/certs.ts";
import { freePort, Mosquitto } from "../test/helpers/mosquitto.ts";
import { Tinyproxy } from "../test/helpers/tinyproxy.ts";

const N = 100;
const pki = makeTestPki();
const tlsPort = await freePort();
const broker = await Mosquitto.start({
  global: [
    "allow_anonymous true",
    `listener ${tlsPort} 127.0.0.1`,
    `cafile ${pki.caCert}`,
    `certfile ${pki.serverCert}`,
    `keyfile ${pki.serverKey}`,
    "require_certificate true",
  ],
});
const proxy = await Tinyproxy.start({ basicAuth: { user: "bench", password: "bench-password" } });
const relay = await startRelay();
const viaRelay: HttpProxy = { host: "127.0.0.1", port: relay.port, auth: undefined, source: "bench" };
const viaProxy: HttpProxy = {
  host: "127.0.0.1",
  port: proxy.port,
  auth: { username: "bench", password: "bench-password" },
  source: "bench",
};
const tls: TlsSettings = {
  serverName: "127.0.0.1",
  ca: readFileSync(pki.caCert),
  cert: readFileSync(pki.clientCert),
  key: readFileSync(pki.clientKey),
};

async function connectOnce(port: number, proxy?: HttpProxy, withTls?: TlsSettings): Promise<number> {
  const started = performance.now();
  let client!: MqttClient;
  await new Promise<void>((resolve, reject) => {
    client = new MqttClient(
      {
        host: "127.0.0.1",
        port,
        clientId: "bench",
        cleanSession: true,
        keepaliveSeconds: 60,
        reconnectDelayMs: () => 1e9,
        ...(proxy ? { proxy } : {}),
        ...(withTls ? { tls: withTls } : {}),
      },
      { connect: () => resolve(), error: (m) => reject(new Error(m)) },
    );
  });
  const ms = performance.now() - started;
  client.close();
  return ms;
}

function stats(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(2);
  return `${at(0.5)} | ${at(0.95)}`;
}

console.log(`| connection (loopback, ${N} connects each) | p50 ms | p95 ms |`);
console.log("|---|---:|---:|");
for (const [name, port, p, t] of [
  ["mqtt:// direct", broker.port, undefined, undefined],
  ["mqtt:// through tinyproxy (Basic auth)", broker.port, viaProxy, undefined],
  ["mqtt:// through a minimal CONNECT relay", broker.port, viaRelay, undefined],
  ["mqtts:// mutual TLS direct", tlsPort, undefined, tls],
  ["mqtts:// mutual TLS through tinyproxy (Basic auth)", tlsPort, viaProxy, tls],
  ["mqtts:// mutual TLS through a minimal CONNECT relay", tlsPort, viaRelay, tls],
] as const) {
  await connectOnce(port, p, t); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < N; i++) samples.push(await connectOnce(port, p, t));
  console.log(`| ${name} | ${stats(samples)} |`);
}
relay.stop(true);
await proxy.stop();
await broker.stop();

/** CONNECT host:port → 200, then bytes both ways; Nagle off on both legs. */
async function startRelay() {
  type Side = { peer?: import("bun").Socket<Side>; head: string; pending: Uint8Array[] };
  return Bun.listen<Side>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: (s) => {
        s.data = { head: "", pending: [] };
        s.setNoDelay(true);
      },
      data: async (s, chunk) => {
        if (s.data.peer) return void s.data.peer.write(chunk);
        s.data.head += new TextDecoder().decode(chunk);
        const m = /^CONNECT ([^:]+):(\d+) /.exec(s.data.head);
        if (!m || !s.data.head.includes("\r\n\r\n")) return;
        s.data.peer = await Bun.connect<Side>({
          hostname: m[1]!,
          port: Number(m[2]),
          data: { peer: s, head: "", pending: [] },
          socket: {
            open: (u) => void u.setNoDelay(true),
            data: (u, c) => void u.data.peer!.write(c),
            close: (u) => void u.data.peer!.end(),
          },
        });
        s.write("HTTP/1.1 200 Connection established\r\n\r\n");
      },
      close: (s) => void s.data.peer?.end(),
    },
  });
}
