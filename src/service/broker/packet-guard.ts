/**
 * Reads the raw MQTT byte stream ahead of the broker's parser and stops what must never be
 * buffered or parsed. It looks only at framing: each packet's fixed header (type, remaining
 * length), the topic of a PUBLISH, and the filters of a (small) SUBSCRIBE/UNSUBSCRIBE.
 *
 * - A declared remaining length above the type's maximum (limits.ts) is refused at the header,
 *   before a byte of the body is kept: a 250 MB CONNECT costs 5 bytes. A PUBLISH's payload is
 *   held to AWS's 128 KB exactly as soon as its topic length is known.
 * - Topic names and filters must be well-formed UTF-8 without U+0000 ([MQTT-1.5.3-1], -2) and at
 *   most maxTopicBytes; the parser after us would silently decode bad bytes into U+FFFD.
 * - Requests (PUBLISH, SUBSCRIBE, UNSUBSCRIBE) each need a token; without one the scan stops at
 *   the packet's first byte, so the caller can hold the rest and stop reading (rate limiting).
 *
 * Memory is constant: bodies are skipped by count; only a topic or a SUBSCRIBE body, both capped
 * at a few KB, is copied. Pure (no I/O); `scan` resumes across chunk boundaries.
 */
import { maxRemainingLength, MQTT_LIMITS } from "../limits.ts";

export type GuardRefusal = { kind: "too-large" | "bad-topic" | "malformed" | "connect-budget"; detail: string };

export type ScanResult =
  /** Everything up to `end` may go to the parser. */
  | { readonly status: "ok"; readonly end: number }
  /** Bytes before `end` may go on; the packet starting at `end` waits for a token. */
  | { readonly status: "throttled"; readonly end: number }
  /** The connection must be closed; nothing more of it may be parsed. */
  | { readonly status: "refused"; readonly refusal: GuardRefusal };

const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const isRequest = (type: number) => type === PUBLISH || type === SUBSCRIBE || type === UNSUBSCRIBE;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Why a topic name or filter is not acceptable, or undefined. */
export function topicProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length > MQTT_LIMITS.maxTopicBytes)
    return `topic of ${bytes.length} bytes (at most ${MQTT_LIMITS.maxTopicBytes})`;
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return "topic is not well-formed UTF-8";
  }
  if (text.includes("\u0000")) return "topic contains U+0000";
  return undefined;
}

type State = "header" | "length" | "topic" | "capture" | "skip";

export class PacketGuard {
  private state: State = "header";
  private type = 0;
  private flags = 0;
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  /** Topic length prefix + topic (PUBLISH), or the whole body (SUBSCRIBE/UNSUBSCRIBE). */
  private captured: number[] = [];
  private captureTarget = 0;

  constructor(
    private readonly takeToken: () => boolean,
    /** A CONNECT's declared length, before its body is read; false refuses it. */
    private readonly admitConnect: (bytes: number) => boolean = () => true,
  ) {}

  /** Scans `chunk` from `from`; see ScanResult. After "throttled", call again from `end`. */
  scan(chunk: Uint8Array, from = 0): ScanResult {
    let i = from;
    while (i < chunk.length) {
      switch (this.state) {
        case "header": {
          const type = chunk[i]! >> 4;
          if (isRequest(type) && !this.takeToken()) return { status: "throttled", end: i };
          this.type = type;
          this.flags = chunk[i]! & 0x0f;
          this.remaining = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.state = "length";
          i++;
          break;
        }
        case "length": {
          const b = chunk[i++]!;
          this.remaining += (b & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          if (++this.lengthBytes > 4) return refused("malformed", "remaining length longer than 4 bytes");
          if (b & 0x80) break;
          const max = maxRemainingLength(this.type);
          if (this.remaining > max)
            return refused("too-large", `packet type ${this.type} declares ${this.remaining} bytes (at most ${max})`);
          if (this.type === CONNECT && !this.admitConnect(this.remaining))
            return refused("connect-budget", `CONNECT of ${this.remaining} bytes`);
          this.startBody();
          break;
        }
        case "topic":
        case "capture": {
          const take = Math.min(chunk.length - i, this.captureTarget - this.captured.length);
          for (let k = 0; k < take; k++) this.captured.push(chunk[i + k]!);
          i += take;
          this.remaining -= take;
          if (this.state === "topic" && this.captured.length === 2) {
            const topicLength = (this.captured[0]! << 8) | this.captured[1]!;
            if (topicLength > MQTT_LIMITS.maxTopicBytes)
              return refused("bad-topic", `topic of ${topicLength} bytes (at most ${MQTT_LIMITS.maxTopicBytes})`);
            if (topicLength > this.remaining) return refused("malformed", "topic longer than the packet");
            const payload = this.remaining - topicLength - ((this.flags >> 1) & 3 ? 2 : 0);
            if (payload > MQTT_LIMITS.maxPayloadBytes)
              return refused("too-large", `payload of ${payload} bytes (at most ${MQTT_LIMITS.maxPayloadBytes})`);
            this.captureTarget = 2 + topicLength;
          }
          if (this.captured.length < this.captureTarget) break;
          const problem =
            this.state === "topic"
              ? topicProblem(Uint8Array.from(this.captured.slice(2)))
              : filtersProblem(this.type, this.captured);
          if (problem) return refused(problem.startsWith("malformed") ? "malformed" : "bad-topic", problem);
          this.captured = [];
          this.state = this.remaining > 0 ? "skip" : "header";
          break;
        }
        case "skip": {
          const take = Math.min(chunk.length - i, this.remaining);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = "header";
          break;
        }
      }
    }
    return { status: "ok", end: chunk.length };
  }

  private startBody(): void {
    if (this.remaining === 0) {
      this.state = "header";
      return;
    }
    this.captured = [];
    if (this.type === PUBLISH) {
      this.state = "topic";
      this.captureTarget = Math.min(2, this.remaining); // the length prefix first; then the topic
    } else if (this.type === SUBSCRIBE || this.type === UNSUBSCRIBE) {
      this.state = "capture";
      this.captureTarget = this.remaining; // bounded by maxRemainingLength (about 2 KB)
    } else this.state = "skip";
  }
}

function refused(kind: GuardRefusal["kind"], detail: string): ScanResult {
  return { status: "refused", refusal: { kind, detail } };
}

/** SUBSCRIBE: packet id, then (length, filter, options byte)*; UNSUBSCRIBE: without the byte. */
function filtersProblem(type: number, body: number[]): string | undefined {
  let at = 2;
  if (body.length < 2) return "malformed: no packet identifier";
  while (at < body.length) {
    if (at + 2 > body.length) return "malformed: truncated filter length";
    const length = (body[at]! << 8) | body[at + 1]!;
    at += 2;
    if (at + length > body.length) return "malformed: filter longer than the packet";
    const problem = topicProblem(Uint8Array.from(body.slice(at, at + length)));
    if (problem) return problem;
    at += length + (type === SUBSCRIBE ? 1 : 0);
  }
  return undefined;
}
