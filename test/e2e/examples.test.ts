import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectHandlerDir, REPO_ROOT, tempDir } from "../helpers/temp.ts";

// The shipped examples as a new user runs them: `validate` names the placeholders the service fills
// in, `exec` refuses to run them unresolved (no file named `${…}` left behind) and runs them with
// --param, against the shipped handlers and a loopback download server.

async function cli(args: string[], cwd: string) {
  const proc = Bun.spawn([process.execPath, join(REPO_ROOT, "src/main.ts"), ...args], {
    cwd,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, out, err };
}

const example = join(REPO_ROOT, "examples/download-and-verify.json");

describe("examples/download-and-verify.json", () => {
  test("validate: OK, with a note naming each placeholder the service fills in", async () => {
    const r = await cli(["validate", example], tempDir());
    expect(r.code).toBe(0);
    expect(r.out).toContain(": OK (version 1.0, 3 step(s))");
    expect(r.out).toContain(
      "note: the service fills in ${aws:iot:parameter:url}, ${aws:iot:parameter:destination}, ${aws:iot:parameter:sha256}",
    );
  });

  test("exec without --param: REJECTED with the flags to give, and nothing runs", async () => {
    const cwd = tempDir();
    const r = await cli(["exec", example, "--jobs-handler-dir", projectHandlerDir(), "--state-dir", tempDir()], cwd);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).statusDetails.reason).toBe(
      "Unresolved service placeholders: ${aws:iot:parameter:url}, ${aws:iot:parameter:destination}, ${aws:iot:parameter:sha256}; give --param url=… --param destination=… --param sha256=…",
    );
    expect(readdirSync(cwd)).toEqual([]);
  });

  test("exec with --param: downloads from a loopback server, verifies the SHA-256, SUCCEEDED", async () => {
    const body = new TextEncoder().encode("artifact bytes\n".repeat(100));
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(body) });
    try {
      const cwd = tempDir();
      const destination = join(cwd, "artifact.bin");
      const sha256 = createHash("sha256").update(body).digest("hex");
      const r = await cli(
        [
          "exec",
          example,
          "--param",
          `url=http://127.0.0.1:${server.port}/a.bin`,
          "--param",
          `destination=${destination}`,
          "--param",
          `sha256=${sha256}`,
          "--jobs-handler-dir",
          projectHandlerDir(),
          "--state-dir",
          tempDir(),
        ],
        cwd,
      );
      expect(r.err).not.toContain("FATAL");
      expect(JSON.parse(r.out).status).toBe("SUCCEEDED");
      expect(r.code).toBe(0);
      expect(existsSync(destination) && readFileSync(destination).length).toBe(body.length);
    } finally {
      server.stop(true);
    }
  });
});
