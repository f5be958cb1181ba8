/**
 * Identity end to end, with real TLS and real clients: iot-jobs-local (a child process) issues
 * certificates from its data directory's CA, keeps IoT policies, and its MQTT-over-TLS listener
 * demands what AWS IoT demands. Clients: @aws-sdk/client-iot for the control plane, mosquitto_pub
 * and mosquitto_sub (--cert/--key/--cafile) as independent MQTT peers, mqtt.js, and the compiled
 * agent started as in production (--endpoint --cert --key --root-ca).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateJobCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeletePolicyCommand,
  DeleteThingCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  DescribeJobExecutionCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  type IoTClient,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  RegisterCertificateWithoutCACommand,
  SetDefaultPolicyVersionCommand,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import mqtt from "mqtt";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent } from "../helpers/executables.ts";
import {
  type DeviceCredentials,
  jobsMinimumPolicy,
  newCertificate,
  provisionDevice,
  writeCredentials,
} from "../helpers/iot-identity.ts";
import { selfSignedCertificate } from "../helpers/certs.ts";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { projectHandlerDir, REPO_ROOT, tempDir } from "../helpers/temp.ts";

const hasMosquitto = Bun.spawnSync(["sh", "-c", "command -v mosquitto_pub && command -v mosquitto_sub"]).exitCode === 0;
if (!hasMosquitto)
  console.warn("identity-mtls: the mosquitto client tests are skipped (apt-get install mosquitto-clients)");

interface Service {
  http: string;
  mqtt: string;
  mqtts: string;
  port: number;
  rootCa: string;
  dataDir: string;
  log: string[];
  proc: ReturnType<typeof Bun.spawn>;
}

async function startService(extra: string[] = []): Promise<Service> {
  const given = extra.indexOf("--data-dir");
  const dataDir = given >= 0 ? extra.splice(given, 2)[1]! : tempDir("identity-data-");
  const proc = Bun.spawn(
    [
      process.execPath,
      join(REPO_ROOT, "src/service/main.ts"),
      "serve",
      "--data-dir",
      dataDir,
      "--mqtt-port",
      "0",
      "--http-port",
      "0",
      ...extra,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const log: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) {
      partial += decoder.decode(chunk);
      const lines = partial.split("\n");
      partial = lines.pop()!;
      log.push(...lines);
    }
  })();
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`iot-jobs-local exited: ${log.join("\n")}`);
    text += new TextDecoder().decode(value);
  }
  const ready = JSON.parse(text.split("\n")[0]!);
  return { ...ready, port: ready.mqtts ? Number(new URL(ready.mqtts).port) : 0, dataDir, log, proc };
}

/** Resolves with the first service log line (past or future) that contains every text. */
async function logLine(svc: Service, ...texts: string[]): Promise<string> {
  const until = Date.now() + 10_000;
  for (;;) {
    const line = svc.log.find((l) => texts.every((t) => l.includes(t)));
    if (line) return line;
    if (Date.now() > until) throw new Error(`no log line with ${texts.join(" + ")}:\n${svc.log.slice(-20).join("\n")}`);
    await Bun.sleep(25);
  }
}

const tlsArgs = (svc: Service, c: { cert: string; key: string }) => [
  "-h",
  "127.0.0.1",
  "-p",
  String(svc.port),
  "--cafile",
  svc.rootCa,
  "--cert",
  c.cert,
  "--key",
  c.key,
];

/** mosquitto_pub (QoS 1), its exit code and output. */
async function mosquittoPub(svc: Service, c: { cert: string; key: string }, clientId: string, topic: string) {
  const p = Bun.spawn(["mosquitto_pub", ...tlsArgs(svc, c), "-i", clientId, "-q", "1", "-t", topic, "-m", "{}"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code, out: out + err };
}

/** mosquitto_sub -d for a moment: the SUBACK codes it printed, and whether the connection was refused. */
async function mosquittoSub(
  svc: Service,
  c: { cert: string; key: string },
  clientId: string,
  filters: string[],
  seconds = 2,
) {
  const p = Bun.spawn(
    [
      "mosquitto_sub",
      ...tlsArgs(svc, c),
      "-i",
      clientId,
      "-d",
      "-W",
      String(seconds),
      ...filters.flatMap((f) => ["-t", f]),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const granted = /Subscribed \(mid: \d+\): ([\d, ]+)/
    .exec(out)?.[1]
    ?.split(",")
    .map((s) => Number(s.trim()));
  return { out: out + err, granted };
}

function mqttsClient(svc: Service, c: DeviceCredentials | { cert: string; key: string }, clientId: string) {
  return mqtt.connectAsync(svc.mqtts, {
    clientId,
    ca: readFileSync(svc.rootCa),
    cert: readFileSync(c.cert),
    key: readFileSync(c.key),
    rejectUnauthorized: true,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
}

async function waitTerminal(iot: IoTClient, jobId: string, thingName: string) {
  const until = Date.now() + 60_000;
  for (;;) {
    const e = (await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))).execution!;
    if (!["QUEUED", "IN_PROGRESS"].includes(e.status!)) return e;
    if (Date.now() > until) throw new Error(`${jobId} still ${e.status}`);
    await Bun.sleep(100);
  }
}

const POLICY = jobsMinimumPolicy("us-east-1", "123456789012");
let svc: Service;
let iot: IoTClient;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  svc = await startService();
  iot = iotClient(svc.http);
  await iot.send(new CreatePolicyCommand({ policyName: "jobs-min", policyDocument: POLICY }));
}, 30_000);
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  svc.proc.kill("SIGTERM");
  await svc.proc.exited;
});

describe("certificates, principals and the endpoint (control plane)", () => {
  test("the ready line names mqtts and the root CA, which is <data-dir>/root-ca.pem; DescribeEndpoint answers the TLS address", async () => {
    expect(svc.mqtts).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(svc.rootCa).toBe(join(svc.dataDir, "root-ca.pem"));
    expect(readFileSync(svc.rootCa, "utf8")).toContain("BEGIN CERTIFICATE");
    const e = await iot.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }));
    expect(e.endpointAddress).toBe(`127.0.0.1:${svc.port}`);
  });

  test("attach, list both ways, and DeleteCertificate's preconditions (ACTIVE, things, policies)", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "pc-1", "jobs-min");
    expect((await iot.send(new ListThingPrincipalsCommand({ thingName: "pc-1" }))).principals).toEqual([
      c.certificateArn,
    ]);
    expect((await iot.send(new ListPrincipalThingsCommand({ principal: c.certificateArn }))).things).toEqual(["pc-1"]);
    expect(
      (await iot.send(new ListAttachedPoliciesCommand({ target: c.certificateArn }))).policies?.map(
        (p) => p.policyName,
      ),
    ).toEqual(["jobs-min"]);
    const d = await iot.send(new DescribeCertificateCommand({ certificateId: c.certificateId }));
    expect(d.certificateDescription?.status).toBe("ACTIVE");
    expect(c.certificateId).toBe(
      new Bun.CryptoHasher("sha256")
        .update(Buffer.from(d.certificateDescription!.certificatePem!.replace(/-----[^-]+-----|\s/g, ""), "base64"))
        .digest("hex"),
    );
    const del = () => iot.send(new DeleteCertificateCommand({ certificateId: c.certificateId }));
    expect(del()).rejects.toMatchObject({ name: "CertificateStateException" });
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: "INACTIVE" }));
    expect(del()).rejects.toMatchObject({ name: "DeleteConflictException" });
    const deleteThing = iot.send(new DeleteThingCommand({ thingName: "pc-1" }));
    expect(deleteThing).rejects.toThrow("Cannot delete. Thing pc-1 is still attached to one or more principals");
    await iot.send(new DetachThingPrincipalCommand({ thingName: "pc-1", principal: c.certificateArn }));
    expect(del()).rejects.toMatchObject({ name: "DeleteConflictException" });
    expect(iot.send(new DeletePolicyCommand({ policyName: "jobs-min" }))).rejects.toMatchObject({
      name: "DeleteConflictException",
    });
    await iot.send(new DetachPolicyCommand({ policyName: "jobs-min", target: c.certificateArn }));
    await del();
    expect(iot.send(new DescribeCertificateCommand({ certificateId: c.certificateId }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
    expect(
      iot.send(new UpdateCertificateCommand({ certificateId: "0".repeat(64), newStatus: "ACTIVE" })),
    ).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });

  test("concurrent first CreateKeysAndCertificate calls share one CA: every certificate verifies against it", async () => {
    const local = await startLocalService();
    try {
      const liot = iotClient(local.httpUrl);
      const made = await Promise.all(
        [1, 2, 3].map(() => liot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))),
      );
      const ca = new X509Certificate(local.store.get("localCa", "ca")!.certificatePem);
      for (const m of made) expect(new X509Certificate(m.certificatePem!).verify(ca.publicKey)).toBe(true);
    } finally {
      await local.stop();
    }
  });

  test("CreatePolicy refuses a malformed document as MalformedPolicyException", async () => {
    const r = iot.send(
      new CreatePolicyCommand({
        policyName: "bad",
        policyDocument: '{"Statement":[{"Effect":"Perhaps","Action":"iot:*","Resource":"*"}]}',
      }),
    );
    expect(r).rejects.toMatchObject({ name: "MalformedPolicyException" });
  });
});

describe("the compiled agent, configured as in production, over mutual TLS", () => {
  test("CreateKeysAndCertificate + the minimum Jobs policy: the agent connects with --endpoint host:port --cert --key --root-ca and runs a job", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "agent-1", "jobs-min");
    const agent = AgentProcess.start({
      brokerUrl: `127.0.0.1:${svc.port}`,
      thingName: "agent-1",
      handlerDirectory: projectHandlerDir(),
      command: [compiledAgent("linux-x64")],
      extraArgs: ["--cert", c.cert, "--key", c.key, "--root-ca", c.rootCa],
    });
    cleanups.push(() => agent.kill());
    const doc = {
      version: "1.0",
      includeStdOut: true,
      steps: [{ action: { name: "greet", type: "runCommand", input: { command: "printf,over mutual TLS" } } }],
    };
    await iot.send(
      new CreateJobCommand({ jobId: "mtls-1", targets: [thingArn("agent-1")], document: JSON.stringify(doc) }),
    );
    const e = await waitTerminal(iot, "mtls-1", "agent-1");
    expect(e.status).toBe("SUCCEEDED");
    expect(e.statusDetails?.detailsMap?.stdout).toBe("over mutual TLS");
    // Nothing the agent did needed more than the minimum policy.
    expect(svc.log.filter((l) => l.includes("Denied by policy") && l.includes('"clientId":"agent-1"'))).toEqual([]);
  }, 180_000);

  test("revoked mid-job: the agent's terminal update never arrives (its session ends, reconnects are refused); the execution times out", async () => {
    // Its own service with 3-second timeout minutes, so the timeout is seen.
    const svc = await startService(["--minute-ms", "3000"]);
    cleanups.push(async () => {
      svc.proc.kill("SIGTERM");
      await svc.proc.exited;
    });
    const iot = iotClient(svc.http);
    const c = await provisionDevice(iot, svc.rootCa, "agent-2", "jobs-min", POLICY);
    const agent = AgentProcess.start({
      brokerUrl: `127.0.0.1:${svc.port}`,
      thingName: "agent-2",
      handlerDirectory: projectHandlerDir(),
      command: [compiledAgent("linux-x64")],
      extraArgs: ["--cert", c.cert, "--key", c.key, "--root-ca", c.rootCa],
    });
    cleanups.push(() => agent.kill());
    const doc = {
      version: "1.0",
      steps: [{ action: { name: "slow", type: "runCommand", input: { command: "sleep,2" } } }],
    };
    await iot.send(
      new CreateJobCommand({
        jobId: "mtls-revoked",
        targets: [thingArn("agent-2")],
        document: JSON.stringify(doc),
        timeoutConfig: { inProgressTimeoutInMinutes: 1 },
      }),
    );
    const until = Date.now() + 30_000;
    while (
      (await iot.send(new DescribeJobExecutionCommand({ jobId: "mtls-revoked", thingName: "agent-2" }))).execution
        ?.status !== "IN_PROGRESS"
    ) {
      if (Date.now() > until) throw new Error("never IN_PROGRESS");
      await Bun.sleep(50);
    }
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: "REVOKED" }));
    await logLine(svc, "Certificate is now REVOKED", c.certificateId);
    // The step ends after 2 s; the agent's SUCCEEDED cannot reach the service: its reconnects are refused.
    await logLine(svc, "Denied by policy: iot:Connect", c.certificateId, "is REVOKED");
    const e = await waitTerminal(iot, "mtls-revoked", "agent-2");
    expect(e.status).toBe("TIMED_OUT");
  }, 180_000);
});

describe("the compiled agent refused over mutual TLS, then the cause fixed", () => {
  /** The compiled agent as `thingName` with `c`'s certificate, on the shared service. */
  function mtlsAgent(thingName: string, c: DeviceCredentials): AgentProcess {
    const agent = AgentProcess.start({
      brokerUrl: `127.0.0.1:${svc.port}`,
      thingName,
      handlerDirectory: projectHandlerDir(),
      command: [compiledAgent("linux-x64")],
      extraArgs: ["--cert", c.cert, "--key", c.key, "--root-ca", c.rootCa],
    });
    cleanups.push(() => agent.kill());
    return agent;
  }

  const printfJob = (text: string) =>
    JSON.stringify({
      version: "1.0",
      includeStdOut: true,
      steps: [{ action: { name: "say", type: "runCommand", input: { command: `printf,${text}` } } }],
    });

  /**
   * The agent is refused at CONNECT: the service names the client, the certificate and why; the agent
   * logs the refusal and tries again (two refusals, later than the first, not a crash); the job queued
   * for it stays QUEUED. Returns the agent's refusal lines.
   */
  async function expectRefused(agent: AgentProcess, clientId: string, c: DeviceCredentials, why: string) {
    const line = await logLine(svc, "Denied by policy: iot:Connect", `for client ${clientId}:`, why);
    expect(line).toContain(`"certificateId":"${c.certificateId}"`);
    const refusals = () => agent.lines.filter((l) => l.includes("connection refused: not authorized"));
    const until = Date.now() + 15_000;
    while (refusals().length < 2) {
      if (Date.now() > until) throw new Error(`the agent did not try again:\n${agent.lines.join("\n")}`);
      await Bun.sleep(50);
    }
    const times = refusals().map((l) => Date.parse(JSON.parse(l).time));
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(400); // backoff: the first retry waits 0.5–1 s
    expect(agent.proc.exitCode).toBeNull();
    return refusals();
  }

  async function expectQueued(jobId: string, thingName: string) {
    const e = await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }));
    expect(e.execution?.status).toBe("QUEUED");
  }

  test("INACTIVE certificate: refused, backs off; UpdateCertificate ACTIVE, the same agent runs the job", async () => {
    await iot.send(new CreateThingCommand({ thingName: "ag-inactive" }));
    const c = await newCertificate(iot, svc.rootCa, false);
    await iot.send(new AttachPolicyCommand({ policyName: "jobs-min", target: c.certificateArn }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: "ag-inactive", principal: c.certificateArn }));
    const agent = mtlsAgent("ag-inactive", c);
    await iot.send(
      new CreateJobCommand({ jobId: "ag-inactive-1", targets: [thingArn("ag-inactive")], document: printfJob("on") }),
    );
    await expectRefused(agent, "ag-inactive", c, `certificate ${c.certificateId} is INACTIVE`);
    await expectQueued("ag-inactive-1", "ag-inactive");
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: "ACTIVE" }));
    const e = await waitTerminal(iot, "ag-inactive-1", "ag-inactive");
    expect(e.status).toBe("SUCCEEDED");
    expect(e.statusDetails?.detailsMap?.stdout).toBe("on");
    expect(agent.proc.exitCode).toBeNull(); // no restart: its own retry got in
  }, 120_000);

  test("certificate of another thing: refused, backs off; AttachThingPrincipal, the same agent runs it", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "ag-owner", "jobs-min");
    await iot.send(new CreateThingCommand({ thingName: "ag-borrower" }));
    const agent = mtlsAgent("ag-borrower", c);
    await iot.send(
      new CreateJobCommand({ jobId: "ag-borrow-1", targets: [thingArn("ag-borrower")], document: printfJob("mine") }),
    );
    await expectRefused(agent, "ag-borrower", c, "client id ag-borrower is not a thing attached to this certificate");
    await expectQueued("ag-borrow-1", "ag-borrower");
    await iot.send(new AttachThingPrincipalCommand({ thingName: "ag-borrower", principal: c.certificateArn }));
    const e = await waitTerminal(iot, "ag-borrow-1", "ag-borrower");
    expect(e.status).toBe("SUCCEEDED");
    expect(e.statusDetails?.detailsMap?.stdout).toBe("mine");
    expect(agent.proc.exitCode).toBeNull();
  }, 120_000);

  test("thing-name (client id) not the certificate's thing: refused, backs off; restarted right, it runs", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "ag-right", "jobs-min");
    // The agent's client id is its thing-name: a typo is a client id no thing of this certificate has.
    const wrong = mtlsAgent("ag-rihgt", c);
    await iot.send(
      new CreateJobCommand({ jobId: "ag-right-1", targets: [thingArn("ag-right")], document: printfJob("right") }),
    );
    await expectRefused(wrong, "ag-rihgt", c, "client id ag-rihgt is not a thing attached to this certificate");
    await expectQueued("ag-right-1", "ag-right");
    // The thing name is configuration: fixing it means restarting the agent with the right one.
    expect(await wrong.kill("SIGTERM")).toBe(0);
    const right = mtlsAgent("ag-right", c);
    const e = await waitTerminal(iot, "ag-right-1", "ag-right");
    expect(e.status).toBe("SUCCEEDED");
    expect(e.statusDetails?.detailsMap?.stdout).toBe("right");
    expect(right.lines.some((l) => l.includes("connection refused"))).toBe(false);
  }, 120_000);
});

describe.skipIf(!hasMosquitto)("refusals seen by independent clients (mosquitto_pub / mosquitto_sub)", () => {
  let dev: DeviceCredentials;
  beforeAll(async () => {
    dev = await provisionDevice(iot, svc.rootCa, "mq-1", "jobs-min");
    await iot.send(new CreateThingCommand({ thingName: "mq-2" }));
  }, 30_000);

  test("own topics are allowed; a shadow topic and a subscription the policy does not list get SUBACK 0x80", async () => {
    const r = await mosquittoSub(svc, dev, "mq-1", [
      "$aws/things/mq-1/jobs/notify-next",
      "$aws/things/mq-1/shadow/get/accepted",
      "$aws/things/mq-1/jobs/notify",
    ]);
    expect(r.granted).toEqual([0, 128, 128]);
    const line = await logLine(svc, "iot:Subscribe", "mq-1/shadow/get/accepted");
    expect(line).toContain("no statement allows it");
  });

  test("publishing to another thing's topic closes the connection and is logged with the resource", async () => {
    const r = await mosquittoPub(svc, dev, "mq-1", "$aws/things/mq-2/jobs/start-next");
    expect(r.code).not.toBe(0);
    await logLine(svc, "iot:Publish", "topic/$aws/things/mq-2/jobs/start-next", '"clientId":"mq-1"');
  });

  test("its own start-next is accepted", async () => {
    const r = await mosquittoPub(svc, dev, "mq-1", "$aws/things/mq-1/jobs/start-next");
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });

  test("a client id that is not the thing, and a certificate attached to another thing: CONNACK not authorised", async () => {
    const notThing = await mosquittoPub(svc, dev, "someone-else", "$aws/things/mq-1/jobs/start-next");
    expect(notThing.out).toContain("not authorised");
    const other = await mosquittoPub(svc, dev, "mq-2", "$aws/things/mq-2/jobs/start-next");
    expect(other.out).toContain("not authorised");
    const line = await logLine(svc, "iot:Connect", "client/mq-2");
    expect(line).toContain("client id mq-2 is not a thing attached to this certificate");
  });

  test("INACTIVE and REVOKED certificates are refused; a certificate unknown to the service too", async () => {
    const inactive = await newCertificate(iot, svc.rootCa, false);
    await iot.send(new AttachPolicyCommand({ policyName: "jobs-min", target: inactive.certificateArn }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: "mq-2", principal: inactive.certificateArn }));
    expect((await mosquittoPub(svc, inactive, "mq-2", "$aws/things/mq-2/jobs/start-next")).out).toContain(
      "not authorised",
    );
    await logLine(svc, inactive.certificateId, "is INACTIVE");
    await iot.send(new UpdateCertificateCommand({ certificateId: inactive.certificateId, newStatus: "ACTIVE" }));
    expect((await mosquittoPub(svc, inactive, "mq-2", "$aws/things/mq-2/jobs/start-next")).code).toBe(0);
    await iot.send(new UpdateCertificateCommand({ certificateId: inactive.certificateId, newStatus: "REVOKED" }));
    expect((await mosquittoPub(svc, inactive, "mq-2", "$aws/things/mq-2/jobs/start-next")).out).toContain(
      "not authorised",
    );
    // The refusal line's fix must be one that works: a revoked certificate cannot be activated.
    await logLine(svc, inactive.certificateId, "is REVOKED, for good", "CreateKeysAndCertificate");
    expect(
      iot.send(new UpdateCertificateCommand({ certificateId: inactive.certificateId, newStatus: "ACTIVE" })),
    ).rejects.toMatchObject({ name: "CertificateStateException" });

    // A self-signed certificate nobody registered: refused; registered without a CA: accepted.
    const self = selfSignedCertificate("own");
    const own = writeCredentials(self.certPem, self.keyPem);
    expect((await mosquittoPub(svc, own, "mq-2", "$aws/things/mq-2/jobs/start-next")).out).toContain("not authorised");
    await logLine(svc, "is not registered");
    const reg = await iot.send(
      new RegisterCertificateWithoutCACommand({ certificatePem: readFileSync(own.cert, "utf8"), status: "ACTIVE" }),
    );
    await iot.send(new AttachPolicyCommand({ policyName: "jobs-min", target: reg.certificateArn! }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: "mq-2", principal: reg.certificateArn! }));
    expect((await mosquittoPub(svc, own, "mq-2", "$aws/things/mq-2/jobs/start-next")).code).toBe(0);
  }, 60_000);

  test("CreateCertificateFromCsr with an EC P-256 key made by openssl: the device connects with its own key", async () => {
    const dir = tempDir("ec-csr-");
    const made = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=ec-1",
        "-keyout",
        join(dir, "k.pem"),
        "-out",
        join(dir, "csr.pem"),
      ],
      { stderr: "pipe" },
    );
    expect(made.exitCode).toBe(0);
    const r = await iot.send(
      new CreateCertificateFromCsrCommand({
        certificateSigningRequest: readFileSync(join(dir, "csr.pem"), "utf8"),
        setAsActive: true,
      }),
    );
    await iot.send(new CreateThingCommand({ thingName: "ec-1" }));
    await iot.send(new AttachPolicyCommand({ policyName: "jobs-min", target: r.certificateArn! }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: "ec-1", principal: r.certificateArn! }));
    const own = writeCredentials(r.certificatePem!, readFileSync(join(dir, "k.pem"), "utf8"));
    const pub = await mosquittoPub(svc, own, "ec-1", "$aws/things/ec-1/jobs/start-next");
    expect(pub).toEqual({ code: 0, out: "" });
  });

  test("a revocation during a session ends that session", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "mq-3", "jobs-min");
    const client = await mqttsClient(svc, c, "mq-3");
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    await client.subscribeAsync("$aws/things/mq-3/jobs/notify-next");
    await iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: "REVOKED" }));
    await closed;
    client.end(true);
  });

  test("without a client certificate the TLS connection is refused", async () => {
    const p = Bun.spawn(
      [
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        String(svc.port),
        "--cafile",
        svc.rootCa,
        "-i",
        "mq-1",
        "-t",
        "x",
        "-m",
        "{}",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(await p.exited).not.toBe(0);
  });

  test("the seed's Connect ARN without the iot segment: refused, and one log line says why", async () => {
    const typo = JSON.parse(POLICY);
    typo.Statement[0].Resource = "arn:aws:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}";
    const c = await provisionDevice(iot, svc.rootCa, "mq-typo", "jobs-typo", JSON.stringify(typo));
    expect((await mosquittoPub(svc, c, "mq-typo", "$aws/things/mq-typo/jobs/start-next")).out).toContain(
      "not authorised",
    );
    const line = await logLine(svc, "Denied by policy: iot:Connect", "mq-typo");
    expect(line).toContain("policy jobs-typo statement 0");
    expect(line).toContain("lacks the iot service segment");
  });
});

describe("policy versions", () => {
  test("SetDefaultPolicyVersion applies from the next request: a filter the new default leaves out is refused", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "pv-1", "pv-policy", POLICY);
    const narrower = JSON.parse(POLICY);
    narrower.Statement[2].Resource = narrower.Statement[2].Resource.filter((r: string) => !r.endsWith("notify-next"));
    const v = await iot.send(
      new CreatePolicyVersionCommand({ policyName: "pv-policy", policyDocument: JSON.stringify(narrower) }),
    );
    const client = await mqttsClient(svc, c, "pv-1");
    const granted = async () =>
      client.subscribeAsync("$aws/things/pv-1/jobs/notify-next").then(
        (g) => g.map((x) => x.qos),
        (e: { packet?: { granted?: number[] } }) => e.packet?.granted,
      );
    expect(await granted()).toEqual([0]);
    await iot.send(new SetDefaultPolicyVersionCommand({ policyName: "pv-policy", policyVersionId: v.policyVersionId }));
    expect(await granted()).toEqual([128]);
    await client.endAsync();
  }, 30_000);
});

describe("restart", () => {
  test("the CA, certificates and policies survive a restart on the same data directory; the device reconnects", async () => {
    const first = await startService();
    const fiot = iotClient(first.http);
    const c = await provisionDevice(fiot, first.rootCa, "rs-1", "rs-policy", POLICY);
    const ca = readFileSync(first.rootCa, "utf8");
    first.proc.kill("SIGTERM");
    await first.proc.exited;
    const again = await startService(["--data-dir", first.dataDir]);
    cleanups.push(async () => {
      again.proc.kill("SIGTERM");
      await again.proc.exited;
    });
    expect(again.rootCa).toBe(first.rootCa);
    expect(readFileSync(again.rootCa, "utf8")).toBe(ca);
    const client = await mqttsClient(again, c, "rs-1");
    await client.endAsync();
  }, 60_000);
});

describe("iot:Receive", () => {
  test("a subscription the policy allows, without Receive on the topic: nothing is delivered, and the denial is logged", async () => {
    const arn = "arn:aws:iot:us-east-1:123456789012";
    const jobs = "$aws/things/${iot:Connection.Thing.ThingName}/jobs";
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Action: "iot:Connect", Resource: `${arn}:client/\${iot:Connection.Thing.ThingName}` },
        { Effect: "Allow", Action: "iot:Publish", Resource: `${arn}:topic/${jobs}/start-next` },
        { Effect: "Allow", Action: "iot:Subscribe", Resource: [`${arn}:topicfilter/${jobs}/*`] },
        { Effect: "Allow", Action: "iot:Receive", Resource: [`${arn}:topic/${jobs}/start-next/accepted`] },
      ],
    });
    const c = await provisionDevice(iot, svc.rootCa, "rx-1", "rx-only-start-next", policy);
    const client = await mqttsClient(svc, c, "rx-1");
    const got: string[] = [];
    client.on("message", (topic) => got.push(topic));
    await client.subscribeAsync(["$aws/things/rx-1/jobs/notify-next", "$aws/things/rx-1/jobs/start-next/accepted"]);
    const doc = { version: "1.0", steps: [{ action: { name: "s", type: "runCommand", input: { command: "true" } } }] };
    await iot.send(
      new CreateJobCommand({ jobId: "rx-job", targets: [thingArn("rx-1")], document: JSON.stringify(doc) }),
    );
    await logLine(svc, "iot:Receive", "topic/$aws/things/rx-1/jobs/notify-next");
    await client.publishAsync("$aws/things/rx-1/jobs/start-next", "{}", { qos: 1 });
    const until = Date.now() + 5_000;
    while (!got.includes("$aws/things/rx-1/jobs/start-next/accepted")) {
      if (Date.now() > until) throw new Error(`start-next/accepted never arrived: ${got}`);
      await Bun.sleep(20);
    }
    expect(got).not.toContain("$aws/things/rx-1/jobs/notify-next");
    await client.endAsync();
  }, 30_000);
});

describe("the plain listener", () => {
  test("open development mode: a registered thing connects by client id alone", async () => {
    await iot.send(new CreateThingCommand({ thingName: "plain-1" }));
    const client = await mqtt.connectAsync(svc.mqtt, { clientId: "plain-1", reconnectPeriod: 0 });
    const granted = await client.subscribeAsync("$aws/things/plain-1/shadow/get/accepted");
    expect(granted[0]?.qos).toBe(0);
    await client.endAsync();
  });

  test("--plain-policy enforce: the thing's ACTIVE certificates' policies apply by client id", async () => {
    const other = await startService(["--plain-policy", "enforce", "--listeners", "mqtt"]);
    cleanups.push(async () => {
      other.proc.kill("SIGTERM");
      await other.proc.exited;
    });
    expect(other.mqtts).toBeUndefined();
    const oiot = iotClient(other.http);
    await oiot.send(new CreateThingCommand({ thingName: "p-1" }));
    const refused = mqtt.connectAsync(other.mqtt, { clientId: "p-1", reconnectPeriod: 0 });
    expect(refused).rejects.toThrow(/Not authorized/i);
    const creds = await provisionDevice(oiot, other.rootCa ?? svc.rootCa, "p-2", "jobs-min", POLICY);
    const client = await mqtt.connectAsync(other.mqtt, { clientId: "p-2", reconnectPeriod: 0 });
    // mqtt.js rejects a SUBACK with a refused filter; the packet carries every code.
    const granted = await client
      .subscribeAsync(["$aws/things/p-2/jobs/notify-next", "$aws/things/p-2/shadow/get/accepted"])
      .then(
        (g) => g.map((x) => x.qos),
        (e: { packet?: { granted?: number[] } }) => e.packet?.granted,
      );
    expect(granted).toEqual([0, 128]);
    // Its only certificate revoked: the plain session ends too (it could no longer connect).
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    await oiot.send(new UpdateCertificateCommand({ certificateId: creds.certificateId, newStatus: "REVOKED" }));
    await closed;
    await logLine(other, "Certificate is now REVOKED: its sessions end", creds.certificateId);
    await client.endAsync();
    // Connecting again: refused, and the line says which certificate is in which state.
    expect(mqtt.connectAsync(other.mqtt, { clientId: "p-2", reconnectPeriod: 0 })).rejects.toThrow(/Not authorized/i);
    await logLine(other, "thing p-2 has no ACTIVE certificate", `${creds.certificateId} is REVOKED`);
  });
});

// One run each here; test/faults/mtls-scenarios.ts repeats the revocation and the storm (with the compiled
// agent cut off by a proxy) at random moments, 3 trials in `npm test` and 100 in `npm run test:faults`.
describe("faults", () => {
  test("TLS handshake failures during a reconnect storm: garbage, no certificate, unknown certificates — a good device still gets in every time", async () => {
    const good = await provisionDevice(iot, svc.rootCa, "storm-ok", "jobs-min");
    const self = selfSignedCertificate("storm");
    const stranger = { cert: Buffer.from(self.certPem), key: Buffer.from(self.keyPem) };
    const ca = readFileSync(svc.rootCa);
    const attempt = (i: number) =>
      new Promise<void>((resolve) => {
        const done = () => resolve();
        if (i % 3 === 0) {
          const s = netConnect(svc.port, "127.0.0.1", () => s.write(crypto.getRandomValues(new Uint8Array(64))));
          s.on("error", done).on("close", done);
          setTimeout(() => s.destroy(), 2_000);
        } else {
          const s = tlsConnect(
            { host: "127.0.0.1", port: svc.port, ca, servername: "localhost", ...(i % 3 === 1 ? stranger : {}) },
            () =>
              s.write(
                Buffer.from([
                  0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x04, 0x62, 0x61, 0x64,
                  0x21,
                ]),
              ),
          );
          s.on("error", done).on("close", done);
          setTimeout(() => s.destroy(), 2_000);
        }
      });
    const storm = Promise.all(Array.from({ length: 300 }, (_, i) => attempt(i)));
    // Meanwhile the good device reconnects again and again.
    for (let round = 0; round < 10; round++) {
      const client = await mqttsClient(svc, good, "storm-ok");
      await client.endAsync();
    }
    await storm;
    const client = await mqttsClient(svc, good, "storm-ok");
    await client.endAsync();
    const r = await fetch(`${svc.http}/things/storm-ok`);
    expect(r.status).toBe(200);
    await logLine(svc, "TLS handshake failed");
  }, 60_000);

  test("ALPN x-amzn-mqtt-ca is accepted", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "alpn-1", "jobs-min");
    const client = await mqtt.connectAsync(svc.mqtts, {
      clientId: "alpn-1",
      ca: readFileSync(svc.rootCa),
      cert: readFileSync(c.cert),
      key: readFileSync(c.key),
      ALPNProtocols: ["x-amzn-mqtt-ca"],
      reconnectPeriod: 0,
    });
    expect((client.stream as unknown as { alpnProtocol?: string }).alpnProtocol).toBe("x-amzn-mqtt-ca");
    await client.endAsync();
  });
});

describe.skipIf(!Bun.which("node"))("AWS's device SDK (aws-iot-device-sdk-v2, under Node) over mutual TLS", () => {
  async function sdk(c: { cert: string; key: string }, clientId: string) {
    const p = Bun.spawn(
      [
        Bun.which("node")!,
        join(REPO_ROOT, "test/node/mtls-sdk-v2.mjs"),
        "127.0.0.1",
        String(svc.port),
        clientId,
        c.cert,
        c.key,
        svc.rootCa,
      ],
      { stdout: "pipe", stderr: "pipe", cwd: REPO_ROOT },
    );
    const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const last = out.trim().split("\n").at(-1);
    if (!last) throw new Error(`no result from the SDK script: ${err}`);
    return JSON.parse(last);
  }

  test("with the minimum Jobs policy: connects, start-next answered, a shadow subscription refused; another client id refused", async () => {
    const c = await provisionDevice(iot, svc.rootCa, "sdk-1", "jobs-min");
    expect(await sdk(c, "sdk-1")).toEqual({ connected: true, granted: [1, 128], startNext: "accepted" });
    const other = await sdk(c, "sdk-other");
    expect(other.connected).toBe(false);
  }, 60_000);
});
