/**
 * The address the service gives out when bound to every address (`--host 0.0.0.0`): pre-signed
 * URLs, DescribeEndpoint and the ready line name an address another machine can use, and the TLS
 * server certificate verifies under the machine's own address (real TLS, the service's root CA).
 */
import { afterAll, expect, test } from "bun:test";
import { DescribeEndpointCommand } from "@aws-sdk/client-iot";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { connect as tlsConnect } from "node:tls";
import { advertisedHost, certificateNames, machineFacts } from "../../src/service/advertised-host.ts";
import { createLogger } from "../../src/log/logger.ts";
import { type RunningService, startService } from "../../src/service/service.ts";
import { iotClient } from "../helpers/local-service.ts";

const facts = { addresses: ["192.168.1.20", "fe80::1"], hostname: "gateway-lab" };

test("bound to one address: that address; to all: the first --http-host-name, else the first IPv4", () => {
  expect(advertisedHost("127.0.0.1", ["dev.local"], facts)).toBe("127.0.0.1");
  expect(advertisedHost("::1", [], facts)).toBe("[::1]");
  expect(advertisedHost("0.0.0.0", ["dev.local"], facts)).toBe("dev.local");
  expect(advertisedHost("0.0.0.0", [], facts)).toBe("192.168.1.20");
  expect(advertisedHost("::", [], { addresses: [], hostname: "x" })).toBe("127.0.0.1");
});

test("the certificate names localhost, 127.0.0.1, every --http-host-name, and the machine when bound to all", () => {
  expect(certificateNames("127.0.0.1", ["dev.local"], facts)).toEqual(["localhost", "127.0.0.1", "dev.local"]);
  expect(certificateNames("0.0.0.0", ["dev.local"], facts)).toEqual([
    "localhost",
    "127.0.0.1",
    "dev.local",
    "192.168.1.20",
    "fe80::1",
    "gateway-lab",
  ]);
});

let service: RunningService | undefined;
afterAll(async () => {
  await service?.stop();
});

const lanAddress = machineFacts().addresses.find((a) => !a.includes(":"));

test.skipIf(!lanAddress)(
  "--host 0.0.0.0: DescribeEndpoint names the machine's address, whose TLS name verifies",
  async () => {
    service = await startService({
      dataDir: undefined,
      host: "0.0.0.0",
      mqttPort: 0,
      mqttsPort: 0,
      httpPort: 0,
      log: createLogger({ level: "ERROR", type: "stdout", fd: 2 }),
    });
    expect(service.httpUrl).toStartWith(`http://${lanAddress}:`);
    const iot = iotClient(service.httpUrl);
    const endpoint = (await iot.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }))).endpointAddress!;
    expect(endpoint).toBe(new URL(service.mqttsUrl!).host);
    expect(endpoint.split(":")[0]).toBe(lanAddress!);
    const [host, port] = endpoint.split(":");
    const verified = await new Promise<string>((resolve) => {
      const socket = tlsConnect({
        host,
        port: Number(port),
        ca: readFileSync(service!.rootCaPath!),
        servername: undefined,
      });
      socket.once("secureConnect", () => {
        resolve(socket.authorized ? "authorized" : String(socket.authorizationError));
        socket.destroy();
      });
      socket.once("error", (e) => resolve(String(e)));
    });
    expect(verified).toBe("authorized");
    // HTTP answers to the machine's name too (the certificate names it), without --http-host-name.
    const byName = await fetch(`${service.httpUrl}/console`, { headers: { host: `${hostname()}:1` } });
    expect(byName.status).toBe(200);
  },
);
