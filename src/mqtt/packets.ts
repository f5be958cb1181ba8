/**
 * MQTT 3.1.1 packets — only what a Jobs client needs (OASIS MQTT 3.1.1, §2–3): CONNECT, PUBLISH
 * at QoS 0/1, PUBACK, SUBSCRIBE, PINGREQ, DISCONNECT out; CONNACK, PUBLISH, PUBACK, SUBACK,
 * UNSUBACK, PINGRESP in. Pure: bytes in, bytes out, no I/O.
 *
 * Why our own: mqtt.js (and mqtt-packet, through bl → readable-stream) cost 13–29 MB of RSS on a
 * device whose goal is 25 MB in all; see docs/BENCHMARKS.md.
 */

export enum PacketType {
  Connect = 1,
  Connack = 2,
  Publish = 3,
  Puback = 4,
  Subscribe = 8,
  Suback = 9,
  Unsuback = 11,
  Pingreq = 12,
  Pingresp = 13,
  Disconnect = 14,
  /** Not a wire type: a PUBLISH over the reader's size limit, read past without being buffered. */
  OversizedPublish = 100,
}

/** How much of an oversized PUBLISH's payload is kept (for the caller's log and recovery). */
export const OVERSIZED_HEAD_BYTES = 4096;

/** 268,435,455: the largest remaining length the 4-byte encoding can express. */
export const MAX_REMAINING_LENGTH = 0x0fffffff;

export type IncomingPacket =
  | { type: PacketType.Connack; sessionPresent: boolean; returnCode: number }
  | {
      type: PacketType.Publish;
      topic: string;
      payload: Uint8Array;
      qos: 0 | 1 | 2;
      packetId: number;
      dup: boolean;
      retain: boolean;
    }
  | { type: PacketType.Puback; packetId: number }
  | { type: PacketType.Suback; packetId: number; granted: number[] }
  | { type: PacketType.Unsuback; packetId: number }
  | { type: PacketType.Pingresp }
  | {
      type: PacketType.OversizedPublish;
      topic: string;
      qos: 0 | 1 | 2;
      packetId: number;
      bytes: number;
      head: Uint8Array;
    };

/** CONNACK return codes (§3.2.2.3), for error messages. */
export const CONNACK_REASONS: Record<number, string> = {
  1: "unacceptable protocol version",
  2: "client identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export interface ConnectFields {
  readonly clientId: string;
  readonly cleanSession: boolean;
  readonly keepaliveSeconds: number;
  readonly username?: string;
}

export function encodeConnect(f: ConnectFields): Uint8Array {
  const clientId = encoder.encode(f.clientId);
  const username = f.username === undefined ? undefined : encoder.encode(f.username);
  const flags = (f.cleanSession ? 0x02 : 0) | (username ? 0x80 : 0);
  const body = [
    str(encoder.encode("MQTT")),
    Uint8Array.of(4, flags, f.keepaliveSeconds >> 8, f.keepaliveSeconds & 0xff),
    str(clientId),
  ];
  if (username) body.push(str(username));
  return frame(PacketType.Connect << 4, body);
}

export function encodePublish(
  topic: string,
  payload: Uint8Array,
  qos: 0 | 1,
  packetId: number,
  dup = false,
): Uint8Array {
  const parts = [str(encoder.encode(topic))];
  if (qos > 0) parts.push(u16(packetId));
  parts.push(payload);
  return frame((PacketType.Publish << 4) | (dup ? 0x08 : 0) | (qos << 1), parts);
}

export function encodePuback(packetId: number): Uint8Array {
  return Uint8Array.of(PacketType.Puback << 4, 2, packetId >> 8, packetId & 0xff);
}

export function encodeSubscribe(packetId: number, topics: readonly string[], qos: 0 | 1): Uint8Array {
  const parts = [u16(packetId)];
  for (const t of topics) parts.push(str(encoder.encode(t)), Uint8Array.of(qos));
  return frame((PacketType.Subscribe << 4) | 0x02, parts);
}

export const PINGREQ = Uint8Array.of(PacketType.Pingreq << 4, 0);
export const DISCONNECT = Uint8Array.of(PacketType.Disconnect << 4, 0);

/**
 * Reassembles packets from a byte stream cut anywhere, in time linear in the bytes (a large
 * packet arriving in small pieces is joined once). Throws on a malformed packet; the caller then
 * drops the connection, as §4.8 requires.
 *
 * A PUBLISH larger than `maxPacketBytes` is not an error: it is read past without being buffered
 * (only its topic, packet id and first OVERSIZED_HEAD_BYTES of payload are kept) and returned as
 * an OversizedPublish, so the caller can acknowledge it. Dropping the link instead would have the
 * broker deliver it again on every reconnect. Any other packet over the limit is an error.
 */
export class PacketReader {
  /** Copies of bytes not yet forming a whole packet (the caller may reuse its buffers). */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** Size of the packet being held, once its header has arrived. */
  private need: number | undefined;
  /** An oversized PUBLISH being read past. */
  private skip: OversizedSkip | undefined;

  constructor(private readonly maxPacketBytes = 1 << 20) {}

  /** Feeds bytes; returns every packet completed by them. */
  push(chunk: Uint8Array): IncomingPacket[] {
    const packets: IncomingPacket[] = [];
    let bytes = chunk;
    if (this.heldBytes > 0) {
      if (this.need === undefined) {
        // At most 4 bytes of an unfinished header: join them with the chunk and parse afresh.
        bytes = join([...this.held, chunk], this.heldBytes + chunk.length);
      } else {
        this.held.push(chunk.slice());
        this.heldBytes += chunk.length;
        if (this.heldBytes < this.need) return packets;
        bytes = join(this.held, this.heldBytes);
      }
      this.held = [];
      this.heldBytes = 0;
      this.need = undefined;
    }
    let at = 0;
    for (;;) {
      if (this.skip) {
        at = this.skip.consume(bytes, at);
        if (!this.skip.done) break;
        packets.push(this.skip.packet());
        this.skip = undefined;
        continue;
      }
      const header = readHeader(bytes, at);
      if (!header) break;
      if (header.remaining > this.maxPacketBytes) {
        const first = bytes[at]!;
        if (first >> 4 !== PacketType.Publish) {
          throw new Error(`incoming packet of ${header.remaining} bytes exceeds the ${this.maxPacketBytes}-byte limit`);
        }
        this.skip = new OversizedSkip(first, header.remaining);
        at = header.bodyStart;
        continue;
      }
      const end = header.bodyStart + header.remaining;
      if (end > bytes.length) {
        this.need = end - at;
        break;
      }
      const packet = decodeBody(bytes[at]!, bytes.subarray(header.bodyStart, end));
      if (packet) packets.push(packet);
      at = end;
    }
    if (!this.skip && at < bytes.length) {
      this.held = [bytes.slice(at)];
      this.heldBytes = bytes.length - at;
    }
    return packets;
  }
}

/** Reads past one oversized PUBLISH body, keeping only its variable header and payload head. */
class OversizedSkip {
  private head = new Uint8Array(2);
  private headLength = 0;
  /** How many body bytes to keep; known once the topic length has arrived. */
  private keep: number | undefined;
  private left: number;

  constructor(
    private readonly first: number,
    private readonly bodyBytes: number,
  ) {
    this.left = bodyBytes;
  }

  get done(): boolean {
    return this.left === 0;
  }

  /** Takes what it needs from `bytes` at `at`; returns where it stopped. */
  consume(bytes: Uint8Array, at: number): number {
    while (at < bytes.length && this.left > 0) {
      const target = this.keep ?? 2;
      if (this.headLength < target) {
        const n = Math.min(target - this.headLength, bytes.length - at, this.left);
        this.head.set(bytes.subarray(at, at + n), this.headLength);
        this.headLength += n;
        at += n;
        this.left -= n;
        if (this.keep === undefined && this.headLength === 2) {
          const topicLength = (this.head[0]! << 8) | this.head[1]!;
          const idLength = ((this.first >> 1) & 3) > 0 ? 2 : 0;
          this.keep = Math.min(this.bodyBytes, 2 + topicLength + idLength + OVERSIZED_HEAD_BYTES);
          const head = new Uint8Array(this.keep);
          head.set(this.head.subarray(0, 2));
          this.head = head;
        }
        continue;
      }
      const n = Math.min(this.left, bytes.length - at);
      at += n;
      this.left -= n;
    }
    return at;
  }

  packet(): IncomingPacket {
    const qos = ((this.first >> 1) & 3) as 0 | 1 | 2 | 3;
    if (qos === 3) throw new Error("PUBLISH with QoS 3");
    const body = this.head.subarray(0, this.headLength);
    const topicLength = (body[0]! << 8) | body[1]!;
    let at = 2 + topicLength;
    if (at > body.length) throw new Error("malformed PUBLISH topic");
    const topic = decoder.decode(body.subarray(2, at));
    let packetId = 0;
    if (qos > 0) {
      if (at + 2 > body.length) throw new Error("malformed PUBLISH packet id");
      packetId = (body[at]! << 8) | body[at + 1]!;
      at += 2;
    }
    return { type: PacketType.OversizedPublish, topic, qos, packetId, bytes: this.bodyBytes, head: body.slice(at) };
  }
}

function join(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    const n = Math.min(p.length, total - at);
    out.set(n === p.length ? p : p.subarray(0, n), at);
    at += n;
    if (at === total) break;
  }
  return out;
}

function readHeader(bytes: Uint8Array, at: number): { remaining: number; bodyStart: number } | undefined {
  let remaining = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    if (at + i >= bytes.length) return undefined;
    const b = bytes[at + i]!;
    remaining += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) return { remaining, bodyStart: at + i + 1 };
    multiplier *= 128;
  }
  throw new Error("malformed remaining length");
}

function decodeBody(first: number, body: Uint8Array): IncomingPacket | undefined {
  const type = first >> 4;
  const id = () => {
    if (body.length < 2) throw new Error(`packet type ${type} too short`);
    return (body[0]! << 8) | body[1]!;
  };
  switch (type) {
    case PacketType.Connack:
      if (body.length !== 2) throw new Error("malformed CONNACK");
      return { type, sessionPresent: (body[0]! & 1) === 1, returnCode: body[1]! };
    case PacketType.Publish: {
      const qosBits = (first >> 1) & 3;
      if (qosBits === 3) throw new Error("PUBLISH with QoS 3");
      const qos = qosBits as 0 | 1 | 2;
      if (body.length < 2) throw new Error("malformed PUBLISH");
      const topicLength = (body[0]! << 8) | body[1]!;
      let at = 2 + topicLength;
      if (at > body.length) throw new Error("malformed PUBLISH topic");
      const topic = decoder.decode(body.subarray(2, at));
      let packetId = 0;
      if (qos > 0) {
        if (at + 2 > body.length) throw new Error("malformed PUBLISH packet id");
        packetId = (body[at]! << 8) | body[at + 1]!;
        at += 2;
      }
      return {
        type,
        topic,
        payload: body.slice(at),
        qos,
        packetId,
        dup: (first & 0x08) !== 0,
        retain: (first & 1) === 1,
      };
    }
    case PacketType.Puback:
      return { type, packetId: id() };
    case PacketType.Suback:
      return { type, packetId: id(), granted: [...body.subarray(2)] };
    case PacketType.Unsuback:
      return { type, packetId: id() };
    case PacketType.Pingresp:
      return { type };
    default:
      return undefined; // nothing a client acts on (a broker never sends the others)
  }
}

function frame(firstByte: number, parts: readonly Uint8Array[]): Uint8Array {
  const remaining = parts.reduce((n, p) => n + p.length, 0);
  if (remaining > MAX_REMAINING_LENGTH) throw new RangeError(`packet of ${remaining} bytes is too large for MQTT`);
  const header = [firstByte];
  let n = remaining;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    header.push(b);
  } while (n > 0);
  const out = new Uint8Array(header.length + remaining);
  out.set(header);
  let at = header.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function str(bytes: Uint8Array): Uint8Array {
  if (bytes.length > 0xffff) throw new RangeError("MQTT string longer than 65535 bytes");
  const out = new Uint8Array(2 + bytes.length);
  out[0] = bytes.length >> 8;
  out[1] = bytes.length & 0xff;
  out.set(bytes, 2);
  return out;
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n >> 8, n & 0xff);
}
