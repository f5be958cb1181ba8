/**
 * A TCP proxy in front of a broker, for fault injection: `cut()` drops every connection at once
 * (both sides see a reset), and `dropFromServer(match)` removes whole MQTT PUBLISH packets the
 * broker sends to clients (frames are split on MQTT's remaining-length header). A `raw` proxy
 * (for TLS, whose bytes are no MQTT frames) forwards bytes as they come: cut() and refusing only.
 */
import type { Socket, TCPSocketListener } from "bun";

type Pair = { client: Socket<Conn>; server?: Socket<Conn>; pending: Uint8Array[] };
type Conn = { pair: Pair; side: "client" | "server"; frames?: FrameSplitter };

export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private dropRule: ((topic: string) => boolean) | undefined;
  dropped = 0;
  /** Every packet from the broker waits this long (slow acknowledgements); order is kept. */
  delayFromServerMs = 0;
  /** While true, every new client connection is closed at once (the broker is unreachable). */
  refusing = false;
  /** Every PUBLISH a client sends: topic and payload text. */
  readonly fromClients: { topic: string; payload: string }[] = [];
  /** Client connections accepted so far (refused ones not counted). */
  accepted = 0;

  private constructor(
    private readonly listener: TCPSocketListener<Conn>,
    private readonly target: { host: string; port: number },
    private readonly raw: boolean,
  ) {}

  static async start(targetUrl: string, options: { raw?: boolean } = {}): Promise<TcpProxy> {
    const m = /^mqtts?:\/\/([^:]+):(\d+)$/.exec(targetUrl)!;
    let proxy!: TcpProxy;
    const listener = Bun.listen<Conn>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (client) => proxy.accept(client),
        data: (socket, data) => proxy.forward(socket, data),
        close: (socket) => socket.data && proxy.close(socket.data.pair),
        error: (socket) => socket.data && proxy.close(socket.data.pair),
      },
    });
    proxy = new TcpProxy(listener, { host: m[1]!, port: Number(m[2]) }, options.raw ?? false);
    return proxy;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.listener.port}`;
  }

  /** Drop PUBLISH packets from the broker whose topic matches (undefined: drop nothing). */
  dropFromServer(match: ((topic: string) => boolean) | undefined): void {
    this.dropRule = match;
  }

  /** Connections open now. */
  get open(): number {
    return this.pairs.size;
  }

  /** Every connection dies now. */
  cut(): void {
    for (const pair of [...this.pairs]) this.close(pair);
  }

  stop(): void {
    this.cut();
    this.listener.stop(true);
  }

  private accept(client: Socket<Conn>): void {
    if (this.refusing) return void client.terminate();
    this.accepted++;
    const pair: Pair = { client, pending: [] };
    client.data = { pair, side: "client", frames: new FrameSplitter() };
    this.pairs.add(pair);
    void Bun.connect<Conn>({
      hostname: this.target.host,
      port: this.target.port,
      data: { pair, side: "server", frames: new FrameSplitter() },
      socket: {
        open: (server) => {
          if (!this.pairs.has(pair)) return void server.terminate();
          pair.server = server;
          for (const chunk of pair.pending.splice(0)) server.write(chunk);
        },
        data: (socket, data) => this.forward(socket, data),
        close: () => this.close(pair),
        error: () => this.close(pair),
        connectError: () => this.close(pair),
      },
    }).catch(() => this.close(pair));
  }

  private forward(socket: Socket<Conn>, data: Uint8Array): void {
    const { pair, side } = socket.data;
    if (this.raw) {
      if (side === "server") pair.client.write(data);
      else if (pair.server) pair.server.write(data);
      else pair.pending.push(data.slice());
      return;
    }
    if (side === "client") {
      for (const frame of socket.data.frames!.push(data))
        if (frame[0]! >> 4 === 3) this.fromClients.push(publishOf(frame));
      if (pair.server) pair.server.write(data);
      else pair.pending.push(data.slice());
      return;
    }
    for (const frame of socket.data.frames!.push(data)) {
      if (this.dropRule && frame[0]! >> 4 === 3 && this.dropRule(publishTopic(frame))) {
        this.dropped++;
        continue;
      }
      if (this.delayFromServerMs > 0)
        setTimeout(() => this.pairs.has(pair) && pair.client.write(frame), this.delayFromServerMs);
      else pair.client.write(frame);
    }
  }

  private close(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.terminate();
    pair.server?.terminate();
  }
}

/** Splits a byte stream into whole MQTT packets. */
class FrameSplitter {
  private buffer = new Uint8Array(0);
  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    const frames: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      while (i < joined.length && i <= at + 4) {
        const b = joined[i++]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + length > joined.length) break;
      frames.push(joined.slice(at, i + length));
      at = i + length;
    }
    this.buffer = joined.slice(at);
    return frames;
  }
}

function publishTopic(frame: Uint8Array): string {
  return publishOf(frame).topic;
}

function publishOf(frame: Uint8Array): { topic: string; payload: string } {
  let i = 1;
  while (frame[i]! & 0x80) i++;
  i++;
  const length = (frame[i]! << 8) | frame[i + 1]!;
  const topic = new TextDecoder().decode(frame.subarray(i + 2, i + 2 + length));
  const qos = (frame[0]! >> 1) & 3;
  const payloadAt = i + 2 + length + (qos > 0 ? 2 : 0);
  return { topic, payload: new TextDecoder().decode(frame.subarray(payloadAt)) };
}
