/**
 * The agent's IN_PROGRESS updates go one at a time, and the terminal report after the last of
 * them: each carries the version the previous reply named (a later reply never sets it back). A reply that never comes holds the next
 * update one reply window (update-retry-seconds), no longer; a step's start that is superseded
 * while it waits hands its step timer restart on; a cancel or a stop ends the wait, and nothing
 * more is sent. The agent runs in-process on a ManualClock (its update waits and progress ticks),
 * against Mosquitto and the Jobs peer; the steps are real processes, some gated by marker files so
 * that the test decides when each step ends.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AgentConfig } from "../../src/config/schema.ts";
import { JobsAgent } from "../../src/jobs/agent.ts";
import { progressFileIn } from "../../src/jobs/progress-file.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { connect } from "../../src/mqtt/connection.ts";
import { runContextFor } from "../../src/runner/run-context.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { ExecutionRecord } from "../../src/state/execution-record.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const REPLY_WINDOW_MS = 10_000;
const PROGRESS_INTERVAL_MS = 1_000;

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

/** Writes `phase=<name>` to its progress file, touches <dir>/<name>.started, waits for <dir>/<name>.go. */
const GATED_HANDLER = `#!/bin/sh
[ "$IOT_JOBS_USER_ARG" = 1 ] && shift
[ -n "$IOT_JOBS_PROGRESS_FILE" ] && echo "phase=$2" >> "$IOT_JOBS_PROGRESS_FILE"
touch "$1/$2.started"
while [ ! -e "$1/$2.go" ]; do sleep 0.05; done
`;

function startAgent(thing: string, clock: ManualClock, stepTimeoutSeconds = 60) {
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
  const handlers = tempDir();
  writeHandler(handlers, "gated.sh", GATED_HANDLER);
  const config = {
    jobs: { handlerDirectory: handlers, stepTimeoutSeconds, signing: { required: false } },
  } as unknown as AgentConfig;
  const progressFile = progressFileIn(tempDir());
  const agent = new JobsAgent({
    thingName: thing,
    connection,
    log: silentLogger(),
    record: new ExecutionRecord(tempDir()),
    stepTimeoutSeconds,
    maxReruns: 3,
    updateRetryMs: REPLY_WINDOW_MS,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
    progressFile,
    clock,
    runJob: (document, signal, jobLog, hooks) =>
      runJob(document, {
        ...runContextFor(config, jobLog, signal),
        onStepStart: (_s, i) => hooks.onStepStart?.(i),
        ...(hooks.progressFile ? { progressFile: hooks.progressFile } : {}),
      }),
  });
  agent.start();
  return { agent, connection, progressFile };
}

/**
 * Runs `body` with the agent in-process on a fresh ManualClock and a directory of step markers;
 * afterwards every gated step is let go, the unused faults forgotten, the agent stopped.
 */
async function withAgent(
  thing: string,
  body: (h: {
    thing: string;
    agent: JobsAgent;
    clock: ManualClock;
    markers: string;
    progressFile: ReturnType<typeof progressFileIn>;
  }) => Promise<void>,
): Promise<void> {
  const clock = new ManualClock();
  const { agent, connection, progressFile } = startAgent(thing, clock);
  const markers = tempDir();
  try {
    await body({ thing, agent, clock, markers, progressFile });
  } finally {
    peer.clearFaults(); // faults no update took must not reach a later test
    for (const n of ["one", "two", "three"]) writeFileSync(join(markers, `${n}.go`), "");
    await agent.stop();
    await connection.close(true);
  }
}

function gatedJob(markers: string, names: string[], reportProgress = true) {
  return {
    version: "1.0",
    reportProgress,
    steps: names.map((n) => ({
      action: { name: n, type: "runHandler", input: { handler: "gated.sh", args: [markers, n] } },
    })),
  };
}

async function waitForFile(path: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${path}`);
    await Bun.sleep(20);
  }
}

/** Lets the agent's promise continuations and the broker round trips run (the clock stands still). */
const settleIo = () => Bun.sleep(300);

const view = (jobId: string) =>
  peer.updatesFor(jobId).map((u) => ({
    status: u.request.status,
    step: (u.request.statusDetails as { step?: string } | undefined)?.step,
    phase: (u.request.statusDetails as { phase?: string } | undefined)?.phase,
    timer: u.request.stepTimeoutInMinutes,
    expected: u.request.expectedVersion,
    reply: u.reply,
    code: u.code,
  }));

/**
 * A progress update (P1) is applied and its reply lost; step two starts, and its step-start update
 * (S2, which restarts the service's step timer) waits for P1's reply. Before the wait ends the
 * progress reporter sends P2 (the handler of step two wrote an entry), so S2 is not sent: P2 must
 * carry S2's stepTimeoutInMinutes, or the service's step timer runs on from step one's start and
 * times the job out while step two runs (found by review).
 */
test(
  "a step-start update superseded by a progress update while it waits: the step timer restart still reaches the service",
  () =>
    withAgent("superseded-start", async ({ thing, clock, markers }) => {
      const jobId = "timer-lost";
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1 (confirmStart)
      peer.injectUpdateFault("IN_PROGRESS", "drop"); // P1: applied, reply lost
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two"]));
      await waitForFile(join(markers, "one.started"));
      await settleIo();
      clock.advance(PROGRESS_INTERVAL_MS); // P1: {step: 1/2 one, phase: one}
      await peer.waitFor(() => peer.updatesFor(jobId).some((u) => u.reply === "dropped"), 10_000, "P1");
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started")); // S2 now waits for P1's reply
      await settleIo();
      clock.advance(PROGRESS_INTERVAL_MS); // P2: {step: 2/2 two, phase: two}, after S2
      await settleIo();
      clock.advance(REPLY_WINDOW_MS); // P1's wait ends
      await peer.waitFor(
        () => peer.updatesFor(jobId).some((u) => (u.request.statusDetails as { phase?: string })?.phase === "two"),
        10_000,
        "step two's progress update",
      );
      const inProgress = peer.updatesFor(jobId).filter((u) => u.request.status === "IN_PROGRESS");
      const summary = inProgress.map((u) => ({
        step: (u.request.statusDetails as { step?: string })?.step,
        timer: u.request.stepTimeoutInMinutes,
        reply: u.reply,
      }));
      // Step two's start must restart the service's step timer (an update naming step two with
      // stepTimeoutInMinutes), whatever else the progress reporter sent meanwhile.
      expect(summary.filter((s) => s.step === "2/2 two" && s.timer !== undefined)).not.toEqual([]);
      writeFileSync(join(markers, "two.go"), "");
      clock.advance(REPLY_WINDOW_MS);
      await peer.waitForStatus(thing, jobId, "SUCCEEDED", 10_000);
    }),
  40_000,
);

/** Steps one and two; P1 (step one's progress) applied and its reply lost; S2 waits for it. */
async function stepTwoWaiting(thing: string, jobId: string, clock: ManualClock, markers: string): Promise<void> {
  peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1 (confirmStart)
  peer.injectUpdateFault("IN_PROGRESS", "drop"); // P1
  peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two"]));
  await waitForFile(join(markers, "one.started"));
  await settleIo();
  clock.advance(PROGRESS_INTERVAL_MS);
  await peer.waitFor(() => peer.updatesFor(jobId).some((u) => u.reply === "dropped"), 10_000, "P1");
  writeFileSync(join(markers, "one.go"), "");
  await waitForFile(join(markers, "two.started"));
  await settleIo();
}

/**
 * The job is force-canceled (CancelJobExecution with force) while step two's start update waits
 * for P1's reply. The cancel ends the wait, and the waiting update is not sent: the execution is
 * CANCELED (found by review: it went out, and was refused).
 */
test(
  "force-cancel while a step-start update waits: nothing more is sent for the canceled execution",
  () =>
    withAgent("cancel-waiting", async ({ thing, agent, clock, markers }) => {
      const jobId = "canceled-while-waiting";
      await stepTwoWaiting(thing, jobId, clock, markers);
      const before = peer.updatesFor(jobId).length;
      peer.cancel(thing, jobId); // notify-next without it: the agent cancels the job
      await peer.waitFor(() => !agent.busy, 10_000, "the job to end");
      await settleIo();
      const after = peer.updatesFor(jobId).slice(before);
      expect(clock.pending()).toBe(0); // no agent timer outlives the job
      expect(after.map((u) => `${u.request.status}:${u.reply}:${u.code}`)).toEqual([]);
    }),
  40_000,
);

/**
 * The agent stops (SIGTERM) while step two's start update waits for P1's reply. stop() ends the
 * wait at once, and the waiting update is not sent: it would restart the service's step timer and
 * move the execution's version for a job the agent leaves without a report (found by review).
 */
test(
  "stop while a step-start update waits: stop returns promptly and no IN_PROGRESS is published after it began",
  () =>
    withAgent("stop-waiting", async ({ thing, agent, clock, markers }) => {
      const jobId = "stopped-while-waiting";
      await stepTwoWaiting(thing, jobId, clock, markers);
      const before = peer.updatesFor(jobId).length;
      const began = Date.now();
      const stopped = agent.stop().then(() => "stopped");
      expect(await Promise.race([stopped, Bun.sleep(5_000).then(() => "still waiting")])).toBe("stopped");
      expect(Date.now() - began).toBeLessThan(3_000);
      await settleIo();
      const after = peer.updatesFor(jobId).slice(before);
      expect(clock.pending()).toBe(0); // no agent timer outlives the stop
      expect(after.map((u) => `${u.request.status}:${u.reply}`)).toEqual([]);
    }),
  40_000,
);

/**
 * Twenty steps of `true` with reportProgress and a step timeout, every IN_PROGRESS reply 100 ms
 * late (real time) and the agent's clock standing still: each update waits only for replies, so
 * the job ends SUCCEEDED with no refused update, the last step's start is on the wire before the
 * report, and no agent timer is left behind.
 */
test(
  "20 short steps, replies 100 ms late, clock still: SUCCEEDED, no VersionMismatch, no timer left",
  () =>
    withAgent("twenty", async ({ thing, agent, clock }) => {
      const jobId = "twenty";
      for (let i = 0; i < 40; i++) peer.injectUpdateFault("IN_PROGRESS", "delay:100");
      peer.queueJob(thing, jobId, {
        version: "1.0",
        reportProgress: true,
        steps: Array.from({ length: 20 }, (_, i) => ({
          action: { name: `s${i + 1}`, type: "runCommand", input: { command: "true" } },
        })),
      });
      await peer.waitForStatus(thing, jobId, "SUCCEEDED", 20_000);
      await peer.waitFor(() => !agent.busy, 5_000, "the agent to be idle");
      await settleIo();
      const updates = peer.updatesFor(jobId).map((u) => ({
        status: u.request.status,
        step: (u.request.statusDetails as { step?: string })?.step,
        reply: u.reply,
        code: u.code,
      }));
      expect(updates.filter((u) => u.reply === "rejected")).toEqual([]);
      // Step starts a newer one followed while they waited are not sent; the last step's start is,
      // then the report, once, accepted.
      const inProgress = updates.filter((u) => u.status === "IN_PROGRESS");
      expect(inProgress.at(-1)!.step).toBe("20/20 s20");
      expect(updates.filter((u) => u.status === "SUCCEEDED").map((u) => u.reply)).toEqual(["accepted"]);
      expect(clock.pending()).toBe(0);
    }),
  40_000,
);

/**
 * RequestThrottled on step two's start update (S2), and again on its retry; step three starts half
 * a window later (gated steps, so the clock times differ), its start update (S3) waits for S2 and,
 * after S2's window, goes. S3 (with the step timer) is accepted while step three runs, the job ends
 * SUCCEEDED, no agent timer is left.
 */
test(
  "RequestThrottled twice on a step-start update: the next step's start still goes after one window, SUCCEEDED",
  () =>
    withAgent("throttled", async ({ thing, agent, clock, markers }) => {
      const jobId = "throttled";
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1
      peer.injectUpdateFault("IN_PROGRESS", "RequestThrottled"); // S2
      peer.injectUpdateFault("IN_PROGRESS", "RequestThrottled"); // S2's retry
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two", "three"], false));
      await waitForFile(join(markers, "one.started"));
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started"));
      await peer.waitFor(() => peer.updatesFor(jobId).some((u) => u.code === "RequestThrottled"), 10_000, "S2");
      await settleIo();
      clock.advance(REPLY_WINDOW_MS / 2);
      writeFileSync(join(markers, "two.go"), "");
      await waitForFile(join(markers, "three.started")); // S3 waits for S2
      await settleIo();
      clock.advance(REPLY_WINDOW_MS / 2); // S2's retry: throttled again (next retry in two windows)
      await settleIo();
      clock.advance(REPLY_WINDOW_MS / 2); // S3's wait ends: S3 goes
      await settleIo();
      const steps = () =>
        peer
          .updatesFor(jobId)
          .map((u) => [
            u.request.status,
            (u.request.statusDetails as { step?: string } | undefined)?.step,
            u.request.stepTimeoutInMinutes,
            u.request.expectedVersion,
            u.reply,
            u.code,
          ]);
      const accepted = steps().filter((u) => u[0] === "IN_PROGRESS" && u[4] === "accepted");
      expect(accepted.length).toBe(2); // S1, S3
      expect(accepted.at(-1)![2]).toBe(2);
      writeFileSync(join(markers, "three.go"), "");
      await peer.waitForStatus(thing, jobId, "SUCCEEDED", 10_000);
      await peer.waitFor(() => !agent.busy, 5_000, "idle");
      expect(clock.pending()).toBe(0);
    }),
  60_000,
);

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

test(
  "a step's IN_PROGRESS whose reply is lost holds the terminal report one reply window, then it goes (SUCCEEDED)",
  () =>
    withAgent("lost-reply", async ({ thing, clock }) => {
      await jobWithLostReply(thing, "held");
      // One reply window later it goes: its version is stale (the lost reply's), and the service's
      // VersionMismatch names our own IN_PROGRESS, so it goes once more at that version.
      clock.advance(REPLY_WINDOW_MS);
      await peer.waitForStatus(thing, "held", "SUCCEEDED", 10_000);
      expect(peer.execution(thing, "held")!.statusDetails).toEqual({ reason: "Exited with status: 0" });
    }),
  30_000,
);

test(
  "stopping the agent while the report waits for that reply ends the wait at once: the report goes, stop returns",
  () =>
    withAgent("lost-reply-stop", async ({ thing, agent }) => {
      await jobWithLostReply(thing, "held-stop");
      const stopped = agent.stop().then(() => "stopped");
      const late = Bun.sleep(5_000).then(() => "still waiting"); // the clock never moves: only the abort ends it
      expect(await Promise.race([stopped, late])).toBe("stopped");
      expect(peer.execution(thing, "held-stop")!.status).toBe("SUCCEEDED");
    }),
  30_000,
);

/**
 * Step two's start (S2) is applied, its reply 1.5 s late (real time). Meanwhile the handler writes
 * an entry and the progress reporter sends P2, which waits for S2. S2 is then accepted: the step
 * timer restarted for step two. P2 is a progress update after an accepted step start: it does not
 * carry stepTimeoutInMinutes (reporting progress must not extend a step's timeout).
 */
test(
  "progress update queued behind a step start that is then accepted: it does not carry stepTimeoutInMinutes",
  () =>
    withAgent("carry-accepted", async ({ thing, clock, markers }) => {
      const jobId = "carry-accepted";
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1 (confirmStart)
      peer.injectUpdateFault("IN_PROGRESS", "delay:1500"); // S2: applied, reply late (real time)
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two"]));
      await waitForFile(join(markers, "one.started"));
      await settleIo(); // the clock stands still in step one: no progress update
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started"));
      await peer.waitFor(() => view(jobId).some((u) => u.step === "2/2 two"), 10_000, "S2");
      await Bun.sleep(100);
      clock.advance(PROGRESS_INTERVAL_MS); // P2 {phase: two}: waits for S2's reply
      await peer.waitFor(() => view(jobId).some((u) => u.phase === "two"), 10_000, "P2 after S2's reply");
      const s2 = view(jobId).find((u) => u.step === "2/2 two" && u.phase === undefined)!;
      const p2 = view(jobId).find((u) => u.phase === "two")!;
      expect(s2.reply).toBe("accepted");
      expect(s2.timer).toBe(2);
      expect(p2.timer).toBeUndefined();
      writeFileSync(join(markers, "two.go"), "");
      await peer.waitForStatus(thing, jobId, "SUCCEEDED", 10_000);
    }),
  40_000,
);

/**
 * S2's reply comes late (real time, after its window on the agent's clock): S3 goes at the stale
 * version, is refused as our own race, and goes again (S3 accepted, version v+2). Then S2's late
 * accepted reply arrives, naming v+1: the agent must not take that older version as the execution's
 * (it is no reply any update waits for): the version only moves forward. Otherwise the terminal
 * report goes at v+1 and is refused as a VersionMismatch.
 */
test(
  "a late reply of an abandoned IN_PROGRESS does not set the version back: the report is not refused",
  () =>
    withAgent("late-reply", async ({ thing, clock, markers }) => {
      const jobId = "late-reply";
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1
      peer.injectUpdateFault("IN_PROGRESS", "delay:2500"); // S2: applied, reply 2.5 s late
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two", "three"], false));
      await waitForFile(join(markers, "one.started"));
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started"));
      await peer.waitFor(() => view(jobId).length >= 2, 10_000, "S2");
      writeFileSync(join(markers, "two.go"), "");
      await waitForFile(join(markers, "three.started")); // S3 waits for S2
      await settleIo();
      clock.advance(REPLY_WINDOW_MS); // S2's window ends: S2 abandoned, S3 goes
      await peer.waitFor(
        () =>
          view(jobId)
            .slice(2)
            .some((u) => u.status === "IN_PROGRESS" && u.reply === "accepted"),
        10_000,
        "S3 accepted",
      );
      await Bun.sleep(3_000); // S2's late reply arrives
      writeFileSync(join(markers, "three.go"), "");
      await peer.waitFor(() => view(jobId).some((u) => u.status === "SUCCEEDED"), 10_000, "the report");
      await settleIo();
      expect(
        view(jobId)
          .filter((u) => u.status === "SUCCEEDED")
          .map((u) => `${u.expected}:${u.reply}:${u.code}`),
      ).toEqual([`${peer.execution(thing, jobId)!.versionNumber - 1}:accepted:undefined`]);
    }),
  40_000,
);

/**
 * Steps start faster than replies come: P1 (step one's progress) applied, reply lost; S2 waits for
 * it; then P2 and P3 (the handler of step two writes two entries, one progress slot each) follow
 * while S2 still waits. Only the newest (P3) goes, and it must carry S2's step timer restart
 * (carried through P2, which never went).
 */
test(
  "three updates waiting (S2, P2, P3): only the newest goes, with S2's stepTimeoutInMinutes",
  () =>
    withAgent("three-waiting", async ({ thing, agent, clock, markers, progressFile }) => {
      const jobId = "three-waiting";
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1
      peer.injectUpdateFault("IN_PROGRESS", "drop"); // P1
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two"]));
      await waitForFile(join(markers, "one.started"));
      await settleIo();
      clock.advance(PROGRESS_INTERVAL_MS);
      await peer.waitFor(() => view(jobId).some((u) => u.reply === "dropped"), 10_000, "P1");
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started")); // S2 waits for P1
      await settleIo();
      clock.advance(PROGRESS_INTERVAL_MS); // P2 {phase: two}
      await settleIo();
      appendFileSync(progressFile.path, "phase=two-b\n");
      clock.advance(PROGRESS_INTERVAL_MS); // P3 {phase: two-b}
      await settleIo();
      const before = view(jobId).length;
      clock.advance(REPLY_WINDOW_MS); // P1's window ends
      await peer.waitFor(() => view(jobId).length > before, 10_000, "the newest update");
      await settleIo();
      const sent = view(jobId).slice(before);
      // P1's lost reply makes the first attempt a VersionMismatch with our own update (sent again).
      expect(sent.map((u) => [u.step, u.phase, u.timer, u.code ?? u.reply])).toEqual([
        ["2/2 two", "two-b", 2, "VersionMismatch"],
        ["2/2 two", "two-b", 2, "accepted"],
      ]);
      writeFileSync(join(markers, "two.go"), "");
      await peer.waitForStatus(thing, jobId, "SUCCEEDED", 10_000);
      await peer.waitFor(() => !agent.busy, 5_000, "idle");
      expect(clock.pending()).toBe(0);
    }),
  40_000,
);

/**
 * The job's last step-start update (S3, the report waits for it) is refused TerminalStateReached
 * after the job ended: the agent does not cancel a finished job; the report still goes at once
 * (the refusal is the reply it waited for), within the window, and no timer is left.
 */
test(
  "the last step start, sent after the job ended and refused (TerminalStateReached): the report goes at once",
  () =>
    withAgent("refused-last", async ({ thing, agent, clock, markers }) => {
      const jobId = "refused-last";
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1
      peer.injectUpdateFault("IN_PROGRESS", "delay:1500"); // S2: reply 1.5 s late (real time)
      peer.injectUpdateFault("IN_PROGRESS", "TerminalStateReached"); // S3
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two", "three"], false));
      await waitForFile(join(markers, "one.started"));
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started"));
      writeFileSync(join(markers, "two.go"), "");
      await waitForFile(join(markers, "three.started")); // S3 waits for S2
      writeFileSync(join(markers, "three.go"), ""); // the job ends while S2's reply is on its way
      // the clock stands still: only S2's reply, then S3's refusal, let the report go
      await peer.waitFor(() => view(jobId).some((u) => u.status === "SUCCEEDED"), 10_000, "the report");
      await peer.waitFor(() => !agent.busy, 5_000, "idle");
      expect(view(jobId).map((u) => `${u.status}:${u.reply}:${u.code}`)).toEqual([
        "IN_PROGRESS:accepted:undefined",
        "IN_PROGRESS:accepted:undefined",
        "IN_PROGRESS:rejected:TerminalStateReached",
        "SUCCEEDED:accepted:undefined",
      ]);
      expect(clock.pending()).toBe(0);
    }),
  40_000,
);

/**
 * The job ended while S3 waits for S2 (applied, reply lost), so the report waits for S3. The agent
 * stops: the waits end at once, S3 is not sent, the report goes, stop returns, no timer is left.
 */
test(
  "stop while the report waits behind two waiting updates: no IN_PROGRESS goes, the report goes, stop returns",
  () =>
    withAgent("stop-chain", async ({ thing, agent, clock, markers }) => {
      const jobId = "stop-chain";
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1
      peer.injectUpdateFault("IN_PROGRESS", "drop"); // S2
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two", "three"], false));
      await waitForFile(join(markers, "one.started"));
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started"));
      await peer.waitFor(() => view(jobId).some((u) => u.reply === "dropped"), 10_000, "S2");
      writeFileSync(join(markers, "two.go"), "");
      await waitForFile(join(markers, "three.started"));
      writeFileSync(join(markers, "three.go"), "");
      await Bun.sleep(1_000); // the job ended; the report waits for S3, S3 for S2
      const before = view(jobId).length;
      const stopped = agent.stop().then(() => "stopped");
      expect(await Promise.race([stopped, Bun.sleep(5_000).then(() => "still waiting")])).toBe("stopped");
      await settleIo();
      // S2's lost reply leaves the version stale: the report is refused once as our own race, then goes.
      expect(
        view(jobId)
          .slice(before)
          .map((u) => `${u.status}:${u.code ?? u.reply}`),
      ).toEqual(["SUCCEEDED:VersionMismatch", "SUCCEEDED:accepted"]);
      expect(clock.pending()).toBe(0);
    }),
  40_000,
);

/**
 * The broker restarts (the session is lost) while step three's start update (S3) waits for step
 * two's (S2: applied, reply lost): after reconnecting the agent confirms the running execution
 * (IN_PROGRESS at the version it knows, stale) outside the chain. S3 must still reach the service,
 * and the job end SUCCEEDED with no agent timer left. No reportProgress (no progress ticks).
 * Last in this file: it restarts the shared broker.
 */
test(
  "reconnect while a step-start update waits: confirmRunning and the chain both settle, the step's start goes, SUCCEEDED",
  () =>
    withAgent("reconnect-waiting", async ({ thing, agent, clock, markers }) => {
      const jobId = "reconnect-while-waiting";
      const dump = () =>
        JSON.stringify(
          peer
            .updatesFor(jobId)
            .map((u) => [u.request.status, u.request.stepTimeoutInMinutes, u.request.expectedVersion, u.reply, u.code]),
        );
      peer.injectUpdateFault("IN_PROGRESS", "delay:0"); // S1 (confirmStart)
      peer.injectUpdateFault("IN_PROGRESS", "drop"); // S2
      peer.queueJob(thing, jobId, gatedJob(markers, ["one", "two", "three"], false));
      await waitForFile(join(markers, "one.started"));
      writeFileSync(join(markers, "one.go"), "");
      await waitForFile(join(markers, "two.started"));
      await peer.waitFor(() => peer.updatesFor(jobId).some((u) => u.reply === "dropped"), 10_000, "S2");
      writeFileSync(join(markers, "two.go"), "");
      await waitForFile(join(markers, "three.started")); // S3 waits for S2's reply
      await settleIo();
      const before = peer.updatesFor(jobId).length;
      await broker.restart(200);
      await peer.waitFor(() => peer.updatesFor(jobId).length > before, 20_000, "confirmRunning after the reconnect");
      await settleIo();
      clock.advance(REPLY_WINDOW_MS); // S2's wait ends: S3 goes
      await settleIo();
      await settleIo();
      const accepted = peer
        .updatesFor(jobId)
        .filter((u) => u.request.status === "IN_PROGRESS" && u.reply === "accepted");
      // S1, (maybe S2's resend), S3: the last accepted IN_PROGRESS carries the step timer
      expect(accepted.at(-1)!.request.stepTimeoutInMinutes).toBe(2);
      expect(accepted.length).toBeGreaterThanOrEqual(2);
      writeFileSync(join(markers, "three.go"), "");
      await peer
        .waitFor(() => peer.updatesFor(jobId).some((u) => u.request.status === "SUCCEEDED"), 10_000, "report")
        .catch(() => clock.advance(REPLY_WINDOW_MS));
      await peer.waitForStatus(thing, jobId, "SUCCEEDED", 10_000);
      await peer.waitFor(() => !agent.busy, 5_000, "idle");
      expect(clock.pending()).toBe(0);
    }),
  60_000,
);
