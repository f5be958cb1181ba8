/**
 * The generated-scenario fuzzer for the agent: a seeded string of random events — job arrivals,
 * cancels (forced or not, of the job or of the execution), deletes and re-creates under the same
 * jobId, connection cuts, agent restarts (SIGTERM or SIGKILL) and "reboots" (the agent and every
 * process its steps started SIGKILLed, and a new boot id) — against the real local service and the
 * compiled agent. After each scenario the agent is left running until it is quiet, and the
 * invariants are checked:
 *   1. nothing stuck: every execution of every job that still exists is terminal;
 *   2. never concurrent: no copy of a step ran while another copy of the same execution held its lock;
 *   3. ran exactly once where nothing forced a re-run (no SIGKILL, reboot or SIGTERM of the agent),
 *      and a SUCCEEDED execution ran its step to the end;
 *   4. each execution ends as its document and the events say (a failing step FAILED, a working
 *      one SUCCEEDED unless canceled, deleted or given up after re-runs);
 *   5. no process of a step whose execution is finished (or whose job was deleted) is alive;
 *   6. no planted secret (a private key body, a pre-signed URL signature) in any log line or
 *      statusDetails value;
 *   7. the agent is alive.
 * Used by test/fuzz/agent-scenarios.test.ts (a few scenarios in `npm test`) and scripts/scenarios.ts
 * (`npm run test:scenarios`, 1,000 on demand).
 */
import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateThingCommand,
  DeleteJobCommand,
  DescribeJobExecutionCommand,
  type IoTClient,
  ListJobExecutionsForThingCommand,
} from "@aws-sdk/client-iot";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunningService } from "../../src/service/service.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent } from "../helpers/executables.ts";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { killSession, sessionMembers, sessionsWithCommandLine } from "../helpers/proc-scan.ts";
import type { SeededRandom } from "../helpers/seeded-random.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";
import { TcpProxy } from "../faults/tcp-proxy.ts";

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"]);
/**
 * Kinds of jobs and events left out of the mix (comma-separated, e.g. "hostile-name,reboot"): to
 * look past a known defect that a kind triggers in most runs.
 */
export const withoutFromEnv = (): Set<string> =>
  new Set((process.env.IOT_JOBS_SCENARIO_WITHOUT ?? "").split(",").filter(Boolean));

export interface AgentScenarioOptions {
  /** Kinds left out (default: IOT_JOBS_SCENARIO_WITHOUT). */
  readonly without?: ReadonlySet<string>;
  /** How long the agent may take to finish everything once the events stop (IOT_JOBS_SCENARIO_QUIET_MS, 60 s). */
  readonly quietMs?: number;
}

type Mode = "ok" | "fail" | "child" | "stubborn" | "secret" | "secret-encoded" | "hostile-name";

interface JobRecord {
  readonly jobId: string;
  /** jobId + generation: the step's lock and log name (a re-created jobId is a new execution). */
  readonly mark: string;
  readonly mode: Mode;
  readonly secret?: string;
  canceled: boolean;
  deleted: boolean;
}

export interface AgentScenarioEnv {
  readonly service: RunningService;
  readonly proxy: TcpProxy;
  readonly iot: IoTClient;
  readonly handlers: string;
  stop(): Promise<void>;
}

/** The steps are one handler: `step.sh MARK LOGDIR SECONDS MODE [TEXT]` (after the runAsUser slot). */
const STEP = `#!/bin/sh
# $1 is the runAsUser slot (empty here); then MARK LOGDIR SECONDS MODE [TEXT].
exec 9>"$3/$2.lock"
if ! flock -n 9; then echo "concurrent $2 $$" >> "$3/events"; exit 42; fi
echo "start $2 $$" >> "$3/events"
case "$5" in
  fail) sleep "$4"; echo "failing on purpose"; exit 3 ;;
  child) sleep "$4" & wait $! ;;
  stubborn) trap '' TERM; (trap '' TERM; sleep "$4"; :) & wait ;;
  secret|secret-encoded) printf '%s\\n' "$6"; sleep "$4" ;;
  hostile-name) echo "$6"; exit 4 ;;
  *) sleep "$4" ;;
esac
echo "end $2 $$" >> "$3/events"
`;

export async function startAgentScenarioEnv(): Promise<AgentScenarioEnv> {
  const service = await startLocalService();
  const proxy = await TcpProxy.start(service.mqttUrl);
  const handlers = tempDir("scenario-handlers-");
  writeHandler(handlers, "step.sh", STEP);
  return {
    service,
    proxy,
    iot: iotClient(service.httpUrl),
    handlers,
    async stop() {
      proxy.stop();
      await service.stop();
    },
  };
}

/**
 * A planted secret: what must never show (the body), and how it is printed (the whole text).
 * `encoded`: the forms programs also print (JSON-escaped, HTML-escaped, URL-encoded, a SigV4
 * header, an environment dump), which the redaction misses today (agent defect 11).
 */
function plantedSecret(rng: SeededRandom, encoded: boolean): { body: string; text: string } {
  const b64 = Array.from({ length: 48 }, () =>
    rng.pick([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"]),
  ).join("");
  const hex = Array.from({ length: 64 }, () => rng.pick([..."0123456789abcdef"])).join("");
  const url = "https://bucket.s3.amazonaws.com/a.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256";
  if (encoded) {
    return rng.pick([
      { body: hex, text: `{"url":"${url}\\u0026X-Amz-Signature=${hex}"}` },
      { body: hex, text: `<a href="${url}&amp;X-Amz-Signature=${hex}">` },
      { body: hex, text: `next=${encodeURIComponent(`${url}&X-Amz-Signature=${hex}`)}` },
      {
        body: hex,
        text: `Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261130/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=${hex}`,
      },
      { body: b64, text: `AWS_SECRET_ACCESS_KEY=${b64}` },
    ]);
  }
  return rng.chance(0.5)
    ? { body: b64, text: `-----BEGIN PRIVATE KEY-----\n${b64}\n${b64.slice(0, 20)}==\n-----END PRIVATE KEY-----` }
    : { body: hex, text: `${url}&X-Amz-Signature=${hex}` };
}

/** Step names with characters that reach failedStep and the logs. */
const HOSTILE_NAMES = [
  "esc\u001b[31mred",
  "nul\u0000byte",
  "bell\u0007tab\tcr\r",
  "lf\nnew line",
  "bidi\u202eevil",
  "del\u007f",
  'quote"back\\slash',
];

let scenarioThings = 0;

/** Runs one scenario; returns the broken invariants (empty: clean) and a replayable event log. */
export async function runAgentScenario(
  env: AgentScenarioEnv,
  rng: SeededRandom,
  options: AgentScenarioOptions = {},
): Promise<{ violations: string[]; events: string[] }> {
  const left = options.without ?? withoutFromEnv();
  const quietMs = options.quietMs ?? Number(process.env.IOT_JOBS_SCENARIO_QUIET_MS ?? 60_000);
  const without = <T>(items: readonly (readonly [number, T])[]) =>
    items.map(([w, v]) => [left.has(String(v)) ? 0 : w, v] as const);
  const thing = `scn-${process.pid}-${++scenarioThings}`;
  await env.iot.send(new CreateThingCommand({ thingName: thing }));
  const logs = tempDir("scenario-logs-");
  const stateDir = tempDir("scenario-state-");
  const bootIdFile = join(tempDir("scenario-boot-"), "boot_id");
  writeFileSync(bootIdFile, `${crypto.randomUUID()}\n`);
  const events: string[] = [];
  const jobs: JobRecord[] = [];
  const secrets: string[] = [];
  const agents: AgentProcess[] = [];
  let agent: AgentProcess | undefined;
  let forcedReruns = false;
  let generation = 0;

  const startAgent = () => {
    agent = AgentProcess.start({
      brokerUrl: env.proxy.url,
      thingName: thing,
      handlerDirectory: env.handlers,
      stateDir,
      command: [compiledAgent("linux-x64")],
      updateRetrySeconds: 0.5,
      maxReruns: 3,
      // The seam a boot-aware agent reads instead of /proc/sys/kernel/random/boot_id.
      env: { ...process.env, IOT_JOBS_BOOT_ID_FILE: bootIdFile },
    });
    agents.push(agent);
  };

  const document = (job: JobRecord, seconds: number, stdout: boolean) => {
    const name = job.mode === "hostile-name" ? rng.pick(HOSTILE_NAMES) : "step";
    return JSON.stringify({
      version: "1.0",
      includeStdOut: stdout,
      steps: [
        // A failing step's name is reported (failedStep) only when there is more than one step.
        ...(job.mode === "hostile-name"
          ? [{ action: { name: "first", type: "runCommand", input: { command: "true" } } }]
          : []),
        {
          action: {
            name,
            type: "runHandler",
            input: {
              handler: "step.sh",
              args: [job.mark, logs, seconds.toFixed(2), job.mode, job.secret ?? name],
              path: "default",
            },
          },
        },
      ],
    });
  };

  const createJob = async (jobId: string) => {
    const mode = rng.weighted<Mode>(
      without([
        [5, "ok"],
        [2, "fail"],
        [2, "child"],
        [1, "stubborn"],
        [2, "secret"],
        [1, "secret-encoded"],
        [1, "hostile-name"],
      ]),
    );
    let secret: string | undefined;
    if (mode === "secret" || mode === "secret-encoded") {
      const s = plantedSecret(rng, mode === "secret-encoded");
      secrets.push(s.body);
      secret = s.text;
    }
    const job: JobRecord = { jobId, mark: `${jobId}.g${++generation}`, mode, secret, canceled: false, deleted: false };
    // Children and stubborn steps run long enough to be canceled, killed or rebooted mid-way.
    const seconds = mode === "child" || mode === "stubborn" ? rng.int(200, 600) / 100 : rng.int(0, 120) / 100;
    const doc = document(job, seconds, mode.startsWith("secret") || rng.chance(0.5));
    for (let attempt = 0; ; attempt++) {
      try {
        await env.iot.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: doc }));
        break;
      } catch (error) {
        // A deletion may still be in progress; the AWS answer is a conflict, retried.
        if (attempt >= 20) throw error;
        await Bun.sleep(100);
      }
    }
    jobs.push(job);
    events.push(`create ${jobId} (${job.mark}) ${mode} ${seconds.toFixed(2)} s`);
  };

  const live = () => jobs.filter((j) => !j.deleted);
  /** A control-plane refusal, noted under its event (e.g. a cancel of a job already finished). */
  const noted = (error: unknown) => void events.push(`  → ${(error as Error).name}`);

  startAgent();
  const count = rng.int(3, 10);
  for (let n = 0; n < count; n++) {
    const kind = rng.weighted<string>(
      without([
        [6, "arrive"],
        [2, "cancel"],
        [1, "cancel-execution"],
        [2, "delete-recreate"],
        [2, "disconnect"],
        [2, "restart"],
        [1, "reboot"],
        [2, "pause"],
      ]),
    );
    const target = live().length > 0 ? rng.pick(live()) : undefined;
    if (
      kind === "arrive" ||
      (target === undefined && ["cancel", "cancel-execution", "delete-recreate"].includes(kind))
    ) {
      await createJob(`${thing}-j${n}`);
    } else if (kind === "cancel") {
      const force = rng.chance(0.5);
      target!.canceled = true;
      events.push(`cancel ${target!.jobId} force=${force}`);
      await env.iot.send(new CancelJobCommand({ jobId: target!.jobId, force })).catch(noted);
    } else if (kind === "cancel-execution") {
      const force = rng.chance(0.7);
      target!.canceled = true;
      events.push(`cancel-execution ${target!.jobId} force=${force}`);
      await env.iot.send(new CancelJobExecutionCommand({ jobId: target!.jobId, thingName: thing, force })).catch(noted);
    } else if (kind === "delete-recreate") {
      target!.deleted = true;
      events.push(`delete ${target!.jobId} force=true`);
      await env.iot.send(new DeleteJobCommand({ jobId: target!.jobId, force: true })).catch(noted);
      if (rng.chance(0.8)) {
        await Bun.sleep(rng.int(0, 300));
        await createJob(target!.jobId);
      }
    } else if (kind === "disconnect") {
      env.proxy.cut();
      events.push("disconnect");
    } else if (kind === "restart") {
      const signal = rng.pick(["SIGTERM", "SIGKILL"] as const);
      await agent!.kill(signal);
      forcedReruns = true;
      await Bun.sleep(rng.int(0, 300));
      startAgent();
      events.push(`restart ${signal}`);
    } else if (kind === "reboot") {
      await agent!.kill("SIGKILL");
      // Every step of this scenario, also one that had not logged its start yet (its argv names `logs`).
      for (const { pid } of stepStarts(logs)) killSession(pid);
      for (const sid of sessionsWithCommandLine(logs)) killSession(sid);
      writeFileSync(bootIdFile, `${crypto.randomUUID()}\n`);
      forcedReruns = true;
      await Bun.sleep(rng.int(0, 300));
      startAgent();
      events.push("reboot");
    } else {
      events.push("pause");
    }
    await Bun.sleep(rng.int(0, 500));
  }

  const violations: string[] = [];
  try {
    await checkInvariants();
    // IOT_JOBS_SCENARIO_DUMP=<dir>: a failing scenario's agent logs and step events, to read a replay.
    const dump = process.env.IOT_JOBS_SCENARIO_DUMP;
    if (dump && violations.length > 0) {
      for (const [i, a] of agents.entries()) writeFileSync(join(dump, `${thing}-agent-${i}.log`), a.lines.join("\n"));
      const stepEvents = join(logs, "events");
      if (existsSync(stepEvents)) writeFileSync(join(dump, `${thing}-steps.log`), readFileSync(stepEvents));
    }
  } finally {
    for (const a of agents) await a.kill("SIGKILL").catch(() => {});
    for (const { pid } of stepStarts(logs)) killSession(pid);
    for (const sid of sessionsWithCommandLine(logs)) killSession(sid);
  }
  return { violations, events };

  async function checkInvariants(): Promise<void> {
    // 1. Nothing stuck: the agent gets until quietMs to finish every execution.
    const until = Date.now() + quietMs;
    let executions: { jobId: string; status: string; details: Record<string, string>; executionNumber?: number }[] = [];
    for (;;) {
      const list = await env.iot.send(new ListJobExecutionsForThingCommand({ thingName: thing, maxResults: 100 }));
      const summaries = list.executionSummaries ?? [];
      if (summaries.every((s) => TERMINAL.has(s.jobExecutionSummary!.status!)) || Date.now() > until) {
        executions = [];
        for (const s of summaries) {
          const e = (await env.iot.send(new DescribeJobExecutionCommand({ jobId: s.jobId!, thingName: thing })))
            .execution!;
          executions.push({
            jobId: s.jobId!,
            status: e.status!,
            details: e.statusDetails?.detailsMap ?? {},
            executionNumber: e.executionNumber,
          });
        }
        break;
      }
      if (agent!.proc.exitCode !== null) break;
      await Bun.sleep(100);
    }
    for (const e of executions) {
      if (!TERMINAL.has(e.status))
        violations.push(`stuck: ${e.jobId} is ${e.status} ${quietMs / 1000} s after the last event`);
    }
    // 7. The agent is alive.
    if (agent!.proc.exitCode !== null)
      violations.push(`the agent exited (${agent!.proc.exitCode}): ${agent!.lines.slice(-5).join(" | ")}`);

    const log = existsSync(join(logs, "events")) ? readFileSync(join(logs, "events"), "utf8") : "";
    // 2. Never concurrent.
    for (const line of log.split("\n").filter((l) => l.startsWith("concurrent ")))
      violations.push(`ran concurrently with itself: ${line}`);

    const starts = (mark: string) => log.split("\n").filter((l) => l.startsWith(`start ${mark} `)).length;
    const ends = (mark: string) => log.split("\n").filter((l) => l.startsWith(`end ${mark} `)).length;
    for (const job of jobs.filter((j) => !j.deleted)) {
      // The live job of this id is the last created one.
      const e = executions.find((x) => x.jobId === job.jobId);
      if (!e) {
        violations.push(`no execution of ${job.jobId} on the thing`);
        continue;
      }
      if (!TERMINAL.has(e.status)) continue;
      const n = starts(job.mark);
      // 3. Exactly once where nothing forced a re-run.
      if (!forcedReruns && n > 1) violations.push(`${job.mark} started ${n} times with no agent restart`);
      if (e.status === "SUCCEEDED" && (n < 1 || ends(job.mark) < 1))
        violations.push(`${job.mark} SUCCEEDED but its step started ${n} and finished ${ends(job.mark)} times`);
      // 4. The end matches the document and the events.
      if (!job.canceled) {
        const gaveUp = e.status === "FAILED" && (e.details.reason ?? "").includes("stopped");
        const expected = job.mode === "fail" || job.mode === "hostile-name" ? "FAILED" : "SUCCEEDED";
        if (e.status !== expected && !(forcedReruns && gaveUp)) {
          violations.push(
            `${job.mark} (${job.mode}) ended ${e.status}, expected ${expected}: ${JSON.stringify(e.details)}`,
          );
        }
      }
    }

    // 5. No process of a finished step alive (the agent's grace for a canceled step is 2 s).
    const finishedUntil = Date.now() + 4000;
    let leftovers: string[] = [];
    do {
      leftovers = stepStarts(logs)
        .filter(({ mark }) => {
          const job = jobs.find((j) => j.mark === mark);
          const e = job && !job.deleted ? executions.find((x) => x.jobId === job.jobId) : undefined;
          return job?.deleted || (e !== undefined && TERMINAL.has(e.status));
        })
        .flatMap(({ mark, pid }) => sessionMembers(pid).map((p) => `${mark}: pid ${p} (session ${pid})`));
      if (leftovers.length === 0) break;
      await Bun.sleep(200);
    } while (Date.now() < finishedUntil);
    for (const l of leftovers) violations.push(`a process of a finished step is alive: ${l}`);

    // 6. No planted secret in any log line or statusDetails value.
    const texts = [...agents.flatMap((a) => a.lines), ...executions.flatMap((e) => Object.values(e.details))];
    for (const secret of secrets) {
      const where = texts.find((t) => t.includes(secret));
      if (where) violations.push(`a planted secret is visible: ${where.slice(0, 200)}`);
    }
  }
}

/** Every step start the handler logged: its mark and pid (= its session id). */
function stepStarts(logs: string): { mark: string; pid: number }[] {
  const file = join(logs, "events");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("start "))
    .map((l) => {
      const [, mark, pid] = l.split(" ");
      return { mark: mark!, pid: Number(pid) };
    });
}
