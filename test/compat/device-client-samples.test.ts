/**
 * The public sample job documents of the AWS IoT Device Client (../shared/compat, present in CI
 * and in the project's workspace; in a clone, scripts/get-device-client-samples.sh fetches them,
 * IOT_JOBS_DC_SAMPLES names another place): every one is accepted, and those that can run here
 * run with the project's own handlers of the same names.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseJobDocument } from "../../src/jobdoc/parse.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { testRunContext } from "../helpers/run-context.ts";
import { projectHandlerDir, REPO_ROOT, tempDir, writeHandler } from "../helpers/temp.ts";

const COMPAT = process.env.IOT_JOBS_DC_SAMPLES || join(REPO_ROOT, "..", "shared", "compat", "device-client");
const present = existsSync(COMPAT);
if (!present)
  console.warn(
    `SKIPPED: the Device Client sample documents are not at ${COMPAT}: scripts/get-device-client-samples.sh fetches them`,
  );

const files = present
  ? ["job-docs", "old-schema-job-docs"].flatMap((d) => readdirSync(join(COMPAT, d)).map((f) => join(d, f)))
  : [];
const load = (file: string) => JSON.parse(readFileSync(join(COMPAT, file), "utf8"));

describe.skipIf(!present)("Device Client sample job documents", () => {
  test("there are ten of them", () => expect(files).toHaveLength(10));

  for (const file of files) {
    test(`${file} is accepted`, () => {
      const r = parseJobDocument(readFileSync(join(COMPAT, file), "utf8"));
      expect(r.ok ? "accepted" : JSON.stringify(r.issues)).toBe("accepted");
    });
  }

  const handlers = projectHandlerDir();
  const fakeBin = tempDir("fake-bin-");
  const calls = join(fakeBin, "calls.log");
  // A reboot that goes down: the shutdown's SIGTERM reaches the step's process group.
  writeHandler(fakeBin, "reboot", `#!/bin/sh\necho "reboot $*" >> ${calls}\nkill -TERM 0\n`);
  const ctx = (cwd?: string) =>
    testRunContext(handlers, {
      cwd,
      env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH}`, IOT_JOBS_REBOOT_LOCK: join(tempDir(), "lock") },
    });
  const run = (doc: unknown, cwd?: string) => {
    const r = parseJobDocument(doc);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return runJob(r.document, ctx(cwd));
  };

  test("job-docs/echo.json runs echo from PATH with the empty user as $1", async () => {
    const doc = load("job-docs/echo.json");
    const out = await run({ ...doc, includeStdOut: true });
    expect(out).toMatchObject({ status: "SUCCEEDED", statusDetails: { stdout: " Hello IoT World!\n" } });
  });

  test("old-schema-job-docs/echo.json passes its args from $1", async () => {
    const out = await run({ ...load("old-schema-job-docs/echo.json"), includeStdOut: true });
    expect(out).toMatchObject({ status: "SUCCEEDED", statusDetails: { stdout: '"Hello world!"\n' } });
  });

  test.skipIf(process.geteuid!() !== 0)(
    "job-docs/run-shellcommand.json creates newDir as root in the working directory",
    async () => {
      const cwd = tempDir();
      expect((await run(load("job-docs/run-shellcommand.json"), cwd)).status).toBe("SUCCEEDED");
      expect(existsSync(join(cwd, "newDir"))).toBe(true);
    },
  );

  test("job-docs/reboot.json finds reboot.sh in the handler directory and asks for a reboot", async () => {
    // The step is ended by the shutdown; the agent reports nothing then, and the re-run after the
    // boot reports SUCCEEDED (test/handlers: reboot.sh).
    expect((await run(load("job-docs/reboot.json"))).statusDetails.reason).toBe("Killed by signal: SIGTERM");
    expect(readFileSync(calls, "utf8")).toContain("reboot");
  });

  describe("download-file.json, with its URL pointed at a loopback server (no network here)", () => {
    let server: ReturnType<typeof Bun.serve>;
    beforeAll(() => {
      server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("tarball") });
    });
    afterAll(() => server.stop(true));
    for (const file of ["job-docs/download-file.json", "old-schema-job-docs/download-file.json"]) {
      test(file, async () => {
        const dest = join(tempDir(), "Downloaded_File.tar.gz");
        const doc = load(file);
        const url = `http://127.0.0.1:${server.port}/v1.3.tar.gz`;
        if (doc.steps) doc.steps[0].action.input.args = [url, dest];
        else doc.args = [url, dest];
        expect((await run(doc)).status).toBe("SUCCEEDED");
        expect(readFileSync(dest, "utf8")).toBe("tarball");
      });
    }
  });

  // Real apt-get installs of lftp and dos2unix: CI enables it after apt-get update.
  test.skipIf(process.geteuid!() !== 0 || !process.env.IOT_JOBS_TEST_APT)(
    "install-packages.json then remove-packages.json (both schemas)",
    async () => {
      for (const file of [
        "job-docs/install-packages.json",
        "job-docs/remove-packages.json",
        "old-schema-job-docs/install-packages.json",
        "old-schema-job-docs/remove-packages.json",
      ]) {
        const out = await run(load(file));
        expect(`${file}: ${out.status} ${out.statusDetails.reason}`).toBe(
          `${file}: SUCCEEDED ${out.statusDetails.reason}`,
        );
      }
    },
    300_000,
  );
});
