import { describe, expect, test } from "bun:test";
import { RUN_AS_COMMAND } from "../../src/runner/drop-privileges.ts";
import { planExecution } from "../../src/runner/run-as-user.ts";
import type { UserInfo } from "../../src/runner/user-lookup.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { commandStep, parsed, testRunContext } from "../helpers/run-context.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const isRoot = process.geteuid!() === 0;
const users: Record<string, UserInfo> = {
  root: { name: "root", uid: 0, gid: 0, groups: [0], home: "/root", shell: "/bin/sh" },
  nobody: {
    name: "nobody",
    uid: 65534,
    gid: 65534,
    groups: [65534, 4],
    home: "/nonexistent",
    shell: "/usr/sbin/nologin",
  },
};
const ctx = (euid: number, pathEnv: string) => ({ euid, pathEnv, lookupUser: async (n: string) => users[n] });

function fakeSudoPath(): string {
  const dir = tempDir();
  writeHandler(dir, "sudo", "#!/bin/sh\nexit 0\n");
  return dir;
}

describe("planExecution [DC-JOBS-runAsUser]", () => {
  test("no user: run as the agent", async () =>
    expect(await planExecution(["ls"], undefined, ctx(1000, "/none"))).toEqual({ ok: true, argv: ["ls"] }));
  test("the agent's own user: run directly", async () =>
    expect(await planExecution(["ls"], "root", ctx(0, "/none"))).toEqual({ ok: true, argv: ["ls"] }));
  test("another user with sudo installed: sudo -u USER -n -- argv", async () => {
    const dir = fakeSudoPath();
    expect(await planExecution(["ls", "-l"], "nobody", ctx(0, dir))).toEqual({
      ok: true,
      argv: [`${dir}/sudo`, "-u", "nobody", "-n", "--", "ls", "-l"],
    });
  });
  test("another user, no sudo, agent is root: the user's groups, gid and uid, and the user's HOME, USER, LOGNAME, SHELL", async () => {
    const plan = await planExecution(["ls"], "nobody", ctx(0, "/none"));
    expect(plan).toMatchObject({
      ok: true,
      env: { HOME: "/nonexistent", USER: "nobody", LOGNAME: "nobody", SHELL: "/usr/sbin/nologin" },
    });
    if (plan.ok)
      expect(plan.argv.slice(plan.argv.indexOf(RUN_AS_COMMAND))).toEqual([
        RUN_AS_COMMAND,
        "65534",
        "65534",
        "65534,4",
        "--",
        "ls",
      ]);
  });
  test("another user, no sudo, agent is not root: refused, never run as the agent", async () =>
    expect(await planExecution(["ls"], "nobody", ctx(1000, "/none"))).toEqual({
      ok: false,
      reason: "Cannot run as nobody: sudo is not installed and the agent is not root",
    }));
  test("unknown users and names with metacharacters or a leading dash are refused", async () => {
    expect(await planExecution(["ls"], "ghost", ctx(0, "/none"))).toEqual({
      ok: false,
      reason: 'runAsUser "ghost": no such user',
    });
    for (const name of ["-u root", "root;id", "$(id)", "a b", "--", "x".repeat(40), "../root"])
      expect(await planExecution(["ls"], name, ctx(0, "/none"))).toMatchObject({
        ok: false,
        reason: expect.stringContaining("is not a valid user name"),
      });
  });
});

describe("runAsUser with real processes", () => {
  test.skipIf(!isRoot)("root without sudo on PATH runs the command as the user's uid", async () => {
    const out = await runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [commandStep("who", "id,-un", { runAsUser: "nobody" })] }),
      testRunContext(tempDir(), { pathEnv: "/nonexistent" }),
    );
    // PATH for the child still finds `id`; only the agent's sudo lookup was given a PATH without it.
    expect(out.statusDetails).toEqual({ reason: "Exited with status: 0", stdout: "nobody\n" });
  });

  const sudo = Bun.which("sudo");
  test.skipIf(!isRoot || !sudo)("with sudo installed, the command runs through sudo -n as that user", async () => {
    const out = await runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [commandStep("who", "id,-un", { runAsUser: "nobody" })] }),
      testRunContext(tempDir()),
    );
    expect(out.statusDetails).toEqual({ reason: "Exited with status: 0", stdout: "nobody\n" });
  });

  test.skipIf(!isRoot || !sudo)("a user sudo refuses fails the step; nothing runs as anyone else", async () => {
    const dir = tempDir();
    const marker = `${dir}/ran`;
    // nobody may not sudo to root: run a command as nobody that itself asks sudo for root.
    const out = await runJob(
      parsed({
        version: "1.0",
        steps: [commandStep("escalate", `sudo,-n,-u,root,touch,${marker}`, { runAsUser: "nobody" })],
      }),
      testRunContext(dir),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails.stderr).toContain("sudo");
    expect(await Bun.file(marker).exists()).toBe(false);
  });
});
