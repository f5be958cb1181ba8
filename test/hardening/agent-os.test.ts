/**
 * Regression tests for the agent defects of issue 10 that touch the operating system: timers,
 * locks, reboots, pipes, signals, users, umask. One test (at least) per defect, named after it.
 * Real child processes throughout; time-dependent logic runs on a ManualClock.
 */
import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { validateCommand } from "../../src/cli/validate-command.ts";
import { connectionSettings } from "../../src/config/connection-settings.ts";
import { defaultSettings } from "../../src/config/load.ts";
import type { AgentConfig } from "../../src/config/schema.ts";
import { parseJobDocument } from "../../src/jobdoc/parse.ts";
import { escapeControls, prettyLine, silentLogger } from "../../src/log/logger.ts";
import { executionOf, runContextFor } from "../../src/runner/run-context.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { ExecutionRecord } from "../../src/state/execution-record.ts";
import { acquireInstanceLock } from "../../src/state/instance-lock.ts";
import { currentBootId, describeStep, killOrphanedStep, untilGone } from "../../src/state/orphan-steps.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent } from "../helpers/executables.ts";
import { spawnStep, STEP_KILL_GRACE_MS } from "../../src/runner/spawn-step.ts";
import { lookupUser, USER_LOOKUP_TIMEOUT_MS, UserLookupError } from "../../src/runner/user-lookup.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { groupMembers } from "../helpers/processes.ts";
import { commandStep, handlerStep, parsed, testRunContext } from "../helpers/run-context.ts";
import { REPO_ROOT, tempDir, writeHandler } from "../helpers/temp.ts";

const discard = { push: () => {}, end: () => {} };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

describe("redteam 01: step timeouts beyond the runtime's 32-bit timer", () => {
  test("redteam 01: a step-timeout-seconds of 3,000,000 s does not time the step out after 1 ms", async () => {
    // 2,147,484 s is the first value whose milliseconds overflow setTimeout's signed 32 bits.
    for (const stepTimeoutSeconds of [2_147_484, 3_000_000]) {
      const out = await runJob(
        parsed({ version: "1.0", steps: [commandStep("s", "sleep,0.3")] }),
        testRunContext(tempDir(), { stepTimeoutSeconds }),
      );
      expect(out.statusDetails.reason).toBe("Exited with status: 0");
    }
  });

  test("redteam 01: a huge deadline fires when (and only when) the clock reaches it", async () => {
    const clock = new ManualClock();
    let pid = 0;
    const running = spawnStep({
      argv: ["sleep", "30"],
      env: process.env,
      stdout: discard,
      stderr: discard,
      timeoutSeconds: 3_000_000,
      clock,
      onSpawn: (p) => (pid = p),
    });
    await waitUntil("the spawn", () => pid > 0);
    clock.advance(2_999_999_000);
    await Bun.sleep(50);
    expect(alive(pid)).toBe(true);
    clock.advance(1000); // the deadline: SIGTERM, which sleep obeys
    expect(await running).toEqual({ kind: "timed-out", seconds: 3_000_000 });
    expect(clock.pending()).toBe(0);
  });

  test("redteam 01: a step-timeout-seconds of 0 means no deadline", async () => {
    const clock = new ManualClock();
    let pid = 0;
    const running = spawnStep({
      argv: ["sh", "-c", "sleep 0.3"],
      env: process.env,
      stdout: discard,
      stderr: discard,
      timeoutSeconds: 0,
      clock,
      onSpawn: (p) => (pid = p),
    });
    await waitUntil("the spawn", () => pid > 0);
    expect(clock.pending()).toBe(0);
    clock.advance(10 * 365 * 86_400_000);
    expect(await running).toEqual({ kind: "exited", code: 0 });
  });
});

describe("redteam 17g: one kill grace for the agent and exec", () => {
  test("redteam 17g: exec's SIGTERM→SIGKILL grace is the agent's 2 s (one constant)", async () => {
    expect(STEP_KILL_GRACE_MS).toBe(2000);
    // The default grace (what `exec` and the agent both use now): SIGKILL exactly 2 s after SIGTERM.
    const clock = new ManualClock();
    let pid = 0;
    const ready = join(tempDir(), "ready");
    const script = `trap '' TERM; touch ${ready}; while :; do sleep 0.1; done`;
    const running = spawnStep({
      argv: ["sh", "-c", script],
      env: process.env,
      stdout: discard,
      stderr: discard,
      timeoutSeconds: 1,
      clock,
      onSpawn: (p) => (pid = p),
    });
    await waitUntil("the trap", () => existsSync(ready));
    clock.advance(1000); // deadline: SIGTERM, ignored
    clock.advance(STEP_KILL_GRACE_MS - 1);
    await Bun.sleep(200);
    expect(alive(pid)).toBe(true);
    clock.advance(1); // SIGKILL
    expect(await running).toEqual({ kind: "timed-out", seconds: 1 });
    expect(groupMembers(pid)).toEqual([]);
  });
});

describe("redteam 13: background processes of a step", () => {
  test("redteam 13: a process a step leaves in the background with its stdout is not killed by SIGPIPE", async () => {
    const dir = tempDir();
    const log = join(dir, "alive.log");
    // The careless way to start a daemon: it inherits the step's stdout and stderr.
    writeHandler(
      dir,
      "daemon.sh",
      `#!/bin/sh\n( trap 'echo SIGPIPE >> ${log}' PIPE; i=0; while [ $i -lt 30 ]; do echo "tick $i" || echo "write failed" >> ${log}; echo "tick $i" >&2; echo "alive $i" >> ${log}; i=$((i+1)); sleep 0.1; done ) &\necho started\n`,
    );
    const clock = new ManualClock();
    const run = runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [handlerStep("s", "daemon.sh")] }),
      testRunContext(dir, { clock }),
    );
    await waitUntil("the daemon's first tick", () => readOr(log).includes("alive 0"));
    await Bun.sleep(100);
    clock.advance(1000); // the drain time: the step ends while the daemon still writes
    const out = await run;
    expect(out.status).toBe("SUCCEEDED");
    expect(out.statusDetails.stdout).toStartWith("started\n");
    await waitUntil("the daemon's last tick", () => readOr(log).includes("alive 29"), 15_000);
    const lines = readFileSync(log, "utf8");
    expect(lines).not.toContain("SIGPIPE");
    expect(lines).not.toContain("write failed");
  });
});

describe("redteam 18: the steps' umask", () => {
  test("redteam 18: steps start with umask 022 whatever the agent's (the unit's UMask=0077)", async () => {
    const dir = tempDir();
    const previous = process.umask(0o077);
    try {
      const out = await runJob(
        parsed({
          version: "1.0",
          includeStdOut: true,
          steps: [commandStep("deploy", `sh,-c,umask; mkdir ${dir}/app && echo x > ${dir}/app/app.conf`)],
        }),
        testRunContext(dir),
      );
      expect(out.statusDetails.stdout).toBe("0022\n");
      expect(statSync(join(dir, "app")).mode & 0o777).toBe(0o755);
      expect(statSync(join(dir, "app/app.conf")).mode & 0o777).toBe(0o644);
      // The agent keeps its own.
      expect(process.umask()).toBe(0o077);
    } finally {
      process.umask(previous);
    }
  });
});

/** A process that takes the instance lock of `stateDir`, prints the outcome, and holds it a while. */
function lockContender(
  stateDir: string,
  holdMs: number,
): { proc: ReturnType<typeof Bun.spawn>; outcome: Promise<string> } {
  const script = `import { acquireInstanceLock } from ${JSON.stringify(join(REPO_ROOT, "src/state/instance-lock.ts"))};
const r = acquireInstanceLock(process.env.STATE_DIR, "t");
console.log(r.ok ? (r.degraded ? "degraded " + r.degraded : "locked") : "refused " + r.message);
await Bun.sleep(Number(process.env.HOLD_MS));`;
  const env = { ...process.env, STATE_DIR: stateDir, HOLD_MS: String(holdMs) };
  const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit", env });
  return { proc, outcome: new Response(proc.stdout as ReadableStream).text().then((t) => t.trim()) };
}

describe("redteam 02 + 09: the instance lock identifies its holder (flock)", () => {
  test("redteam 02: stale lock whose pid was reused does not stop the agent", async () => {
    const stateDir = tempDir();
    // What a power cut leaves: agent.lock naming a pid that now belongs to an unrelated process.
    const unrelated = Bun.spawn(["sleep", "60"]);
    try {
      writeFileSync(join(stateDir, "agent.lock"), `pi-1\n${unrelated.pid}\n`, { mode: 0o600 });
      const agent = AgentProcess.start({
        brokerUrl: "mqtt://127.0.0.1:1",
        thingName: "pi-1",
        handlerDirectory: tempDir(),
        stateDir,
      });
      try {
        await agent.waitForLog("Starting");
        expect(readFileSync(join(stateDir, "agent.lock"), "utf8")).toBe(`pi-1\n${agent.pid}\n`);
        expect(alive(unrelated.pid)).toBe(true);
        // A live agent still keeps a second one out.
        const second = lockContender(stateDir, 0);
        expect(await second.outcome).toStartWith(`refused Another agent (pid ${agent.pid}) is running`);
      } finally {
        expect(await agent.kill("SIGTERM")).toBe(0);
      }
      expect(existsSync(join(stateDir, "agent.lock"))).toBe(false);
    } finally {
      unrelated.kill("SIGKILL");
    }
  });

  test("redteam 02: the kernel frees the lock of a SIGKILLed holder, even when its step children live on", async () => {
    const stateDir = tempDir();
    const holder = Bun.spawn(
      [
        process.execPath,
        "-e",
        `import { acquireInstanceLock } from ${JSON.stringify(join(REPO_ROOT, "src/state/instance-lock.ts"))};
acquireInstanceLock(process.env.STATE_DIR, "t"); const c = Bun.spawn(["sleep", "60"], { detached: true }); console.log(c.pid); await Bun.sleep(60000);`,
      ],
      { stdout: "pipe", env: { ...process.env, STATE_DIR: stateDir } },
    );
    const reader = (holder.stdout as ReadableStream<Uint8Array>).getReader();
    const child = Number(new TextDecoder().decode((await reader.read()).value).trim());
    try {
      expect(acquireInstanceLock(stateDir, "t")).toMatchObject({ ok: false });
      holder.kill("SIGKILL");
      await holder.exited;
      expect(alive(child)).toBe(true); // a child of the holder does not keep the lock
      const lock = acquireInstanceLock(stateDir, "t");
      expect(lock).toMatchObject({ ok: true });
      expect(lock.ok && lock.degraded).toBeFalsy();
      if (lock.ok) lock.release();
    } finally {
      process.kill(child, "SIGKILL");
    }
  });

  test("redteam 09: two agents started together over a stale lock: exactly one runs", async () => {
    for (let trial = 0; trial < 4; trial++) {
      const stateDir = tempDir();
      writeFileSync(join(stateDir, "agent.lock"), "t\n999999\n", { mode: 0o600 });
      const contenders = Array.from({ length: 4 }, () => lockContender(stateDir, 800));
      const outcomes = await Promise.all(contenders.map((c) => c.outcome));
      expect(outcomes.filter((o) => o === "locked")).toHaveLength(1);
      expect(outcomes.filter((o) => o.startsWith("refused Another agent"))).toHaveLength(3);
      await Promise.all(contenders.map((c) => c.proc.exited));
    }
  }, 30_000);

  test("redteam 09: an agent releasing its lock while another starts: never two holders", () => {
    const stateDir = tempDir();
    for (let i = 0; i < 200; i++) {
      const first = acquireInstanceLock(stateDir, "t");
      expect(first).toMatchObject({ ok: true });
      expect(acquireInstanceLock(stateDir, "t")).toMatchObject({ ok: false });
      if (first.ok) first.release();
    }
    // Unwritable directory: the agent runs degraded, as before.
    const notADir = join(tempDir(), "file");
    writeFileSync(notADir, "");
    expect(acquireInstanceLock(join(notADir, "state"), "t")).toMatchObject({
      ok: true,
      degraded: expect.stringContaining("Cannot create state directory"),
    });
  });
});

describe("redteam 05: orphan records carry the boot id", () => {
  /** A session and group leader with two workers, as systemd starts a service. */
  async function sessionWithWorkers(): Promise<{ leader: number; members: () => number[]; kill: () => void }> {
    const proc = Bun.spawn(["sh", "-c", "sleep 60 & sleep 60 & wait"], { detached: true });
    await waitUntil("the workers", () => groupMembers(proc.pid).length === 3);
    return {
      leader: proc.pid,
      members: () => groupMembers(proc.pid),
      kill: () => {
        try {
          process.kill(-proc.pid, "SIGKILL");
        } catch {
          // gone
        }
      },
    };
  }

  test("redteam 05: after a reboot the agent does not kill unrelated processes that reuse the old step's pid", async () => {
    const session = await sessionWithWorkers();
    try {
      // The record as the previous boot wrote it: same pid and start time (what a pid reuse after
      // a reboot can give), another boot id.
      const recorded = describeStep(session.leader, "11111111-1111-1111-1111-111111111111")!;
      expect(recorded.bootId).toBe("11111111-1111-1111-1111-111111111111");
      expect(killOrphanedStep(recorded, "22222222-2222-2222-2222-222222222222")).toEqual([]);
      // A record written before boot ids were recorded proves nothing either.
      expect(
        killOrphanedStep({ pid: recorded.pid, startTime: recorded.startTime }, "11111111-1111-1111-1111-111111111111"),
      ).toEqual([]);
      // An unknown current boot: nothing is killed.
      expect(killOrphanedStep(recorded, undefined)).toEqual([]);
      await Bun.sleep(100);
      const members = session.members();
      expect(members).toHaveLength(3);
      // The same boot: the orphan is killed, as before (a SIGKILLed agent's step).
      expect(killOrphanedStep(recorded, "11111111-1111-1111-1111-111111111111").sort()).toEqual(members.sort());
      await waitUntil("the group to die", () => session.members().length === 0);
    } finally {
      session.kill();
    }
  });

  test("a killed orphan is waited for: once untilGone says so, its lock is free for the re-run (fuzzer finding)", async () => {
    const lock = join(tempDir(), "step.lock");
    const proc = Bun.spawn(["sh", "-c", `exec 9>"${lock}"; flock 9; sleep 60 & sleep 60 & wait`], { detached: true });
    try {
      await waitUntil("the workers", () => groupMembers(proc.pid).length === 3);
      const recorded = describeStep(proc.pid, "11111111-1111-1111-1111-111111111111")!;
      // Not killed: still there when the wait ends.
      expect(await untilGone([proc.pid], 50)).toBe(false);
      const killed = killOrphanedStep(recorded, "11111111-1111-1111-1111-111111111111");
      expect(killed).toHaveLength(3);
      expect(await untilGone(killed, 5000)).toBe(true);
      // No waiting here: the re-run's non-blocking lock succeeds at once.
      expect(Bun.spawnSync(["flock", "-n", lock, "true"]).exitCode).toBe(0);
    } finally {
      try {
        process.kill(-proc.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  test("redteam 05: in the same boot, a pid reused by a new session (another start time) is never killed", async () => {
    // The recorded step ended while the agent was down; its pid now leads an unrelated `setsid`
    // session (same pid, same session id, later start time): nothing of the old step is left.
    const session = await sessionWithWorkers();
    try {
      const now = describeStep(session.leader, "11111111-1111-1111-1111-111111111111")!;
      const recorded = { ...now, startTime: now.startTime - 1 };
      expect(killOrphanedStep(recorded, "11111111-1111-1111-1111-111111111111")).toEqual([]);
      await Bun.sleep(100);
      expect(session.members()).toHaveLength(3);
    } finally {
      session.kill();
    }
  });

  test("redteam 05: the execution record keeps the step's boot id across a restart; the real boot id is read", () => {
    const bootId = currentBootId();
    expect(bootId).toMatch(/^[0-9a-f-]{36}$/);
    const fake = join(tempDir(), "boot_id");
    writeFileSync(fake, "33333333-3333-3333-3333-333333333333\n");
    expect(currentBootId(fake)).toBe("33333333-3333-3333-3333-333333333333");
    expect(currentBootId(join(tempDir(), "missing"))).toBeUndefined();
    const dir = tempDir();
    const record = new ExecutionRecord(dir);
    record.recordStart("job-1", 1);
    expect(record.recordStep(describeStep(process.pid)!)).toBeUndefined();
    expect(new ExecutionRecord(dir).read()!.step).toEqual({
      pid: process.pid,
      startTime: expect.any(Number),
      bootId: bootId!,
    });
  });
});

describe("redteam 14: log rotation and stray signals", () => {
  test("redteam 14: SIGHUP reopens the log file after rotation; SIGHUP, SIGUSR1, SIGUSR2 and SIGPIPE do not kill the agent", async () => {
    const stateDir = tempDir();
    const logFile = join(tempDir(), "agent.log");
    const agent = AgentProcess.start({
      brokerUrl: "mqtt://127.0.0.1:1",
      thingName: "pi-rot",
      handlerDirectory: tempDir(),
      stateDir,
      extraArgs: ["--log-type", "file", "--log-file", logFile],
    });
    try {
      await waitUntil("the first log line", () => readOr(logFile).includes("Starting"));
      // logrotate's default (create) mode: move the file away, create a new one, signal.
      renameSync(logFile, `${logFile}.1`);
      writeFileSync(logFile, "", { mode: 0o600 });
      agent.proc.kill("SIGHUP");
      await waitUntil("a line in the new file", () => readOr(logFile).includes("Log file reopened"));
      expect(readOr(`${logFile}.1`)).not.toContain("Log file reopened");
      // copytruncate: the file is cut to 0 under the agent; appends land at the new end (no hole of NULs).
      truncateSync(logFile, 0);
      agent.proc.kill("SIGHUP");
      await waitUntil("a line after the truncation", () => readOr(logFile).includes("Log file reopened"));
      expect(readOr(logFile).startsWith("{")).toBe(true);
      for (const signal of ["SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGHUP"] as const) agent.proc.kill(signal);
      await Bun.sleep(300);
      expect(agent.proc.exitCode).toBeNull();
      expect(existsSync(join(stateDir, "agent.lock"))).toBe(true);
    } finally {
      expect(await agent.kill("SIGTERM")).toBe(0);
    }
    expect(existsSync(join(stateDir, "agent.lock"))).toBe(false);
  }, 30_000);
});

describe("redteam 14: a log file that cannot be reopened", () => {
  test("redteam 14: SIGHUP after the log directory was removed recreates it; a reopen that fails never stops the agent", async () => {
    const stateDir = tempDir();
    const logDir = join(tempDir(), "logs");
    const logFile = join(logDir, "agent.log");
    const agent = AgentProcess.start({
      brokerUrl: "mqtt://127.0.0.1:1",
      thingName: "pi-rot2",
      handlerDirectory: tempDir(),
      stateDir,
      extraArgs: ["--log-type", "file", "--log-file", logFile],
    });
    try {
      await waitUntil("the first log line", () => readOr(logFile).includes("Starting"));
      rmSync(logDir, { recursive: true, force: true });
      agent.proc.kill("SIGHUP");
      await waitUntil("the recreated file", () => readOr(logFile).includes("Log file reopened"));
      // Now a directory that cannot be made (its parent is a file): the old file goes on.
      rmSync(logDir, { recursive: true, force: true });
      writeFileSync(logDir, "a file where the directory was");
      agent.proc.kill("SIGHUP");
      await Bun.sleep(500);
      expect(agent.proc.exitCode).toBeNull();
    } finally {
      expect(await agent.kill("SIGTERM")).toBe(0);
    }
  }, 30_000);
});

describe("redteam 17e: the readable log format escapes control characters", () => {
  test("redteam 17e: a step name with terminal escapes is printed escaped on a TTY", () => {
    const name = "x\u001b]0;pwned\u0007\u001b[2J\u001b[31mRED\u009b2J\u202eevil";
    const line = prettyLine(
      `${JSON.stringify({ time: "2026-01-01T00:00:00.000Z", level: "INFO", msg: `Step ${name}`, step: name, [`k\u001b`]: 1 })}\n`,
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may reach the terminal
    expect(line).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
    expect(line).toContain("Step x\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mRED\\x9b2J\\u202eevil");
    expect(line).toContain("step=x\\x1b]0;");
    expect(line.endsWith("\n")).toBe(true);
    expect(line.split("\n")).toHaveLength(2);
    expect(escapeControls("plain ünïcode, tab\there")).toBe("plain ünïcode, tab\\x09here");
  });
});

const logrotate = Bun.which("logrotate", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });
const startStopDaemon = Bun.which("start-stop-daemon", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });
if (!logrotate || !startStopDaemon)
  console.warn("SKIPPED: the logrotate test needs logrotate and start-stop-daemon (apt-get install -y logrotate)");

describe.skipIf(!logrotate || !startStopDaemon)("item 4: the shipped logrotate snippet", () => {
  test("redteam 14: logrotate with the shipped snippet rotates the SysV log; the agent writes on in the new file", async () => {
    const root = tempDir("logrotate-root-");
    const logFile = join(root, "iot-jobs-agent.log");
    const config = join(root, "agent.conf");
    writeFileSync(
      config,
      JSON.stringify({
        endpoint: "mqtt://127.0.0.1:1",
        "thing-name": "pi-rot",
        jobs: { "handler-directory": tempDir() },
      }),
      { mode: 0o600 },
    );
    // The agent from source; `exec` keeps the supervisor's child the agent itself.
    const daemon = writeHandler(
      root,
      "agent",
      `#!/bin/sh\nexec ${process.execPath} ${join(REPO_ROOT, "src/main.ts")} "$@"\n`,
    );
    const defaults = join(root, "defaults");
    writeFileSync(
      defaults,
      [
        `DAEMON=${daemon}`,
        `CONFIG=${config}`,
        `STATE_DIR=${join(root, "state")}`,
        `LOG_FILE=${logFile}`,
        `PIDFILE=${join(root, "pid")}`,
        "RESPAWN_DELAY=1",
        "STOP_TIMEOUT=10",
      ].join("\n") + "\n",
    );
    const initScript = join(REPO_ROOT, "packaging/sysv/iot-jobs-agent");
    const env = { ...process.env, IOT_JOBS_AGENT_DEFAULTS: defaults, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
    const init = (action: string) =>
      Bun.spawnSync(["/bin/sh", initScript, action], { env, stdout: "pipe", stderr: "pipe" });
    // The shipped snippet, pointed at this root's log and init script.
    const snippet = readFileSync(join(REPO_ROOT, "packaging/logrotate/iot-jobs-agent"), "utf8")
      .replace(/^\/var\/log\/iot-jobs-agent\.log \{$/m, `${logFile} {`)
      .replace("create 0600 root root", "create 0600")
      .replaceAll("/etc/init.d/iot-jobs-agent", initScript);
    const rotateConf = join(root, "logrotate.conf");
    writeFileSync(rotateConf, snippet, { mode: 0o644 });
    expect(init("start").exitCode).toBe(0);
    try {
      await waitUntil("the agent's first lines", () => readOr(logFile).includes("Starting"), 20_000);
      const rotate = Bun.spawnSync([logrotate!, "-f", "-s", join(root, "logrotate.state"), rotateConf], {
        env,
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(rotate.stderr.toString()).toBe("");
      expect(rotate.exitCode).toBe(0);
      expect(readOr(`${logFile}.1`)).toContain("Starting");
      await waitUntil("the reopened file", () => readOr(logFile).includes("Log file reopened"));
      expect(readOr(`${logFile}.1`)).not.toContain("Log file reopened");
    } finally {
      expect(init("stop").exitCode).toBe(0);
    }
    expect(readOr(logFile)).toContain("Stopping; a running job stays IN_PROGRESS");
  }, 60_000);
});

const isRoot = process.geteuid!() === 0;
const useradd = Bun.which("useradd", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });
const userdel = Bun.which("userdel", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });

/** A PATH without sudo (a minimal Yocto/Buildroot image): links to the few tools a step needs. */
function pathWithoutSudo(): string {
  const dir = tempDir();
  chmodSync(dir, 0o755); // the step's user looks its programs up there too
  for (const tool of ["sh", "id", "grep", "ls", "getent", "cat"]) {
    const real = Bun.which(tool);
    if (real) Bun.spawnSync(["ln", "-s", real, join(dir, tool)]);
  }
  return dir;
}

describe("redteam 16: runAsUser without sudo", () => {
  test.skipIf(!isRoot || !useradd || !userdel)(
    "redteam 16: runAsUser without sudo keeps the user's supplementary groups and sets HOME, USER, LOGNAME, SHELL",
    async () => {
      const name = `iotjt${process.pid % 100000}`;
      const home = join(tempDir(), "home");
      const made = Bun.spawnSync([useradd!, "-M", "-d", home, "-s", "/bin/sh", "-G", "video,adm", name], {
        stderr: "pipe",
      });
      if (made.exitCode !== 0) throw new Error(`useradd: ${made.stderr.toString()}`);
      try {
        const noSudo = pathWithoutSudo();
        const script =
          'id -G; echo "HOME=$HOME USER=$USER LOGNAME=$LOGNAME SHELL=$SHELL"; grep -E "^Sig(Blk|Ign)" /proc/self/status; ls /proc/self/fd';
        const out = await runJob(
          parsed({
            version: "1.0",
            includeStdOut: true,
            steps: [commandStep("as-user", `sh,-c,${script.replaceAll(",", "\\,")}`, { runAsUser: name })],
          }),
          testRunContext(tempDir(), {
            pathEnv: noSudo,
            env: { ...process.env, PATH: noSudo, HOME: "/root", USER: "root", LOGNAME: "root" },
          }),
        );
        expect(out.statusDetails).toMatchObject({ reason: "Exited with status: 0" });
        const [groups, envLine, sigBlk, sigIgn, ...fds] = out.statusDetails.stdout!.trim().split("\n");
        const uid = Number(Bun.spawnSync(["id", "-u", name]).stdout.toString());
        const gid = Number(Bun.spawnSync(["id", "-g", name]).stdout.toString());
        expect(
          groups!
            .split(" ")
            .map(Number)
            .sort((a, b) => a - b),
        ).toEqual([4, 44, gid].sort((a, b) => a - b));
        expect(envLine).toBe(`HOME=${home} USER=${name} LOGNAME=${name} SHELL=/bin/sh`);
        // Still a clean start: no blocked or ignored signals, only fds 0-2 (+ the one ls opens).
        expect(sigBlk).toBe("SigBlk:\t0000000000000000");
        expect(sigIgn).toBe("SigIgn:\t0000000000000000");
        expect(fds.map(Number).filter((fd) => fd > 3)).toEqual([]);
        // And really that uid.
        const who = await runJob(
          parsed({ version: "1.0", includeStdOut: true, steps: [commandStep("who", "id,-u", { runAsUser: name })] }),
          testRunContext(tempDir(), { pathEnv: noSudo, env: { ...process.env, PATH: noSudo } }),
        );
        expect(who.statusDetails.stdout).toBe(`${uid}\n`);
      } finally {
        Bun.spawnSync([userdel!, name]);
      }
    },
  );
});

describe("redteam 16: the compiled executable", () => {
  test.skipIf(!isRoot)(
    "redteam 16: the compiled agent runs a runAsUser step without sudo through its own __run-as mode",
    async () => {
      const agent = compiledAgent("linux-x64");
      const noSudo = pathWithoutSudo();
      const doc = join(tempDir(), "job.json");
      writeFileSync(
        doc,
        JSON.stringify({
          version: "1.0",
          includeStdOut: true,
          steps: [commandStep("s", "sh,-c,id -u; echo $HOME $USER", { runAsUser: "nobody" })],
        }),
      );
      const run = Bun.spawnSync([agent, "exec", doc], {
        env: { PATH: noSudo, HOME: "/root" },
        cwd: tempDir(),
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(JSON.parse(run.stdout.toString())).toEqual({
        status: "SUCCEEDED",
        statusDetails: { reason: "Exited with status: 0", stdout: "65534\n/nonexistent nobody\n" },
      });
    },
    120_000,
  );
});

describe("redteam 17d: numeric runAsUser", () => {
  test("redteam 17d: a numeric runAsUser is refused the same way with and without sudo", async () => {
    const withSudo = tempDir();
    writeHandler(withSudo, "sudo", "#!/bin/sh\nexit 0\n");
    for (const pathEnv of [withSudo, pathWithoutSudo()]) {
      const out = await runJob(
        parsed({ version: "1.0", steps: [commandStep("s", "id", { runAsUser: "65534" })] }),
        testRunContext(tempDir(), { pathEnv }),
      );
      expect(out.status).toBe("FAILED");
      expect(out.statusDetails.reason).toBe('runAsUser "65534" is a number; give the user\'s name (sudo takes names)');
    }
    // The same for a handler's runAsUser.
    const dir = tempDir();
    writeHandler(dir, "h.sh", "#!/bin/sh\necho ran\n");
    const out = await runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [handlerStep("h", "h.sh", [], { runAsUser: "0" })] }),
      testRunContext(dir),
    );
    expect(out.statusDetails).toEqual({
      reason: 'runAsUser "0" is a number; give the user\'s name (sudo takes names)',
    });
  });
});

describe("redteam 19: the user lookup does not block the event loop", () => {
  /** A user database that does not answer: getent and id that sleep, as with an unreachable LDAP server. */
  function slowNss(seconds: number): { pathEnv: string; started: string } {
    const dir = tempDir();
    const started = join(dir, "started");
    for (const tool of ["getent", "id"])
      writeHandler(dir, tool, `#!/bin/sh\necho $$ >> ${started}\nsleep ${seconds}\nexec ${Bun.which(tool)} "$@"\n`);
    return { pathEnv: `${dir}:${process.env.PATH}`, started };
  }

  test("redteam 19: the user lookup blocks nothing while NSS is slow, and gives up after its timeout", async () => {
    const nss = slowNss(30);
    const clock = new ManualClock();
    const t0 = Date.now();
    const lookup = lookupUser("nobody", { pathEnv: nss.pathEnv, clock });
    // The event loop turns while the lookup waits: a 20 ms timer fires in time.
    const ticked = await new Promise<number>((resolve) => setTimeout(() => resolve(Date.now() - t0), 20));
    expect(ticked).toBeLessThan(1000);
    await waitUntil("the slow getent", () => readOr(nss.started) !== "");
    clock.advance(USER_LOOKUP_TIMEOUT_MS);
    const error = await lookup.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserLookupError);
    expect((error as Error).message).toBe(
      'Looking up user "nobody" took longer than 15 s (a slow user database: NSS, LDAP?)',
    );
    // The stand-in and its sleep are gone (its own process group was killed).
    const pid = Number(readOr(nss.started).trim());
    await waitUntil("the lookup's process group to die", () => groupMembers(pid).length === 0);
  });

  test("redteam 19: a step waiting for a slow user lookup is canceled at once (SIGTERM is not held up)", async () => {
    const nss = slowNss(30);
    const abort = new AbortController();
    const running = runJob(
      parsed({ version: "1.0", steps: [commandStep("s", "id", { runAsUser: "nobody" })] }),
      testRunContext(tempDir(), { pathEnv: nss.pathEnv, signal: abort.signal }),
    );
    await waitUntil("the slow getent", () => readOr(nss.started) !== "");
    const t0 = Date.now();
    abort.abort("shutdown");
    const out = await running;
    expect(Date.now() - t0).toBeLessThan(500);
    expect(out.status).toBe("CANCELED");
    const pid = Number(readOr(nss.started).trim());
    await waitUntil("the lookup's process group to die", () => groupMembers(pid).length === 0);
  });

  test("redteam 19: a real lookup answers uid, gid, groups, home and shell", async () => {
    expect(await lookupUser("root", { pathEnv: process.env.PATH! })).toMatchObject({
      name: "root",
      uid: 0,
      gid: 0,
      home: "/root",
      groups: expect.arrayContaining([0]),
    });
    expect(await lookupUser("no-such-user-here", { pathEnv: process.env.PATH! })).toBeUndefined();
    // Without getent (musl images): /etc/passwd.
    const noGetent = tempDir();
    for (const tool of ["id"]) Bun.spawnSync(["ln", "-s", Bun.which(tool)!, join(noGetent, tool)]);
    expect(await lookupUser("root", { pathEnv: noGetent })).toMatchObject({
      name: "root",
      uid: 0,
      gid: 0,
      home: "/root",
    });
  });
});

describe("redteam 17a-c, f: minor defects", () => {
  test("redteam 17a: validate refuses a runCommand whose first word is empty", () => {
    const doc = { version: "1.0", steps: [commandStep("s", " ,echo,hi")] };
    const parsedDoc = parseJobDocument(doc);
    expect(parsedDoc.ok).toBe(false);
    if (!parsedDoc.ok)
      expect(parsedDoc.issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
        "steps[0].action.input.command: the first word (the program) must not be empty",
      ]);
    const file = join(tempDir(), "empty-first-word.json");
    writeFileSync(file, JSON.stringify(doc));
    const lines: string[] = [];
    expect(validateCommand([file], (l) => lines.push(l))).toBe(1);
    expect(lines[0]).toContain("the first word (the program) must not be empty");
    // Still fine: an empty word later, escaped commas, leading blanks around the program.
    for (const command of ["echo, ,hi", "echo,a\\,b", "  echo  ,hi"])
      expect(parseJobDocument({ version: "1.0", steps: [commandStep("s", command)] }).ok).toBe(true);
  });

  test("redteam 17b: --export-default-settings into a missing directory: a clear error, no stack trace", () => {
    const target = join(tempDir(), "missing", "dir", "settings.json");
    const run = Bun.spawnSync([process.execPath, join(REPO_ROOT, "src/main.ts"), "--export-default-settings", target], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr.toString()).toBe(
      `iot-jobs-agent: cannot write default settings to ${target}: its directory does not exist\n`,
    );
    // And where it can write, it does.
    const ok = join(tempDir(), "settings.json");
    expect(
      Bun.spawnSync([process.execPath, join(REPO_ROOT, "src/main.ts"), "--export-default-settings", ok]).exitCode,
    ).toBe(0);
    expect(JSON.parse(readFileSync(ok, "utf8"))).toEqual(defaultSettings());
  });

  test("redteam 17c: a missing --cert file gets a hint that fits (not chmod)", () => {
    const dir = tempDir();
    const key = join(dir, "key.pem");
    writeFileSync(key, "k", { mode: 0o600 });
    const config = {
      endpoint: "abc-ats.iot.eu-west-1.amazonaws.com",
      thingName: "t",
      cert: join(dir, "missing.pem"),
      key,
      rootCa: undefined,
    } as Partial<AgentConfig> as AgentConfig;
    const result = connectionSettings(config, process.geteuid!());
    expect(result).toEqual({
      ok: false,
      message: `Certificate ${join(dir, "missing.pem")} does not exist; check the path (--cert, --key, --root-ca or the config file), or copy the file there`,
    });
    // A directory in place of the file.
    expect(connectionSettings({ ...config, cert: dir }, process.geteuid!())).toMatchObject({
      ok: false,
      message: `Certificate ${dir} is not a file; give the path of the file itself`,
    });
  });

  test("redteam 17f: a handler's $0 is its real path when no one else can swap the directory (recordable after the step)", async () => {
    const dir = tempDir();
    const record = join(tempDir(), "recorded");
    writeHandler(dir, "reexec.sh", `#!/bin/sh\necho "$0"\necho "$0" > ${record}\n`);
    const out = await runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [handlerStep("s", "reexec.sh")] }),
      testRunContext(dir),
    );
    expect(out.statusDetails.stdout).toBe(`${join(dir, "reexec.sh")}\n`);
    // What the handler recorded still names it after the step (cron, a unit, a post-reboot resume).
    const recorded = readFileSync(record, "utf8").trim();
    expect(Bun.spawnSync([recorded]).stdout.toString()).toBe(`${recorded}\n`);
  });
});

describe("redteam 07: steps know their job execution", () => {
  test("redteam 07: the agent gives steps IOT_JOBS_JOB_ID and IOT_JOBS_EXECUTION_NUMBER (reboot.sh ties its lock to them); exec does not", async () => {
    const config = {
      jobs: {
        handlerDirectory: tempDir(),
        stepTimeoutSeconds: 0,
        signing: { trustedCertificates: undefined, required: false },
      },
    } as unknown as AgentConfig;
    const jobLog = silentLogger().child({ jobId: "job-7", executionNumber: 3 });
    expect(executionOf(jobLog)).toEqual({ jobId: "job-7", executionNumber: 3 });
    const doc = parsed({
      version: "1.0",
      includeStdOut: true,
      steps: [commandStep("env", "sh,-c,echo ${IOT_JOBS_JOB_ID-unset} ${IOT_JOBS_EXECUTION_NUMBER-unset}")],
    });
    const agentRun = await runJob(doc, runContextFor(config, jobLog, undefined, executionOf(jobLog)));
    expect(agentRun.statusDetails.stdout).toBe("job-7 3\n");
    const execRun = await runJob(doc, runContextFor(config, silentLogger()));
    expect(execRun.statusDetails.stdout).toBe("unset unset\n");
  });
});
