/**
 * MQTT through an HTTP proxy: a TCP connection to the proxy, `CONNECT host:port` (with Basic
 * authentication when configured), and once the proxy answers 2xx the same socket carries MQTT —
 * upgraded to TLS in place for mqtts://, so the proxy sees only the broker's name and ciphertext.
 *
 * `openThroughProxy` takes the very socket handlers a direct Bun.connect would get and calls them
 * as a direct connection would: `open` once the tunnel stands, `connectError` when the proxy is
 * unreachable, refuses, or answers something else than 2xx. The password goes into the
 * Proxy-Authorization header only: never into an error message or a log line.
 */
import type { Socket, SocketHandler, TLSOptions } from "bun";
import type { HttpProxy } from "../config/http-proxy-config.ts";

/** The proxy's answer to CONNECT is a status line and a few headers; more is not a proxy. */
const MAX_RESPONSE_HEAD_BYTES = 8192;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The CONNECT request for host:port (IPv6 in brackets), with Basic credentials when given. */
export function connectRequest(proxy: HttpProxy, host: string, port: number): string {
  const authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.auth) {
    const basic = Buffer.from(`${proxy.auth.username}:${proxy.auth.password}`, "utf8").toString("base64");
    lines.push(`Proxy-Authorization: Basic ${basic}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** The status of a complete response head, or why it is not one we can use. */
export function tunnelVerdict(head: string): { ok: true } | { ok: false; reason: string } {
  const statusLine = head
    .slice(0, head.indexOf("\r\n"))
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 200);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status)
    return { ok: false, reason: `the HTTP proxy did not answer CONNECT with HTTP (${JSON.stringify(statusLine)})` };
  const code = Number(status[1]);
  if (code >= 200 && code < 300) return { ok: true };
  // 407 is the standard answer; tinyproxy answers CONNECT with 401.
  if (code === 407 || code === 401)
    return { ok: false, reason: `the HTTP proxy wants authentication or refused the credentials (${statusLine})` };
  return { ok: false, reason: `the HTTP proxy refused the tunnel (${statusLine})` };
}

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
      error: (socket, error) => fail(socket, `${where}: ${error.message}`),
      connectError: (_socket, error) => fail(undefined, `cannot connect to the ${where}: ${error.message}`),
    },
  }).catch((error: Error) => fail(undefined, `cannot connect to the ${where}: ${error.message}`));
  return {
    abandon: () => {
      abandoned = true;
      if (settled) return;
      settled = true;
      proxySocket?.terminate();
    },
  };
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}
