/**
 * Issue 10 — the agent's protocol defects an adversarial review found (redteam 01 update part, 03,
 * 04, 06, 08, 10, 11, 12, 15), one regression test each, named after the defect, against real
 * processes: the agent (bun src/main.ts), a real Mosquitto with the test peer, the real local service
 * (its embedded broker keeps persistent sessions, as AWS IoT does), and a flapping broker written
 * here. Time-dependent logic runs on a ManualClock.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket, TCPSocketListener } from "bun";
import mqtt from "mqtt";
import {
  CancelJobCommand,
  CreateJobCommand,
  CreateThingCommand,
  DeleteJobCommand,
  DescribeJobExecutionCommand,
  type IoTClient,
} from "@aws-sdk/client-iot";
import { JobsAgent } from "../../src/jobs/agent.ts";
import { UpdatePublisher } from "../../src/jobs/update-publisher.ts";
import { createLogger } from "../../src/log/logger.ts";
import { MqttClient } from "../../src/mqtt/client.ts";
import { connect, type Connection } from "../../src/mqtt/connection.ts";
import { startService, type RunningService } from "../../src/service/service.ts";
import { ExecutionRecord } from "../../src/state/execution-record.ts";
import { type Clock, ManualClock, MAX_TIMER_MS, systemClock } from "../../src/util/clock.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { freePort, Mosquitto } from "../helpers/mosquitto.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const quietLog = createLogger({ level: "ERROR", type: "stdout", fd: 2 });

async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

function agentConnection(
  port: number,
  thingName: string,
  clock?: Clock,
  extra: Parameters<typeof connect>[1] = {},
): Connection {
  const connection = connect(
    {
      endpoint: { protocol: "mqtt", host: "127.0.0.1", port, alpn: undefined, mutualTlsRequired: false },
      thingName,
      cert: undefined,
      key: undefined,
      rootCa: undefined,
    },
    { clock, ...extra },
  );
  cleanups.push(() => connection.close(true));
  return connection;
}

function startAgent(options: Parameters<typeof AgentProcess.start>[0]): AgentProcess {
  const agent = AgentProcess.start(options);
  cleanups.push(() => agent.kill("SIGKILL"));
  return agent;
}

/** Mosquitto, the Jobs peer on it and the agent (as `options` say), waiting for work; all cleaned up after the test. */
async function idleAgentOnPeer(options: Omit<Parameters<typeof AgentProcess.start>[0], "brokerUrl">) {
  const broker = await Mosquitto.start();
  cleanups.push(() => broker.stop());
  const peer = await JobsPeer.start(broker.url);
  cleanups.push(() => peer.stop());
  const agent = startAgent({ brokerUrl: broker.url, ...options });
  await agent.waitForLog("No pending jobs");
  return { peer, agent };
}

const runCommandDoc = (...commands: string[]) => ({
  version: "1.0",
  includeStdOut: true,
  steps: commands.map((command, i) => ({ action: { name: `step${i + 1}`, type: "runCommand", input: { command } } })),
});

async function waitTerminal(iot: IoTClient, jobId: string, thingName: string, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const e = (await iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))).execution!;
    if (!["QUEUED", "IN_PROGRESS"].includes(e.status!)) return e;
    if (Date.now() > end) throw new Error(`${jobId} still ${e.status}`);
    await Bun.sleep(50);
  }
}

async function localService(
  options: Parameters<typeof startLocalService>[0] = {},
): Promise<{ service: RunningService; iot: IoTClient }> {
  const service = await startLocalService(options);
  cleanups.push(() => service.stop());
  return { service, iot: iotClient(service.httpUrl) };
}

// ---- 01 (update publisher part) ------------------------------------------------------------------

describe("redteam 01: update retry waits", () => {
  /** Mosquitto, our connection for the publisher, and an mqtt.js service stand-in that records updates. */
  async function setup(clock: Clock, retryMs: number) {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const thing = "pub-thing";
    const service = await mqtt.connectAsync(broker.url, { clientId: "pub-service" });
    cleanups.push(() => service.endAsync(true));
    await service.subscribeAsync(`$aws/things/${thing}/jobs/+/update`, { qos: 1 });
    const seen: Record<string, any>[] = [];
    service.on("message", (_topic, payload) => seen.push(JSON.parse(payload.toString())));
    const connection = agentConnection(broker.port, thing);
    await connection.whenConnected();
    await connection.subscribe([`$aws/things/${thing}/jobs/+/update/accepted`]);
    const publisher = new UpdatePublisher(
      connection,
      (jobId) => `$aws/things/${thing}/jobs/${jobId}/update`,
      retryMs,
      clock,
    );
    connection.onMessage((topic, payload) => {
      if (topic.endsWith("/update/accepted"))
        publisher.deliver(JSON.parse(new TextDecoder().decode(payload)).clientToken, { kind: "accepted" });
    });
    const accept = (token: string) =>
      service.publishAsync(`$aws/things/${thing}/jobs/j1/update/accepted`, JSON.stringify({ clientToken: token }), {
        qos: 1,
      });
    return { seen, publisher, accept };
  }

  test("redteam 01: update-retry × 64 beyond the runtime's 32-bit timer waits as asked (system clock), not 1 ms", async () => {
    const { seen, publisher, accept } = await setup(systemClock, MAX_TIMER_MS + 1);
    const sent = publisher.send("j1", { status: "SUCCEEDED", statusDetails: { reason: "ok" } });
    await until("the first attempt", () => seen.length === 1);
    await Bun.sleep(300); // a wait the runtime cut to 1 ms would have retried ~300 times by now
    expect(seen.length).toBe(1);
    await accept(seen[0]!.clientToken);
    expect(await sent).toEqual({ kind: "accepted" });
  }, 30_000);

  test("redteam 01: retry waits double to 64× on the injected clock, and no timer outlives the reply", async () => {
    const clock = new ManualClock();
    const retryMs = 40_000_000; // × 64 = 2.56e9 ms > 2^31-1
    const { seen, publisher, accept } = await setup(clock, retryMs);
    const sent = publisher.send("j1", { status: "SUCCEEDED", statusDetails: { reason: "ok" } });
    const waits = [1, 2, 4, 8, 16, 32, 64, 64];
    for (const [i, factor] of waits.entries()) {
      await until(`attempt ${i + 1}`, () => seen.length === i + 1);
      clock.advance(factor * retryMs - 1);
      await Bun.sleep(30);
      expect(seen.length).toBe(i + 1); // not a millisecond early
      clock.advance(1);
    }
    await until("the last attempt", () => seen.length === waits.length + 1);
    expect(new Set(seen.map((s) => s.clientToken)).size).toBe(seen.length); // a fresh token each time
    await accept(seen[2]!.clientToken); // a late reply to an earlier attempt counts
    expect(await sent).toEqual({ kind: "accepted" });
    expect(clock.pending()).toBe(0);
    expect(publisher.awaiting).toBe(0);
  }, 30_000);
});

// ---- 03 -------------------------------------------------------------------------------------------

describe("redteam 03: step timer per step", () => {
  test("redteam 03: a multi-step job longer than one step's timeout SUCCEEDS on the local service (timer restarted at each step)", async () => {
    // A "minute" of 400 ms: the agent's 60 s step timeout asks the service for 2 minutes = 800 ms per
    // step. Four steps of 0.5 s last 2 s in all: TIMED_OUT if the timer covered the whole job.
    const { service, iot } = await localService({ minuteMs: 400 });
    await iot.send(new CreateThingCommand({ thingName: "st-1" }));
    startAgent({ brokerUrl: service.mqttUrl, thingName: "st-1", handlerDirectory: tempDir(), stepTimeoutSeconds: 60 });
    await iot.send(
      new CreateJobCommand({
        jobId: "multi1",
        targets: [thingArn("st-1")],
        document: JSON.stringify(runCommandDoc("sleep,0.5", "sleep,0.5", "sleep,0.5", "sleep,0.5")),
      }),
    );
    const e = await waitTerminal(iot, "multi1", "st-1");
    expect([e.status, e.statusDetails?.detailsMap]).toEqual(["SUCCEEDED", { reason: "Exited with status: 0" }]);
  }, 60_000);

  test("redteam 03: each step start sends IN_PROGRESS with stepTimeoutInMinutes (test peer)", async () => {
    const { peer } = await idleAgentOnPeer({ thingName: "st-2", handlerDirectory: tempDir(), stepTimeoutSeconds: 150 });
    peer.queueJob("st-2", "steps3", runCommandDoc("true", "true", "true"));
    await peer.waitForStatus("st-2", "steps3", "SUCCEEDED");
    const requests = peer.updatesFor("steps3").map((u) => [u.request.status, u.request.stepTimeoutInMinutes]);
    expect(requests).toEqual([
      ["IN_PROGRESS", 4],
      ["IN_PROGRESS", 4],
      ["IN_PROGRESS", 4],
      ["SUCCEEDED", undefined],
    ]);
  }, 60_000);

  test("redteam 03: IN_PROGRESS replies that come after the step ended: each later update waits for the one before (no VersionMismatch with our own update)", async () => {
    const { peer } = await idleAgentOnPeer({
      thingName: "st-3",
      handlerDirectory: tempDir(),
      stepTimeoutSeconds: 60,
      updateRetrySeconds: 3,
    });
    // The first IN_PROGRESS is awaited before step 1. Steps 2's and 3's are answered 300 ms late,
    // long after `true` ended: each reply carries the version the next update must expect. The
    // reply window (3 s) covers both: no update gives up waiting.
    peer.injectUpdateFault("IN_PROGRESS", "delay:0");
    peer.injectUpdateFault("IN_PROGRESS", "delay:300");
    peer.injectUpdateFault("IN_PROGRESS", "delay:300");
    peer.queueJob("st-3", "late-reply", runCommandDoc("true", "true", "true"));
    await peer.waitForStatus("st-3", "late-reply", "SUCCEEDED");
    const updates = peer.updatesFor("late-reply").map((u) => [u.request.status, u.reply, u.request.expectedVersion]);
    expect(updates).toEqual([
      ["IN_PROGRESS", "accepted", undefined],
      ["IN_PROGRESS", "accepted", 2],
      ["IN_PROGRESS", "accepted", 3],
      ["SUCCEEDED", "accepted", 4],
    ]);
  }, 60_000);
});

// ---- 04, 08, 15 on the local service -------------------------------------------------------------

describe("redteam 04/08/15: cancel checks and re-used job ids on the local service", () => {
  test("redteam 04: a job canceled while the device was offline does not start when it reconnects to its stored session", async () => {
    const { service, iot } = await localService();
    await iot.send(new CreateThingCommand({ thingName: "pi-off" }));
    const stateDir = tempDir();
    const marker = join(tempDir(), "ran-offjob");
    const first = startAgent({
      brokerUrl: service.mqttUrl,
      thingName: "pi-off",
      handlerDirectory: tempDir(),
      stateDir,
    });
    await first.waitForLog("No pending jobs");
    await first.kill("SIGTERM"); // offline; the broker keeps the persistent session and queues for it
    await iot.send(
      new CreateJobCommand({
        jobId: "offjob",
        targets: [thingArn("pi-off")],
        document: JSON.stringify(runCommandDoc(`touch,${marker}`)),
      }),
    );
    await iot.send(new CancelJobCommand({ jobId: "offjob" }));
    const second = startAgent({
      brokerUrl: service.mqttUrl,
      thingName: "pi-off",
      handlerDirectory: tempDir(),
      stateDir,
    });
    // The replayed notify-next names offjob; the service refuses its IN_PROGRESS; nothing runs.
    await second.waitForLog("not running it");
    await second.waitForLog("No pending jobs");
    await Bun.sleep(300);
    expect(existsSync(marker)).toBe(false);
    expect(
      (await iot.send(new DescribeJobExecutionCommand({ jobId: "offjob", thingName: "pi-off" }))).execution!.status,
    ).toBe("CANCELED");
    expect(second.lines.some((l) => l.includes("Running job"))).toBe(false);
  }, 60_000);

  test("redteam 08: a jobId reused after DeleteJob (force) runs again, and the job queued behind it too", async () => {
    const { service, iot } = await localService();
    await iot.send(new CreateThingCommand({ thingName: "pi-reuse" }));
    const runs = join(tempDir(), "runs");
    const doc = JSON.stringify(runCommandDoc(`sh,-c,echo run >> ${runs}`));
    startAgent({ brokerUrl: service.mqttUrl, thingName: "pi-reuse", handlerDirectory: tempDir() });
    await iot.send(new CreateJobCommand({ jobId: "daily-task", targets: [thingArn("pi-reuse")], document: doc }));
    expect((await waitTerminal(iot, "daily-task", "pi-reuse")).status).toBe("SUCCEEDED");
    await iot.send(new DeleteJobCommand({ jobId: "daily-task", force: true }));
    await iot.send(new CreateJobCommand({ jobId: "daily-task", targets: [thingArn("pi-reuse")], document: doc }));
    await iot.send(new CreateJobCommand({ jobId: "after-reuse", targets: [thingArn("pi-reuse")], document: doc }));
    const again = await waitTerminal(iot, "daily-task", "pi-reuse");
    expect([again.status, again.executionNumber]).toEqual(["SUCCEEDED", 1]);
    expect((await waitTerminal(iot, "after-reuse", "pi-reuse")).status).toBe("SUCCEEDED");
    expect(readFileSync(runs, "utf8")).toBe("run\nrun\nrun\n");
  }, 60_000);

  test("redteam 15: a force-cancel sent while the session was lost stops the running job after the reconnect", async () => {
    const dataDir = tempDir();
    const mqttPort = await freePort();
    const serve = (port: number) =>
      startService({ dataDir, host: "127.0.0.1", mqttPort: port, httpPort: 0, log: quietLog });
    let service = await serve(mqttPort);
    cleanups.push(() => service.stop());
    let iot = iotClient(service.httpUrl);
    await iot.send(new CreateThingCommand({ thingName: "pi-lost" }));
    const steps = join(tempDir(), "steps");
    const agent = startAgent({ brokerUrl: service.mqttUrl, thingName: "pi-lost", handlerDirectory: tempDir() });
    await agent.waitForLog("No pending jobs");
    await iot.send(
      new CreateJobCommand({
        jobId: "jobA",
        targets: [thingArn("pi-lost")],
        document: JSON.stringify(runCommandDoc(`sh,-c,echo A-start >> ${steps}; sleep 20; echo A-end >> ${steps}`)),
      }),
    );
    await until("A to start", () => existsSync(steps));
    // The service goes away and comes back elsewhere (the agent cannot reach it): cancel A, queue B.
    await service.stop();
    service = await serve(await freePort());
    iot = iotClient(service.httpUrl);
    await iot.send(new CancelJobCommand({ jobId: "jobA", force: true }));
    await iot.send(
      new CreateJobCommand({
        jobId: "jobB",
        targets: [thingArn("pi-lost")],
        document: JSON.stringify(runCommandDoc(`sh,-c,echo B-run >> ${steps}`)),
      }),
    );
    await service.stop();
    // Back on the agent's port; the broker's sessions were in memory: the agent's session is lost.
    service = await serve(mqttPort);
    iot = iotClient(service.httpUrl);
    await agent.waitForLog("no longer has this job pending; canceling it", 60_000);
    expect((await waitTerminal(iot, "jobB", "pi-lost")).status).toBe("SUCCEEDED");
    expect(readFileSync(steps, "utf8")).toBe("A-start\nB-run\n");
    expect(
      (await iot.send(new DescribeJobExecutionCommand({ jobId: "jobA", thingName: "pi-lost" }))).execution!.status,
    ).toBe("CANCELED");
  }, 90_000);
});

// ---- 06 -------------------------------------------------------------------------------------------

describe("redteam 06: statusDetails the service refuses", () => {
  test("redteam 06: control characters in failedStep and reason are sanitised; the thing's queue moves on (local service)", async () => {
    const { service, iot } = await localService();
    await iot.send(new CreateThingCommand({ thingName: "pi-ctl" }));
    startAgent({ brokerUrl: service.mqttUrl, thingName: "pi-ctl", handlerDirectory: tempDir() });
    const failedStep = {
      version: "1.0",
      steps: [
        { action: { name: "first", type: "runCommand", input: { command: "true" } } },
        { action: { name: "bad\u0007name", type: "runCommand", input: { command: "false" } } },
      ],
    };
    const badPath = {
      version: "1.0",
      steps: [{ action: { name: "s", type: "runHandler", input: { handler: "x", path: "/opt/handlers\u001b[0m" } } }],
    };
    await iot.send(
      new CreateJobCommand({ jobId: "ctl-step", targets: [thingArn("pi-ctl")], document: JSON.stringify(failedStep) }),
    );
    await iot.send(
      new CreateJobCommand({ jobId: "ctl-reason", targets: [thingArn("pi-ctl")], document: JSON.stringify(badPath) }),
    );
    await iot.send(
      new CreateJobCommand({
        jobId: "after1",
        targets: [thingArn("pi-ctl")],
        document: JSON.stringify(runCommandDoc("true")),
      }),
    );
    const step = await waitTerminal(iot, "ctl-step", "pi-ctl");
    expect([step.status, step.statusDetails?.detailsMap?.failedStep]).toEqual(["FAILED", "bad\uFFFDname"]);
    const reason = await waitTerminal(iot, "ctl-reason", "pi-ctl");
    expect(reason.status).toBe("FAILED");
    expect(reason.statusDetails?.detailsMap?.reason).toContain("/opt/handlers\uFFFD[0m");
    expect((await waitTerminal(iot, "after1", "pi-ctl")).status).toBe("SUCCEEDED");
  }, 60_000);

  test("redteam 06: a terminal update refused as InvalidRequest is sent again with a plain reason; the job still ends", async () => {
    const { peer } = await idleAgentOnPeer({ thingName: "pi-inv", handlerDirectory: tempDir() });
    peer.injectUpdateFault("FAILED", "InvalidRequest");
    peer.queueJob("pi-inv", "refused-details", runCommandDoc("sh,-c,exit 3"));
    peer.queueJob("pi-inv", "next-one", runCommandDoc("true"));
    const e = await peer.waitForStatus("pi-inv", "refused-details", "FAILED");
    expect(e.statusDetails).toEqual({
      reason: "The service refused this job's status details; the agent's log has them",
    });
    expect(peer.updatesFor("refused-details").map((u) => [u.request.status, u.reply])).toEqual([
      ["IN_PROGRESS", "accepted"],
      ["FAILED", "rejected"],
      ["FAILED", "accepted"],
    ]);
    await peer.waitForStatus("pi-inv", "next-one", "SUCCEEDED");
  }, 60_000);
});

// ---- 10 -------------------------------------------------------------------------------------------

/** A broker that answers CONNECT with CONNACK (no session) and closes after `closeMs`, acknowledging nothing. */
class FlappingBroker {
  /** Packets received per connection, by MQTT packet type. */
  readonly connections: { types: number[]; closed: boolean }[] = [];
  stayUp = false;
  private readonly sockets = new Set<Socket<{ buf: Uint8Array; index: number }>>();
  private server!: TCPSocketListener<{ buf: Uint8Array; index: number }>;

  constructor(private readonly closeMs: number) {}

  start(): number {
    this.server = Bun.listen<{ buf: Uint8Array; index: number }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open: (s) => {
          s.data = { buf: new Uint8Array(0), index: this.connections.length };
          this.connections.push({ types: [], closed: false });
          this.sockets.add(s);
        },
        data: (s, chunk) => this.onData(s, chunk),
        close: (s) => {
          this.sockets.delete(s);
          this.connections[s.data.index]!.closed = true;
        },
      },
    });
    cleanups.push(() => this.server.stop(true));
    return this.server.port;
  }

  dropAll(): void {
    for (const s of this.sockets) s.end();
  }

  private onData(s: Socket<{ buf: Uint8Array; index: number }>, chunk: Uint8Array): void {
    const joined = new Uint8Array(s.data.buf.length + chunk.length);
    joined.set(s.data.buf);
    joined.set(chunk, s.data.buf.length);
    let at = 0;
    for (;;) {
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      for (; i < joined.length; i++) {
        length += (joined[i]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((joined[i]! & 0x80) === 0) break;
      }
      if (i >= joined.length || i + 1 + length > joined.length) break;
      const type = joined[at]! >> 4;
      this.connections[s.data.index]!.types.push(type);
      if (type === 1) {
        s.write(Uint8Array.of(0x20, 2, 0, 0));
        if (!this.stayUp) setTimeout(() => s.end(), this.closeMs);
      }
      at = i + 1 + length;
    }
    s.data.buf = joined.slice(at);
  }
}

describe("redteam 10: a broker that drops the link right after CONNACK", () => {
  test("redteam 10: the reconnect backoff keeps growing until a connection has stayed up 30 s", async () => {
    const broker = new FlappingBroker(20);
    const port = broker.start();
    const clock = new ManualClock();
    const failures: number[] = [];
    const client = new MqttClient({
      host: "127.0.0.1",
      port,
      clientId: "flap-1",
      cleanSession: false,
      keepaliveSeconds: 60,
      reconnectDelayMs: (n) => (failures.push(n), 1000),
      clock,
    });
    cleanups.push(() => client.close(false));
    for (let n = 1; n <= 8; n++) {
      await until(`drop ${n}`, () => failures.length === n);
      clock.advance(1000);
    }
    expect(failures).toEqual([1, 2, 3, 4, 5, 6, 7, 8]); // never reset by a CONNACK alone
    await until("drop 9", () => failures.length === 9);
    broker.stayUp = true;
    clock.advance(1000);
    await until("a lasting connection", () => client.connected);
    clock.advance(29_999);
    broker.dropAll();
    await until("drop 10", () => failures.length === 10);
    expect(failures[9]).toBe(10); // up 29.999 s: still counting
    clock.advance(1000);
    await until("connected again", () => client.connected);
    clock.advance(30_000);
    broker.dropAll();
    await until("drop 11", () => failures.length === 11);
    expect(failures[10]).toBe(1); // up 30 s: the backoff starts again from the minimum
  }, 60_000);

  test("redteam 10: reconnect storm after CONNACK backs off and keeps one pending SUBSCRIBE", async () => {
    const broker = new FlappingBroker(50);
    const port = broker.start();
    // Records the delays asked for; with these settings only reconnects ask for 4 s or less.
    const reconnectDelays: number[] = [];
    const clock = new (class extends ManualClock {
      override setTimeout(fn: () => void, ms: number) {
        if (ms <= 4000) reconnectDelays.push(ms);
        return super.setTimeout(fn, ms);
      }
    })();
    const connection = agentConnection(port, "pi-flap", clock, { reconnectMinMs: 1000, reconnectMaxMs: 4000 });
    const agent = new JobsAgent({
      thingName: "pi-flap",
      connection,
      log: quietLog,
      record: new ExecutionRecord(tempDir()),
      stepTimeoutSeconds: 3600,
      maxReruns: 3,
      updateRetryMs: 10_000,
      clock,
      runJob: async () => ({ status: "SUCCEEDED", statusDetails: {}, steps: [] }),
    });
    agent.start();
    const cycles = 25;
    for (let n = 1; n <= cycles; n++) {
      await until(`reconnect ${n} to be scheduled`, () => reconnectDelays.length === n);
      clock.advance(4000); // the longest jittered delay
    }
    const subscribes = broker.connections.slice(0, cycles).map((c) => c.types.filter((t) => t === 8).length);
    expect(subscribes).toEqual(Array.from({ length: cycles }, () => 1)); // connection N used to carry N
    // Backoff: 0.5–1 s, 1–2 s, then 2–4 s for good (it used to restart at 0.5–1 s after every CONNACK).
    expect(reconnectDelays[0]).toBeLessThanOrEqual(1000);
    expect(Math.min(...reconnectDelays.slice(2))).toBeGreaterThanOrEqual(2000);
  }, 60_000);

  test("redteam 10: packet ids cannot run out: 70,000 unacknowledged publishes keep a bounded window and return at once", async () => {
    const port = await freePort(); // nothing listens: nothing is ever acknowledged
    const clock = new ManualClock();
    const client = new MqttClient({
      host: "127.0.0.1",
      port,
      clientId: "ids-1",
      cleanSession: false,
      keepaliveSeconds: 60,
      reconnectDelayMs: () => 1000,
      maxInFlight: 1000,
      clock,
    });
    cleanups.push(() => client.close(false));
    const started = performance.now();
    const results: Promise<boolean>[] = [];
    for (let i = 0; i < 70_000; i++) results.push(client.publish(`t/${i}`, "x", 1));
    expect(client.inFlight).toBe(1000);
    expect(performance.now() - started).toBeLessThan(5000);
    const settled = await Promise.all(results.slice(0, 69_000));
    expect(settled.every((acknowledged) => acknowledged === false)).toBe(true); // given up, not hung
    // Replaced rather than piled up: the same key keeps one pending publish.
    for (let i = 0; i < 100; i++) void client.publish("start-next", "{}", 1, { replace: "start-next" });
    expect(client.inFlight).toBe(1000);
    // Identical SUBSCRIBEs share one packet.
    const before = client.inFlight;
    const subscriptions = Array.from({ length: 50 }, () => client.subscribe(["a", "b"], 1));
    expect(new Set(subscriptions).size).toBe(1);
    expect(client.inFlight).toBe(before);
  }, 30_000);
});

// ---- 11 -------------------------------------------------------------------------------------------

describe("redteam 11: redaction gaps", () => {
  test("redteam 11: signatures and credentials in every encoding reach neither statusDetails nor the log (agent exec)", async () => {
    const dir = tempDir();
    const secrets = [
      "SIGPLAIN1111",
      "AKIAEXAMPLE2",
      "SIGGOJSON2222",
      "SIGURLENC3333",
      "AKIAEXAMPLE4",
      "SIGHEADER4444",
      "SIGCURL5555",
      "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET6666",
      "SIGHTML7777",
      "TOKENHDR8888",
      "STSSECRET9999",
      "STSTOKEN0000",
    ];
    const leak = writeHandler(
      dir,
      "leak.sh",
      [
        "#!/bin/sh",
        "echo 'plain: https://b.s3.amazonaws.com/f?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20250101&X-Amz-Signature=SIGPLAIN1111'",
        `echo '{"url":"https://b.s3.amazonaws.com/f?A=1\\u0026X-Amz-Credential=AKIAEXAMPLE2\\u0026X-Amz-Signature=SIGGOJSON2222"}'`,
        "echo 'https://proxy/?target=https%3A%2F%2Fb.s3.amazonaws.com%2Ff%3FX-Amz-Algorithm%3DAWS4%26X-Amz-Signature%3DSIGURLENC3333'",
        "echo 'Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE4/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=SIGHEADER4444'",
        "echo '> GET /f?X-Amz-Signature=SIGCURL5555 HTTP/1.1'",
        "echo 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET6666'",
        `echo '<a href="https://b.s3.amazonaws.com/f?X-Amz-Algorithm=A&amp;X-Amz-Signature=SIGHTML7777">'`,
        "echo '> x-amz-security-token: TOKENHDR8888'",
        `echo '{"Credentials": {"SecretAccessKey": "STSSECRET9999", "SessionToken": "STSTOKEN0000"}}' >&2`,
        'echo "signature ok; $1"',
      ].join("\n") + "\n",
    );
    const doc = join(dir, "job.json");
    await Bun.write(
      doc,
      JSON.stringify({
        version: "1.0",
        includeStdOut: true,
        steps: [
          { action: { name: "leak", type: "runCommand", input: { command: `${leak},X-Amz-Signature=SIGCURL5555` } } },
        ],
      }),
    );
    const run = Bun.spawnSync(
      [process.execPath, join(import.meta.dir, "../../src/main.ts"), "exec", doc, "--log-level", "DEBUG"],
      { stdout: "pipe", stderr: "pipe" },
    );
    const all = run.stdout.toString() + run.stderr.toString();
    const report = JSON.parse(run.stdout.toString());
    expect(report.status).toBe("SUCCEEDED");
    expect(report.statusDetails.stdout).toContain("X-Amz-Signature%3D[REDACTED]"); // output was there, redacted
    for (const secret of secrets) expect(all.includes(secret) ? secret : "absent").toBe("absent");
  }, 30_000);

  test("redteam 11: a signature whose name falls just before the 1024-character cut is still redacted", async () => {
    const dir = tempDir();
    const sig = "0123456789abcdef".repeat(4);
    // "Signature=" starts 1024 - 12 characters before the end: the reported tail begins inside it.
    const script = writeHandler(
      dir,
      "tail.sh",
      `#!/bin/sh\nprintf 'https://b.s3.amazonaws.com/f?X-Amz-Algorithm=A&X-Amz-Signature=${sig}\\n'\nhead -c ${1024 - sig.length - 12} /dev/zero | tr '\\0' '.'\n`,
    );
    const doc = join(dir, "job.json");
    await Bun.write(
      doc,
      JSON.stringify({
        version: "1.0",
        includeStdOut: true,
        steps: [{ action: { name: "s", type: "runCommand", input: { command: script } } }],
      }),
    );
    const run = Bun.spawnSync([process.execPath, join(import.meta.dir, "../../src/main.ts"), "exec", doc], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const stdout: string = JSON.parse(run.stdout.toString()).statusDetails.stdout;
    expect(stdout.length).toBeLessThanOrEqual(1024);
    expect(stdout).not.toContain("0123456789abcdef");
    expect(stdout).toContain("[REDACTED]");
  }, 30_000);
});

// ---- 12 -------------------------------------------------------------------------------------------

describe("redteam 12: a message over the size limit", () => {
  test("redteam 12: a 2 MiB job message on Mosquitto is acknowledged and dropped once per topic; its job is REJECTED and the queue moves on", async () => {
    const { peer, agent } = await idleAgentOnPeer({ thingName: "pi-huge", handlerDirectory: tempDir() });
    peer.queueJob("pi-huge", "huge-doc", runCommandDoc(`echo,${"x".repeat(2 * 1024 * 1024)}`));
    peer.queueJob("pi-huge", "small-after", runCommandDoc("echo,hi"));
    const rejected = await peer.waitForStatus("pi-huge", "huge-doc", "REJECTED");
    expect(rejected.statusDetails.reason).toMatch(/^The job's message \(\d+ bytes\) exceeds the agent's limit/);
    await peer.waitForStatus("pi-huge", "small-after", "SUCCEEDED");
    await agent.waitForLog("Dropped a message larger than the agent accepts");
    // One connection throughout: no disconnect loop, and the broker did not deliver it again.
    expect(agent.lines.filter((l) => l.includes('"msg":"Connected"')).length).toBe(1);
    // Dropped once per topic: the notification (which only asks start-next again) and start-next's answer.
    const drops = agent.lines.filter((l) => l.includes("Dropped a message larger"));
    expect(drops.map((l) => JSON.parse(l).topic.split("/").slice(-2).join("/")).sort()).toEqual([
      "jobs/notify-next",
      "start-next/accepted",
    ]);
    expect(agent.lines.some((l) => l.includes("Connection error"))).toBe(false);
  }, 60_000);
});

afterAll(() => {});
