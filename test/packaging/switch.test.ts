import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateJobCommand, CreateThingCommand, DescribeJobExecutionCommand } from "@aws-sdk/client-iot";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { REPO_ROOT, tempDir, writeHandler } from "../helpers/temp.ts";

// The swap from a Device Client installation, as docs/SWITCHING.md tells it: its config file, its unit,
// its handler directory with the public handlers' names; `iot-jobs-agent-switch`; then a job through the
// agent started the way the drop-in starts it; then the rollback. systemctl is a stand-in that records
// its arguments (no systemd in a test); everything else is real.

const SWITCH = join(REPO_ROOT, "packaging/switch/iot-jobs-agent-switch");

async function run(argv: string[], env: Record<string, string | undefined>) {
  const proc = Bun.spawn(argv, { env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { exitCode: await proc.exited, stdout, stderr };
}

describe("switching from the AWS IoT Device Client", () => {
  test("doctor passes, the Device Client is stopped and disabled, the agent runs its config; rollback in one command", async () => {
    const service = await startLocalService();
    const root = tempDir("dc-root-");
    try {
      const iot = iotClient(service.httpUrl);
      await iot.send(new CreateThingCommand({ thingName: "pi-swap" }));

      // The Device Client's layout, as its setup.sh leaves it.
      const dcDir = join(root, "etc/.aws-iot-device-client");
      const handlers = join(dcDir, "jobs");
      mkdirSync(handlers, { recursive: true });
      chmodSync(dcDir, 0o745);
      chmodSync(handlers, 0o700);
      for (const name of readdirSync(join(REPO_ROOT, "handlers"))) {
        copyFileSync(join(REPO_ROOT, "handlers", name), join(handlers, name));
        chmodSync(join(handlers, name), name.startsWith("_") ? 0o600 : 0o700);
      }
      const logFile = join(root, "var/log/aws-iot-device-client/aws-iot-device-client.log");
      mkdirSync(join(logFile, ".."), { recursive: true });
      const config = join(dcDir, "aws-iot-device-client.conf");
      writeFileSync(
        config,
        JSON.stringify({
          endpoint: service.mqttUrl,
          "thing-name": "pi-swap",
          logging: { level: "DEBUG", type: "file", file: logFile },
          jobs: { enabled: true, "handler-directory": handlers },
          tunneling: { enabled: false },
          "device-defender": { enabled: false },
        }),
      );
      chmodSync(config, 0o640);
      const systemd = join(root, "etc/systemd/system");
      mkdirSync(systemd, { recursive: true });
      writeFileSync(
        join(systemd, "aws-iot-device-client.service"),
        `[Unit]\nDescription=AWS IoT Device Client\n\n[Service]\nEnvironment="CONF_PATH=${config}"\nExecStart=/sbin/aws-iot-device-client --config-file $CONF_PATH\n`,
      );

      const bin = tempDir("dc-bin-");
      const calls = join(bin, "calls");
      writeHandler(bin, "systemctl", `#!/bin/sh\necho "systemctl $*" >> ${calls}\n`);
      const agent = writeHandler(
        bin,
        "iot-jobs-agent",
        `#!/bin/sh\nexec ${process.execPath} ${join(REPO_ROOT, "src/main.ts")} "$@"\n`,
      );
      const env = {
        ...process.env,
        SYSTEMCTL: join(bin, "systemctl"),
        SYSTEMD_DIR: systemd,
        AGENT: agent,
        STATE_DIR: join(root, "var/lib/iot-jobs-agent"),
      };

      // Asynchronous: the service answering doctor runs in this process.
      const switched = await run(["sh", SWITCH], env);
      expect(switched.stderr + switched.stdout).not.toContain("FAIL");
      expect(switched.stderr).toBe("");
      expect(switched.stdout).toContain("ok    jobs-request");
      expect(switched.exitCode).toBe(0);
      expect(readFileSync(calls, "utf8").trim().split("\n")).toEqual([
        "systemctl stop aws-iot-device-client.service",
        "systemctl disable aws-iot-device-client.service",
        "systemctl daemon-reload",
        "systemctl enable --now iot-jobs-agent.service",
      ]);
      const dropIn = readFileSync(join(systemd, "iot-jobs-agent.service.d/device-client-layout.conf"), "utf8");
      const execStart = dropIn.split("\n").filter((l) => l.startsWith("ExecStart="));
      expect(execStart[0]).toBe("ExecStart=");

      // systemd starting the unit: the drop-in's command line, the Device Client's config.
      // systemd's own word splitting: double quotes keep a path with spaces one argument.
      const argv = [...execStart[1]!.slice("ExecStart=".length).matchAll(/"([^"]*)"|(\S+)/g)].map(
        (m) => m[1] ?? m[2] ?? "",
      );
      expect(argv).toEqual([agent, "--config-file", config, "--state-dir", env.STATE_DIR]);
      const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
      try {
        await iot.send(
          new CreateJobCommand({
            jobId: "after-swap",
            targets: [thingArn("pi-swap")],
            document: JSON.stringify({
              version: "1.0",
              steps: [
                {
                  action: {
                    name: "Verify",
                    type: "runHandler",
                    input: { handler: "verify-packages-installed.sh", args: ["dpkg"], path: "default" },
                  },
                },
              ],
            }),
          }),
        );
        let status = "";
        for (const until = Date.now() + 20_000; Date.now() < until && status !== "SUCCEEDED"; await Bun.sleep(100)) {
          status =
            (await iot.send(new DescribeJobExecutionCommand({ jobId: "after-swap", thingName: "pi-swap" }))).execution
              ?.status ?? "";
          if (status === "FAILED" || status === "REJECTED") break;
        }
        expect(status).toBe("SUCCEEDED");
        // The Device Client's log file keeps being written (no init-file flag overrides it).
        expect(readFileSync(logFile, "utf8")).toContain("after-swap");
      } finally {
        proc.kill("SIGTERM");
        await proc.exited;
      }

      writeFileSync(calls, "");
      const back = await run(["sh", SWITCH, "--rollback"], env);
      expect(back.exitCode).toBe(0);
      expect(readFileSync(calls, "utf8").trim().split("\n")).toEqual([
        "systemctl disable --now iot-jobs-agent.service",
        "systemctl daemon-reload",
        "systemctl enable --now aws-iot-device-client.service",
      ]);
      expect(existsSync(join(systemd, "iot-jobs-agent.service.d"))).toBe(false);
    } finally {
      await service.stop();
    }
  }, 60_000);

  test("a config that doctor fails changes nothing", () => {
    const root = tempDir("dc-root-");
    const config = join(root, "aws-iot-device-client.conf");
    writeFileSync(
      config,
      JSON.stringify({
        endpoint: "mqtt://127.0.0.1:1",
        "thing-name": "pi-x",
        jobs: { "handler-directory": join(root, "missing") },
      }),
    );
    chmodSync(config, 0o640);
    const bin = tempDir("dc-bin-");
    const calls = join(bin, "calls");
    writeHandler(bin, "systemctl", `#!/bin/sh\necho "systemctl $*" >> ${calls}\n`);
    const agent = writeHandler(
      bin,
      "iot-jobs-agent",
      `#!/bin/sh\nexec ${process.execPath} ${join(REPO_ROOT, "src/main.ts")} "$@"\n`,
    );
    const r = Bun.spawnSync(["sh", SWITCH, "--config", config], {
      env: {
        ...process.env,
        SYSTEMCTL: join(bin, "systemctl"),
        SYSTEMD_DIR: join(root, "systemd"),
        AGENT: agent,
        STATE_DIR: join(root, "state"),
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("nothing was changed");
    expect(existsSync(calls)).toBe(false);
    expect(existsSync(join(root, "systemd"))).toBe(false);
  });

  test("a unit without CONF_PATH: the config from its ExecStart, its other flags carried over", () => {
    const root = tempDir("dc-root-");
    const config = join(root, "dc conf", "aws-iot-device-client.conf");
    mkdirSync(join(config, ".."), { recursive: true });
    writeFileSync(config, "{}");
    const systemd = join(root, "systemd");
    mkdirSync(systemd, { recursive: true });
    writeFileSync(
      join(systemd, "aws-iot-device-client.service"),
      `[Service]\nExecStart=/sbin/aws-iot-device-client --config-file "${config}" --log-level DEBUG $DC_OPTS\n`,
    );
    const bin = tempDir("dc-bin-");
    writeHandler(bin, "systemctl", "#!/bin/sh\nexit 0\n");
    // doctor's verdict is not what this test is about: the stand-in passes it.
    const agent = writeHandler(bin, "iot-jobs-agent", "#!/bin/sh\nexit 0\n");
    const r = Bun.spawnSync(["sh", SWITCH], {
      env: { ...process.env, SYSTEMCTL: join(bin, "systemctl"), SYSTEMD_DIR: systemd, AGENT: agent, STATE_DIR: root },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode).toBe(0);
    expect(r.stderr.toString()).toContain("not carried over from aws-iot-device-client.service's ExecStart: $DC_OPTS");
    const dropIn = readFileSync(join(systemd, "iot-jobs-agent.service.d/device-client-layout.conf"), "utf8");
    const line = dropIn.split("\n").filter((l) => l.startsWith("ExecStart="))[1]!;
    const argv = [...line.slice("ExecStart=".length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
    expect(argv).toEqual([agent, "--config-file", config, "--state-dir", root, "--log-level", "DEBUG"]);
  });
});
