import { describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { closeFd, openPipe } from "../../src/runner/os-pipe.ts";
import { join } from "node:path";
import { runJob } from "../../src/runner/run-job.ts";
import { sanitizeText, truncateTail } from "../../src/runner/sanitize.ts";
import { commandStep, handlerStep, parsed, testRunContext } from "../helpers/run-context.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";
import { groupMembers } from "../helpers/processes.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Group members once the kernel has delivered the kill (a SIGKILLed process dies asynchronously). */
async function survivors(pgid: number): Promise<number[]> {
  for (let i = 0; i < 20 && groupMembers(pgid).length > 0; i++) await Bun.sleep(25);
  return groupMembers(pgid);
}

describe("output capture", () => {
  test("200 MiB on stdout and stderr at once: no deadlock, exactly the last 1024 characters", async () => {
    const size = 200 * 1024 * 1024;
    const dir = tempDir();
    writeHandler(
      dir,
      "firehose.sh",
      `#!/bin/sh\n(yes 0123456789abcdef | head -c ${size}; printf 'END-OUT') &\n(yes fedcba | head -c ${size} >&2; printf 'END-ERR' >&2) &\nwait\n`,
    );
    const out = await runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [handlerStep("f", "firehose.sh")] }),
      testRunContext(dir),
    );
    const tailOf = (line: string, marker: string) => {
      const n = 1024 - marker.length;
      let s = "";
      for (let i = size - n; i < size; i++) s += line[i % line.length];
      return s + marker;
    };
    expect(out.status).toBe("SUCCEEDED");
    expect(out.statusDetails.stdout).toBe(tailOf("0123456789abcdef\n", "END-OUT"));
    expect(out.statusDetails.stderr).toBe(tailOf("fedcba\n", "END-ERR"));
  }, 120_000);

  test("random bytes: each value is the tail of the sanitised stream, with no control characters", async () => {
    const dir = tempDir();
    const data = join(dir, "random.bin");
    const bytes = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    writeFileSync(data, bytes);
    const out = await runJob(
      parsed({
        version: "1.0",
        includeStdOut: true,
        steps: [commandStep("cat", `sh,-c,cat ${data}; cat ${data} >&2`)],
      }),
      testRunContext(dir),
    );
    const expected = truncateTail(sanitizeText(new TextDecoder().decode(bytes)), 1024);
    expect(out.statusDetails.stdout).toBe(expected);
    expect(out.statusDetails.stderr).toBe(expected);
    expect(out.statusDetails.stdout!.length).toBeLessThanOrEqual(1024);
    expect(/[^\P{C}\n\t]/u.test(out.statusDetails.stdout!)).toBe(false);
  });

  test("secrets printed by a handler are redacted in statusDetails", async () => {
    const url = "https://b.s3.amazonaws.com/f?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=deadbeefcafe";
    const out = await runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [commandStep("leak", `echo,${url}`)] }),
      testRunContext(tempDir()),
    );
    expect(out.statusDetails.stdout).not.toContain("deadbeefcafe");
    expect(out.statusDetails.stdout).not.toContain("AKIAEXAMPLE");
  });

  test("a grandchild holding the pipes open does not hold the step", async () => {
    const started = Date.now();
    const out = await runJob(
      parsed({ version: "1.0", steps: [commandStep("bg", "sh,-c,sleep 30 & echo started")] }),
      testRunContext(tempDir()),
    );
    expect(out.status).toBe("SUCCEEDED");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("many such grandchildren: no descriptor leaks and the agent's own file I/O never stalls", async () => {
    // A blocking read on a held pipe would occupy one of the runtime's few I/O threads for good.
    const fdsBefore = readdirSync("/proc/self/fd").length;
    const groups: number[] = [];
    const runs = Array.from({ length: 12 }, () =>
      runJob(
        parsed({ version: "1.0", steps: [commandStep("bg", "sh,-c,sleep 30 & sleep 30 >&2 & echo started")] }),
        testRunContext(tempDir(), { onSpawn: (pid) => groups.push(pid) }),
      ),
    );
    try {
      for (const out of await Promise.all(runs)) expect(out.status).toBe("SUCCEEDED");
      const t0 = Date.now();
      await readFile("/proc/self/status", "utf8");
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      for (const g of groups) {
        try {
          process.kill(-g, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    // The pipes stay open (read and discarded) while the grandchildren live; once they are gone,
    // every descriptor is closed.
    for (let i = 0; i < 100 && readdirSync("/proc/self/fd").length > fdsBefore; i++) await Bun.sleep(50);
    expect(readdirSync("/proc/self/fd").length).toBeLessThanOrEqual(fdsBefore);
  });

  test("the runner reads through its own non-blocking pipes on this platform", () => {
    const pipe = openPipe();
    expect(pipe).toBeDefined();
    closeFd(pipe!.readFd);
    closeFd(pipe!.writeFd);
  });
});

describe("timeouts and cancellation leave no process of the group alive", () => {
  const stubborn = (pidFile: string) =>
    `#!/bin/sh\ntrap '' TERM\necho $$ > ${pidFile}\n(trap '' TERM; sleep 300) &\n(trap '' TERM; sleep 300 >&2) &\nwhile :; do sleep 1; done\n`;

  test("a step past its timeout is killed with its group and FAILED with the reason", async () => {
    const dir = tempDir();
    const pidFile = join(dir, "pid");
    writeHandler(dir, "stubborn.sh", stubborn(pidFile));
    let pid = 0;
    const out = await runJob(
      parsed({ version: "1.0", steps: [handlerStep("s", "stubborn.sh")] }),
      testRunContext(dir, { stepTimeoutSeconds: 1, graceMs: 300, onSpawn: (p) => (pid = p) }),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails.reason).toBe("Timed out after 1 s");
    expect(alive(pid)).toBe(false);
    expect(await survivors(pid)).toEqual([]);
  });

  test("aborting cancels: SIGTERM ignored, SIGKILL after the grace period, the whole group gone", async () => {
    const dir = tempDir();
    writeHandler(dir, "stubborn.sh", stubborn(join(dir, "pid")));
    const abort = new AbortController();
    let pid = 0;
    const running = runJob(
      parsed({ version: "1.0", steps: [handlerStep("s", "stubborn.sh")], finalStep: commandStep("never", "true") }),
      testRunContext(dir, { signal: abort.signal, graceMs: 300, onSpawn: (p) => (pid = p) }),
    );
    while (!(await Bun.file(join(dir, "pid")).exists())) await Bun.sleep(20);
    await Bun.sleep(100);
    expect(groupMembers(pid).length).toBeGreaterThanOrEqual(3);
    const t0 = Date.now();
    abort.abort("canceled");
    const out = await running;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(out.status).toBe("CANCELED");
    expect(out.steps).toHaveLength(1);
    expect(await survivors(pid)).toEqual([]);
  });

  test("a step that ends in time is not affected by the timeout", async () => {
    const out = await runJob(
      parsed({ version: "1.0", steps: [commandStep("quick", "sleep,0.2")] }),
      testRunContext(tempDir(), { stepTimeoutSeconds: 5 }),
    );
    expect(out.status).toBe("SUCCEEDED");
  });
});
