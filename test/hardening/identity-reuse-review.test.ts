/**
 * Adversarial review of the jobId-reuse fix (branch presign): a job deleted (force) and created
 * again under its jobId has a new execution with executionNumber 1 and versionNumber 1 again; the
 * agent must run the new job's document exactly once and never report an old run's (or an old
 * notification's) result on it. Each test is one failure found, against the real compiled agent
 * and the real local service (persistent sessions: clean session false, stored notifications are
 * replayed after a restart).
 */
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CreateJobCommand, DeleteJobCommand } from "@aws-sdk/client-iot";
import { thingArn } from "../helpers/local-service.ts";
import mqtt from "mqtt";
import { tempDir } from "../helpers/temp.ts";
import { type Env, newThing, serviceEnv, startAgent, starts, terminal, workJob } from "../faults/scenarios.ts";

let env: Env | undefined;
afterEach(async () => {
  await env?.tearDown();
  env = undefined;
});

/** Waits until `check` holds (polling); false after `ms`. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await Bun.sleep(25);
  }
  return check();
}

describe("review: a jobId deleted and created again", () => {
  test("a stored notification of a deleted job whose document the agent rejects: REJECTED must not land on the new job", async () => {
    env = await serviceEnv();
    const thing = await newThing(env);
    const stateDir = tempDir("review-state-");
    const first = startAgent(env, thing, env.service!.mqttUrl, stateDir);
    await first.waitForLog("No pending jobs");
    await first.kill("SIGKILL");
    const jobId = "reject-then-reuse";
    // The first document is one the agent refuses (unknown action type); the service takes it.
    const bad = { version: "1.0", steps: [{ action: { name: "bad", type: "noSuchActionType", input: {} } }] };
    await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: JSON.stringify(bad) }));
    await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
    const dir = tempDir();
    const log = join(dir, "log");
    await env.iot!.send(
      new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: workJob(join(dir, "lock"), 0, log) }),
    );
    startAgent(env, thing, env.service!.mqttUrl, stateDir);
    const e = await terminal(env, jobId, thing, 20_000);
    // Expected: the new (valid) job runs once and ends SUCCEEDED.
    expect({ status: e.status, reason: e.statusDetails?.detailsMap?.reason, starts: starts(log) }).toEqual({
      status: "SUCCEEDED",
      reason: "Exited with status: 0",
      starts: 1,
    });
  }, 60_000);

  test("crash-loop record: starts counted for a deleted job are not charged to the job created again under its id", async () => {
    env = await serviceEnv();
    const thing = await newThing(env);
    const stateDir = tempDir("review-state-");
    const jobId = "crashloop-then-reuse";
    const oldDir = tempDir();
    // maxReruns 1: an execution interrupted by an agent stop runs once more, then FAILED.
    let agent = startAgent(env, thing, env.service!.mqttUrl, stateDir, { maxReruns: 1 });
    await agent.waitForLog("No pending jobs");
    await env.iot!.send(
      new CreateJobCommand({
        jobId,
        targets: [thingArn(thing)],
        document: workJob(join(oldDir, "lock"), 30, join(oldDir, "log")),
      }),
    );
    // The old job's step starts twice, the agent killed during it each time (e.g. a power cut).
    for (let n = 1; n <= 2; n++) {
      const started = await eventually(() => starts(join(oldDir, "log")) >= n, 15_000);
      if (!started && process.env.REVIEW_DUMP)
        console.error((agent as unknown as { lines: string[] }).lines.join("\n"));
      expect(started).toBe(true);
      await agent.kill("SIGKILL");
      if (n < 2) agent = startAgent(env, thing, env.service!.mqttUrl, stateDir, { maxReruns: 1 });
    }
    // While the agent is down the operator deletes the job and creates a fixed one under its id.
    await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
    const dir = tempDir();
    const log = join(dir, "log");
    await env.iot!.send(
      new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: workJob(join(dir, "lock"), 0, log) }),
    );
    const last = startAgent(env, thing, env.service!.mqttUrl, stateDir, { maxReruns: 1 });
    const e = await terminal(env, jobId, thing, 20_000).catch((error) => {
      if (process.env.REVIEW_DUMP) console.error((last as unknown as { lines: string[] }).lines.join("\n"));
      throw error;
    });
    // Expected: the new job is a first start (it never ran), so it runs and SUCCEEDS.
    expect({ status: e.status, reason: e.statusDetails?.detailsMap?.reason, starts: starts(log) }).toEqual({
      status: "SUCCEEDED",
      reason: "Exited with status: 0",
      starts: 1,
    });
  }, 90_000);

  test("dedupe: the new job's document differs from the deleted one's only in an S3 URL's query (versionId): it must still run", async () => {
    env = await serviceEnv();
    const thing = await newThing(env);
    const stateDir = tempDir("review-state-");
    const first = startAgent(env, thing, env.service!.mqttUrl, stateDir);
    await first.waitForLog("No pending jobs");
    await first.kill("SIGKILL");
    const dir = tempDir();
    const log = join(dir, "log");
    // Firmware by S3 object version: the operator re-creates the job for another version.
    const doc = (versionId: string) =>
      JSON.stringify({
        version: "1.0",
        steps: [
          {
            action: {
              name: "work",
              type: "runHandler",
              input: {
                handler: "work.sh",
                args: [join(dir, "lock"), "0", log, `https://fw.s3.amazonaws.com/fw.bin?versionId=${versionId}`],
                path: "default",
              },
            },
          },
        ],
      });
    // Both executions are queued in the same second (queuedAt is in seconds), as a script does.
    let jobId = "";
    for (let attempt = 0; attempt < 5; attempt++) {
      jobId = `s3version-${attempt}`;
      const second = Math.floor(Date.now() / 1000);
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: doc("AAA") }));
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: doc("BBB") }));
      if (Math.floor(Date.now() / 1000) === second) break;
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
    }
    const agent = startAgent(env, thing, env.service!.mqttUrl, stateDir);
    let e: Awaited<ReturnType<typeof terminal>>;
    try {
      e = await terminal(env, jobId, thing, 15_000);
    } catch (error) {
      const dropped = await agent.waitForLog("Duplicate notification dropped", 1).catch(() => "");
      throw new Error(`${(error as Error).message}; the agent logged: ${dropped}`);
    }
    expect({ status: e.status, starts: starts(log) }).toEqual({ status: "SUCCEEDED", starts: 1 });
  }, 60_000);

  test("dedupe: a stored notification of a deleted job declined (ResourceNotFound), the job then created again with the same document in the same second: it must run", async () => {
    env = await serviceEnv();
    const thing = await newThing(env);
    const stateDir = tempDir("review-state-");
    const dir = tempDir();
    const log = join(dir, "log");
    const document = workJob(join(dir, "lock"), 0, log);
    let jobId = "";
    let agent: ReturnType<typeof startAgent> | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      const down = startAgent(env, thing, env.service!.mqttUrl, stateDir);
      await down.waitForLog(attempt === 0 ? "No pending jobs" : "Subscribed");
      await down.kill("SIGKILL");
      jobId = `gone-then-reuse-${attempt}`;
      // Wait for the start of a second: everything below fits in it on an idle machine.
      await Bun.sleep(1000 - (Date.now() % 1000) + 5);
      const second = Math.floor(Date.now() / 1000);
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
      // The restarted agent gets the stored notification; its IN_PROGRESS finds no such job.
      agent = startAgent(env, thing, env.service!.mqttUrl, stateDir);
      await agent.waitForLog("not running it");
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      if (Math.floor(Date.now() / 1000) === second) break;
      // Not within one second (a loaded machine): this attempt proves nothing; clean up, try again.
      await terminal(env, jobId, thing, 15_000);
      await agent.kill("SIGKILL");
    }
    let e: Awaited<ReturnType<typeof terminal>>;
    try {
      e = await terminal(env, jobId, thing, 15_000);
    } catch (error) {
      const dropped = await agent!.waitForLog("Duplicate notification dropped", 1).catch(() => "");
      throw new Error(`${(error as Error).message}; the agent logged: ${dropped}`);
    }
    expect({ status: e.status, starts: starts(log) }).toEqual({ status: "SUCCEEDED", starts: 1 });
  }, 90_000);

  test("session lost while a step runs, the job deleted and created again, the next step starts offline: the old run's result must not land on the new job", async () => {
    env = await serviceEnv({ withProxy: true });
    const proxy = env.proxy!;
    const thing = await newThing(env);
    const agent = startAgent(env, thing, proxy.url);
    const jobId = "session-lost-reuse";
    const old = tempDir();
    const step = (name: string, dir: string, seconds: number) => ({
      action: {
        name,
        type: "runHandler",
        input: {
          handler: "work.sh",
          args: [join(dir, `lock-${name}`), String(seconds), join(dir, name)],
          path: "default",
        },
      },
    });
    // Two steps: the second starts while the agent is offline; its IN_PROGRESS waits for the link.
    const oldDoc = { version: "1.0", steps: [step("one", old, 1.5), step("two", old, 1.5)] };
    await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: JSON.stringify(oldDoc) }));
    expect(await eventually(() => starts(join(old, "one")) === 1, 10_000)).toBe(true);
    // The broker becomes unreachable, and the agent's stored session is lost (as when a broker
    // restarts without its sessions or expires them): a client with the thing's id and a clean session.
    proxy.refusing = true;
    proxy.cut();
    const intruder = await mqtt.connectAsync(env.service!.mqttUrl, {
      clientId: thing,
      clean: true,
      reconnectPeriod: 0,
    });
    await intruder.endAsync();
    await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
    const fresh = tempDir();
    const freshLog = join(fresh, "log");
    await env.iot!.send(
      new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: workJob(join(fresh, "lock"), 0, freshLog) }),
    );
    expect(await eventually(() => starts(join(old, "two")) === 1, 10_000)).toBe(true);
    proxy.refusing = false;
    const e = await terminal(env, jobId, thing, 30_000);
    if (process.env.REVIEW_DUMP) {
      console.error((agent as unknown as { lines: string[] }).lines.join("\n"));
      for (const m of proxy.fromClients) console.error(m.topic, m.payload);
    }
    // Expected: the new job's own step runs once and it ends SUCCEEDED.
    expect({ status: e.status, newJobStepStarts: starts(freshLog) }).toEqual({
      status: "SUCCEEDED",
      newJobStepStarts: 1,
    });
  }, 60_000);

  test("a running job deleted and created again with the same document in the same second: the new job must run, not wait for ever", async () => {
    env = await serviceEnv();
    const thing = await newThing(env);
    const agent = startAgent(env, thing, env.service!.mqttUrl);
    await agent.waitForLog("No pending jobs");
    const dir = tempDir();
    const log = join(dir, "log");
    const document = workJob(join(dir, "lock"), 1, log);
    let jobId = "";
    let before = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      jobId = `running-reuse-${attempt}`;
      await Bun.sleep(1000 - (Date.now() % 1000) + 5);
      const second = Math.floor(Date.now() / 1000);
      before = starts(log);
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      expect(await eventually(() => starts(log) > before, 5000)).toBe(true);
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      if (Math.floor(Date.now() / 1000) === second) break;
      await terminal(env, jobId, thing, 15_000); // not in one second: proves nothing, try again
    }
    let e: Awaited<ReturnType<typeof terminal>>;
    try {
      e = await terminal(env, jobId, thing, 15_000);
    } catch (error) {
      const dropped = await agent.waitForLog("Duplicate notification dropped", 1).catch(() => "");
      throw new Error(`${(error as Error).message}; the agent logged: ${dropped}`);
    }
    // The deleted job's run (canceled) and the new job's, once.
    expect({ status: e.status, steps: starts(log) - before }).toEqual({ status: "SUCCEEDED", steps: 2 });
  }, 90_000);

  test("a job that ends while the agent is cut off, deleted and created again with the same document in the same second: the new job must run", async () => {
    env = await serviceEnv({ withProxy: true });
    const proxy = env.proxy!;
    const thing = await newThing(env);
    const agent = startAgent(env, thing, proxy.url);
    await agent.waitForLog("No pending jobs");
    const dir = tempDir();
    const log = join(dir, "log");
    const document = workJob(join(dir, "lock"), 0.3, log);
    let jobId = "";
    let before = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      jobId = `offline-end-reuse-${attempt}`;
      await Bun.sleep(1000 - (Date.now() % 1000) + 5);
      const second = Math.floor(Date.now() / 1000);
      before = starts(log);
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      expect(await eventually(() => starts(log) > before, 5000)).toBe(true);
      // Cut off while the step runs; the step ends (its SUCCEEDED waits for the link) after the job
      // was deleted and created again.
      proxy.refusing = true;
      proxy.cut();
      await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
      await env.iot!.send(new CreateJobCommand({ jobId, targets: [thingArn(thing)], document }));
      const sameSecond = Math.floor(Date.now() / 1000) === second;
      await agent.waitForLog(`"jobId":"${jobId}","executionNumber":1,"status":"SUCCEEDED","reason"`, 5000);
      proxy.refusing = false;
      if (sameSecond) break;
      await terminal(env, jobId, thing, 15_000); // not in one second: proves nothing, try again
    }
    let e: Awaited<ReturnType<typeof terminal>>;
    try {
      e = await terminal(env, jobId, thing, 15_000);
    } catch (error) {
      const dropped = await agent.waitForLog("Duplicate notification dropped", 1).catch(() => "");
      throw new Error(`${(error as Error).message}; the agent logged: ${dropped}`);
    }
    // The deleted job's run (its result not reported) and the new job's, once.
    expect({ status: e.status, steps: starts(log) - before }).toEqual({ status: "SUCCEEDED", steps: 2 });
  }, 90_000);

  // The oversized path has no document to compare and no version: only the answer to a start-next
  // this agent asked for may REJECT; a stored notification only asks start-next again.
  test("a stored notification too large for the agent (pre-signed URLs rendered per delivery), its job deleted and created again small: the REJECTED must not land on the new job", async () => {
    env = await serviceEnv();
    const thing = await newThing(env);
    const stateDir = tempDir("review-state-");
    const first = startAgent(env, thing, env.service!.mqttUrl, stateDir);
    await first.waitForLog("No pending jobs");
    await first.kill("SIGKILL");
    const jobId = "oversized-then-reuse";
    // Under 32 KB as written; each placeholder becomes a ~230-character signed URL on delivery.
    const placeholder = "${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}";
    const many = placeholder.repeat(Math.floor(32_000 / placeholder.length));
    const big = {
      version: "1.0",
      steps: [{ action: { name: "x", type: "runCommand", input: { command: `echo ${many}` } } }],
    };
    await env.iot!.send(
      new CreateJobCommand({
        jobId,
        targets: [thingArn(thing)],
        document: JSON.stringify(big),
        presignedUrlConfig: { roleArn: "arn:aws:iam::123456789012:role/presign", expiresInSec: 3600 },
      }),
    );
    await env.iot!.send(new DeleteJobCommand({ jobId, force: true }));
    const dir = tempDir();
    const log = join(dir, "log");
    await env.iot!.send(
      new CreateJobCommand({ jobId, targets: [thingArn(thing)], document: workJob(join(dir, "lock"), 0, log) }),
    );
    const agent = startAgent(env, thing, env.service!.mqttUrl, stateDir);
    const e = await terminal(env, jobId, thing, 20_000);
    const dropped = await agent.waitForLog("Dropped a message larger", 1).catch(() => "(no oversized message)");
    expect({
      status: e.status,
      reason: e.statusDetails?.detailsMap?.reason,
      starts: starts(log),
      dropped: !!dropped,
    }).toEqual({
      status: "SUCCEEDED",
      reason: "Exited with status: 0",
      starts: 1,
      dropped: true,
    });
  }, 60_000);
});
