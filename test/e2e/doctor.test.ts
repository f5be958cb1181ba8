import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateThingCommand } from "@aws-sdk/client-iot";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { createServer } from "node:net";
import { makeTestPki, type TestPki } from "../helpers/certs.ts";
import { freePort, Mosquitto, mosquittoPath } from "../helpers/mosquitto.ts";
import { iotClient, startLocalService } from "../helpers/local-service.ts";
import { agentCommand } from "../helpers/runtimes.ts";
import { Tinyproxy, tinyproxyPath } from "../helpers/tinyproxy.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

// `iot-jobs-agent doctor` as a process, against a real Mosquitto with mutual TLS (and a small Jobs
// responder), and against iot-jobs-local: a good setup passes, each broken one names its fix.

const hasMosquitto = mosquittoPath() !== undefined;
const isRoot = process.geteuid?.() === 0;

async function doctor(args: string[]): Promise<{ code: number; out: string }> {
  const proc = Bun.spawn([...agentCommand(), "doctor", ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, HOME: tempDir() },
  });
  const out = await new Response(proc.stdout).text();
  return { code: await proc.exited, out };
}

const line = (out: string, verdict: string, check: string) =>
  out.split("\n").find((l) => l.startsWith(verdict) && l.includes(` ${check} `));

/** A device layout: credentials in a 700 dir (key 600), a 700 handler dir with one handler, a state dir. */
function device(pki: TestPki, overrides: { cert?: string; key?: string; rootCa?: string } = {}) {
  const dir = tempDir("device-");
  const certs = join(dir, "certs");
  mkdirSync(certs, { mode: 0o700 });
  const put = (from: string, name: string, mode: number) => {
    copyFileSync(from, join(certs, name));
    chmodSync(join(certs, name), mode);
    return join(certs, name);
  };
  const handlers = join(dir, "jobs");
  mkdirSync(handlers, { mode: 0o700 });
  writeHandler(handlers, "hello.sh", "#!/bin/sh\necho hello\n");
  const state = join(dir, "state");
  mkdirSync(state, { mode: 0o700 });
  return {
    dir,
    handlers,
    flags: [
      "--cert",
      put(overrides.cert ?? pki.clientCert, "device.pem.crt", 0o644),
      "--key",
      put(overrides.key ?? pki.clientKey, "private.pem.key", 0o600),
      "--root-ca",
      put(overrides.rootCa ?? pki.caCert, "root-ca.pem", 0o644),
      "--jobs-handler-dir",
      handlers,
      "--state-dir",
      state,
    ],
  };
}

describe.skipIf(!hasMosquitto)("doctor against Mosquitto with mutual TLS", () => {
  let pki: TestPki;
  let broker: Mosquitto;
  let responder: mqtt.MqttClient;
  let endpoint: string;

  beforeAll(async () => {
    pki = makeTestPki();
    const plainPort = await freePort();
    writeFileSync(join(pki.dir, "acl"), "topic readwrite #\ntopic readwrite $aws/#\n");
    broker = await Mosquitto.start({
      listener: [
        `cafile ${pki.caCert}`,
        `certfile ${pki.serverCert}`,
        `keyfile ${pki.serverKey}`,
        "require_certificate true",
        `listener ${plainPort} 127.0.0.1`,
      ],
      global: ["allow_anonymous true", `acl_file ${join(pki.dir, "acl")}`],
    });
    endpoint = `mqtts://127.0.0.1:${broker.port}`;
    // A minimal Jobs responder on the plain listener: GetPendingJobExecutions → accepted.
    responder = mqtt.connect(`mqtt://127.0.0.1:${plainPort}`, { clientId: "responder" });
    await new Promise<void>((resolve) => responder.once("connect", () => resolve()));
    await responder.subscribeAsync("$aws/things/+/jobs/get");
    responder.on("message", (topic) => {
      responder.publish(`${topic}/accepted`, JSON.stringify({ inProgressJobs: [], queuedJobs: [], timestamp: 1 }));
    });
  });
  afterAll(async () => {
    await responder?.endAsync();
    await broker?.stop();
  });

  test("a good setup: every check ok, exit 0", async () => {
    const d = device(pki);
    const r = await doctor(["--endpoint", endpoint, "--thing-name", "pi-1", ...d.flags]);
    expect(r.out).not.toContain("FAIL");
    for (const check of [
      "config",
      "clock",
      "certificate",
      "key-pair",
      "root-ca",
      "handler-dir",
      "handler",
      "state-dir",
      "dns",
      "tcp",
      "tls",
      "mqtt-connect",
      "subscriptions",
      "jobs-request",
    ])
      expect(line(r.out, "ok", check)).toBeDefined();
    expect(r.code).toBe(0);
  });

  test.skipIf(!tinyproxyPath())(
    "through an HTTP proxy (tinyproxy, Basic auth): http-proxy ok, MQTT over TLS through it; a wrong password fails the proxy check without showing it",
    async () => {
      const password = "doctor-Pa55";
      const proxy = await Tinyproxy.start({ basicAuth: { user: "pi", password } });
      try {
        const d = device(pki);
        const conf = (pass: string) => {
          const file = join(d.dir, `proxy-${pass.length}.conf`);
          writeFileSync(
            file,
            JSON.stringify({
              "http-proxy-enabled": true,
              "http-proxy-host": "localhost",
              "http-proxy-port": String(proxy.port),
              "http-proxy-auth-method": "UserNameAndPassword",
              "http-proxy-username": "pi",
              "http-proxy-password": pass,
            }),
          );
          chmodSync(file, 0o600);
          return file;
        };
        const good = await doctor([
          "--endpoint",
          endpoint,
          "--thing-name",
          "pi-1",
          ...d.flags,
          "--http-proxy-config",
          conf(password),
        ]);
        expect(good.out).not.toContain("FAIL");
        for (const check of ["http-proxy", "mqtt-connect", "subscriptions", "jobs-request"])
          expect(line(good.out, "ok", check)).toBeDefined();
        expect(good.out).not.toContain(password);
        expect(good.code).toBe(0);

        const bad = await doctor([
          "--endpoint",
          endpoint,
          "--thing-name",
          "pi-1",
          ...d.flags,
          "--http-proxy-config",
          conf("wrong-Pa55!"),
        ]);
        expect(line(bad.out, "FAIL", "http-proxy")).toContain("refused the credentials");
        expect(bad.out).not.toContain("wrong-Pa55!");
        expect(bad.code).not.toBe(0);
      } finally {
        await proxy.stop();
      }
    },
  );

  test("the wrong private key: key-pair fails with the fix", async () => {
    const other = join(tempDir(), "other.key");
    execFileSync("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other]);
    const r = await doctor(["--endpoint", endpoint, "--thing-name", "pi-1", ...device(pki, { key: other }).flags]);
    expect(line(r.out, "FAIL", "key-pair")).toContain("is not the private key of");
    expect(r.code).toBe(1);
  });

  test("an expired certificate is named with its end date", async () => {
    const dir = tempDir();
    const f = (n: string) => join(dir, n);
    writeFileSync(f("index.txt"), "");
    writeFileSync(f("serial"), "1000\n");
    writeFileSync(
      f("ca.cnf"),
      `[ca]\ndefault_ca=d\n[d]\ndatabase=${f("index.txt")}\nnew_certs_dir=${dir}\nserial=${f("serial")}\npolicy=p\ndefault_md=sha256\n[p]\ncommonName=supplied\n`,
    );
    execFileSync(
      "openssl",
      [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=old",
        "-keyout",
        f("old.key"),
        "-out",
        f("old.csr"),
      ],
      { stdio: "pipe" },
    );
    execFileSync(
      "openssl",
      [
        "ca",
        "-batch",
        "-config",
        f("ca.cnf"),
        "-cert",
        pki.caCert,
        "-keyfile",
        join(pki.dir, "ca.key"),
        "-in",
        f("old.csr"),
        "-out",
        f("old.crt"),
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20200201000000Z",
      ],
      { stdio: "pipe" },
    );
    const r = await doctor([
      "--endpoint",
      endpoint,
      "--thing-name",
      "pi-1",
      ...device(pki, { cert: f("old.crt"), key: f("old.key") }).flags,
    ]);
    expect(line(r.out, "FAIL", "certificate")).toContain("expired on Feb  1 00:00:00 2020 GMT");
    expect(r.code).toBe(1);
  });

  test("the wrong root CA: the TLS check fails and says which file to fix", async () => {
    const r = await doctor([
      "--endpoint",
      endpoint,
      "--thing-name",
      "pi-1",
      ...device(pki, { rootCa: pki.otherCaCert }).flags,
    ]);
    const tls = line(r.out, "FAIL", "tls");
    expect(tls).toContain("TLS handshake");
    expect(r.out).toContain("is the CA of this endpoint");
    expect(line(r.out, "skip", "mqtt-connect")).toBeDefined();
    expect(r.code).toBe(1);
  });

  test("broker down: the TCP check fails with the port", async () => {
    const port = await freePort();
    const r = await doctor(["--endpoint", `mqtts://127.0.0.1:${port}`, "--thing-name", "pi-1", ...device(pki).flags]);
    expect(line(r.out, "FAIL", "tcp")).toContain(`cannot connect to 127.0.0.1:${port}`);
    expect(r.code).toBe(1);
  });

  test.skipIf(!isRoot)("a handler owned by another user: the fix is chown, not chmod", async () => {
    const d = device(pki);
    const file = writeHandler(d.handlers, "foreign.sh", "#!/bin/sh\n");
    chownSync(file, 65534, 65534);
    const r = await doctor(["--endpoint", endpoint, "--thing-name", "pi-1", ...d.flags]);
    const handler = r.out.slice(r.out.indexOf("foreign.sh is owned"));
    expect(handler).toStartWith("foreign.sh is owned by uid 65534");
    expect(handler.split("\n")[1]).toContain(`fix: chown root ${file}`);
    expect(r.code).toBe(1);
  });
});

// Mosquitto 2.0 grants a subscription its ACL denies (MQTT 3.1.1); aedes refuses it with 0x80, as AWS IoT
// does for a topic filter the policy does not allow.
test("doctor names a subscription the broker refuses (aedes with a policy)", async () => {
  const broker = await Aedes.createBroker();
  broker.authorizeSubscribe = (_client, sub, callback) =>
    callback(null, sub.topic.endsWith("/notify-next") ? null : sub);
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  try {
    const port = (server.address() as { port: number }).port;
    const handlers = join(tempDir(), "jobs");
    mkdirSync(handlers, { mode: 0o700 });
    const r = await doctor([
      "--endpoint",
      `mqtt://127.0.0.1:${port}`,
      "--thing-name",
      "pi-2",
      "--jobs-handler-dir",
      handlers,
      "--state-dir",
      tempDir(),
    ]);
    expect(line(r.out, "FAIL", "subscriptions")).toContain("refused: $aws/things/pi-2/jobs/notify-next");
    expect(line(r.out, "skip", "jobs-request")).toBeDefined();
    expect(r.code).toBe(1);
  } finally {
    server.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}, 20_000);

describe("doctor against iot-jobs-local", () => {
  test("a registered thing passes; an unregistered one is refused at CONNECT", async () => {
    const service = await startLocalService();
    try {
      await iotClient(service.httpUrl).send(new CreateThingCommand({ thingName: "pi-local" }));
      const handlers = join(tempDir(), "jobs");
      mkdirSync(handlers, { mode: 0o700 });
      const good = await doctor([
        "--endpoint",
        service.mqttUrl,
        "--thing-name",
        "pi-local",
        "--jobs-handler-dir",
        handlers,
        "--state-dir",
        tempDir(),
      ]);
      expect(line(good.out, "ok", "jobs-request")).toContain("GetPendingJobExecutions answered");
      expect(line(good.out, "skip", "tls")).toBeDefined();
      expect(good.code).toBe(0);
      const bad = await doctor([
        "--endpoint",
        service.mqttUrl,
        "--thing-name",
        "not-registered",
        "--jobs-handler-dir",
        handlers,
        "--state-dir",
        tempDir(),
      ]);
      expect(line(bad.out, "FAIL", "mqtt-connect")).toContain("not authorized");
      expect(bad.code).toBe(1);
    } finally {
      await service.stop();
    }
  });
});
