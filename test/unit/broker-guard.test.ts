import { describe, expect, test } from "bun:test";
import { Admission } from "../../src/service/broker/admission.ts";
import { PacketGuard, type ScanResult, topicProblem } from "../../src/service/broker/packet-guard.ts";
import { RefusalLog } from "../../src/service/broker/refusal-log.ts";
import { decidePublish, maySubscribe } from "../../src/service/broker/thing-policy.ts";
import { TokenBucket } from "../../src/service/broker/token-bucket.ts";
import { maxRemainingLength, MQTT_LIMITS } from "../../src/service/limits.ts";
import { ManualClock } from "../../src/util/clock.ts";

const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 128;
    out.push(b);
  } while (n > 0);
  return out;
};
const str = (bytes: Uint8Array | string): number[] => {
  const b = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return [b.length >> 8, b.length & 255, ...b];
};
const packet = (first: number, body: number[]) => Uint8Array.from([first, ...varint(body.length), ...body]);
const publish = (topic: Uint8Array | string, payloadBytes = 2) =>
  packet(0x30, [...str(topic), ...new Array(payloadBytes).fill(0x7b)]);
const subscribe = (...filters: (Uint8Array | string)[]) =>
  packet(0x82, [0, 1, ...filters.flatMap((f) => [...str(f), 1])]);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const unlimited = () => new PacketGuard(() => true);

describe("PacketGuard (raw MQTT framing before the parser)", () => {
  test("well-formed packets pass, however the stream is cut", () => {
    const stream = concat(
      packet(0x10, [...str("MQTT"), 4, 2, 0, 60, ...str("pi-1")]),
      publish("$aws/things/pi-1/jobs/get"),
      subscribe("$aws/things/pi-1/jobs/notify-next", "$aws/things/pi-1/#"),
      packet(0xc0, []),
    );
    for (let cut = 1; cut < stream.length; cut++) {
      const guard = unlimited();
      expect(guard.scan(stream.subarray(0, cut))).toEqual({ status: "ok", end: cut });
      expect(guard.scan(stream.subarray(cut))).toEqual({ status: "ok", end: stream.length - cut });
    }
  });

  test("redteam-service 03: a declared 250 MB CONNECT is refused on its 5 header bytes, before any body", () => {
    const header = Uint8Array.from([0x10, ...varint(250 << 20)]);
    expect(header.length).toBe(5);
    const result = unlimited().scan(header);
    expect(result.status).toBe("refused");
    expect((result as Extract<ScanResult, { status: "refused" }>).refusal.kind).toBe("too-large");
    // One byte over the limit is refused; the limit itself passes.
    const max = maxRemainingLength(3);
    expect(unlimited().scan(Uint8Array.from([0x30, ...varint(max + 1)])).status).toBe("refused");
    expect(unlimited().scan(Uint8Array.from([0x30, ...varint(max)])).status).toBe("ok");
    // The payload itself: 128 KB passes, one byte more does not (QoS 0 and QoS 1).
    const topic = "$aws/things/a/shadow/update";
    expect(unlimited().scan(publish(topic, MQTT_LIMITS.maxPayloadBytes)).status).toBe("ok");
    expect(unlimited().scan(publish(topic, MQTT_LIMITS.maxPayloadBytes + 1)).status).toBe("refused");
    const qos1 = (n: number) => packet(0x32, [...str(topic), 0, 7, ...new Array(n).fill(0x7b)]);
    expect(unlimited().scan(qos1(MQTT_LIMITS.maxPayloadBytes)).status).toBe("ok");
    expect(unlimited().scan(qos1(MQTT_LIMITS.maxPayloadBytes + 1)).status).toBe("refused");
    // A remaining length of 5 bytes is malformed.
    expect(unlimited().scan(Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])).status).toBe("refused");
  });

  test("redteam-service 21: topics with ill-formed UTF-8, U+0000 or over 256 bytes are refused (publish and subscribe)", () => {
    const own = "$aws/things/pi-r/jobs/";
    const badUtf8 = concat(
      new TextEncoder().encode(own),
      Uint8Array.from([0xc3, 0x28]),
      new TextEncoder().encode("/get"),
    );
    const cesu = concat(new TextEncoder().encode(own), Uint8Array.from([0xed, 0xa0, 0x80]));
    for (const topic of [badUtf8, cesu, `${own}get\u0000x`, `${own}${"x".repeat(300)}`]) {
      expect(unlimited().scan(publish(topic)).status).toBe("refused");
      expect(unlimited().scan(subscribe("$aws/things/pi-r/#", topic)).status).toBe("refused");
    }
    expect(topicProblem(new TextEncoder().encode(`${own}é/get`))).toBeUndefined();
    expect(unlimited().scan(publish(`${own}é\uFFFD/get`)).status).toBe("ok"); // U+FFFD itself is well-formed
  });

  test("without a token, the scan stops at the request's first byte and resumes there", () => {
    let tokens = 2;
    const guard = new PacketGuard(() => tokens-- > 0);
    const one = publish("$aws/things/a/jobs/get");
    const stream = concat(one, packet(0xc0, []), one, one);
    const first = guard.scan(stream);
    expect(first).toEqual({ status: "throttled", end: 2 * one.length + 2 });
    tokens = 1;
    expect(guard.scan(stream, first.status === "throttled" ? first.end : 0)).toEqual({
      status: "ok",
      end: stream.length,
    });
  });
});

describe("TokenBucket", () => {
  test("100 per second with a burst of 100, on the injected clock", () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(clock, 100, 100);
    let taken = 0;
    while (bucket.take()) taken++;
    expect(taken).toBe(100);
    expect(bucket.msUntilToken()).toBe(10);
    clock.advance(10);
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    clock.advance(60_000);
    taken = 0;
    while (bucket.take()) taken++;
    expect(taken).toBe(100); // never more than the burst saved up
  });
});

describe("RefusalLog", () => {
  test("redteam-service 16: a flood of refusals is one line at once and one summary per interval", () => {
    const clock = new ManualClock();
    const lines: { fields: Record<string, unknown>; message: string }[] = [];
    const log = new RefusalLog(clock, 10_000, (fields, message) => lines.push({ fields, message }));
    const filter = `x/${"y".repeat(60_000)}`;
    for (let i = 0; i < 30_000; i++)
      log.record({ kind: "subscribe outside own topics", clientId: "flooder", detail: filter });
    for (let i = 0; i < 15_000; i++) log.record({ kind: "unregistered client id", clientId: `intruder-${i}` });
    expect(lines.length).toBe(1);
    clock.advance(10_000);
    expect(lines.length).toBe(2);
    const refusals = lines[1]!.fields.refusals as Record<string, { count: number; first: { detail?: string } }>;
    expect(refusals["subscribe outside own topics"]!.count).toBe(29_999);
    expect(refusals["unregistered client id"]!.count).toBe(15_000);
    expect(JSON.stringify(lines).length).toBeLessThan(2_000); // the 60 KB filter is cut short
    clock.advance(10_000); // a quiet interval: nothing to say, and the next refusal is logged at once
    expect(lines.length).toBe(2);
    log.record({ kind: "connect timeout" });
    expect(lines.length).toBe(3);
    expect(clock.pending()).toBe(1);
    log.close();
    expect(clock.pending()).toBe(0);
  });
});

describe("thing policy", () => {
  test("redteam-service 20: a thing's subscribe-only topics and retained publishes are refused; requests pass", () => {
    for (const suffix of [
      "jobs/notify",
      "jobs/notify-next",
      "jobs/start-next/accepted",
      "jobs/j1/update/rejected",
      "shadow/update/delta",
      "shadow/update/documents",
      "shadow/name/s/get/accepted",
    ]) {
      expect(decidePublish("pi-r", `$aws/things/pi-r/${suffix}`, false)).toMatchObject({
        allowed: false,
        kind: "publish to a subscribe-only topic",
      });
    }
    for (const suffix of [
      "jobs/get",
      "jobs/start-next",
      "jobs/notify/get",
      "jobs/j1/update",
      "shadow/update",
      "shadow/name/s/get",
    ]) {
      expect(decidePublish("pi-r", `$aws/things/pi-r/${suffix}`, false)).toEqual({ allowed: true, request: true });
    }
    expect(decidePublish("pi-r", "$aws/things/pi-r/jobs/get", true)).toMatchObject({
      allowed: false,
      kind: "retained publish",
    });
    expect(decidePublish("pi-r", "$aws/things/pi-b/jobs/get", false)).toMatchObject({
      allowed: false,
      kind: "publish outside own topics",
    });
    expect(maySubscribe("pi-r", "$aws/things/pi-r/jobs/notify-next")).toBe(true);
    expect(maySubscribe("pi-r", "$aws/things/+/jobs/#")).toBe(false);
  });
});

describe("Admission (connections without CONNECT)", () => {
  class FakeConnection {
    refusedWith: string | undefined;
    refuse(kind: string): void {
      this.refusedWith ??= kind;
    }
  }

  test("redteam-service 17: above the soft cap the oldest goes once it has had its grace; the hard cap holds; the deadline closes", () => {
    const clock = new ManualClock();
    const admission = new Admission<FakeConnection>(clock);
    const storm = Array.from({ length: MQTT_LIMITS.maxPendingConnections + 10 }, () => new FakeConnection());
    for (const c of storm) expect(admission.admit(c)).toBe(true);
    // A reconnect storm (all younger than the grace) is not cut down.
    expect(storm.filter((c) => c.refusedWith).length).toBe(0);
    clock.advance(MQTT_LIMITS.pendingGraceMs);
    const late = new FakeConnection();
    expect(admission.admit(late)).toBe(true);
    expect(storm[0]!.refusedWith).toBe("too many pending connections");
    expect(storm[1]!.refusedWith).toBeUndefined();
    expect(admission.size).toBe(storm.length);
    // The deadline: everyone still pending at connectTimeoutMs is closed.
    admission.settle(storm[1]!); // connected
    clock.advance(MQTT_LIMITS.connectTimeoutMs);
    expect(storm[1]!.refusedWith).toBeUndefined();
    expect(storm[2]!.refusedWith).toBe("connect timeout");
    expect(late.refusedWith).toBe("connect timeout");
    expect(admission.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  test("never more than maxPendingConnectionsHard at once, and CONNECTs share a byte budget", () => {
    const clock = new ManualClock();
    const admission = new Admission<FakeConnection>(clock);
    for (let i = 0; i < MQTT_LIMITS.maxPendingConnectionsHard; i++)
      expect(admission.admit(new FakeConnection())).toBe(true);
    const over = new FakeConnection();
    expect(admission.admit(over)).toBe(false);
    expect(over.refusedWith).toBe("too many pending connections");
    const [a, b] = admission.connections();
    expect(admission.reserveConnect(a!, MQTT_LIMITS.pendingConnectBudgetBytes - 10)).toBe(true);
    expect(admission.reserveConnect(b!, 11)).toBe(false);
    admission.settle(a!);
    expect(admission.reserveConnect(b!, 11)).toBe(true);
    // Through the guard: a CONNECT header over the budget is refused before its body.
    const guard = new PacketGuard(
      () => true,
      () => false,
    );
    expect(guard.scan(Uint8Array.from([0x10, ...varint(100)])).status).toBe("refused");
  });
});
