/**
 * doctor's TLS check on an AWS IoT endpoint on port 443, which offers ALPN `x-amzn-mqtt-ca`: it must
 * say ok only when the server selected that protocol. A TLS-intercepting firewall or a wrong endpoint
 * completes the handshake without it, and the failure would otherwise surface as a misleading
 * mqtt-connect "policy" failure. The offer is decided by the endpoint (a bare host on 443,
 * parseEndpoint); the check runs against real local TLS servers on a random port with that
 * endpoint's ALPN, so no root and no port 443 are needed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:tls";
import { type ConnectionSettings, parseEndpoint } from "../../src/config/connection-settings.ts";
import { tlsCheck } from "../../src/doctor/network-checks.ts";
import { makeTestPki, type TestPki } from "../helpers/certs.ts";

let pki: TestPki;
const servers: Server[] = [];

/** A mutual-TLS server like AWS IoT's, selecting `alpn` (or no protocol at all). */
async function tlsServer(alpn: string[] | undefined): Promise<number> {
  const server = createServer(
    {
      cert: readFileSync(pki.serverCert),
      key: readFileSync(pki.serverKey),
      ca: readFileSync(pki.caCert),
      requestCert: true,
      rejectUnauthorized: true,
      ...(alpn ? { ALPNProtocols: alpn } : {}),
    },
    (socket) => socket.end(),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** What doctor checks for `localhost:443`, pointed at `port`. */
function settingsFor(port: number): ConnectionSettings {
  const endpoint = parseEndpoint("localhost:443")!;
  return {
    endpoint: { ...endpoint, port },
    thingName: "pi-1",
    cert: pki.clientCert,
    key: pki.clientKey,
    rootCa: pki.caCert,
  };
}

beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => {
  for (const s of servers) s.close();
});

describe("doctor tls: ALPN on 443", () => {
  test("an AWS IoT endpoint on 443 offers x-amzn-mqtt-ca; 8883 offers none", () => {
    expect(parseEndpoint("abc-ats.iot.eu-west-1.amazonaws.com:443")?.alpn).toBe("x-amzn-mqtt-ca");
    expect(parseEndpoint("abc-ats.iot.eu-west-1.amazonaws.com")?.alpn).toBeUndefined();
  });

  test("the server selects x-amzn-mqtt-ca: ok, naming the negotiated protocol", async () => {
    const port = await tlsServer(["x-amzn-mqtt-ca"]);
    const line = await tlsCheck(settingsFor(port));
    expect(line).toEqual({
      verdict: "ok",
      check: "tls",
      detail: `handshake with localhost:${port} (ALPN x-amzn-mqtt-ca negotiated), server certificate trusted`,
    });
  });

  test("the server negotiates no ALPN (a TLS-intercepting firewall, a wrong endpoint): FAIL with the fix", async () => {
    const port = await tlsServer(undefined);
    const line = await tlsCheck(settingsFor(port));
    expect(line.verdict).toBe("fail");
    expect(line.detail).toBe(
      `handshake with localhost:${port} completed, but the server selected no ALPN protocol (offered x-amzn-mqtt-ca)`,
    );
    expect(line.fix).toContain("AWS IoT on port 443 needs ALPN x-amzn-mqtt-ca");
    expect(line.fix).toContain("aws iot describe-endpoint --endpoint-type iot:Data-ATS");
    expect(line.fix).toContain("TLS-intercepting proxy or firewall");
  });
});
