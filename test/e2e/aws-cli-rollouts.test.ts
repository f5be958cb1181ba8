/**
 * The AWS CLI walkthrough of docs/LOCAL-SERVICE.md ("Job templates, roll-outs and schedules"),
 * run as written: `aws iot …` with only --endpoint-url against `iot-jobs-local serve` in its own
 * process, with its clock sped up (--time-scale) and set (--start-time), and the agent (from
 * source) with our shipped handlers running what the CLI created. Skips without the AWS CLI.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { AgentProcess } from "../helpers/agent-process.ts";
import { spawnService } from "../helpers/executables.ts";
import { projectHandlerDir, REPO_ROOT, tempDir } from "../helpers/temp.ts";
import { awsCliEnv } from "../helpers/local-service.ts";

const hasCli = Bun.spawnSync(["aws", "--version"], { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
if (!hasCli) console.warn("test/e2e/aws-cli-rollouts: skipped — the AWS CLI (aws) is not installed");

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const env = awsCliEnv();

describe.skipIf(!hasCli)("AWS CLI: a managed-template job end to end, a scheduled one on a sped-up clock", () => {
  test("list/describe managed templates, create-job from AWS-Run-Command, the agent runs it; a schedule opens", async () => {
    // 120× real time from 2030-01-01T00:00Z: a minute lasts 500 ms.
    const svc = await spawnService(
      [process.execPath, join(REPO_ROOT, "src/service/main.ts")],
      ["--time-scale", "120", "--start-time", "2030-01-01T00:00Z", "--log-level", "ERROR"],
    );
    cleanups.push(() => svc.stop());
    const aws = async (...args: string[]) => {
      const p = Bun.spawn(["aws", "--endpoint-url", svc.http, "--output", "json", "iot", ...args], {
        env,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([
        new Response(p.stdout).text(),
        new Response(p.stderr).text(),
        p.exited,
      ]);
      if (code !== 0) throw new Error(`aws iot ${args.join(" ")}: ${err}`);
      return out.trim() ? JSON.parse(out) : {};
    };

    const listed = await aws("list-managed-job-templates");
    expect(listed.managedJobTemplates.length).toBe(8);
    const described = await aws("describe-managed-job-template", "--template-name", "AWS-Run-Command");
    expect(described.documentParameters.map((p: { key: string }) => p.key)).toEqual(["command", "runAsUser"]);

    await aws("create-thing", "--thing-name", "cli-pi");
    const agent = AgentProcess.start({
      brokerUrl: svc.mqtt,
      thingName: "cli-pi",
      handlerDirectory: projectHandlerDir(),
    });
    cleanups.push(() => agent.kill());
    const out = join(tempDir("cli-out-"), "hello.txt");
    await aws(
      "create-job",
      "--job-id",
      "cli-run",
      "--targets",
      "arn:aws:iot:us-east-1:123456789012:thing/cli-pi",
      "--job-template-arn",
      "arn:aws:iot:us-east-1::jobtemplate/AWS-Run-Command:1.0",
      "--document-parameters",
      JSON.stringify({ command: `sh,-c,echo hello > ${out}` }),
    );
    const until = Date.now() + 30_000;
    let status = "";
    while (Date.now() < until) {
      status = (await aws("describe-job-execution", "--job-id", "cli-run", "--thing-name", "cli-pi")).execution.status;
      if (status !== "QUEUED" && status !== "IN_PROGRESS") break;
      await Bun.sleep(100);
    }
    expect(status).toBe("SUCCEEDED");
    expect(await Bun.file(out).text()).toBe("hello\n");

    // Scheduled 45 service minutes ahead (the service's time, read from its last answer):
    // SCHEDULED now, IN_PROGRESS and run about 20 s later.
    const serviceNow = (await aws("describe-job", "--job-id", "cli-run")).job.lastUpdatedAt * 1000;
    const startTime = new Date(Math.ceil((serviceNow + 45 * 60_000) / 60_000) * 60_000).toISOString().slice(0, 16);
    expect(startTime.startsWith("2030-01-01T")).toBe(true);
    await aws(
      "create-job",
      "--job-id",
      "cli-later",
      "--targets",
      "arn:aws:iot:us-east-1:123456789012:thing/cli-pi",
      "--job-template-arn",
      "arn:aws:iot:us-east-1::jobtemplate/AWS-Run-Command:1.0",
      "--document-parameters",
      JSON.stringify({ command: "true" }),
      "--scheduling-config",
      JSON.stringify({ startTime, endBehavior: "STOP_ROLLOUT" }),
    );
    expect((await aws("describe-job", "--job-id", "cli-later")).job.status).toBe("SCHEDULED");
    const later = Date.now() + 60_000;
    while (Date.now() < later) {
      const job = (await aws("describe-job", "--job-id", "cli-later")).job;
      if (job.status === "COMPLETED") break;
      await Bun.sleep(200);
    }
    const done = (await aws("describe-job", "--job-id", "cli-later")).job;
    expect(done.status).toBe("COMPLETED");
    expect(done.jobProcessDetails.numberOfSucceededThings).toBe(1);
    expect(done.createdAt).toBeLessThan(Date.parse(`${startTime}Z`) / 1000);
  }, 120_000);
});
