/**
 * Fault scenarios over mutual TLS (issue 15): iot-jobs-local as its own process (so its memory and
 * descriptors are its own) with its mqtts listener, devices provisioned as on AWS (a certificate
 * from CreateKeysAndCertificate, the minimum Jobs policy), and the compiled agent started with
 * --cert --key --root-ca. One: the certificate revoked at a random moment of a job. Two: a storm of
 * failing TLS handshakes while a good agent is cut off again and again by a TCP proxy.
 */
import {
  CreateJobCommand,
  CreatePolicyCommand,
  DescribeJobCommand,
  type IoTClient,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import { readdirSync, readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { join } from "node:path";
import { AgentProcess } from "../helpers/agent-process.ts";
import { selfSignedCertificate } from "../helpers/certs.ts";
import { compiledAgent, spawnService } from "../helpers/executables.ts";
import { type DeviceCredentials, jobsMinimumPolicy, provisionDevice } from "../helpers/iot-identity.ts";
import { iotClient, thingArn } from "../helpers/local-service.ts";
import { agentCommand, testRuntime } from "../helpers/runtimes.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";
import {
  type Env,
  expectSucceededOnce,
  faultHandlers,
  random,
  type Scenario,
  startAgent,
  starts,
  terminal,
  workJob,
} from "./scenarios.ts";
import { TcpProxy } from "./tcp-proxy.ts";

const POLICY = "jobs-min";

/** iot-jobs-local (a child process) with both listeners, its log lines, and its RSS and descriptors. */
interface MtlsService {
  readonly http: string;
  readonly mqttsPort: number;
  readonly rootCa: string;
  readonly log: string[];
  rssMb(): number;
  fds(): number;
  stop(): Promise<void>;
}

interface MtlsEnv extends Env {
  readonly iot: IoTClient;
  readonly mtls: MtlsService;
  readonly bystander?: { thing: string; agent: AgentProcess };
}

async function mtlsService(extraArgs: string[]): Promise<MtlsService> {
  const svc = await spawnService(
    [process.execPath, join(REPO_ROOT, "src/service/main.ts")],
    ["--data-dir", tempDir("fault-mtls-"), ...extraArgs],
  );
  const log: string[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of svc.proc.stderr as ReadableStream<Uint8Array>) {
      partial += decoder.decode(chunk, { stream: true });
      const lines = partial.split("\n");
      partial = lines.pop()!;
      log.push(...lines);
    }
  })();
  const pid = svc.proc.pid;
  return {
    http: svc.http,
    mqttsPort: Number(new URL(svc.mqtts!).port),
    rootCa: svc.rootCa!,
    log,
    rssMb: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024,
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    stop: svc.stop,
  };
}

/** The first service log line (past or future) holding every text. */
async function serviceLine(svc: MtlsService, texts: string[], timeoutMs = 10_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const line = svc.log.find((l) => texts.every((t) => l.includes(t)));
    if (line) return line;
    if (Date.now() > until) throw new Error(`no service log line with ${texts.join(" + ")}`);
    await Bun.sleep(25);
  }
}

async function mtlsEnv(serviceArgs: string[], options: { bystander?: boolean; proxy?: boolean } = {}) {
  const mtls = await mtlsService(serviceArgs);
  const iot = iotClient(mtls.http);
  await iot.send(
    new CreatePolicyCommand({ policyName: POLICY, policyDocument: jobsMinimumPolicy("us-east-1", "123456789012") }),
  );
  const proxy = options.proxy ? await TcpProxy.start(`mqtts://127.0.0.1:${mtls.mqttsPort}`, { raw: true }) : undefined;
  const handlers = faultHandlers();
  let bystander: MtlsEnv["bystander"];
  if (options.bystander) {
    // Not in `agents`: it lives across trials, each of which gives it a job.
    const thing = `bystander-${process.pid}`;
    const c = await provisionDevice(iot, mtls.rootCa, thing, POLICY);
    const agent = AgentProcess.start({
      brokerUrl: `127.0.0.1:${mtls.mqttsPort}`,
      thingName: thing,
      handlerDirectory: handlers,
      command: testRuntime() === "node" ? agentCommand("node") : [compiledAgent("linux-x64")],
      extraArgs: tlsArgs(c),
    });
    bystander = { thing, agent };
  }
  const env: MtlsEnv = {
    iot,
    mtls,
    proxy,
    bystander,
    handlers,
    agents: [],
    async tearDown() {
      for (const a of env.agents) await a.kill().catch(() => {});
      await bystander?.agent.kill().catch(() => {});
      proxy?.stop();
      await mtls.stop();
    },
  };
  return env;
}

const tlsArgs = (c: DeviceCredentials) => ["--cert", c.cert, "--key", c.key, "--root-ca", c.rootCa];

/** A job for the work.sh handler: its start log, and its terminal state. */
async function workFor(env: MtlsEnv, thing: string, jobId: string, seconds: number, inProgressMinutes?: number) {
  const dir = tempDir();
  await env.iot.send(
    new CreateJobCommand({
      jobId,
      targets: [thingArn(thing)],
      document: workJob(join(dir, "lock"), seconds, join(dir, "log")),
      ...(inProgressMinutes ? { timeoutConfig: { inProgressTimeoutInMinutes: inProgressMinutes } } : {}),
    }),
  );
  return { log: join(dir, "log"), done: (ms = 30_000) => terminal(env, jobId, thing, ms) };
}

// --- revoked mid-job ------------------------------------------------------------------------------

/**
 * One timeout minute of the service; the step (2 s) ends well inside it when nothing goes wrong. The
 * revocation lands in the step's first second: a second's margin before its SUCCEEDED, on a loaded machine.
 */
const MINUTE_MS = 5000;
const STEP_SECONDS = 2;

const revokedMidJob: Scenario = {
  name: "mutual TLS: the agent's certificate revoked at a random moment of its step",
  promise:
    "the session ends and reconnects are refused (logged: REVOKED); the agent's SUCCEEDED never lands; the " +
    "execution TIMED_OUT by its in-progress timeout (1 service minute), the job COMPLETED; the agent lives; " +
    "another device's job on the same service SUCCEEDED",
  setUp: () => mtlsEnv(["--minute-ms", String(MINUTE_MS)], { bystander: true }),
  async trial(e, i) {
    const env = e as MtlsEnv;
    const thing = `revoked-${process.pid}-${i}`;
    const c = await provisionDevice(env.iot, env.mtls.rootCa, thing, POLICY);
    const agent = startAgent(env, thing, `127.0.0.1:${env.mtls.mqttsPort}`, undefined, { extraArgs: tlsArgs(c) });
    const jobId = `revoked-${i}`;
    const job = await workFor(env, thing, jobId, STEP_SECONDS, 1);
    const other = await workFor(env, env.bystander!.thing, `bystander-${i}`, 0.2);
    // The step has started (the service accepted IN_PROGRESS first); revoke before it ends.
    for (let n = 0; starts(job.log) === 0; n++) {
      if (n > 750) throw new Error(`the step never started:\n${agent.lines.slice(-10).join("\n")}`);
      await Bun.sleep(20);
    }
    await Bun.sleep(random(0, (STEP_SECONDS - 1) * 1000));
    const revokedAt = Date.now();
    await env.iot.send(new UpdateCertificateCommand({ certificateId: c.certificateId, newStatus: "REVOKED" }));
    const revokedBy = Date.now();
    const ended = await serviceLine(env.mtls, ["Certificate is now REVOKED", c.certificateId]);
    if (!ended.includes('"sessions":1')) throw new Error(`the revocation ended no session: ${ended}`);
    const execution = await job.done(5 * MINUTE_MS);
    if (execution.status !== "TIMED_OUT") {
      const finished = agent.lines.find((l) => l.includes("Job finished"));
      const at = finished ? Date.parse(JSON.parse(finished).time) : Number.NaN;
      throw new Error(
        `ended ${execution.status}, not TIMED_OUT (the step ended ${at - revokedAt} ms after the revocation ` +
          `was asked, which took ${revokedBy - revokedAt} ms): ${JSON.stringify(execution.statusDetails)}`,
      );
    }
    const parent = await env.iot.send(new DescribeJobCommand({ jobId }));
    if (parent.job?.status !== "COMPLETED") throw new Error(`job ${parent.job?.status}, not COMPLETED`);
    // The step ran to its end; the agent tried to report it and was refused its reconnects.
    const finished = (l: string) => l.includes("Job finished") && l.includes('"status":"SUCCEEDED"');
    for (let n = 0; !agent.lines.some(finished); n++) {
      if (n > 250) throw new Error(`the agent never finished the step:\n${agent.lines.slice(-10).join("\n")}`);
      await Bun.sleep(20);
    }
    await serviceLine(env.mtls, ["Denied by policy: iot:Connect", `for client ${thing}:`, "is REVOKED"]);
    if (!agent.lines.some((l) => l.includes("connection refused: not authorized")))
      throw new Error("the agent's log shows no refused reconnect");
    if (agent.proc.exitCode !== null) throw new Error(`the agent exited (${agent.proc.exitCode})`);
    expectSucceededOnce(await other.done(), other.log, false);
  },
};

// --- handshake failures in a reconnect storm ------------------------------------------------------

type StormKind = "wrong CA" | "no client certificate" | "unregistered certificate" | "garbage" | "half handshake";
const STORM_KINDS: StormKind[] = [
  "wrong CA",
  "no client certificate",
  "unregistered certificate",
  "garbage",
  "half handshake",
];

/** A self-signed certificate and key nobody registered (also used as the wrong CA). */
function stranger(): { cert: Buffer; key: Buffer } {
  const { certPem, keyPem } = selfSignedCertificate("localhost", "ec");
  return { cert: Buffer.from(certPem), key: Buffer.from(keyPem) };
}

/** MQTT 3.1.1 CONNECT for client id "storm!" (sent once a handshake lets it through). */
const CONNECT = Buffer.from([
  0x10, 0x12, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x06, 0x73, 0x74, 0x6f, 0x72, 0x6d,
  0x21,
]);

/** One bad connection of `kind`; resolves when it is gone (closed by the service, or by us after ≤ 1 s). */
function badConnection(kind: StormKind, port: number, rootCa: Buffer, other: { cert: Buffer; key: Buffer }) {
  return new Promise<void>((resolve) => {
    let socket: Socket;
    const tls = (options: object) =>
      tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ...options }, () => socket.write(CONNECT));
    if (kind === "wrong CA") socket = tls({ ca: other.cert });
    else if (kind === "no client certificate") socket = tls({ ca: rootCa });
    else if (kind === "unregistered certificate") socket = tls({ ca: rootCa, ...other });
    else if (kind === "garbage")
      socket = netConnect(port, "127.0.0.1", () => socket.write(crypto.getRandomValues(new Uint8Array(64))));
    else
      socket = netConnect(port, "127.0.0.1", () =>
        // A TLS record header announcing a 512-byte ClientHello, and only its first bytes.
        socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])),
      );
    const timer = setTimeout(() => socket.destroy(), random(100, 1000));
    const done = () => (clearTimeout(timer), resolve());
    socket.on("error", () => {}).on("close", done);
  });
}

const STORM_LOOPS = 20;

const handshakeStorm: Scenario = {
  name: "mutual TLS: handshake failures during a reconnect storm",
  promise:
    `${STORM_LOOPS} clients failing handshakes again and again (wrong CA, no client certificate, unregistered ` +
    "certificate, garbage, half handshakes) while a TCP proxy cuts the agent off 3 times: it reconnects and " +
    "its job SUCCEEDED (the step ran once); the service's descriptors ≤ base + clients + 16 meanwhile, back to " +
    "base + 16 after, RSS + ≤ 100 MB",
  async setUp() {
    const env = await mtlsEnv(["--log-level", "WARN"], { proxy: true });
    const base = { fds: env.mtls.fds(), rssMb: env.mtls.rssMb() };
    return Object.assign(env, { base, other: stranger(), rootCa: readFileSync(env.mtls.rootCa) });
  },
  async trial(e, i) {
    const env = e as MtlsEnv & {
      base: { fds: number; rssMb: number };
      other: { cert: Buffer; key: Buffer };
      rootCa: Buffer;
    };
    const proxy = env.proxy!;
    const thing = `storm-${process.pid}-${i}`;
    const c = await provisionDevice(env.iot, env.mtls.rootCa, thing, POLICY);
    let storming = true;
    const attempts = new Map<StormKind, number>(STORM_KINDS.map((k) => [k, 0]));
    const loops = Array.from({ length: STORM_LOOPS }, async (_, n) => {
      for (let k = n; storming; k++) {
        const kind = STORM_KINDS[k % STORM_KINDS.length]!;
        await badConnection(kind, env.mtls.mqttsPort, env.rootCa, env.other);
        attempts.set(kind, attempts.get(kind)! + 1);
      }
    });
    let peakFds = 0;
    const sampler = setInterval(() => (peakFds = Math.max(peakFds, env.mtls.fds())), 100);
    try {
      const acceptedBefore = proxy.accepted;
      const agent = startAgent(env, thing, proxy.url.replace("mqtt://", ""), undefined, { extraArgs: tlsArgs(c) });
      const job = await workFor(env, thing, `storm-${i}`, 0.5);
      // Three cuts, each 0–500 ms into a connection (in its handshake, its CONNECT, its subscriptions,
      // the step or the update); each reconnect backs off longer, through the storm.
      for (let cut = 0; cut < 3; cut++) {
        for (let n = 0; proxy.open === 0; n++) {
          if (n > 500) throw new Error(`the agent did not reconnect after cut ${cut}`);
          await Bun.sleep(20);
        }
        await Bun.sleep(random(0, 500));
        proxy.cut();
      }
      const execution = await job.done(30_000);
      expectSucceededOnce(execution, job.log, false);
      const connections = proxy.accepted - acceptedBefore;
      if (connections < 3) throw new Error(`the agent connected ${connections} time(s): fewer than the cuts`);
      if (agent.proc.exitCode !== null) throw new Error(`the agent exited (${agent.proc.exitCode})`);
    } finally {
      storming = false;
      await Promise.all(loops);
      clearInterval(sampler);
    }
    if ([...attempts.values()].some((n) => n < 3)) throw new Error(`too few bad connections: ${[...attempts]}`);
    // At most one descriptor per connection open at once (the storm's, the agent's), a few more for the rest.
    if (peakFds > env.base.fds + STORM_LOOPS + 16)
      throw new Error(`service fds peaked at ${peakFds} (base ${env.base.fds}, ${STORM_LOOPS} storm clients)`);
    if (i === 0) await serviceLine(env.mtls, ["TLS handshake failed"]);
    // Every bad connection's descriptor is given back; memory does not grow with the storms.
    for (let n = 0; env.mtls.fds() > env.base.fds + 16; n++) {
      if (n > 100) throw new Error(`service fds ${env.mtls.fds()} (base ${env.base.fds}, peak ${peakFds})`);
      await Bun.sleep(20);
    }
    const rss = env.mtls.rssMb();
    if (rss - env.base.rssMb > 100)
      throw new Error(`service RSS ${rss.toFixed(0)} MB, base ${env.base.rssMb.toFixed(0)} MB`);
  },
};

export const MTLS_SCENARIOS: Scenario[] = [revokedMidJob, handshakeStorm];
