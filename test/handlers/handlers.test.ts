import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runJob, type JobOutcome } from "../../src/runner/run-job.ts";
import { parsed, testRunContext } from "../helpers/run-context.ts";
import { projectHandlerDir, REPO_ROOT, tempDir, writeHandler } from "../helpers/temp.ts";

const handlerDir = projectHandlerDir();
const isRoot = process.geteuid!() === 0;

/**
 * Stand-ins for commands that cannot run in a test (systemctl without systemd, reboot, shutdown):
 * each records its argv in calls.log. They come first on PATH, so nothing here ever reboots.
 */
function fakeSystemTools(): { bin: string; calls: string } {
  const bin = tempDir("fake-bin-");
  const calls = join(bin, "calls.log");
  for (const tool of ["systemctl", "service", "reboot", "shutdown"])
    writeHandler(bin, tool, `#!/bin/sh\necho "${tool} $*" >> ${calls}\n`);
  return { bin, calls };
}

async function run(
  handler: string,
  args: string[],
  opts: { user?: string; path?: string; env?: Record<string, string> } = {},
): Promise<JobOutcome> {
  const env = { ...process.env, ...(opts.path ? { PATH: `${opts.path}:${process.env.PATH}` } : {}), ...opts.env };
  const doc = parsed({
    version: "1.0",
    includeStdOut: true,
    steps: [
      {
        action: {
          name: handler,
          type: "runHandler",
          input: { handler, args, path: "default" },
          ...(opts.user ? { runAsUser: opts.user } : {}),
        },
      },
    ],
  });
  return runJob(doc, testRunContext(handlerDir, { env }));
}

describe("shipped handlers", () => {
  test("every handler is shellcheck-clean", () => {
    const shellcheck = Bun.which("shellcheck");
    if (!shellcheck) throw new Error("shellcheck is not installed (apt-get install -y shellcheck)");
    const files = [
      "_common.sh",
      "download-file.sh",
      "install-packages.sh",
      "remove-packages.sh",
      "verify-packages-installed.sh",
      "verify-packages-removed.sh",
      "start-services.sh",
      "stop-services.sh",
      "restart-services.sh",
      "reboot.sh",
      "shutdown.sh",
      "health-check.sh",
    ];
    const r = Bun.spawnSync([shellcheck, "-x", ...files], { cwd: join(REPO_ROOT, "handlers") });
    expect(r.stdout.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  test("health-check.sh succeeds", async () => {
    expect(await run("health-check.sh", [])).toMatchObject({
      status: "SUCCEEDED",
      statusDetails: { stdout: "healthy\n" },
    });
  });

  describe("download-file.sh", () => {
    let server: ReturnType<typeof Bun.serve>;
    const body = "firmware-bytes-".repeat(1000);
    beforeAll(() => {
      server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: (req) =>
          new URL(req.url).pathname === "/fw.bin" ? new Response(body) : new Response("nope", { status: 404 }),
      });
    });
    afterAll(() => server.stop(true));

    test("downloads a URL to a file", async () => {
      const dest = join(tempDir(), "fw.bin");
      const out = await run("download-file.sh", [`http://127.0.0.1:${server.port}/fw.bin`, dest]);
      expect(out.status).toBe("SUCCEEDED");
      expect(readFileSync(dest, "utf8")).toBe(body);
    });
    test("downloads into a directory", async () => {
      const dir = tempDir();
      expect((await run("download-file.sh", [`http://127.0.0.1:${server.port}/fw.bin`, dir])).status).toBe("SUCCEEDED");
      expect(readFileSync(join(dir, "fw.bin"), "utf8")).toBe(body);
    });
    test("a missing file fails the job, says why on stderr and leaves no file behind", async () => {
      const dir = tempDir();
      const out = await run("download-file.sh", [`http://127.0.0.1:${server.port}/missing`, join(dir, "x")]);
      expect(out.status).toBe("FAILED");
      // wget's or curl's own words (a 404), then ours naming the URL.
      expect(out.statusDetails.stderr).toMatch(/404/);
      expect(out.statusDetails.stderr).toContain(`Could not download http://127.0.0.1:${server.port}/missing`);
      // The tool's own exit status (wget: 8, a server error; curl: 22), as the Device Client's handler reports.
      expect(out.statusDetails.reason).toMatch(/^Exited with status: (8|22)$/);
      expect(readdirSync(dir)).toEqual([]);
    });
    test("a refused connection says so, into a directory too, and leaves nothing behind", async () => {
      const dir = tempDir();
      const out = await run("download-file.sh", ["http://127.0.0.1:1/fw.bin", dir]);
      expect(out.status).toBe("FAILED");
      expect(out.statusDetails.stderr).toMatch(/refused/i);
      expect(readdirSync(dir)).toEqual([]);
    });
    /** A PATH directory holding only these tools (links to this machine's), and `extra` links by name. */
    const pathOf = (tools: readonly string[], extra: Record<string, string> = {}) => {
      const bin = tempDir("tools-");
      for (const [name, target] of Object.entries(extra)) symlinkSync(target, join(bin, name));
      for (const tool of tools) {
        const path = Bun.which(tool);
        if (path) symlinkSync(path, join(bin, tool));
      }
      return bin;
    };
    test("with curl only (no wget on PATH) a failure says why too", async () => {
      const bin = pathOf(["curl", "sh", "id", "dirname", "rm", "mv", "printf"]);
      const dir = tempDir();
      const out = await run("download-file.sh", [`http://127.0.0.1:${server.port}/missing`, join(dir, "x")], {
        env: { PATH: bin },
      });
      expect(out.status).toBe("FAILED");
      expect(out.statusDetails.stderr).toMatch(/curl: \(22\).*404/);
      expect(readdirSync(dir)).toEqual([]);
    });
    // Yocto and Buildroot images often have only BusyBox's wget: no --no-verbose, errors shown even with -q.
    test.skipIf(!Bun.which("busybox"))(
      "with BusyBox wget (apt-get install busybox, else skipped) a failure says why too",
      async () => {
        const bin = pathOf(["sh", "id", "dirname", "rm", "mv", "grep"], { wget: Bun.which("busybox")! });
        const dir = tempDir();
        const out = await run("download-file.sh", [`http://127.0.0.1:${server.port}/missing`, join(dir, "x")], {
          env: { PATH: bin },
        });
        expect(out.status).toBe("FAILED");
        expect(out.statusDetails.stderr).toMatch(/wget: server returned error: .*404/);
        expect(readdirSync(dir)).toEqual([]);
        const ok = await run("download-file.sh", [`http://127.0.0.1:${server.port}/fw.bin`, dir], {
          env: { PATH: bin },
        });
        expect(ok.status).toBe("SUCCEEDED");
        expect(readFileSync(join(dir, "fw.bin"), "utf8")).toBe(body);
      },
    );
    test("without arguments it says how to call it", async () => {
      const out = await run("download-file.sh", []);
      expect(out.status).toBe("FAILED");
      expect(out.statusDetails.stderr).toBe("usage: download-file.sh USER URL DESTINATION [SIGNATURE]\n");
    });
  });

  describe("package handlers", () => {
    test("verify-packages-installed.sh: installed packages pass, a missing one fails", async () => {
      const ok = await run("verify-packages-installed.sh", ["bash", "coreutils"]);
      expect(ok).toMatchObject({
        status: "SUCCEEDED",
        statusDetails: { stdout: "bash is installed\ncoreutils is installed\n" },
      });
      const missing = await run("verify-packages-installed.sh", ["bash", "no-such-package-xyz"]);
      expect(missing).toMatchObject({
        status: "FAILED",
        statusDetails: { stderr: "no-such-package-xyz is not installed\n" },
      });
    });
    test("verify-packages-removed.sh: fails while a package is installed", async () => {
      expect((await run("verify-packages-removed.sh", ["no-such-package-xyz"])).status).toBe("SUCCEEDED");
      expect((await run("verify-packages-removed.sh", ["bash"])).statusDetails).toMatchObject({
        stderr: "bash is still installed\n",
      });
    });
    // Installs and removes a real (tiny) Debian package; CI enables it after apt-get update.
    test.skipIf(!isRoot || !process.env.IOT_JOBS_TEST_APT)(
      "install, verify, remove, verify a real package (hello)",
      async () => {
        expect((await run("install-packages.sh", ["hello"], { user: "root" })).status).toBe("SUCCEEDED");
        expect((await run("verify-packages-installed.sh", ["hello"])).status).toBe("SUCCEEDED");
        expect((await run("remove-packages.sh", ["hello"], { user: "root" })).status).toBe("SUCCEEDED");
        expect((await run("verify-packages-removed.sh", ["hello"])).status).toBe("SUCCEEDED");
      },
      180_000,
    );
    // AWS-Install-Application / AWS-Remove-Application hand the list over as ONE argument.
    test("a package list in one argument (AWS managed templates) reaches the package manager as separate names, unglobbed", async () => {
      const bin = tempDir("fake-apt-");
      const calls = join(bin, "calls.log");
      writeHandler(
        bin,
        "apt-get",
        `#!/bin/sh\nfor a in "$@"; do printf '[%s]' "$a" >> ${calls}; done; echo >> ${calls}\n`,
      );
      expect((await run("install-packages.sh", ["lftp  dos2unix\t*"], { path: bin })).status).toBe("SUCCEEDED");
      expect((await run("remove-packages.sh", ["lftp dos2unix"], { path: bin })).status).toBe("SUCCEEDED");
      expect(readFileSync(calls, "utf8")).toBe(
        "[install][-y][-q][--][lftp][dos2unix][*]\n[remove][-y][-q][--purge][--][lftp][dos2unix]\n",
      );
      const blank = await run("install-packages.sh", ["  "], { path: bin });
      expect(blank).toMatchObject({ status: "FAILED", statusDetails: { stderr: "no package named\n" } });
      const verify = await run("verify-packages-installed.sh", ["bash coreutils"]);
      expect(verify).toMatchObject({
        status: "SUCCEEDED",
        statusDetails: { stdout: "bash is installed\ncoreutils is installed\n" },
      });
    });
    test.skipIf(!isRoot || !process.env.IOT_JOBS_TEST_APT)(
      "AWS-Install-Application's one-argument list installs two real packages (hello, tree)",
      async () => {
        expect((await run("install-packages.sh", ["hello tree"], { user: "root" })).status).toBe("SUCCEEDED");
        expect((await run("verify-packages-installed.sh", ["hello", "tree"])).status).toBe("SUCCEEDED");
        expect((await run("remove-packages.sh", ["hello tree"], { user: "root" })).status).toBe("SUCCEEDED");
        expect((await run("verify-packages-removed.sh", ["hello tree"])).status).toBe("SUCCEEDED");
      },
      300_000,
    );
    test("installing a package that does not exist fails with the package manager's words", async () => {
      const out = await run("install-packages.sh", ["no-such-package-xyz"]);
      expect(out.status).toBe("FAILED");
      expect(out.statusDetails.stderr).toContain("no-such-package-xyz");
    });
  });

  describe("service handlers", () => {
    for (const action of ["start", "stop", "restart"]) {
      test(`${action}-services.sh calls systemctl ${action} for each service`, async () => {
        const { bin, calls } = fakeSystemTools();
        const out = await run(`${action}-services.sh`, ["nginx", "cron"], { path: bin });
        expect(out.status).toBe("SUCCEEDED");
        expect(readFileSync(calls, "utf8")).toBe(`systemctl ${action} -- nginx\nsystemctl ${action} -- cron\n`);
      });
    }
    test("a service list in one argument (AWS-Start/Stop/Restart-Application) acts on each service", async () => {
      const { bin, calls } = fakeSystemTools();
      expect((await run("stop-services.sh", ["nginx cron"], { path: bin })).status).toBe("SUCCEEDED");
      expect(readFileSync(calls, "utf8")).toBe("systemctl stop -- nginx\nsystemctl stop -- cron\n");
    });
    test("restart-services.sh on the agent itself succeeds on the run after the restart", async () => {
      const { bin, calls } = fakeSystemTools();
      const lock = join(tempDir(), "restart.lock");
      const first = await run("restart-services.sh", ["iot-jobs-agent"], {
        path: bin,
        env: { IOT_JOBS_RESTART_LOCK: lock },
      });
      expect(first.status).toBe("SUCCEEDED");
      expect(readFileSync(calls, "utf8")).toBe("systemctl restart -- iot-jobs-agent\n");
      expect(readFileSync(lock, "utf8").trim()).toBe(String(process.pid));
      // The same process running it again means no restart happened.
      expect(
        (await run("restart-services.sh", ["iot-jobs-agent"], { path: bin, env: { IOT_JOBS_RESTART_LOCK: lock } }))
          .statusDetails.stderr,
      ).toContain("did not restart");
      // A lock left by another agent process: the restart happened.
      writeFileSync(lock, "1\n");
      expect(
        (await run("restart-services.sh", ["iot-jobs-agent"], { path: bin, env: { IOT_JOBS_RESTART_LOCK: lock } }))
          .status,
      ).toBe("SUCCEEDED");
      expect(existsSync(lock)).toBe(false);
    });
  });

  describe("reboot.sh and shutdown.sh", () => {
    const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    /** A reboot that goes down: the shutdown's SIGTERM reaches the step's process group. */
    function rebootThatGoesDown(): { bin: string; calls: string } {
      const tools = fakeSystemTools();
      writeHandler(tools.bin, "reboot", `#!/bin/sh\necho "reboot $*" >> ${tools.calls}\nkill -TERM 0\n`);
      return tools;
    }

    test("first run records the request and reboots; after a boot the next run succeeds", async () => {
      const { bin, calls } = rebootThatGoesDown();
      const lock = join(tempDir(), "reboot.lock");
      const env = { IOT_JOBS_REBOOT_LOCK: lock, IOT_JOBS_JOB_ID: "job-1", IOT_JOBS_EXECUTION_NUMBER: "1" };
      const first = await run("reboot.sh", [], { path: bin, env });
      // Stopped by the shutdown (the agent itself reports nothing then: the job stays IN_PROGRESS).
      expect(first.statusDetails.reason).toBe("Killed by signal: SIGTERM");
      expect(readFileSync(calls, "utf8")).toBe("reboot \n");
      expect(readFileSync(lock, "utf8")).toMatch(new RegExp(`^\\d+ ${bootId} job-1#1\\n$`));
      // No boot happened since: the job re-run must fail.
      const notRebooted = await run("reboot.sh", [], { path: bin, env });
      expect(notRebooted.statusDetails.stderr).toContain("did not reboot");
      expect(existsSync(lock)).toBe(false);
      // The re-run after a boot (another boot id): the device rebooted.
      writeFileSync(lock, `1700000000 00000000-0000-0000-0000-000000000000 job-1#1\n`);
      expect((await run("reboot.sh", [], { path: bin, env })).statusDetails.stdout).toStartWith("Rebooted");
      // redteam 07: a lock in 0.1.0's format (a time only) names no execution: it proves nothing
      // about this job, so the reboot is asked for again.
      writeFileSync(lock, "1\n");
      const old = await run("reboot.sh", [], { path: bin, env });
      expect(old.statusDetails.stderr).toContain("names no job execution");
      expect(readFileSync(calls, "utf8")).toBe("reboot \nreboot \n");
      // Outside the agent (exec: no execution to compare), the time still decides.
      writeFileSync(lock, "1\n");
      const bare = await run("reboot.sh", [], { path: bin, env: { IOT_JOBS_REBOOT_LOCK: lock } });
      expect(bare.statusDetails.stdout).toStartWith("Rebooted");
    });

    test("redteam 07: a reboot that returns without going down fails the step and leaves no lock for a later job", async () => {
      const { bin, calls } = fakeSystemTools(); // returns at once, like `systemctl reboot`
      const lock = join(tempDir(), "reboot.lock");
      const env = { IOT_JOBS_REBOOT_LOCK: lock, IOT_JOBS_REBOOT_WAIT: "1" };
      const first = await run("reboot.sh", [], { path: bin, env });
      expect(first.status).toBe("FAILED");
      expect(first.statusDetails.stderr).toBe("reboot returned but the device did not go down within 1 s\n");
      expect(existsSync(lock)).toBe(false);
      // A later reboot job really asks for a reboot again (it used to report "Rebooted" at once).
      await run("reboot.sh", [], { path: bin, env });
      expect(readFileSync(calls, "utf8")).toBe("reboot \nreboot \n");
    });

    test("redteam 07: the lock of another job execution (canceled while it waited) does not make a new reboot job succeed", async () => {
      const { bin, calls } = rebootThatGoesDown();
      const lock = join(tempDir(), "reboot.lock");
      writeFileSync(lock, "1700000000 00000000-0000-0000-0000-000000000000 job-old#3\n");
      const out = await run("reboot.sh", [], {
        path: bin,
        env: { IOT_JOBS_REBOOT_LOCK: lock, IOT_JOBS_JOB_ID: "job-new", IOT_JOBS_EXECUTION_NUMBER: "1" },
      });
      expect(out.statusDetails.stdout).toBe("Rebooting\n");
      expect(out.statusDetails.stderr).toBe("Ignoring the reboot lock of another job execution (job-old#3)\n");
      expect(readFileSync(calls, "utf8")).toBe("reboot \n");
      expect(readFileSync(lock, "utf8")).toMatch(/ job-new#1\n$/);
    });
    test("shutdown.sh schedules a shutdown in a minute", async () => {
      const { bin, calls } = fakeSystemTools();
      const out = await run("shutdown.sh", [], { path: bin });
      expect(out.statusDetails.stdout).toBe("System scheduled for shut down in one minute...\n");
      expect(readFileSync(calls, "utf8")).toBe("shutdown -h +1\n");
    });
  });

  test.skipIf(!isRoot)("a handler asked to run as an unknown user refuses before running anything", async () => {
    const { bin, calls } = fakeSystemTools();
    const out = await run("restart-services.sh", ["x"], { path: bin, user: "no-such-user-xyz" });
    expect(out.statusDetails.reason).toBe('runAsUser "no-such-user-xyz": no such user');
    expect(existsSync(calls)).toBe(false);
  });
});
