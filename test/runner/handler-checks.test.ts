import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { resolveHandler } from "../../src/runner/handler-path.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { handlerStep, parsed, testRunContext } from "../helpers/run-context.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const isRoot = process.geteuid!() === 0;
const lookup = (dir: string) => ({ handlerDirectory: dir, euid: process.geteuid!(), pathEnv: process.env.PATH! });

function dirWithHandler(): string {
  const dir = tempDir();
  writeHandler(dir, "ok.sh", "#!/bin/sh\necho ok\n");
  return dir;
}

describe("handler directory and file checks [DC-JOBS-handler-dir]", () => {
  test("a handler in a 700 directory with mode 700 runs", () => {
    const dir = dirWithHandler();
    const r = resolveHandler("ok.sh", "default", lookup(dir));
    // Every ancestor is trusted (root-owned, /tmp sticky): the real path runs (redteam 17f).
    expect(r).toMatchObject({ ok: true, file: join(dir, "ok.sh"), viaShell: false, execPath: join(dir, "ok.sh") });
    if (r.ok) r.release();
  });

  test("check and exec use the same directory: a directory swapped in after the check is not what runs; siblings still found; no descriptor leaks", async () => {
    // The parent is writable by someone else: the one way to swap a 700 handler directory.
    const parent = tempDir("handler-parent-");
    chmodSync(parent, 0o777);
    const dir = join(parent, "jobs");
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "lib.sh"), "greeting=checked\n", { mode: 0o600 });
    writeFileSync(join(dir, "swap.sh"), '#!/bin/sh\n. "$(dirname "$0")/lib.sh"\necho "$greeting"\n', { mode: 0o700 });
    const r = resolveHandler("swap.sh", "default", lookup(dir));
    if (!r.ok) throw new Error(r.reason);
    expect(r.execPath).toMatch(new RegExp(`^/proc/${process.pid}/fd/\\d+/swap\\.sh$`));
    // Between the check and the exec, the directory is renamed away and another takes its place.
    renameSync(dir, join(parent, "jobs-checked"));
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, "lib.sh"), "greeting=replaced\n", { mode: 0o600 });
    writeFileSync(join(dir, "swap.sh"), "#!/bin/sh\necho replaced\n", { mode: 0o700 });
    const run = Bun.spawnSync([r.execPath], { stdout: "pipe", stderr: "pipe" });
    expect(run.stdout.toString()).toBe("checked\n");
    // Which descriptors point at the checked (now renamed) directory: one while pinned, none after.
    const pointingAtChecked = () =>
      readdirSync("/proc/self/fd").filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === join(parent, "jobs-checked");
        } catch {
          return false;
        }
      });
    expect(pointingAtChecked()).toHaveLength(1);
    r.release();
    r.release(); // twice is harmless
    expect(pointingAtChecked()).toHaveLength(0);
  });

  test("a directory open to group or others is refused", () => {
    const dir = dirWithHandler();
    chmodSync(dir, 0o755);
    expect(resolveHandler("ok.sh", "default", lookup(dir))).toEqual({
      ok: false,
      reason: `Handler directory ${dir} has permissions 755, must be 700 (nothing for group or others); run: chmod 700 ${dir}`,
    });
  });

  test("a handler file open to group or others is refused", () => {
    const dir = dirWithHandler();
    chmodSync(join(dir, "ok.sh"), 0o750);
    expect(resolveHandler("ok.sh", "default", lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("has permissions 750"),
    });
    chmodSync(join(dir, "ok.sh"), 0o702);
    expect(resolveHandler("ok.sh", "default", lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("has permissions 702"),
    });
  });

  test("a handler that is not executable is refused", () => {
    const dir = dirWithHandler();
    chmodSync(join(dir, "ok.sh"), 0o600);
    expect(resolveHandler("ok.sh", "default", lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("not executable"),
    });
  });

  test.skipIf(!isRoot)("a handler owned by another user is refused, and the fix named is chown (not chmod)", () => {
    const dir = dirWithHandler();
    chownSync(join(dir, "ok.sh"), 65534, 65534);
    const r = resolveHandler("ok.sh", "default", lookup(dir));
    const reason = r.ok ? "" : r.reason;
    expect(reason).toContain("is owned by uid 65534");
    expect(reason).toEndWith(`; run: chown root ${join(realpathSync(dir), "ok.sh")}`);
  });

  test.skipIf(!isRoot)("a directory owned by another user is refused", () => {
    const dir = dirWithHandler();
    chownSync(dir, 65534, 65534);
    expect(resolveHandler("ok.sh", "default", lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("is owned by uid 65534"),
    });
  });

  test("names cannot leave the directory", () => {
    const dir = dirWithHandler();
    for (const name of ["../ok.sh", "/bin/sh", "sub/ok.sh", "..", ".", ""]) {
      expect(resolveHandler(name, "default", lookup(dir))).toMatchObject({
        ok: false,
        reason: expect.stringContaining("must be a plain file name"),
      });
    }
  });

  test("a symlink pointing out of the directory is refused", () => {
    const outside = tempDir();
    writeHandler(outside, "evil.sh", "#!/bin/sh\necho evil\n");
    const dir = dirWithHandler();
    symlinkSync(join(outside, "evil.sh"), join(dir, "link.sh"));
    expect(resolveHandler("link.sh", "default", lookup(dir))).toEqual({
      ok: false,
      reason: `Handler link.sh resolves outside ${dir}`,
    });
  });

  test("a symlink to another handler inside the directory is allowed", () => {
    const dir = dirWithHandler();
    symlinkSync(join(dir, "ok.sh"), join(dir, "alias.sh"));
    const alias = resolveHandler("alias.sh", "default", lookup(dir));
    expect(alias).toMatchObject({ ok: true, file: join(dir, "ok.sh") });
    if (alias.ok) alias.release();
  });

  test("a hard link (to a file possibly outside) is refused", () => {
    const outside = tempDir();
    const evil = writeHandler(outside, "evil.sh", "#!/bin/sh\necho evil\n");
    const dir = dirWithHandler();
    linkSync(evil, join(dir, "hard.sh"));
    expect(resolveHandler("hard.sh", "default", lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("2 hard links"),
    });
  });

  test("a missing directory, a file as directory, a directory as handler", () => {
    const dir = dirWithHandler();
    mkdirSync(join(dir, "sub"), { mode: 0o700 });
    expect(resolveHandler("x", join(dir, "missing"), lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("does not exist"),
    });
    expect(resolveHandler("x", join(dir, "ok.sh"), lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("is not a directory"),
    });
    expect(resolveHandler("sub", "default", lookup(dir))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("is not a regular file"),
    });
  });

  test("an explicit directory path is checked like the default one", () => {
    const dir = dirWithHandler();
    chmodSync(dir, 0o777);
    expect(resolveHandler("ok.sh", dir, lookup(tempDir()))).toMatchObject({
      ok: false,
      reason: expect.stringContaining("has permissions 777"),
    });
  });

  test("a refusal fails the step with its reason and runs nothing", async () => {
    const dir = tempDir();
    const marker = join(dir, "ran");
    writeHandler(dir, "open.sh", `#!/bin/sh\ntouch ${marker}\n`, 0o777);
    const out = await runJob(parsed({ version: "1.0", steps: [handlerStep("open", "open.sh")] }), testRunContext(dir));
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails.reason).toContain("has permissions 777");
    expect(await Bun.file(marker).exists()).toBe(false);
  });
});

describe('the Device Client\'s PATH additions for handlers without a path (AWS managed templates: "path": "")', () => {
  test("~/.aws-iot-device-client/jobs, the working directory and its jobs are searched after PATH, in that order", async () => {
    const { deviceClientPathAdditions } = await import("../../src/runner/run-context.ts");
    expect(deviceClientPathAdditions("/home/u", "/srv")).toEqual([
      "/home/u/.aws-iot-device-client",
      "/home/u/.aws-iot-device-client/jobs",
      "/srv",
      "/srv/jobs",
    ]);
    const empty = tempDir();
    const home = tempDir("dc-home-");
    const jobs = join(home, ".aws-iot-device-client", "jobs");
    mkdirSync(jobs, { recursive: true, mode: 0o700 });
    chmodSync(join(home, ".aws-iot-device-client"), 0o700);
    writeHandler(jobs, "dc-only.sh", "#!/bin/sh\necho found\n");
    const dirs = deviceClientPathAdditions(home, tempDir());
    const found = resolveHandler("dc-only.sh", undefined, { ...lookup(empty), deviceClientDirs: dirs });
    expect(found).toMatchObject({ ok: true, file: join(jobs, "dc-only.sh") });
    if (found.ok) found.release();
    // Not there, not on PATH: the reason names every place searched.
    const missing = resolveHandler("nowhere.sh", undefined, { ...lookup(empty), deviceClientDirs: dirs });
    expect(missing).toMatchObject({ ok: false });
    if (!missing.ok) expect(missing.reason).toContain(jobs);
    // Our checks still apply there: a handler others may write is refused, not run.
    chmodSync(jobs, 0o777);
    const loose = resolveHandler("dc-only.sh", undefined, { ...lookup(empty), deviceClientDirs: dirs });
    expect(loose.ok).toBe(false);
  });

  test("an empty path and an empty runAsUser (omitted managed-template parameters) run the handler as the agent's user", async () => {
    const home = tempDir("dc-home-");
    const jobs = join(home, ".aws-iot-device-client", "jobs");
    mkdirSync(jobs, { recursive: true, mode: 0o700 });
    chmodSync(join(home, ".aws-iot-device-client"), 0o700);
    writeHandler(jobs, "whoami.sh", '#!/bin/sh\necho "user=[$1] $(id -un)"\n');
    const doc = parsed({
      version: "1.0",
      includeStdOut: true,
      steps: [
        {
          action: { name: "w", type: "runHandler", input: { handler: "whoami.sh", args: [], path: "" }, runAsUser: "" },
        },
      ],
    });
    const ctx = { ...testRunContext(tempDir()), deviceClientDirs: [join(home, ".aws-iot-device-client"), jobs] };
    const out = await runJob(doc, ctx);
    const me = Bun.spawnSync(["id", "-un"]).stdout.toString().trim();
    expect(out).toMatchObject({ status: "SUCCEEDED", statusDetails: { stdout: `user=[] ${me}\n` } });
  });
});
