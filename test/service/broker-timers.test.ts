/**
 * The brokers' time-dependent limits on an injected ManualClock (no sleeping through the 10 s
 * CONNECT deadline or a second of request rate), with real sockets: the embedded broker's
 * CONNECT deadline and subscription cap, and what the service bounds when attached to Mosquitto.
 */
import { afterEach, expect, test } from "bun:test";
import mqtt from "mqtt";
import { attachToBroker } from "../../src/service/broker/attached-broker.ts";
import { startEmbeddedBroker } from "../../src/service/broker/embedded-broker.ts";
import type { Transport } from "../../src/service/broker/transport.ts";
import { MQTT_LIMITS } from "../../src/service/limits.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { openRawSocket } from "../helpers/raw-socket.ts";

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

const open = openRawSocket;

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

test("attached to Mosquitto: a thing's requests above 100 per second and over 128 KB are dropped, others' are not", async () => {
  const mosquitto = await Mosquitto.start();
  const clock = new ManualClock();
  logged.length = 0;
  let answered = 0;
  const attached = await attachToBroker(
    mosquitto.url,
    (topic, _payload, reply) => {
      answered++;
      reply(`${topic}/accepted`, "{}");
    },
    () => {},
    { clock, logRefusal: (fields, message) => logged.push({ fields, message }) },
  );
  try {
    const device = await mqtt.connectAsync(mosquitto.url, { clientId: "pi-3", reconnectPeriod: 0 });
    const other = await mqtt.connectAsync(mosquitto.url, { clientId: "pi-4", reconnectPeriod: 0 });
    let otherAnswers = 0;
    other.on("message", () => otherAnswers++);
    await other.subscribeAsync("$aws/things/pi-4/jobs/get/accepted", { qos: 1 });
    // The injected clock does not move: exactly the burst of 100 is served.
    for (let i = 0; i < 150; i++) await device.publishAsync("$aws/things/pi-3/jobs/get", "{}", { qos: 1 });
    await device.publishAsync("$aws/things/pi-3/shadow/update", Buffer.alloc(MQTT_LIMITS.maxPayloadBytes + 1, 0x20), {
      qos: 1,
    });
    await other.publishAsync("$aws/things/pi-4/jobs/get", "{}", { qos: 1 });
    const deadline = Date.now() + 5000;
    while (otherAnswers < 1 && Date.now() < deadline) await Bun.sleep(10);
    await Bun.sleep(200);
    expect(answered).toBe(MQTT_LIMITS.requestBurst + 1);
    expect(otherAnswers).toBe(1);
    clock.advance(1000); // a second later, the next 100
    await device.publishAsync("$aws/things/pi-3/jobs/get", "{}", { qos: 1 });
    await Bun.sleep(200);
    expect(answered).toBe(MQTT_LIMITS.requestBurst + 2);
    clock.advance(MQTT_LIMITS.refusalLogIntervalMs); // the interval's summary
    const kinds = logged.flatMap((l) => [
      l.fields.kind,
      ...Object.keys((l.fields.refusals as object | undefined) ?? {}),
    ]);
    expect(kinds).toContain("over the request rate (dropped)");
    expect(kinds).toContain("packet too large");
    await device.endAsync(true);
    await other.endAsync(true);
  } finally {
    await attached.close();
    await mosquitto.stop();
  }
});
