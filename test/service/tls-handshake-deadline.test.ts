/**
 * The mqtts listener's handshake deadline (src/service/broker/tls-handshakes.ts) on the service's
 * injected ManualClock, with real sockets: a connection that never completes its TLS handshake —
 * silent, or stopped halfway through a ClientHello — is closed when the CONNECT deadline passes,
 * as the plain listener closes a silent connection; one that completes it is not touched by it.
 */
import { afterAll, expect, test } from "bun:test";
import { connect as tlsConnect } from "node:tls";
import type { RunningService } from "../../src/service/service.ts";
import { MQTT_LIMITS } from "../../src/service/limits.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startService } from "../../src/service/service.ts";
import { openRawSocket } from "../helpers/raw-socket.ts";

let service: RunningService | undefined;
afterAll(async () => {
  await service?.stop();
});

const open = openRawSocket;

const settle = () => Bun.sleep(50); // let the event loop deliver the close

test("a handshake never completed is closed at the CONNECT deadline; a completed one is not closed by it", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  service = await startService({
    dataDir: undefined,
    host: "127.0.0.1",
    mqttPort: 0,
    mqttsPort: 0,
    httpPort: 0,
    clock,
    connectionClock: clock,
    log: createLogger({ level: "ERROR", type: "stdout", fd: 2 }),
  });
  expect(service.mqttsUrl).toBeDefined();
  const port = Number(new URL(service.mqttsUrl!).port);

  const silent = await open(port);
  const half = await open(port);
  // The first bytes of a TLS record header and a ClientHello, and then nothing.
  half.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01]));
  // A client that completes the handshake (no client certificate, so the service then closes it
  // itself: what matters is that its handshake left no deadline behind).
  const done = tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false, ALPNProtocols: ["x-amzn-mqtt-ca"] });
  done.on("error", () => {});
  await new Promise((resolve) => done.once("secureConnect", resolve));

  clock.advance(MQTT_LIMITS.connectTimeoutMs - 1);
  await settle();
  expect({ silent: silent.closed(), half: half.closed() }).toEqual({ silent: false, half: false });
  clock.advance(1);
  await settle();
  expect({ silent: silent.closed(), half: half.closed() }).toEqual({ silent: true, half: true });
  done.destroy();
});
