/**
 * Fault scenarios for the classes the red-team defects came from (issues 10 and 11): time (huge
 * and zero configuration values), identity reuse (pids in the lock and the step record, jobIds),
 * hostile strings in everything that reaches a log or statusDetails, broker misbehaviour (a
 * broker that drops right after CONNACK, a second client with the thing's id, oversized and
 * retained messages, slow acknowledgements), signals in every phase, slow user lookups (NSS), and
 * load on the local service with a bystander's latency and the service's memory bounded.
 * `knownDefect` names an open defect that fails a scenario until it is fixed (a todo in `npm test`).
 */
import {
  CancelJobCommand,
  CreateDynamicThingGroupCommand,
  CreateJobCommand,
  DeleteJobCommand,
  DescribeJobExecutionCommand,
  DescribeThingCommand,
} from "@aws-sdk/client-iot";
import { createLogger } from "../../src/log/logger.ts";
import { startService } from "../../src/service/service.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import mqtt from "mqtt";
import { spawnService } from "../helpers/executables.ts";
import { Device, iotClient, thingArn } from "../helpers/local-service.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { startTimeOf } from "../helpers/proc-scan.ts";
import { REPO_ROOT, tempDir, writeHandler } from "../helpers/temp.ts";
import {
  type Env,
  expectSucceededOnce,
  newThing,
  random,
  SCENARIOS,
  type Scenario,
  serviceEnv,
  startAgent,
  starts,
  terminal,
  workJob,
} from "./scenarios.ts";
import { MTLS_SCENARIOS } from "./mtls-scenarios.ts";

const CONTROL = /[^\P{C}\n\t]/u;
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

async function runWork(env: Env, thing: string, jobId: string, seconds = 0.2) {
  const dir = tempDir();
  await env.iot!.send(
    new CreateJobCommand({
      jobId,
      targets: [thingArn(thing)],
      document: workJob(join(dir, "lock"), seconds, join(dir, "log")),
    }),
  );
  return { log: join(dir, "log"), done: () => terminal(env, jobId, thing, 30_000) };
}

/** A process of our own that must survive (a bystander), in its own session like a step. */
function bystander(): ReturnType<typeof Bun.spawn> {
  return Bun.spawn(["setsid", "sleep", "600"], { stdout: "ignore", stderr: "ignore" });
}

async function untilTrue(check: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await Bun.sleep(20);
  }
  return check();
}

/** A local service as its own process (so its memory is its own), with a data directory. */
async function ownService() {
  const svc = await spawnService(
    [process.execPath, join(REPO_ROOT, "src/service/main.ts")],
    ["--data-dir", tempDir("load-data-"), "--log-level", "ERROR"],
  );
  const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${svc.proc.pid}/status`, "utf8"))![1]) / 1024;
  return { ...svc, rssMb, iot: iotClient(svc.http) };
}

/**
 * Runs `load` against a fresh service process while a bystander calls DescribeThing every 50 ms;
 * throws if a bystander call took longer than `latencyMs` or the service grew by more than `rssMb`.
 */
async function bystanderBound(
  latencyMs: number,
  rssMb: number,
  load: (svc: Awaited<ReturnType<typeof ownService>>) => Promise<void>,
): Promise<void> {
  const svc = await ownService();
  try {
    await svc.iot.send(new (await import("@aws-sdk/client-iot")).CreateThingCommand({ thingName: "bystander" }));
    await Bun.sleep(200);
    const base = svc.rssMb();
    let worst = 0;
    let peak = base;
    let running = true;
    const watcher = (async () => {
      while (running) {
        const t0 = performance.now();
        await svc.iot.send(new DescribeThingCommand({ thingName: "bystander" }));
        worst = Math.max(worst, performance.now() - t0);
        peak = Math.max(peak, svc.rssMb());
        await Bun.sleep(50);
      }
    })();
    try {
      await load(svc);
      await Bun.sleep(300);
    } finally {
      running = false;
      await watcher;
    }
    peak = Math.max(peak, svc.rssMb());
    const measured = `bystander's slowest DescribeThing ${worst.toFixed(0)} ms (bound ${latencyMs}), service RSS +${(peak - base).toFixed(0)} MB (bound ${rssMb})`;
    if (worst > latencyMs || peak - base > rssMb) throw new Error(measured);
  } finally {
    svc.proc.kill("SIGKILL");
    await svc.proc.exited;
  }
}

/** An MQTT string (length-prefixed) and a packet (type byte, remaining length, body). */
const mqttString = (s: string) => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]);
};
function mqttPacket(type: number, body: Buffer): Buffer {
  const length: number[] = [];
  let n = body.length;
  do {
    length.push((n % 128) | (n >= 128 ? 128 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.concat([Buffer.from([type, ...length]), body]);
}

/** MQTT 3.1.1 CONNACK (accepted). */
const CONNACK = Uint8Array.from([0x20, 0x02, 0x00, 0x00]);

/**
 * A fake broker that answers CONNECT with CONNACK (no session) and drops the connection 200 ms
 * later, never answering SUBSCRIBE (as a broker closing on a policy, or a load balancer, does).
 * Counts connections and the SUBSCRIBE packets each one carried.
 */
function flappingBroker(): { url: string; connections: () => number; subscribes: number[]; stop: () => void } {
  const subscribes: number[] = [];
  const listener = Bun.listen<{ index: number; buffer: Uint8Array; answered: boolean }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: (socket) => {
        socket.data = { index: subscribes.push(0) - 1, buffer: new Uint8Array(0), answered: false };
      },
      data: (socket, chunk) => {
        const joined = new Uint8Array(socket.data.buffer.length + chunk.length);
        joined.set(socket.data.buffer);
        joined.set(chunk, socket.data.buffer.length);
        let at = 0;
        for (;;) {
          let length = 0;
          let i = at + 1;
          let shift = 0;
          while (i < joined.length && joined[i]! & 0x80) (length += (joined[i++]! & 0x7f) << shift), (shift += 7);
          if (i >= joined.length) break;
          length += (joined[i++]! & 0x7f) << shift;
          if (i + length > joined.length) break;
          const type = joined[at]! >> 4;
          if (type === 8) subscribes[socket.data.index]!++;
          if (type === 1 && !socket.data.answered) {
            socket.data.answered = true;
            socket.write(CONNACK);
            setTimeout(() => socket.end(), 200);
          }
          at = i + length;
        }
        socket.data.buffer = joined.slice(at);
      },
    },
  });
  return {
    url: `mqtt://127.0.0.1:${listener.port}`,
    connections: () => subscribes.length,
    subscribes,
    stop: () => listener.stop(true),
  };
}

/** Hostile texts for names, output and arguments. */
const HOSTILE = [
  "\u001b[2J\u001b[31mred\u001b[0m",
  "line\nbreak\r\nand\rreturn",
  "nul\u0000inside",
  "bell\u0007bs\u0008del\u007f",
  "bidi \u202egnp.exe",
  '{"level":60,"msg":"forged log line"}',
  "%s%n%x${PATH}$(id)`id`",
  "\ud800 lone surrogate",
  "x".repeat(5000),
];

export const CLASS_SCENARIOS: Scenario[] = [
  {
    name: "time: step-timeout-seconds beyond the runtime's 32-bit timer (2147484 … 1e9)",
    promise: "a 0.3 s step ends SUCCEEDED, never timed out after 1 ms",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      startAgent(env, thing, env.service!.mqttUrl, undefined, {
        stepTimeoutSeconds: Math.floor(random(2_147_484, 1e9)),
      });
      const w = await runWork(env, thing, `hugetimeout-${i}`, 0.3);
      expectSucceededOnce(await w.done(), w.log, false);
    },
  },
  {
    name: "time: update-retry-seconds huge (3e7) or tiny (0.01), step-timeout-seconds 0 (off)",
    promise:
      "the step runs to its end; with replies 50 ms late, a 3e7 s retry period never fires (one request per status)",
    setUp: () => serviceEnv({ withProxy: true }),
    async trial(env, i) {
      const thing = await newThing(env);
      const huge = i % 2 === 0;
      // Replies 50 ms late: a retry period that overflowed the runtime's timer (fires after 1 ms) shows.
      env.proxy!.delayFromServerMs = 50;
      startAgent(env, thing, env.proxy!.url, undefined, {
        stepTimeoutSeconds: 0,
        updateRetrySeconds: huge ? 3e7 : 0.01,
      });
      const jobId = `retry-${i}`;
      const w = await runWork(env, thing, jobId, 0.3);
      try {
        expectSucceededOnce(await w.done(), w.log, false);
        await Bun.sleep(200);
      } finally {
        env.proxy!.delayFromServerMs = 0;
      }
      const updates = env.proxy!.fromClients.filter(
        (m) => m.topic === `$aws/things/${thing}/jobs/${jobId}/update`,
      ).length;
      // A huge retry period must never fire; a tiny one (10 ms against 50 ms replies) may, a few times.
      if (huge ? updates > 2 : updates > 40)
        throw new Error(`${updates} update requests for one job (retry ${huge ? "3e7" : "0.01"} s)`);
    },
  },
  {
    name: "time: the service's injected clock jumps (back a year, forward short of the timeout, forward past it, forward 50 years)",
    promise:
      "an IN_PROGRESS execution times out only once its deadline has passed on the clock, exactly once; timeouts of 0 or 2^53 minutes are refused (400) and create nothing",
    async setUp() {
      const clock = new ManualClock(Date.UTC(2026, 5, 1));
      const service = await startService({
        dataDir: undefined,
        host: "127.0.0.1",
        mqttPort: 0,
        httpPort: 0,
        minuteMs: 60_000,
        clock,
        log: createLogger({ level: "ERROR", type: "stdout", fd: 2 }),
      });
      return {
        service,
        iot: iotClient(service.httpUrl),
        clock,
        handlers: "",
        agents: [],
        tearDown: () => service.stop(),
      } as Env & { clock: ManualClock };
    },
    async trial(env, i) {
      const clock = (env as Env & { clock: ManualClock }).clock;
      const thing = await newThing(env);
      const minutes = 1 + Math.floor(random(0, 10));
      for (const bad of [0, 2 ** 53, -1, 10081]) {
        const r = await env
          .iot!.send(
            new CreateJobCommand({
              jobId: `badtimeout-${i}-${bad}`,
              targets: [thingArn(thing)],
              document: "{}",
              timeoutConfig: { inProgressTimeoutInMinutes: bad },
            }),
          )
          .catch((e) => e as { $metadata?: { httpStatusCode?: number } });
        if ((r as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 400)
          throw new Error(`inProgressTimeoutInMinutes ${bad}: not refused with 400`);
        const seen = await env
          .iot!.send(new DescribeJobExecutionCommand({ jobId: `badtimeout-${i}-${bad}`, thingName: thing }))
          .then(
            () => true,
            () => false,
          );
        if (seen) throw new Error(`a refused job (timeout ${bad}) has an execution`);
      }
      const jobId = `clock-${i}`;
      await env.iot!.send(
        new CreateJobCommand({
          jobId,
          targets: [thingArn(thing)],
          document: "{}",
          timeoutConfig: { inProgressTimeoutInMinutes: minutes },
        }),
      );
      const device = await Device.connect(env.service!.mqttUrl, thing, [`$aws/things/${thing}/jobs/#`]);
      try {
        const started = await device.request("jobs/start-next", {});
        if (started.payload?.execution?.status !== "IN_PROGRESS")
          throw new Error(`start-next: ${JSON.stringify(started.payload)}`);
        const status = async () =>
          (await env.iot!.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }))).execution!.status;
        const sweep = () => Bun.sleep(1100); // the service sweeps deadlines every second (real time)
        clock.set(clock.now() - 365 * 86_400_000);
        await sweep();
        if ((await status()) !== "IN_PROGRESS") throw new Error(`after a jump back a year: ${await status()}`);
        clock.set(clock.now() + 365 * 86_400_000 + minutes * 60_000 - 1000);
        await sweep();
        if ((await status()) !== "IN_PROGRESS") throw new Error(`1 s before the deadline: ${await status()}`);
        clock.advance(2000);
        await sweep();
        if ((await status()) !== "TIMED_OUT") throw new Error(`after the deadline: ${await status()}`);
        const version = (await env.iot!.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }))).execution!
          .versionNumber;
        clock.advance(50 * 365 * 86_400_000);
        await sweep();
        const after = (await env.iot!.send(new DescribeJobExecutionCommand({ jobId, thingName: thing }))).execution!;
        if (after.status !== "TIMED_OUT" || after.versionNumber !== version)
          throw new Error(`a second transition after 50 years: ${after.status} v${after.versionNumber}`);
      } finally {
        await device.close();
      }
    },
  },
  {
    name: "identity reuse: a stale agent.lock naming a live process that is no agent",
    promise: "the agent takes the lock over and runs the job",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      const stateDir = tempDir("fault-state-");
      const other = bystander();
      try {
        writeFileSync(join(stateDir, "agent.lock"), `${thing}\n${other.pid}\n`, { mode: 0o600 });
        startAgent(env, thing, env.service!.mqttUrl, stateDir);
        const w = await runWork(env, thing, `stalelock-${i}`);
        expectSucceededOnce(await w.done(), w.log, false);
        if (other.exitCode !== null) throw new Error("the process named in the stale lock was killed");
      } finally {
        other.kill("SIGKILL");
      }
    },
  },
  {
    name: "identity reuse: after a reboot the recorded step's pid and start time belong to another process",
    promise: "that process lives (the record is from another boot, IOT_JOBS_BOOT_ID_FILE); the agent runs the next job",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      const stateDir = tempDir("fault-state-");
      const bootId = join(tempDir(), "boot_id");
      writeFileSync(bootId, `${crypto.randomUUID()}\n`);
      const other = bystander();
      try {
        await Bun.sleep(50);
        const startTime = startTimeOf(other.pid);
        const record = {
          jobId: `before-reboot-${i}`,
          executionNumber: 1,
          starts: 1,
          bootId: crypto.randomUUID(),
          step: { pid: other.pid, startTime },
        };
        writeFileSync(join(stateDir, "running-execution.json"), JSON.stringify(record), { mode: 0o600 });
        startAgent(env, thing, env.service!.mqttUrl, stateDir, {
          env: { ...process.env, IOT_JOBS_BOOT_ID_FILE: bootId },
        });
        const w = await runWork(env, thing, `afterboot-${i}`);
        expectSucceededOnce(await w.done(), w.log, false);
        if (other.exitCode !== null || other.signalCode)
          throw new Error(`an unrelated process reusing the old step's pid was killed (${other.signalCode})`);
      } finally {
        other.kill("SIGKILL");
      }
    },
  },
  {
    name: "identity reuse: a jobId deleted and created again",
    promise: "the new job runs (its step runs again) and ends SUCCEEDED",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      startAgent(env, thing, env.service!.mqttUrl);
      const jobId = `reused-${i}`;
      // The same document both times (executionNumber 1 again): only the deletion tells them apart.
      const dir = tempDir();
      const document = workJob(join(dir, "lock"), 0, join(dir, "log"));
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      expectSucceededOnce(await terminal(env, jobId, thing), join(dir, "log"), false);
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
      await Bun.sleep(random(0, 300));
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      const e = await terminal(env, jobId, thing, 15_000);
      if (e.status !== "SUCCEEDED" || starts(join(dir, "log")) !== 2)
        throw new Error(
          `the re-created job ended ${e.status}; the step ran ${starts(join(dir, "log"))} times in all (2 expected)`,
        );
    },
  },
  {
    name: "identity reuse: the connection cut while a step runs, its job deleted (force; half the trials force-canceled first) and created again with the same id",
    promise: "the old run's terminal update does not land on the new execution: the new job's step runs",
    setUp: () => serviceEnv({ withProxy: true }),
    async trial(env, i) {
      const thing = await newThing(env);
      startAgent(env, thing, env.proxy!.url);
      const jobId = `redo-${i}`;
      const old = await runWork(env, thing, jobId, 1);
      await untilTrue(() => starts(old.log) > 0, 5000);
      await Bun.sleep(random(0, 500));
      // The connection is cut while the step runs (as in the fuzzer's failing seeds): the old run's
      // SUCCEEDED goes out after the reconnect, when the jobId already names the new execution.
      // Half the trials force-cancel first, while disconnected.
      env.proxy!.cut();
      if (i % 2 === 1) await env.iot!.send(new CancelJobCommand({ jobId, force: true }));
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
      const fresh = await runWork(env, thing, jobId, 0);
      const e = await terminal(env, jobId, thing, 20_000);
      if (e.status !== "SUCCEEDED" || starts(fresh.log) !== 1)
        throw new Error(`the re-created job ended ${e.status} with its step started ${starts(fresh.log)} times`);
    },
  },
  {
    name: "identity reuse: a job created, deleted and created again with the same id while the agent is down (its stored session holds the first one's notification)",
    promise: "the first document never runs; the new job's runs once and ends SUCCEEDED",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      const stateDir = tempDir("fault-state-");
      const first = startAgent(env, thing, env.service!.mqttUrl, stateDir);
      await first.waitForLog("No pending jobs");
      await first.kill(pick(["SIGKILL", "SIGTERM"] as const));
      const jobId = `stale-${i}`;
      const old = await runWork(env, thing, jobId, 0);
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
      await Bun.sleep(random(0, 300));
      const fresh = await runWork(env, thing, jobId, 0);
      startAgent(env, thing, env.service!.mqttUrl, stateDir);
      const e = await terminal(env, jobId, thing, 20_000);
      if (e.status !== "SUCCEEDED" || starts(fresh.log) !== 1 || starts(old.log) !== 0)
        throw new Error(
          `the re-created job ended ${e.status}; its step started ${starts(fresh.log)} times, the deleted one's ${starts(old.log)}`,
        );
    },
  },
  {
    name: "identity reuse: clientTokens across agent restarts (SIGKILL and SIGTERM) and reconnects",
    promise: "every request the agent sends carries a clientToken it never used before",
    setUp: () => serviceEnv({ withProxy: true }),
    async trial(env, i) {
      const thing = await newThing(env);
      const stateDir = tempDir("fault-state-");
      let agent = startAgent(env, thing, env.proxy!.url, stateDir);
      for (let n = 0; n < 3; n++) {
        const w = await runWork(env, thing, `tokens-${i}-${n}`, 0.1);
        await w.done();
        if (n === 0) env.proxy!.cut();
        if (n === 1) {
          await agent.kill(pick(["SIGKILL", "SIGTERM"] as const));
          agent = startAgent(env, thing, env.proxy!.url, stateDir);
        }
      }
      const tokens = env
        .proxy!.fromClients.filter((m) => m.topic.startsWith(`$aws/things/${thing}/`))
        .flatMap((m) => {
          try {
            const token = (JSON.parse(m.payload) as { clientToken?: unknown }).clientToken;
            return typeof token === "string" ? [token] : [];
          } catch {
            return [];
          }
        });
      if (tokens.length < 6) throw new Error(`only ${tokens.length} requests carried a clientToken`);
      const seen = new Set<string>();
      for (const t of tokens) {
        if (seen.has(t)) throw new Error(`clientToken ${t} used twice`);
        seen.add(t);
      }
    },
  },
  {
    name: "hostile strings in a random field that reaches a log or statusDetails: step name, output, runAsUser, handler, command, path",
    promise:
      "the job ends FAILED or REJECTED with every statusDetails value free of control characters; every log line is one JSON object",
    setUp: async () => {
      const env = await serviceEnv();
      writeHandler(env.handlers, "hostile.sh", `#!/bin/sh\nprintf '%s\\n' "$2"\nprintf '%s\\n' "$2" >&2\nexit 5\n`);
      return env;
    },
    async trial(env, i) {
      const thing = await newThing(env);
      const agent = startAgent(env, thing, env.service!.mqttUrl);
      const text = pick(HOSTILE);
      const short = text.slice(0, 200);
      const field = pick(["name", "output", "runAsUser", "handler", "command", "path"] as const);
      const jobId = `hostile-${i}`;
      const input: Record<string, unknown> = {
        handler: field === "handler" ? short : "hostile.sh",
        args: [text],
        path: field === "path" ? short : "default",
      };
      const action: Record<string, unknown> = { name: field === "name" ? short : "second", type: "runHandler", input };
      if (field === "runAsUser") action.runAsUser = short;
      if (field === "command") Object.assign(action, { type: "runCommand", input: { command: `/bin/false ${short}` } });
      // Two steps: failedStep (the failing step's name) is reported only when there is more than one.
      const doc = {
        version: "1.0",
        includeStdOut: true,
        steps: [{ action: { name: "first", type: "runCommand", input: { command: "true" } } }, { action }],
      };
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: JSON.stringify(doc) }));
      const e = await terminal(env, jobId, thing, 20_000).catch((error: Error) => {
        throw new Error(`${field} ${JSON.stringify(short.slice(0, 40))}: ${error.message}`);
      });
      const details = e.statusDetails?.detailsMap ?? {};
      if (!["FAILED", "REJECTED"].includes(e.status!))
        throw new Error(`${field}: ended ${e.status}: ${JSON.stringify(details)}`);
      for (const [k, v] of Object.entries(details))
        if (CONTROL.test(v))
          throw new Error(`${field}: statusDetails.${k} holds a control character: ${JSON.stringify(v.slice(0, 100))}`);
      await Bun.sleep(100);
      for (const line of agent.lines) {
        try {
          JSON.parse(line);
        } catch {
          throw new Error(`a log line is not one JSON object: ${JSON.stringify(line.slice(0, 200))}`);
        }
      }
    },
  },
  {
    name: "broker misbehaviour: the broker drops every connection right after CONNACK",
    promise:
      "the agent backs off (at most 6 connections in 8 s) and never re-sends more than 3 SUBSCRIBEs on one connection",
    maxTrials: 20,
    setUp: async () => ({ handlers: tempDir(), agents: [], async tearDown() {} }),
    async trial(env) {
      const broker = flappingBroker();
      try {
        const agent = startAgent(env, "flap-thing", broker.url);
        await Bun.sleep(8000);
        if (agent.proc.exitCode !== null) throw new Error(`the agent exited (${agent.proc.exitCode})`);
        const most = Math.max(...broker.subscribes);
        if (broker.connections() > 6)
          throw new Error(
            `${broker.connections()} connections in 8 s: no backoff (SUBSCRIBEs per connection: ${broker.subscribes.join(",")})`,
          );
        if (most > 3)
          throw new Error(
            `one connection carried ${most} SUBSCRIBEs: pending ones pile up (${broker.subscribes.join(",")})`,
          );
      } finally {
        broker.stop();
      }
    },
  },
  {
    name: "broker misbehaviour: another client connects with the thing's client id",
    promise: "the agent reconnects; the job ends SUCCEEDED and its step ran once",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      startAgent(env, thing, env.service!.mqttUrl);
      const w = await runWork(env, thing, `dupid-${i}`, 0.6);
      await Bun.sleep(random(0, 700));
      const intruder = await mqtt.connectAsync(env.service!.mqttUrl, {
        clientId: thing,
        reconnectPeriod: 0,
        clean: true,
      });
      await Bun.sleep(random(0, 300));
      await intruder.endAsync(true);
      expectSucceededOnce(await terminal(env, `dupid-${i}`, thing, 60_000), w.log, false);
    },
  },
  {
    name: "broker misbehaviour: slow acknowledgements (every packet from the broker 0.3–1.5 s late)",
    promise: "the job ends SUCCEEDED; its step ran once; one terminal state",
    setUp: () => serviceEnv({ withProxy: true }),
    async trial(env, i) {
      const thing = await newThing(env);
      env.proxy!.delayFromServerMs = random(300, 1500);
      try {
        startAgent(env, thing, env.proxy!.url, undefined, { updateRetrySeconds: 0.5 });
        const w = await runWork(env, thing, `slow-${i}`, 0.1);
        const e = await terminal(env, `slow-${i}`, thing, 60_000);
        expectSucceededOnce(e, w.log, false);
      } finally {
        env.proxy!.delayFromServerMs = 0;
      }
    },
  },
  {
    name: "broker misbehaviour (Mosquitto): retained garbage and a retained stale execution on notify-next",
    promise: "the agent ignores them and runs the next real job",
    async setUp() {
      return serviceEnv({ broker: await Mosquitto.start() });
    },
    async trial(env, i) {
      const thing = await newThing(env);
      const peer = await mqtt.connectAsync(env.broker!.url, { clientId: `retain-peer-${i}` });
      const topic = `$aws/things/${thing}/jobs/notify-next`;
      const stale = {
        timestamp: 1,
        execution: {
          jobId: `never-${i}`,
          status: "QUEUED",
          versionNumber: 1,
          executionNumber: 1,
          jobDocument: { version: "1.0", steps: [] },
        },
      };
      await peer.publishAsync(topic, Buffer.from(i % 2 === 0 ? "{not json" : JSON.stringify(stale)), {
        qos: 1,
        retain: true,
      });
      const agent = startAgent(env, thing, env.broker!.url);
      await Bun.sleep(random(200, 600));
      await peer.publishAsync(topic, Buffer.alloc(0), { qos: 1, retain: true }); // clears the retained message
      await peer.endAsync();
      const w = await runWork(env, thing, `retained-${i}`, 0);
      expectSucceededOnce(await w.done(), w.log, false);
      if (agent.proc.exitCode !== null) throw new Error("the agent exited");
    },
  },
  {
    name: "broker misbehaviour (Mosquitto): an oversized (1.1 MiB) QoS 1 message on notify-next",
    promise: "the agent drops it, stays connected and runs the next real job",
    async setUp() {
      return serviceEnv({ broker: await Mosquitto.start() });
    },
    async trial(env, i) {
      const thing = await newThing(env);
      const agent = startAgent(env, thing, env.broker!.url);
      await Bun.sleep(400);
      const peer = await mqtt.connectAsync(env.broker!.url, { clientId: `oversized-peer-${i}` });
      await peer.publishAsync(`$aws/things/${thing}/jobs/notify-next`, Buffer.alloc(1_153_434, 0x61), { qos: 1 });
      await peer.endAsync();
      const w = await runWork(env, thing, `oversized-${i}`, 0);
      expectSucceededOnce(await w.done(), w.log, false);
      if (agent.proc.exitCode !== null) throw new Error("the agent exited");
    },
  },
  {
    name: "signals: HUP, USR1, USR2 or PIPE in a random phase (idle, step running, update in flight)",
    promise: "the agent lives on; the job ends SUCCEEDED; its step ran once",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      const agent = startAgent(env, thing, env.service!.mqttUrl);
      // The handlers are installed before the "Starting" line; a signal before the runtime has run
      // the agent's first line takes its default action, as for any process (docs/RELIABILITY.md).
      await agent.waitForLog("Starting");
      const signal = pick(["SIGHUP", "SIGUSR1", "SIGUSR2", "SIGPIPE"] as const);
      const phase = pick(["idle", "step", "update"] as const);
      if (phase === "idle") {
        await Bun.sleep(random(0, 500));
        agent.proc.kill(signal);
      }
      const w = await runWork(env, thing, `signal-${i}`, 0.5);
      if (phase === "step") {
        await untilTrue(() => starts(w.log) > 0, 5000);
        agent.proc.kill(signal);
      } else if (phase === "update") {
        await Bun.sleep(random(450, 700));
        agent.proc.kill(signal);
      }
      await Bun.sleep(200);
      if (agent.proc.exitCode !== null || agent.proc.signalCode)
        throw new Error(`${signal} (${phase}) stopped the agent (${agent.proc.signalCode ?? agent.proc.exitCode})`);
      expectSucceededOnce(await w.done(), w.log, false);
    },
  },
  {
    name: "signals: SIGTERM in a random phase (starting, idle, step running, update in flight)",
    promise:
      "the agent exits 0 within 5 s and releases its lock (143 before it set up its handler); restarted, it finishes the job SUCCEEDED",
    setUp: () => serviceEnv(),
    async trial(env, i) {
      const thing = await newThing(env);
      const stateDir = tempDir("fault-state-");
      const agent = startAgent(env, thing, env.service!.mqttUrl, stateDir);
      const phase = pick(["starting", "idle", "step", "update"] as const);
      let w: Awaited<ReturnType<typeof runWork>> | undefined;
      if (phase === "starting") await Bun.sleep(random(0, 150));
      else if (phase === "idle") await Bun.sleep(random(300, 800));
      else {
        w = await runWork(env, thing, `term-${i}`, 0.5);
        if (phase === "step") await untilTrue(() => starts(w!.log) > 0, 5000);
        else await Bun.sleep(random(450, 700));
      }
      const t0 = Date.now();
      agent.proc.kill("SIGTERM");
      const code = await Promise.race([agent.proc.exited, Bun.sleep(5000).then(() => "timeout" as const)]);
      // Before its handler is installed the runtime's default applies (143), which is fine: a lock
      // left then names a dead pid, and is taken over.
      if (code !== 0 && !(phase === "starting" && code === 143))
        throw new Error(`SIGTERM (${phase}): exit ${code} after ${Date.now() - t0} ms`);
      if (code === 0 && existsSync(join(stateDir, "agent.lock")))
        throw new Error(`SIGTERM (${phase}): the lock is left`);
      startAgent(env, thing, env.service!.mqttUrl, stateDir);
      w ??= await runWork(env, thing, `term-${i}`, 0);
      const e = await w.done();
      expectSucceededOnce(e, w.log, true);
    },
  },
  {
    name: "slow NSS: id and getent take 8 s (a PATH holding slow copies) for a runAsUser job; SIGTERM meanwhile",
    promise: "the agent handles SIGTERM within 5 s (the lookup does not block it)",
    maxTrials: 30,
    setUp: async () => {
      const env = await serviceEnv();
      const bin = tempDir("slow-nss-");
      for (const tool of ["id", "getent"]) {
        const real = Bun.which(tool);
        writeHandler(bin, tool, `#!/bin/sh\nsleep 8\nexec ${real ?? "false"} "$@"\n`, 0o755);
      }
      (env as Env & { slowPath: string }).slowPath = `${bin}:${process.env.PATH}`;
      return env;
    },
    async trial(env, i) {
      const thing = await newThing(env);
      const slowPath = (env as Env & { slowPath: string }).slowPath;
      const agent = startAgent(env, thing, env.service!.mqttUrl, undefined, {
        env: { ...process.env, PATH: slowPath },
      });
      await agent.waitForLog("ubscribed", 10_000).catch(() => Bun.sleep(500));
      const dir = tempDir();
      const doc = JSON.parse(workJob(join(dir, "lock"), 0, join(dir, "log")));
      doc.steps[0].action.runAsUser = "nobody";
      await env.iot!.send(
        new CreateJobCommand({ jobId: `nss-${i}`, targets: [thingArn(thing)], document: JSON.stringify(doc) }),
      );
      await Bun.sleep(random(500, 1500));
      const t0 = Date.now();
      agent.proc.kill("SIGTERM");
      const code = await Promise.race([agent.proc.exited, Bun.sleep(5000).then(() => "timeout" as const)]);
      if (code === "timeout") throw new Error("SIGTERM not handled within 5 s during a slow user lookup");
      if (Date.now() - t0 > 5000) throw new Error(`SIGTERM took ${Date.now() - t0} ms`);
    },
  },
  {
    name: "service load: a requester that never reads its socket (30,000 get requests for a 32 KB document)",
    promise: "a bystander's DescribeThing within 1 s; the service grows by at most 150 MB",
    maxTrials: 20,
    setUp: async () => ({ handlers: "", agents: [], async tearDown() {} }),
    async trial() {
      await bystanderBound(1000, 150, async (svc) => {
        const { CreateThingCommand } = await import("@aws-sdk/client-iot");
        await svc.iot.send(new CreateThingCommand({ thingName: "hog" }));
        await svc.iot.send(
          new CreateJobCommand({
            jobId: "big",
            targets: [thingArn("hog")],
            document: JSON.stringify({ pad: "x".repeat(32_000) }),
          }),
        );
        // Raw MQTT: CONNECT as the thing, then QoS 0 get requests in batches, never reading a byte.
        const socket = connect(Number(svc.mqtt.split(":").pop()), "127.0.0.1");
        socket.on("error", () => {});
        await new Promise((resolve) => socket.once("connect", resolve));
        socket.write(
          mqttPacket(0x10, Buffer.concat([mqttString("MQTT"), Buffer.from([4, 2, 0, 30]), mqttString("hog")])),
        );
        await Bun.sleep(300);
        socket.pause();
        const get = mqttPacket(0x30, Buffer.concat([mqttString("$aws/things/hog/jobs/big/get"), Buffer.from("{}")]));
        const batch = Buffer.concat(Array.from({ length: 100 }, () => get));
        for (let sent = 0; sent < 30_000 && !socket.destroyed; sent += 100) {
          if (!socket.write(batch)) await Promise.race([new Promise((r) => socket.once("drain", r)), Bun.sleep(200)]);
        }
        await Bun.sleep(2000);
        socket.destroy();
      });
    },
  },
  {
    name: "service load: unauthenticated connections sending an unfinished 40 MB CONNECT (5 at once)",
    promise: "a bystander's DescribeThing within 1 s; the service grows by at most 100 MB",
    maxTrials: 20,
    setUp: async () => ({ handlers: "", agents: [], async tearDown() {} }),
    async trial() {
      await bystanderBound(1000, 100, async (svc) => {
        const port = Number(svc.mqtt.split(":").pop());
        const chunk = Buffer.alloc(1 << 20, 0x61);
        await Promise.all(
          Array.from({ length: 5 }, async () => {
            const socket = connect(port, "127.0.0.1");
            await new Promise((resolve) => socket.once("connect", resolve));
            socket.on("error", () => {});
            // CONNECT with a remaining length of 250 MB, then 40 MB of it.
            socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x77]));
            for (let n = 0; n < 40 && !socket.destroyed; n++) {
              if (socket.write(chunk)) continue;
              await new Promise<void>((resolve) => {
                const done = () => (socket.off("drain", done), socket.off("close", done), resolve());
                socket.on("drain", done).on("close", done);
              });
            }
            await Bun.sleep(500);
            socket.destroy();
          }),
        );
      });
    },
  },
  {
    name: "service load: chunked uploads of 60 MB (4 at once) to CreateJob",
    promise: "each refused (413) long before its end; a bystander within 1 s; the service grows by at most 100 MB",
    maxTrials: 20,
    setUp: async () => ({ handlers: "", agents: [], async tearDown() {} }),
    async trial(_env, i) {
      await bystanderBound(1000, 100, async (svc) => {
        const chunk = new Uint8Array(1 << 20).fill(0x20);
        await Promise.all(
          Array.from({ length: 4 }, async (_, k) => {
            let sent = 0;
            const body = new ReadableStream<Uint8Array>({
              pull(controller) {
                if (sent++ >= 60) controller.close();
                else controller.enqueue(chunk);
              },
            });
            const res = await fetch(`${svc.http}/jobs/chunked-${i}-${k}`, {
              method: "PUT",
              body,
              headers: { "content-type": "application/json" },
            }).catch((e) => e as Error);
            if (res instanceof Response && res.status !== 413)
              throw new Error(`a 60 MB chunked body answered ${res.status}`);
          }),
        );
      });
    },
  },
  {
    name: "service load: a wildcard fleet query (*a*a*a*a*a*a) against a 100-character value",
    promise: "answered and a bystander's DescribeThing within 1 s",
    maxTrials: 20,
    setUp: async () => ({ handlers: "", agents: [], async tearDown() {} }),
    async trial() {
      await bystanderBound(1000, 200, async (svc) => {
        const { CreateThingCommand, SearchIndexCommand } = await import("@aws-sdk/client-iot");
        await svc.iot.send(
          new CreateThingCommand({
            thingName: "wild",
            attributePayload: { attributes: { tag: "a".repeat(99) + "b" } },
          }),
        );
        const t0 = performance.now();
        await svc.iot.send(new SearchIndexCommand({ queryString: "attributes.tag:*a*a*a*a*a*ac" })).catch(() => {});
        await svc.iot
          .send(
            new CreateDynamicThingGroupCommand({
              thingGroupName: "wild-group",
              queryString: "attributes.tag:*a*a*a*a*a*ac",
            }),
          )
          .catch(() => {});
        if (performance.now() - t0 > 1000) throw new Error(`the query took ${(performance.now() - t0).toFixed(0)} ms`);
      });
    },
  },
];

/** Every scenario: the first set (scenarios.ts), these, and those over mutual TLS (mtls-scenarios.ts). */
export const ALL_SCENARIOS: Scenario[] = [...SCENARIOS, ...CLASS_SCENARIOS, ...MTLS_SCENARIOS];
