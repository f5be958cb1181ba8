/**
 * The agent's IN_PROGRESS updates go one at a time, and the terminal report after the last of
 * them: each carries the version the previous reply named. A reply that never comes holds the next
 * update one reply window (update-retry-seconds), no longer: the job's report is not stuck behind
 * it, and stopping the agent ends the wait at once. The agent runs in-process on a ManualClock
 * (its update waits), against Mosquitto and the Jobs peer; the steps are real processes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { AgentConfig } from "../../src/config/schema.ts";
import { JobsAgent } from "../../src/jobs/agent.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { connect } from "../../src/mqtt/connection.ts";
import { runContextFor } from "../../src/runner/run-context.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { ExecutionRecord } from "../../src/state/execution-record.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { tempDir } from "../helpers/temp.ts";

const REPLY_WINDOW_MS = 10_000;

let broker: Mosquitto;
let peer: JobsPeer;
beforeAll(async () => {
  broker = await Mosquitto.start();
  peer = await JobsPeer.start(broker.url);
});
afterAll(async () => {
  await peer.stop();
  await broker.stop();
});

/** The agent in-process on `clock`; its connection keeps real time (keepalive). */
function startAgent(thing: string, clock: ManualClock) {
  const connection = connect(
    {
      endpoint: { protocol: "mqtt", host: "127.0.0.1", port: broker.port, alpn: undefined, mutualTlsRequired: false },
      thingName: thing,
      cert: undefined,
      key: undefined,
      rootCa: undefined,
    },
    {},
  );
  const config = {
    jobs: { handlerDirectory: tempDir(), stepTimeoutSeconds: 60, signing: { required: false } },
  } as unknown as AgentConfig;
  const agent = new JobsAgent({
    thingName: thing,
    connection,
    log: silentLogger(),
    record: new ExecutionRecord(tempDir()),
    stepTimeoutSeconds: 60,
    maxReruns: 3,
    updateRetryMs: REPLY_WINDOW_MS,
    clock,
    runJob: (document, signal, jobLog, hooks) =>
      runJob(document, { ...runContextFor(config, jobLog, signal), onStepStart: (_s, i) => hooks.onStepStart?.(i) }),
  });
  agent.start();
  return { agent, connection };
}

/** Two steps of `true`; step two's IN_PROGRESS is applied and its reply lost. */
async function jobWithLostReply(thing: string, jobId: string): Promise<() => string[]> {
  peer.injectUpdateFault("IN_PROGRESS", "delay:0");
  peer.injectUpdateFault("IN_PROGRESS", "drop");
  peer.queueJob(thing, jobId, {
    version: "1.0",
    steps: [
      { action: { name: "one", type: "runCommand", input: { command: "true" } } },
      { action: { name: "two", type: "runCommand", input: { command: "true" } } },
    ],
  });
  const statuses = () => peer.updatesFor(jobId).map((u) => `${u.request.status}:${u.reply}`);
  await peer.waitFor(() => statuses().includes("IN_PROGRESS:dropped"), 10_000, "step two's IN_PROGRESS");
  // Step two (`true`) ends at once; while the clock stands still the report waits for that reply.
  await Bun.sleep(300); // time for a report that did not wait to arrive
  expect(statuses().filter((s) => s.startsWith("SUCCEEDED"))).toEqual([]);
  return statuses;
}

test("a step's IN_PROGRESS whose reply is lost holds the terminal report one reply window, then it goes (SUCCEEDED)", async () => {
  const clock = new ManualClock();
  const { agent, connection } = startAgent("lost-reply", clock);
  try {
    await jobWithLostReply("lost-reply", "held");
    // One reply window later it goes: its version is stale (the lost reply's), and the service's
    // VersionMismatch names our own IN_PROGRESS, so it goes once more at that version.
    clock.advance(REPLY_WINDOW_MS);
    await peer.waitForStatus("lost-reply", "held", "SUCCEEDED", 10_000);
    expect(peer.execution("lost-reply", "held")!.statusDetails).toEqual({ reason: "Exited with status: 0" });
  } finally {
    await agent.stop();
    await connection.close(true);
  }
}, 30_000);

test("stopping the agent while the report waits for that reply ends the wait at once: the report goes, stop returns", async () => {
  const clock = new ManualClock();
  const { agent, connection } = startAgent("lost-reply-stop", clock);
  try {
    await jobWithLostReply("lost-reply-stop", "held-stop");
    const stopped = agent.stop().then(() => "stopped");
    const late = Bun.sleep(5_000).then(() => "still waiting"); // the clock never moves: only the abort ends it
    expect(await Promise.race([stopped, late])).toBe("stopped");
    expect(peer.execution("lost-reply-stop", "held-stop")!.status).toBe("SUCCEEDED");
  } finally {
    await agent.stop();
    await connection.close(true);
  }
}, 30_000);
