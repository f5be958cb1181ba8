/**
 * The mqtts handshake bookkeeping (src/service/broker/tls-handshakes.ts) on a ManualClock, with
 * stand-in sockets (8,192 real ones would exhaust the test's descriptors): the cap on handshakes
 * under way, the deadline, and that a completed or closed one leaves nothing behind.
 */
import { expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { HandshakeDeadlines } from "../../src/service/broker/tls-handshakes.ts";
import { MQTT_LIMITS } from "../../src/service/limits.ts";
import { ManualClock } from "../../src/util/clock.ts";

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super();
  }
  destroy() {
    if (!this.destroyed) (this.destroyed = true), this.emit("close");
  }
}
const socket = (port: number) => new FakeSocket("10.0.0.9", port) as unknown as Socket & FakeSocket;

test("at most maxPendingConnectionsHard handshakes under way: the next connection is closed at once", () => {
  const refused: string[] = [];
  const h = new HandshakeDeadlines(new ManualClock(0), (kind) => refused.push(kind));
  const open = Array.from({ length: MQTT_LIMITS.maxPendingConnectionsHard }, (_, i) => socket(1000 + i));
  for (const s of open) h.begin(s);
  expect(h.size).toBe(MQTT_LIMITS.maxPendingConnectionsHard);
  const extra = socket(60_000);
  h.begin(extra);
  expect({ destroyed: extra.destroyed, refused }).toEqual({ destroyed: true, refused: ["too many TLS handshakes"] });
  open[0]!.destroy(); // one gone: room again
  const next = socket(60_001);
  h.begin(next);
  expect(next.destroyed).toBe(false);
});

test("the deadline closes an unfinished handshake; a completed one is forgotten and never closed by it", () => {
  const clock = new ManualClock(0);
  const refused: string[] = [];
  const h = new HandshakeDeadlines(clock, (kind) => refused.push(kind));
  const slow = socket(1);
  const done = socket(2);
  h.begin(slow);
  h.begin(done);
  h.done(done);
  expect(h.size).toBe(1);
  clock.advance(MQTT_LIMITS.connectTimeoutMs);
  expect({ slow: slow.destroyed, done: done.destroyed, size: h.size, refused }).toEqual({
    slow: true,
    done: false,
    size: 0,
    refused: ["TLS handshake timeout"],
  });
});
