import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { jobsHarness } from "../helpers/jobs-harness.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const harness = jobsHarness("restart-thing");
const { newThing, startAgent } = harness;

function countingHandlers(): { dir: string; log: string } {
  const dir = tempDir("handlers-");
  const log = join(tempDir(), "runs");
  // $2: seconds to sleep. Each start is logged, so re-runs can be counted.
  // Ignores SIGTERM, so stopping the agent has to escalate to SIGKILL.
  writeHandler(dir, "slow.sh", `#!/bin/sh\ntrap '' TERM\necho "start $$" >> ${log}\nsleep "$2"\necho finished\n`);
  return { dir, log };
}

const slowDoc = (seconds: number) => ({
  version: "1.0",
  includeStdOut: true,
  steps: [
    {
      action: {
        name: "slow",
        type: "runHandler",
        input: { handler: "slow.sh", args: [String(seconds)], path: "default" },
      },
    },
  ],
});

const runs = (log: string) => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").length : 0);

describe("the agent survives restarts [AGENT-restart]", () => {
  test("killed with SIGKILL mid-step and restarted: the job is run again from step 1 and reported", async () => {
    const thing = newThing();
    const { dir, log } = countingHandlers();
    const first = startAgent(thing, dir);
    harness.peer.queueJob(thing, "job-crash", slowDoc(1));
    await harness.peer.waitFor(() => runs(log) === 1, 10_000, "the first run");
    await first.kill("SIGKILL");
    startAgent(thing, dir, { stateDir: first.stateDir });
    const done = await harness.peer.waitForStatus(thing, "job-crash", "SUCCEEDED");
    expect(runs(log)).toBe(2);
    expect(done.statusDetails.stdout).toBe("finished\n");
  });

  test("regression (found by the fault suite): the step a SIGKILLed agent left running is killed before the re-run, never runs alongside it", async () => {
    const thing = newThing();
    const dir = tempDir("handlers-");
    const log = join(tempDir(), "runs");
    const lock = join(tempDir(), "lock");
    // Holds an exclusive lock for its whole run: a second copy running at the same time fails.
    writeHandler(
      dir,
      "exclusive.sh",
      `#!/bin/sh
exec 9>${lock}
flock -n 9 || { echo "ran concurrently" >&2; exit 42; }
echo "start $$" >> ${log}
sleep "$2"
echo done
`,
    );
    const first = startAgent(thing, dir);
    harness.peer.queueJob(thing, "job-orphan", {
      version: "1.0",
      includeStdOut: true,
      steps: [
        { action: { name: "x", type: "runHandler", input: { handler: "exclusive.sh", args: ["2"], path: "default" } } },
      ],
    });
    await harness.peer.waitFor(() => runs(log) === 1, 10_000, "the first run");
    const orphan = Number(readFileSync(log, "utf8").split(" ")[1]);
    await first.kill("SIGKILL");
    const second = startAgent(thing, dir, { stateDir: first.stateDir });
    const done = await harness.peer.waitForStatus(thing, "job-orphan", "SUCCEEDED");
    expect(done.statusDetails.stdout).toBe("done\n");
    expect(runs(log)).toBe(2);
    let orphanAlive = true;
    try {
      process.kill(orphan, 0);
    } catch {
      orphanAlive = false;
    }
    expect(orphanAlive).toBe(false);
    expect(second.lines.some((l) => l.includes("Killed the step processes a previous agent left running"))).toBe(true);
  });

  test("regression (found by the fault suite): an unusable state directory does not stop the agent; it runs jobs and says so", async () => {
    const thing = newThing();
    const { dir } = countingHandlers();
    const notADirectory = join(tempDir(), "a-file");
    require("node:fs").writeFileSync(notADirectory, "");
    const agent = startAgent(thing, dir, { stateDir: join(notADirectory, "state") });
    harness.peer.queueJob(thing, "job-no-state", slowDoc(0));
    const done = await harness.peer.waitForStatus(thing, "job-no-state", "SUCCEEDED");
    expect(done.statusDetails.stdout).toBe("finished\n");
    expect(agent.lines.some((l) => l.includes("State directory unusable"))).toBe(true);
    expect(agent.lines.some((l) => l.includes("Cannot save local state"))).toBe(true);
  });

  test("a job that kills the agent every time is FAILED after the configured re-runs", async () => {
    const thing = newThing();
    const dir = tempDir("handlers-");
    const log = join(tempDir(), "runs");
    writeHandler(dir, "kill-agent.sh", `#!/bin/sh\necho run >> ${log}\nkill -9 $PPID\nsleep 5\n`);
    const stateDir = tempDir("state-");
    harness.peer.queueJob(thing, "job-killer", {
      version: "1.0",
      steps: [{ action: { name: "k", type: "runHandler", input: { handler: "kill-agent.sh", path: "default" } } }],
    });
    // Restart the agent whenever it dies, as systemd would, until the job is terminal.
    for (let i = 0; i < 6 && harness.peer.execution(thing, "job-killer")!.status !== "FAILED"; i++) {
      const agent = startAgent(thing, dir, { stateDir, maxReruns: 2 });
      await Promise.race([agent.proc.exited, harness.peer.waitForStatus(thing, "job-killer", "FAILED", 15_000)]);
    }
    const done = await harness.peer.waitForStatus(thing, "job-killer", "FAILED", 15_000);
    expect(runs(log)).toBe(3); // the first run and 2 re-runs
    expect(done.statusDetails.reason).toBe(
      "The agent stopped 3 times while running this execution; not running it again",
    );
  });

  test("SIGTERM: exits within 2 s, ends the step, reports nothing, and the job stays IN_PROGRESS", async () => {
    const thing = newThing();
    const { dir, log } = countingHandlers();
    const agent = startAgent(thing, dir);
    harness.peer.queueJob(thing, "job-term", slowDoc(30));
    await harness.peer.waitFor(() => runs(log) === 1, 10_000, "the run");
    const childPid = Number(readFileSync(log, "utf8").trim().split(" ")[1]);
    const t0 = performance.now();
    const code = await agent.kill("SIGTERM");
    const elapsed = performance.now() - t0;
    expect(code).toBe(0);
    expect(elapsed).toBeLessThan(2000);
    expect(harness.peer.execution(thing, "job-term")!.status).toBe("IN_PROGRESS");
    expect(harness.peer.updatesFor("job-term").map((u) => u.request.status)).toEqual(["IN_PROGRESS"]);
    let childAlive = true;
    for (let i = 0; i < 40 && childAlive; i++) {
      try {
        process.kill(childPid, 0);
        await Bun.sleep(25);
      } catch {
        childAlive = false;
      }
    }
    expect(childAlive).toBe(false);
    // Back up: the job comes back through start-next and completes (as after a reboot).
    startAgent(thing, dir, { stateDir: agent.stateDir });
    harness.peer.execution(thing, "job-term")!.document = slowDoc(0);
    await harness.peer.waitForStatus(thing, "job-term", "SUCCEEDED");
  });

  test("redteam 19: SIGTERM during a slow user lookup (NSS/LDAP not answering) is handled at once", async () => {
    const thing = newThing();
    // getent and id that hang, first on the agent's PATH: the lookup for runAsUser waits on them.
    const slow = tempDir("slow-nss-");
    const started = join(slow, "started");
    for (const tool of ["getent", "id"])
      writeHandler(slow, tool, `#!/bin/sh\necho $$ >> ${started}\nsleep 20\nexec ${Bun.which(tool)} "$@"\n`);
    const agent = startAgent(thing, tempDir("handlers-"), {
      env: { ...process.env, PATH: `${slow}:${process.env.PATH}` },
    });
    harness.peer.queueJob(thing, "job-slow-nss", {
      version: "1.0",
      steps: [{ action: { name: "as-nobody", type: "runCommand", input: { command: "true" }, runAsUser: "nobody" } }],
    });
    await harness.peer.waitFor(() => existsSync(started), 10_000, "the user lookup");
    const t0 = performance.now();
    expect(await agent.kill("SIGTERM")).toBe(0);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(harness.peer.execution(thing, "job-slow-nss")!.status).toBe("IN_PROGRESS");
  });

  test("the broker restarts mid-step: the terminal update still arrives after reconnecting", async () => {
    const thing = newThing();
    const { dir, log } = countingHandlers();
    const agent = startAgent(thing, dir);
    harness.peer.queueJob(thing, "job-broker", slowDoc(2));
    await harness.peer.waitFor(() => runs(log) === 1, 10_000, "the run");
    await harness.broker.restart(300);
    await agent.waitForLog("Disconnected");
    const done = await harness.peer.waitForStatus(thing, "job-broker", "SUCCEEDED", 30_000);
    expect(done.statusDetails.stdout).toBe("finished\n");
    expect(runs(log)).toBe(1);
  }, 60_000);

  test("a second agent on the same state directory refuses to start", async () => {
    const thing = newThing();
    const { dir } = countingHandlers();
    const first = startAgent(thing, dir);
    await first.waitForLog("No pending jobs");
    const second = startAgent(thing, dir, { stateDir: first.stateDir });
    expect(await second.proc.exited).toBe(1);
    expect(second.lines.join("\n")).toContain("Another agent (pid");
  });
});
