/**
 * The init integration, for real: the SysV script drives the compiled agent through
 * start-stop-daemon in a temporary root (start, status, respawn after a kill -9, stop, restart),
 * and systemd-analyze verifies the unit.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { compiledAgent } from "../helpers/executables.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

const script = join(REPO_ROOT, "packaging/sysv/iot-jobs-agent");
const unit = join(REPO_ROOT, "packaging/systemd/iot-jobs-agent.service");
const ssd = Bun.which("start-stop-daemon") ?? Bun.which("start-stop-daemon", { PATH: "/usr/sbin:/sbin" });
const analyze = Bun.which("systemd-analyze");
if (!ssd) console.warn("SKIPPED: the SysV script test needs start-stop-daemon (Debian: dpkg)");
if (!analyze) console.warn("SKIPPED: the unit check needs systemd-analyze (apt-get install -y systemd)");

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return false;
  }
}
const children = (pid: number): number[] =>
  Bun.spawnSync(["ps", "-o", "pid=", "--ppid", String(pid)])
    .stdout.toString()
    .split("\n")
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await Bun.sleep(50);
  }
}

describe.skipIf(!ssd)("SysV init script with start-stop-daemon", () => {
  test("start, status, respawn after the agent is killed, stop, restart; clear failures", async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const root = tempDir("sysv-root-");
    const handlers = tempDir("sysv-handlers-");
    const config = join(root, "agent.conf");
    writeFileSync(
      config,
      JSON.stringify({ endpoint: broker.url, "thing-name": "sysv-thing", jobs: { "handler-directory": handlers } }),
      { mode: 0o600 },
    );
    const pidfile = join(root, "agent.pid");
    const logFile = join(root, "agent.log");
    const defaults = join(root, "defaults");
    writeFileSync(
      defaults,
      [
        `DAEMON=${compiledAgent("linux-x64")}`,
        `CONFIG=${config}`,
        `STATE_DIR=${join(root, "state")}`,
        `LOG_FILE=${logFile}`,
        `PIDFILE=${pidfile}`,
        "RESPAWN_DELAY=1",
        "STOP_TIMEOUT=10",
      ].join("\n") + "\n",
    );
    const env = { ...process.env, IOT_JOBS_AGENT_DEFAULTS: defaults, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
    const run = (action: string) => {
      const r = Bun.spawnSync(["/bin/sh", script, action], { env, stdout: "pipe", stderr: "pipe" });
      return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
    };
    cleanups.push(() => run("stop"));

    expect(run("status").code).toBe(3);
    expect(run("start")).toMatchObject({ code: 0, out: expect.stringContaining("OK") });
    const supervisor = Number(readFileSync(pidfile, "utf8"));
    expect(run("status")).toMatchObject({ code: 0, out: expect.stringContaining(`running (pid ${supervisor})`) });
    await until("the agent to run", () => children(supervisor).length === 1);
    const first = children(supervisor)[0]!;
    await until(
      "the agent to connect",
      () => existsSync(logFile) && readFileSync(logFile, "utf8").includes('"msg":"Connected"'),
    );
    expect(run("start").out).toContain("already running");

    process.kill(first, "SIGKILL");
    await until("a new agent after the kill", () => children(supervisor).some((p) => p !== first && alive(p)));
    const second = children(supervisor)[0]!;
    // Let it get past start-up (a TERM before its handlers exist just ends it, without a log line).
    await until(
      "the new agent to connect",
      () => readFileSync(logFile, "utf8").split('"msg":"Connected"').length === 3,
    );

    expect(run("stop")).toMatchObject({ code: 0, out: expect.stringContaining("OK") });
    expect(alive(supervisor)).toBe(false);
    expect(alive(second)).toBe(false);
    expect(existsSync(pidfile)).toBe(false);
    expect(run("status").code).toBe(3);
    expect(readFileSync(logFile, "utf8")).toContain("Stopping; a running job stays IN_PROGRESS");

    expect(run("restart").code).toBe(0);
    const third = Number(readFileSync(pidfile, "utf8"));
    expect(alive(third)).toBe(true);
    expect(run("stop").code).toBe(0);
    expect(alive(third)).toBe(false);

    writeFileSync(
      defaults,
      readFileSync(defaults, "utf8").replace(`CONFIG=${config}`, `CONFIG=${join(root, "missing.conf")}`),
    );
    expect(run("start")).toMatchObject({ code: 1, out: expect.stringContaining("missing.conf is missing") });
  }, 90_000);
});

describe.skipIf(!ssd)("SysV init script and the config's log settings", () => {
  test("a config with logging.type file keeps writing its own log file (no flag overrides it)", async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const root = tempDir("sysv-root-");
    const configLog = join(root, "device-client.log");
    const config = join(root, "agent.conf");
    writeFileSync(
      config,
      JSON.stringify({
        endpoint: broker.url,
        "thing-name": "sysv-log",
        logging: { type: "file", file: configLog },
        jobs: { "handler-directory": tempDir() },
      }),
      { mode: 0o600 },
    );
    const logFile = join(root, "script-default.log");
    const defaults = join(root, "defaults");
    writeFileSync(
      defaults,
      [
        `DAEMON=${compiledAgent("linux-x64")}`,
        `CONFIG=${config}`,
        `STATE_DIR=${join(root, "state")}`,
        `LOG_FILE=${logFile}`,
        `PIDFILE=${join(root, "pid")}`,
        "RESPAWN_DELAY=1",
        "STOP_TIMEOUT=10",
      ].join("\n") + "\n",
    );
    const env = { ...process.env, IOT_JOBS_AGENT_DEFAULTS: defaults, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
    const run = (action: string) =>
      Bun.spawnSync(["/bin/sh", script, action], { env, stdout: "pipe", stderr: "pipe" }).exitCode;
    cleanups.push(() => run("stop"));
    expect(run("start")).toBe(0);
    await until(
      "the agent to connect",
      () => existsSync(configLog) && readFileSync(configLog, "utf8").includes('"msg":"Connected"'),
    );
    expect(run("stop")).toBe(0);
    expect(existsSync(logFile)).toBe(false);
  }, 60_000);
});

describe.skipIf(!analyze)("systemd unit", () => {
  const verify = (text: string) => {
    const dir = tempDir("unit-");
    const file = join(dir, "iot-jobs-agent.service");
    writeFileSync(file, text);
    const r = Bun.spawnSync([analyze!, "verify", "--man=no", file], { stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: (r.stdout.toString() + r.stderr.toString()).trim() };
  };
  const shipped = readFileSync(unit, "utf8");

  test("systemd-analyze verify: no error and no warning", () => {
    // The real executable path does not exist on this test machine; point it at the compiled agent.
    expect(verify(shipped.replace("/usr/bin/iot-jobs-agent", compiledAgent("linux-x64")))).toEqual({
      code: 0,
      out: "",
    });
  });

  test("the check is real: a misspelt key and a missing executable are reported", () => {
    expect(
      verify(
        shipped
          .replace("/usr/bin/iot-jobs-agent", compiledAgent("linux-x64"))
          .replace("KillMode=mixed", "KilMode=mixed"),
      ).out,
    ).toContain("Unknown key");
    expect(verify(shipped.replace("/usr/bin/iot-jobs-agent", "/nonexistent/iot-jobs-agent")).code).not.toBe(0);
  });

  test("the choices the docs promise: restart on failure, after network-online, mixed kill, no JIT-breaking hardening", () => {
    for (const line of [
      "Restart=on-failure",
      "After=network-online.target time-sync.target",
      "KillMode=mixed",
      "StateDirectory=iot-jobs-agent",
    ])
      expect(shipped).toContain(line);
    for (const setting of ["MemoryDenyWriteExecute=yes", "NoNewPrivileges=yes", "ProtectSystem="])
      expect(shipped).not.toContain(`\n${setting}`);
  });
});

const shellcheck = Bun.which("shellcheck");
test.skipIf(!shellcheck)(
  "the shipped shell scripts (SysV script, switch script, Debian maintainer scripts, Yocto ptest) are shellcheck-clean as POSIX sh",
  () => {
    const scripts = [
      script,
      join(REPO_ROOT, "packaging/switch/iot-jobs-agent-switch"),
      ...["postinst", "prerm", "postrm"].map((f) => join(REPO_ROOT, "packaging/debian", f)),
      join(REPO_ROOT, "yocto/meta-iot-jobs-agent/recipes-iot/iot-jobs-agent/files/run-ptest"),
    ];
    const r = Bun.spawnSync([shellcheck!, "-s", "sh", ...scripts], { stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  },
);
