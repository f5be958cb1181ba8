/**
 * Our MQTT 3.1.1 codec against mqtt-packet (the codec mqtt.js uses, written by others) as the oracle:
 * what we encode it parses to the same fields, and what it generates we decode, cut anywhere.
 */
import { describe, expect, test } from "bun:test";
import mqttPacket from "mqtt-packet";
import {
  DISCONNECT,
  encodeConnect,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  PacketReader,
  PacketType,
  PINGREQ,
} from "../../src/mqtt/packets.ts";

const opts = { protocolVersion: 4 };

function parseWithOracle(bytes: Uint8Array): Record<string, unknown>[] {
  const parser = mqttPacket.parser(opts);
  const out: Record<string, unknown>[] = [];
  parser.on("packet", (p) => out.push(p as unknown as Record<string, unknown>));
  parser.on("error", (e: Error) => {
    throw e;
  });
  parser.parse(Buffer.from(bytes));
  return out;
}

const generate = (packet: Record<string, unknown>): Uint8Array =>
  new Uint8Array(mqttPacket.generate(packet as unknown as mqttPacket.Packet, opts));

describe("encoding, checked by mqtt-packet", () => {
  test("CONNECT: client id, persistent session, keepalive", () => {
    const [p] = parseWithOracle(
      encodeConnect({ clientId: "pi-gateway-17", cleanSession: false, keepaliveSeconds: 60 }),
    );
    expect(p).toMatchObject({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clientId: "pi-gateway-17",
      clean: false,
      keepalive: 60,
    });
  });

  test("PUBLISH at QoS 1 and 0, DUP flag, multi-byte remaining length and UTF-8 topics", () => {
    const payload = new TextEncoder().encode("x".repeat(20_000));
    const [p] = parseWithOracle(encodePublish("$aws/things/ä/jobs/start-next", payload, 1, 513, true));
    expect(p).toMatchObject({
      cmd: "publish",
      topic: "$aws/things/ä/jobs/start-next",
      qos: 1,
      messageId: 513,
      dup: true,
    });
    expect((p!.payload as Buffer).length).toBe(20_000);
    const [q] = parseWithOracle(encodePublish("a/b", new Uint8Array([1, 2]), 0, 0));
    expect(q).toMatchObject({ cmd: "publish", topic: "a/b", qos: 0, dup: false });
    expect([...(q!.payload as Buffer)]).toEqual([1, 2]);
  });

  test("SUBSCRIBE, PUBACK, PINGREQ, DISCONNECT", () => {
    const [s] = parseWithOracle(encodeSubscribe(7, ["a/+", "b/#"], 1));
    expect(s).toMatchObject({
      cmd: "subscribe",
      messageId: 7,
      subscriptions: [
        { topic: "a/+", qos: 1 },
        { topic: "b/#", qos: 1 },
      ],
    });
    expect(parseWithOracle(encodePuback(65535))[0]).toMatchObject({ cmd: "puback", messageId: 65535 });
    expect(parseWithOracle(PINGREQ)[0]).toMatchObject({ cmd: "pingreq" });
    expect(parseWithOracle(DISCONNECT)[0]).toMatchObject({ cmd: "disconnect" });
  });
});

describe("decoding what mqtt-packet generates", () => {
  const stream = [
    generate({ cmd: "connack", returnCode: 0, sessionPresent: true }),
    generate({ cmd: "suback", messageId: 3, granted: [1, 128] }),
    generate({
      cmd: "publish",
      topic: "$aws/things/t/jobs/notify-next",
      payload: Buffer.from('{"execution":{}}'),
      qos: 1,
      messageId: 9,
      retain: false,
      dup: false,
    }),
    generate({ cmd: "publish", topic: "big", payload: Buffer.alloc(300_000, 0x61), qos: 0, retain: true, dup: false }),
    generate({ cmd: "puback", messageId: 4 }),
    generate({ cmd: "pingresp" }),
    generate({ cmd: "unsuback", messageId: 5 }),
  ];
  const all = new Uint8Array(stream.reduce((n, b) => n + b.length, 0));
  stream.reduce((at, b) => (all.set(b, at), at + b.length), 0);

  const check = (packets: ReturnType<PacketReader["push"]>) => {
    expect(packets.map((p) => p.type)).toEqual([
      PacketType.Connack,
      PacketType.Suback,
      PacketType.Publish,
      PacketType.Publish,
      PacketType.Puback,
      PacketType.Pingresp,
      PacketType.Unsuback,
    ]);
    expect(packets[0]).toEqual({ type: PacketType.Connack, sessionPresent: true, returnCode: 0 });
    expect(packets[1]).toEqual({ type: PacketType.Suback, packetId: 3, granted: [1, 128] });
    const pub = packets[2] as Extract<(typeof packets)[number], { type: PacketType.Publish }>;
    expect([pub.topic, new TextDecoder().decode(pub.payload), pub.qos, pub.packetId]).toEqual([
      "$aws/things/t/jobs/notify-next",
      '{"execution":{}}',
      1,
      9,
    ]);
    const big = packets[3] as typeof pub;
    expect([big.payload.length, big.retain, big.qos]).toEqual([300_000, true, 0]);
  };

  test("in one piece", () => check(new PacketReader().push(all)));

  test("cut at every kind of boundary, through one reused buffer", () => {
    let seed = 11;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let trial = 0; trial < 50; trial++) {
      const reader = new PacketReader();
      const shared = new Uint8Array(4096);
      const packets: ReturnType<PacketReader["push"]> = [];
      for (let at = 0; at < all.length; ) {
        const n = Math.min(all.length - at, 1 + Math.floor(rnd() * (trial % 2 ? 7 : 4096)));
        shared.set(all.subarray(at, at + n));
        packets.push(...reader.push(shared.subarray(0, n)));
        shared.fill(0xee);
        at += n;
      }
      check(packets);
    }
  });

  test("malformed input is an error, not a crash or a hang", () => {
    expect(() => new PacketReader().push(new Uint8Array([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(
      /remaining length/,
    );
    expect(() => new PacketReader().push(new Uint8Array([0x36, 0x02, 0x00, 0x00]))).toThrow(/QoS 3/);
    expect(() => new PacketReader().push(new Uint8Array([0x30, 0x03, 0x00, 0x09, 0x61]))).toThrow(/topic/);
    const suback = generate({ cmd: "suback", messageId: 7, granted: Array.from({ length: 2000 }, () => 1) });
    expect(() => new PacketReader(1024).push(suback)).toThrow(/limit/); // only PUBLISH is read past
  });

  test("redteam 12: a PUBLISH over the limit, cut anywhere, is read past unbuffered and returned with its topic, id and first bytes", () => {
    const payload = Buffer.from(`{"execution":{"jobId":"big-1"}}` + "x".repeat(300_000));
    const big = generate({
      cmd: "publish",
      topic: "$aws/things/t/jobs/notify-next",
      payload,
      qos: 1,
      messageId: 4242,
      retain: false,
      dup: false,
    });
    const after = generate({
      cmd: "publish",
      topic: "small",
      payload: Buffer.from("ok"),
      qos: 1,
      messageId: 9,
      retain: false,
      dup: false,
    });
    const stream = new Uint8Array([...big, ...after]);
    for (const cut of [1, 2, 3, 5, 40, 4000, 4130, 65_536, stream.length - after.length - 1, stream.length - 1]) {
      const reader = new PacketReader(128 * 1024);
      const packets = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
      expect(packets.length).toBe(2);
      const first = packets[0]!;
      if (first.type !== PacketType.OversizedPublish) throw new Error(`cut ${cut}: got type ${first.type}`);
      expect([first.topic, first.qos, first.packetId, first.bytes]).toEqual([
        "$aws/things/t/jobs/notify-next",
        1,
        4242,
        big.length - 4,
      ]);
      expect(new TextDecoder().decode(first.head)).toStartWith(`{"execution":{"jobId":"big-1"}}xxx`);
      expect(first.head.length).toBe(4096);
      expect(packets[1]).toMatchObject({ type: PacketType.Publish, topic: "small", packetId: 9 });
    }
  });
});
