import { describe, expect, test } from "bun:test";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { jobsHarness } from "../helpers/jobs-harness.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const harness = jobsHarness("test-thing");
const { newThing, startAgent } = harness;

function handlers(): string {
  const dir = tempDir("handlers-");
  writeHandler(dir, "hello.sh", '#!/bin/sh\necho "hello $2"\necho "note" >&2\n');
  writeHandler(dir, "fail.sh", "#!/bin/sh\necho broken >&2\nexit 7\n");
  writeHandler(dir, "count.sh", '#!/bin/sh\necho run >> "$2"\nsleep "${3:-0}"\necho done\n');
  return dir;
}

const handlerDoc = (handler: string, args: string[] = [], extra: Record<string, unknown> = {}) => ({
  version: "1.0",
  includeStdOut: true,
  steps: [{ action: { name: `run ${handler}`, type: "runHandler", input: { handler, args, path: "default" } } }],
  ...extra,
});

describe("agent ↔ Jobs service over a real Mosquitto [DC-JOBS-flow]", () => {
  test("a job queued before the agent starts: start-next, IN_PROGRESS, SUCCEEDED with output", async () => {
    const thing = newThing();
    harness.peer.queueJob(thing, "job-success", handlerDoc("hello.sh", ["world"]));
    startAgent(thing, handlers());
    const done = await harness.peer.waitForStatus(thing, "job-success", "SUCCEEDED");
    expect(done.statusDetails).toEqual({ reason: "Exited with status: 0", stdout: "hello world\n", stderr: "note\n" });
    const statuses = harness.peer.updatesFor("job-success").map((u) => u.request.status);
    expect(statuses).toEqual(["IN_PROGRESS", "SUCCEEDED"]);
    const inProgress = harness.peer.updatesFor("job-success")[0]!.request;
    expect(inProgress.stepTimeoutInMinutes).toBe(2);
    expect(inProgress.clientToken).toMatch(/^[0-9a-zA-Z]{10}$/);
    expect(harness.peer.startNexts.some((s) => s.thing === thing)).toBe(true);
  });

  test("a job queued while the agent waits arrives through notify-next; failure is reported", async () => {
    const thing = newThing();
    const agent = startAgent(thing, handlers());
    await agent.waitForLog("No pending jobs");
    harness.peer.queueJob(thing, "job-fail", handlerDoc("fail.sh"));
    const done = await harness.peer.waitForStatus(thing, "job-fail", "FAILED");
    expect(done.statusDetails).toEqual({ reason: "Exited with status: 7", stderr: "broken\n" });
  });

  // IN_PROGRESS first: a notification stored before its job was deleted and created again under the
  // id must not REJECT the new job (test/hardening/identity-reuse-review.test.ts).
  test("an invalid document is REJECTED with the precise reason, after the IN_PROGRESS confirmation", async () => {
    const thing = newThing();
    const agent = startAgent(thing, handlers());
    await agent.waitForLog("No pending jobs");
    harness.peer.queueJob(thing, "job-bad", {
      version: "1.0",
      steps: [{ action: { name: "x", type: "runHandler", input: {} } }],
    });
    const done = await harness.peer.waitForStatus(thing, "job-bad", "REJECTED");
    expect(done.statusDetails).toEqual({ reason: "Invalid job document: steps[0].action.input.handler: required" });
    expect(harness.peer.updatesFor("job-bad").map((u) => u.request.status)).toEqual(["IN_PROGRESS", "REJECTED"]);
    // The agent is still alive and takes the next job.
    harness.peer.queueJob(thing, "job-after-bad", handlerDoc("hello.sh", ["again"]));
    await harness.peer.waitForStatus(thing, "job-after-bad", "SUCCEEDED");
  });

  test("jobs run one at a time, in order", async () => {
    const thing = newThing();
    const dir = handlers();
    const log = join(tempDir(), "runs");
    startAgent(thing, dir);
    for (const id of ["seq-1", "seq-2", "seq-3"])
      harness.peer.queueJob(thing, id, handlerDoc("count.sh", [log, "0.3"]));
    await harness.peer.waitForStatus(thing, "seq-3", "SUCCEEDED");
    expect(["seq-1", "seq-2", "seq-3"].map((id) => harness.peer.execution(thing, id)!.status)).toEqual([
      "SUCCEEDED",
      "SUCCEEDED",
      "SUCCEEDED",
    ]);
    expect(readFileSync(log, "utf8")).toBe("run\nrun\nrun\n");
    // Each job's IN_PROGRESS came after the previous job's terminal update.
    const order = harness.peer.updates.filter((u) => u.thing === thing).map((u) => `${u.jobId}:${u.request.status}`);
    expect(order).toEqual([
      "seq-1:IN_PROGRESS",
      "seq-1:SUCCEEDED",
      "seq-2:IN_PROGRESS",
      "seq-2:SUCCEEDED",
      "seq-3:IN_PROGRESS",
      "seq-3:SUCCEEDED",
    ]);
  });

  test("duplicate notifications run the job once", async () => {
    const thing = newThing();
    const log = join(tempDir(), "runs");
    const agent = startAgent(thing, handlers());
    await agent.waitForLog("No pending jobs");
    harness.peer.queueJob(thing, "job-dup", handlerDoc("count.sh", [log, "0.5"]));
    harness.peer.notifyNext(thing);
    harness.peer.notifyNext(thing);
    await harness.peer.waitForStatus(thing, "job-dup", "SUCCEEDED");
    harness.peer.notifyNext(thing); // after the end: nothing is next, nothing runs
    await Bun.sleep(300);
    expect(readFileSync(log, "utf8")).toBe("run\n");
    expect(harness.peer.updatesFor("job-dup").map((u) => u.request.status)).toEqual(["IN_PROGRESS", "SUCCEEDED"]);
  });

  test("a throttled update is retried with a fresh clientToken; a lost reply too", async () => {
    const thing = newThing();
    const agent = startAgent(thing, handlers());
    await agent.waitForLog("No pending jobs");
    // The terminal update gets a throttle, then a lost reply.
    harness.peer.injectUpdateFault("SUCCEEDED", "RequestThrottled");
    harness.peer.injectUpdateFault("SUCCEEDED", "drop");
    harness.peer.queueJob(thing, "job-retry", handlerDoc("hello.sh", ["retry"]));
    await harness.peer.waitFor(
      () =>
        harness.peer.updatesFor("job-retry").some((u) => u.reply === "accepted" && u.request.status === "SUCCEEDED") ||
        harness.peer.updatesFor("job-retry").length > 3,
      20_000,
      "SUCCEEDED accepted",
    );
    const terminal = harness.peer.updatesFor("job-retry").slice(1);
    expect(terminal.map((u) => u.reply)).toEqual(["rejected", "dropped", "rejected"]);
    // The dropped attempt was applied; the third attempt finds it already SUCCEEDED: done, no more attempts.
    // (expectedVersion is checked first: the mismatch names SUCCEEDED already, which the agent takes as its own.)
    expect(terminal[2]!.code).toBe("VersionMismatch");
    const tokens = terminal.map((u) => u.request.clientToken);
    expect(new Set(tokens).size).toBe(3);
    await agent.waitForLog("Status reported"); // the mismatch shows the lost attempt was applied
    expect(harness.peer.execution(thing, "job-retry")!.status).toBe("SUCCEEDED");
  });

  test("a non-retryable rejection ends the attempts", async () => {
    const thing = newThing();
    const agent = startAgent(thing, handlers());
    await agent.waitForLog("No pending jobs");
    harness.peer.injectUpdateFault("SUCCEEDED", "InvalidStateTransition");
    harness.peer.queueJob(thing, "job-nonretry", handlerDoc("hello.sh", ["x"]));
    await agent.waitForLog("Status update rejected");
    await Bun.sleep(1500);
    expect(harness.peer.updatesFor("job-nonretry").map((u) => u.reply)).toEqual(["accepted", "rejected"]);
  });

  test("cancellation kills the step's process group; nothing more is reported; the next job runs", async () => {
    const thing = newThing();
    const dir = handlers();
    const pidFile = join(tempDir(), "pid");
    writeHandler(
      dir,
      "forever.sh",
      `#!/bin/sh\ntrap '' TERM\necho $$ > ${pidFile}\n(trap '' TERM; sleep 300) &\nwhile :; do sleep 1; done\n`,
    );
    const agent = startAgent(thing, dir);
    await agent.waitForLog("No pending jobs");
    harness.peer.queueJob(thing, "job-long", handlerDoc("forever.sh"));
    harness.peer.queueJob(thing, "job-next", handlerDoc("hello.sh", ["next"]));
    await harness.peer.waitFor(() => existsSync(pidFile), 10_000, "the handler to start");
    const pid = Number(readFileSync(pidFile, "utf8"));
    harness.peer.cancel(thing, "job-long");
    await harness.peer.waitForStatus(thing, "job-next", "SUCCEEDED");
    expect(harness.peer.updatesFor("job-long").map((u) => u.request.status)).toEqual(["IN_PROGRESS"]);
    const alive = Bun.spawnSync(["ps", "-e", "-o", "pgid=,stat="])
      .stdout.toString()
      .split("\n")
      .filter((l) => l.trim().split(/\s+/)[0] === String(pid) && !l.includes("Z"));
    expect(alive).toEqual([]);
  });

  test("the service refusing IN_PROGRESS (canceled before start): the job's first step never starts", async () => {
    const thing = newThing();
    const dir = handlers();
    const log = join(tempDir(), "runs");
    const agent = startAgent(thing, dir);
    await agent.waitForLog("No pending jobs");
    harness.peer.injectUpdateFault("IN_PROGRESS", "TerminalStateReached");
    harness.peer.queueJob(thing, "job-gone", handlerDoc("count.sh", [log, "30"]));
    await agent.waitForLog("not running it");
    await Bun.sleep(300);
    expect(existsSync(log)).toBe(false);
    expect(harness.peer.updatesFor("job-gone").map((u) => u.request.status)).toEqual(["IN_PROGRESS"]);
  });
});
