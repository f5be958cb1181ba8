import { describe, expect, test } from "bun:test";
import { runJob } from "../../src/runner/run-job.ts";
import { commandStep, handlerStep, parsed, testRunContext } from "../helpers/run-context.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

// The reference's TestJobEngine handlers: one-line scripts without a shebang (run through /bin/sh).
function referenceHandlers(): string {
  const dir = tempDir();
  writeHandler(dir, "successHandler", 'echo "This is test stdout"\n');
  writeHandler(dir, "errorHandler", '1>&2 echo "This is test stderr"; exit 1\n');
  return dir;
}

describe("runJob: the reference's TestJobEngine cases", () => {
  test("ExecuteStepsHappy: SUCCEEDED with stdout when includeStdOut", async () => {
    const dir = referenceHandlers();
    const out = await runJob(
      parsed({ version: "1.0", includeStdOut: true, steps: [handlerStep("s", "successHandler")] }),
      testRunContext(dir),
    );
    expect(out.status).toBe("SUCCEEDED");
    expect(out.statusDetails).toEqual({ reason: "Exited with status: 0", stdout: "This is test stdout\n" });
  });

  test("ExecuteSucceedThenFail: the finalStep's failure fails the job, output of both kept", async () => {
    const dir = referenceHandlers();
    const out = await runJob(
      parsed({
        version: "1.0",
        includeStdOut: "true",
        steps: [handlerStep("s", "successHandler")],
        finalStep: handlerStep("f", "errorHandler"),
      }),
      testRunContext(dir),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails).toEqual({
      reason: "Exited with status: 1",
      failedStep: "f",
      stdout: "This is test stdout\n",
      stderr: "This is test stderr\n",
    });
  });

  test("ExecuteStepsError: FAILED with stderr even without includeStdOut", async () => {
    const dir = referenceHandlers();
    const out = await runJob(
      parsed({ version: "1.0", steps: [handlerStep("e", "errorHandler")] }),
      testRunContext(dir),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails).toEqual({ reason: "Exited with status: 1", stderr: "This is test stderr\n" });
  });

  test("ExecuteRunCommandWithEmptyUser: runCommand as the agent's user", async () => {
    const dir = tempDir();
    const file = `${dir}/created`;
    const out = await runJob(
      parsed({ version: "1.0", steps: [commandStep("touch", `touch,${file}`)] }),
      testRunContext(dir),
    );
    expect(out.status).toBe("SUCCEEDED");
    expect(await Bun.file(file).exists()).toBe(true);
  });

  test("ExecuteRunCommandWithInvalidUser: unlike the reference, an unknown user fails the step", async () => {
    const dir = tempDir();
    const file = `${dir}/created`;
    const out = await runJob(
      parsed({ version: "1.0", steps: [commandStep("touch", `touch,${file}`, { runAsUser: "no-such-user-xyz" })] }),
      testRunContext(dir),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails.reason).toBe('runAsUser "no-such-user-xyz": no such user');
    expect(await Bun.file(file).exists()).toBe(false);
  });
});

describe("runJob: step semantics [DC-JOBS-steps]", () => {
  test("stops at the first failing step; finalStep is skipped", async () => {
    const dir = tempDir();
    const log = `${dir}/log`;
    const step = (n: string, code: number, extra = {}) =>
      commandStep(n, `sh,-c,echo ${n} >> ${log}; exit ${code}`, extra);
    const out = await runJob(
      parsed({
        version: "1.0",
        steps: [step("one", 0), step("two", 3), step("three", 0)],
        finalStep: step("final", 0),
      }),
      testRunContext(dir),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails.reason).toBe("Exited with status: 3");
    expect(out.statusDetails.failedStep).toBe("two");
    expect(await Bun.file(log).text()).toBe("one\ntwo\n");
  });

  test("ignoreStepFailure lets the job go on, and the final step runs", async () => {
    const dir = tempDir();
    const log = `${dir}/log`;
    const step = (n: string, code: number, extra = {}) =>
      commandStep(n, `sh,-c,echo ${n} >> ${log}; exit ${code}`, extra);
    const out = await runJob(
      parsed({
        version: "1.0",
        steps: [step("one", 4, { ignoreStepFailure: "true" }), step("two", 0)],
        finalStep: step("final", 0),
      }),
      testRunContext(dir),
    );
    expect(out.status).toBe("SUCCEEDED");
    expect(await Bun.file(log).text()).toBe("one\ntwo\nfinal\n");
  });

  test("ignoreStepFailure also covers a refused handler", async () => {
    const dir = tempDir();
    const out = await runJob(
      parsed({
        version: "1.0",
        steps: [handlerStep("missing", "nope.sh", [], { ignoreStepFailure: true }), commandStep("ok", "true")],
      }),
      testRunContext(dir),
    );
    expect(out.status).toBe("SUCCEEDED");
    expect(out.steps[0]!.reason).toBe(`Handler nope.sh not found in ${dir}`);
  });

  test("a child killed by a signal is a failure", async () => {
    const out = await runJob(
      parsed({ version: "1.0", steps: [commandStep("die", "sh,-c,kill -9 $$")] }),
      testRunContext(tempDir()),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails.reason).toBe("Killed by signal: SIGKILL");
  });

  test("a command that does not exist fails with a reason", async () => {
    const out = await runJob(
      parsed({ version: "1.0", steps: [commandStep("x", "no-such-command-xyz,arg")] }),
      testRunContext(tempDir()),
    );
    expect(out.status).toBe("FAILED");
    expect(out.statusDetails.reason).toBe('Could not start "no-such-command-xyz": ENOENT');
  });

  test("new schema: the handler gets the user as $1, then args", async () => {
    const dir = tempDir();
    writeHandler(dir, "show-args.sh", '#!/bin/sh\nfor a in "$@"; do printf "[%s]" "$a"; done\n');
    const out = await runJob(
      parsed({
        version: "1.0",
        includeStdOut: true,
        steps: [handlerStep("a", "show-args.sh", ["x y", "$(id)", ";rm -rf /"])],
      }),
      testRunContext(dir),
    );
    expect(out.statusDetails.stdout).toBe("[][x y][$(id)][;rm -rf /]");
  });

  test("old schema: args start at $1; stderr lines beyond allowStdErr fail the step", async () => {
    const dir = tempDir();
    writeHandler(dir, "warn.sh", '#!/bin/sh\nprintf "[%s]" "$@"\necho w1 >&2\necho w2 >&2\n');
    const two = await runJob(
      parsed({ operation: "warn.sh", args: ["a"], path: "default", allowStdErr: 2, includeStdOut: true }),
      testRunContext(dir),
    );
    expect(two.status).toBe("SUCCEEDED");
    expect(two.statusDetails.stdout).toBe("[a]");
    const none = await runJob(parsed({ operation: "warn.sh", args: ["a"], path: "default" }), testRunContext(dir));
    expect(none.status).toBe("FAILED");
    expect(none.statusDetails.reason).toBe("Printed 2 lines on stderr; allowStdErr is 0");
  });

  test("new schema: stderr alone does not fail a step", async () => {
    const out = await runJob(
      parsed({ version: "1.0", steps: [commandStep("w", "sh,-c,echo warning >&2")] }),
      testRunContext(tempDir()),
    );
    expect(out.status).toBe("SUCCEEDED");
    expect(out.statusDetails.stderr).toBe("warning\n");
  });

  test("a handler without path is taken from the handler directory, else from PATH", async () => {
    const dir = tempDir();
    writeHandler(dir, "mine.sh", "#!/bin/sh\necho mine\n");
    const doc = (handler: string) =>
      parsed({
        version: "1.0",
        includeStdOut: true,
        steps: [{ action: { name: "a", type: "runHandler", input: { handler, args: ["hi"] } } }],
      });
    expect((await runJob(doc("mine.sh"), testRunContext(dir))).statusDetails.stdout).toBe("mine\n");
    // The public echo.json: `echo "" "Hello IoT World!"`, a leading space as with the reference.
    expect((await runJob(doc("echo"), testRunContext(dir))).statusDetails.stdout).toBe(" hi\n");
  });

  test("children start with a clean signal mask, only fds 0-2, their own process group", async () => {
    const out = await runJob(
      parsed({
        version: "1.0",
        includeStdOut: true,
        steps: [
          commandStep(
            "probe",
            // The mask is read by the shell's own builtins before it forks anything: a shell waiting
            // for a child (`grep … /proc/$$/status`) blocks every signal meanwhile (dash's waitproc),
            // which made this test read the shell's wait, not the mask the agent gave it.
            "sh,-c,while read -r l; do case $l in SigBlk*) echo $l;; esac; done < /proc/$$/status; ls /proc/$$/fd | tr '\\n' ' '; echo; ps -o pgid= -p $$; echo $$",
          ),
        ],
      }),
      testRunContext(tempDir()),
    );
    const [mask, fds, pgid, pid] = out.statusDetails
      .stdout!.trim()
      .split("\n")
      .map((s) => s.trim());
    expect(mask).toBe("SigBlk: 0000000000000000");
    expect(fds!.split(" ").sort()).toEqual(["0", "1", "2"]);
    expect(pgid).toBe(pid);
  });
});
