/**
 * The embedded broker's time-dependent limits on an injected ManualClock (no sleeping through
 * the 10 s CONNECT deadline), and its per-connection subscription cap, with real sockets.
 */
import { afterEach, expect, test } from "bun:test";
import mqtt from "mqtt";
import { connect, type Socket } from "node:net";
import { startEmbeddedBroker } from "../../src/service/broker/embedded-broker.ts";
import type { Transport } from "../../src/service/broker/transport.ts";
import { MQTT_LIMITS } from "../../src/service/limits.ts";
import { ManualClock } from "../../src/util/clock.ts";

let broker: Transport | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

const logged: { fields: Record<string, unknown>; message: string }[] = [];
async function start(clock: ManualClock): Promise<number> {
  broker = await startEmbeddedBroker({
    host: "127.0.0.1",
    port: 0,
    onRequest: () => {},
    isRegisteredThing: (id) => id.startsWith("pi-"),
    logRefusal: (fields, message) => logged.push({ fields, message }),
    clock,
  });
  return Number(new URL(broker.url).port);
}

const open = (port: number) =>
  new Promise<{ socket: Socket; closed: () => boolean }>((resolve) => {
    let closed = false;
    const socket = connect(port, "127.0.0.1", () => resolve({ socket, closed: () => closed }));
    socket.on("close", () => (closed = true));
    socket.on("error", () => {});
  });

test("redteam-service 17: a connection without CONNECT is closed at the deadline (injected clock), a connected one is not", async () => {
  const clock = new ManualClock();
  const port = await start(clock);
  const idle = await open(port);
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: "pi-1", reconnectPeriod: 0 });
  let deviceClosed = false;
  device.on("close", () => (deviceClosed = true));
  await Bun.sleep(50);
  clock.advance(MQTT_LIMITS.connectTimeoutMs - 1);
  await Bun.sleep(50);
  expect(idle.closed()).toBe(false);
  clock.advance(1);
  await Bun.sleep(50);
  expect(idle.closed()).toBe(true);
  expect(deviceClosed).toBe(false);
  expect(logged.some((l) => l.fields.kind === "connect timeout")).toBe(true);
  await device.endAsync(true);
});

test("at most maxSubscriptionsPerConnection (AWS: 50) subscriptions per connection; the rest get SUBACK 0x80", async () => {
  const port = await start(new ManualClock());
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: "pi-2", reconnectPeriod: 0 });
  // mqtt.js rejects a 0x80 grant; the SUBACK rides on the error.
  const grant = (filter: string) =>
    device.subscribeAsync(filter, { qos: 1 }).then(
      (g) => g[0]!.qos as number,
      (e: { packet?: { granted?: number[] } }) => e.packet?.granted?.[0],
    );
  const granted: (number | undefined)[] = [];
  for (let i = 0; i <= MQTT_LIMITS.maxSubscriptionsPerConnection; i++)
    granted.push(await grant(`$aws/things/pi-2/t/${i}`));
  expect(granted.slice(0, MQTT_LIMITS.maxSubscriptionsPerConnection).every((q) => q === 1)).toBe(true);
  expect(granted.at(-1)).toBe(128);
  // Re-subscribing to a filter it already has is not a new subscription.
  expect(await grant("$aws/things/pi-2/t/0")).toBe(1);
  await device.endAsync(true);
});
