/**
 * The Bun adapter's HTTP proxy tunnel (src/mqtt/http-proxy.ts has the protocol): the very socket
 * handlers a direct Bun.connect would get are called as a direct connection would call them —
 * `open` once the tunnel stands (for TLS: `upgradeTLS` on the same socket, then `handshake`),
 * `connectError` when the proxy is unreachable, refuses, or answers something else than 2xx.
 */
import type { Socket, SocketHandler, TLSOptions } from "bun";
import type { HttpProxy } from "../config/http-proxy-config.ts";
import { connectRequest, indexOfBlankLine, MAX_RESPONSE_HEAD_BYTES, tunnelVerdict } from "../mqtt/http-proxy.ts";
import { socketErrorText } from "./socket-error.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface TunnelTarget {
  readonly host: string;
  readonly port: number;
  /** For mqtts://: the TLS settings a direct Bun.connect would get. */
  readonly tls: TLSOptions | undefined;
}

/**
 * Opens the tunnel and hands the socket to `handlers` as if Bun.connect(target) had opened it;
 * every failure arrives through `handlers.connectError`. `abandon()` (an attempt given up, say on
 * the connect timeout) closes a tunnel not yet standing, so a proxy that never answers CONNECT
 * cannot collect one idle socket per attempt.
 */
export function openThroughProxy(
  proxy: HttpProxy,
  target: TunnelTarget,
  handlers: SocketHandler<undefined>,
): { abandon(): void } {
  let head = new Uint8Array(0);
  let settled = false;
  let proxySocket: Socket<undefined> | undefined;
  let abandoned = false;
  const fail = (socket: Socket<undefined> | undefined, reason: string) => {
    if (settled) return;
    settled = true;
    socket?.terminate();
    handlers.connectError?.(socket as Socket<undefined>, new Error(reason));
  };
  const where = `HTTP proxy ${proxy.host}:${proxy.port}`;
  Bun.connect({
    hostname: proxy.host,
    port: proxy.port,
    socket: {
      open: (socket) => {
        proxySocket = socket;
        if (abandoned) return void socket.terminate();
        socket.setNoDelay?.(true);
        socket.write(encoder.encode(connectRequest(proxy, target.host, target.port)));
      },
      data: (socket, data) => {
        if (settled) return;
        const joined = new Uint8Array(head.length + data.length);
        joined.set(head);
        joined.set(data, head.length);
        head = joined;
        const end = indexOfBlankLine(head);
        if (end < 0) {
          if (head.length > MAX_RESPONSE_HEAD_BYTES) fail(socket, `the ${where} sent no complete answer to CONNECT`);
          return;
        }
        const verdict = tunnelVerdict(decoder.decode(head.subarray(0, end)));
        if (!verdict.ok) return fail(socket, verdict.reason);
        settled = true;
        const rest = head.subarray(end + 4);
        if (target.tls) {
          // The TLS socket replaces the raw one; `open` and `handshake` come to `handlers` from it.
          socket.upgradeTLS({ tls: target.tls, socket: handlers as SocketHandler<undefined> });
        } else {
          socket.reload({ socket: handlers });
          handlers.open?.(socket);
          if (rest.length > 0) handlers.data?.(socket, Buffer.from(rest));
        }
      },
      close: (socket) => fail(socket, `the ${where} closed the connection before the tunnel stood`),
      end: (socket) => fail(socket, `the ${where} closed the connection before the tunnel stood`),
      error: (socket, error) => fail(socket, `${where}: ${socketErrorText(error)}`),
      connectError: (_socket, error) => fail(undefined, `cannot connect to the ${where}: ${socketErrorText(error)}`),
    },
  }).catch((error: Error) => fail(undefined, `cannot connect to the ${where}: ${socketErrorText(error)}`));
  return {
    abandon: () => {
      abandoned = true;
      if (settled) return;
      settled = true;
      proxySocket?.terminate();
    },
  };
}
