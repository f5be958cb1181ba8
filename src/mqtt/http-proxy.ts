/**
 * MQTT through an HTTP proxy, the protocol part (pure; each runtime's adapter in src/platform
 * opens the sockets): a TCP connection to the proxy, `CONNECT host:port` (with Basic
 * authentication when configured), and once the proxy answers 2xx the same socket carries MQTT —
 * upgraded to TLS in place for mqtts://, so the proxy sees only the broker's name and ciphertext.
 * The password goes into the Proxy-Authorization header only: never into an error message or a
 * log line.
 */
import type { HttpProxy } from "../config/http-proxy-config.ts";

/** The proxy's answer to CONNECT is a status line and a few headers; more is not a proxy. */
export const MAX_RESPONSE_HEAD_BYTES = 8192;

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

export function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}
