import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

const cli = (args: string[], cwd = tempDir()) => {
  const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "src/main.ts"), ...args], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
};

function doc(content: unknown): string {
  const file = join(tempDir(), "job.json");
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe("iot-jobs-agent command line", () => {
  test("validate: OK lines, reasons, exit 1 when any is invalid", () => {
    const good = doc({
      version: "1.0",
      steps: [{ action: { name: "a", type: "runCommand", input: { command: "true" } } }],
    });
    const bad = doc({ version: "1.0", steps: [{ action: { name: "a", type: "runHandler", input: {} } }] });
    expect(cli(["validate", good])).toEqual({ code: 0, out: `${good}: OK (version 1.0, 1 step(s))\n`, err: "" });
    const r = cli(["validate", good, bad]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${bad}: steps[0].action.input.handler: required`);
  });

  test("exec: prints status and statusDetails; exit 0, 1 or 2", () => {
    const ok = cli([
      "exec",
      doc({
        version: "1.0",
        includeStdOut: true,
        steps: [{ action: { name: "a", type: "runCommand", input: { command: "echo,hi" } } }],
      }),
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toEqual({
      status: "SUCCEEDED",
      statusDetails: { reason: "Exited with status: 0", stdout: "hi\n" },
    });
    const failed = cli([
      "exec",
      doc({ version: "1.0", steps: [{ action: { name: "a", type: "runCommand", input: { command: "false" } } }] }),
    ]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.out).status).toBe("FAILED");
    const rejected = cli(["exec", doc({ version: "9" })]);
    expect(rejected.code).toBe(2);
    expect(JSON.parse(rejected.out).statusDetails.reason).toStartWith(
      "Invalid job document: version: unsupported version",
    );
  });

  test("--help, --version, bad flags", () => {
    expect(cli(["--help"]).out).toContain("--jobs-handler-dir DIR");
    expect(cli(["--version"]).out).toStartWith("iot-jobs-agent ");
    expect(cli(["--frobnicate"])).toMatchObject({
      code: 2,
      err: "iot-jobs-agent: unknown flag --frobnicate; see --help\n",
    });
  });

  test("--export-default-settings writes a config file the agent reads back", () => {
    const file = join(tempDir(), "defaults.conf");
    expect(cli(["--export-default-settings", file]).code).toBe(0);
    const written = JSON.parse(readFileSync(file, "utf8"));
    expect(written.jobs.enabled).toBe(true);
    const r = cli(["validate", "--config-file", file, doc({ operation: "echo" })]);
    expect(r.code).toBe(0);
  });

  test("missing required settings are fatal with a message naming the fix", () => {
    const r = cli(["--thing-name", "t", "--state-dir", tempDir()], tempDir());
    expect(r.code).toBe(1);
    expect(r.out + r.err).toContain("Endpoint is missing: give --endpoint");
  });

  test("no secret reaches the log: pre-signed URL signatures and tokens are redacted", () => {
    const url =
      "https://bucket.s3.us-east-1.amazonaws.com/fw.bin?X-Amz-Credential=AKIASECRETID&X-Amz-Security-Token=SESSIONTOKEN&X-Amz-Signature=f00dfeedbeef";
    const r = cli([
      "exec",
      doc({
        version: "1.0",
        includeStdOut: true,
        steps: [{ action: { name: `get ${url}`, type: "runCommand", input: { command: `echo,${url}` } } }],
      }),
      "--log-level",
      "DEBUG",
    ]);
    const everything = r.out + r.err;
    expect(everything).toContain("X-Amz-Signature=[REDACTED]");
    for (const secret of ["AKIASECRETID", "SESSIONTOKEN", "f00dfeedbeef"]) expect(everything).not.toContain(secret);
  });

  test("npm run demo: the sample package job ends SUCCEEDED", () => {
    const r = Bun.spawnSync([process.execPath, join(REPO_ROOT, "scripts/demo.ts")], { stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString()).toContain("Result: SUCCEEDED");
    expect(r.exitCode).toBe(0);
  }, 60_000);
});
