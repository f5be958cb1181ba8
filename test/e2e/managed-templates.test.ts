/**
 * End to end: every AWS managed job template through CreateJob (jobTemplateArn +
 * documentParameters, through @aws-sdk/client-iot) → the local service's embedded broker → the
 * compiled agent with our shipped handlers → SUCCEEDED, as AWS delivers them: `"path": ""`,
 * `"runAsUser": ""`, lists in one argument. Commands that cannot run in a test (systemctl, reboot,
 * apt-get unless IOT_JOBS_TEST_APT=1 as root) are stand-ins first on PATH that record their argv.
 * Also a retry: a job that fails once comes back as execution 2, which the agent runs again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as Iot from "@aws-sdk/client-iot";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { RunningService } from "../../src/service/service.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent } from "../helpers/executables.ts";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { projectHandlerDir, tempDir, writeHandler } from "../helpers/temp.ts";

const realApt = process.geteuid!() === 0 && process.env.IOT_JOBS_TEST_APT === "1";
const managed = (name: string) => `arn:aws:iot:us-east-1::jobtemplate/AWS-${name}:1.0`;

let service: RunningService;
let iot: Iot.IoTClient;
let agent: AgentProcess | undefined;
let files: ReturnType<typeof Bun.serve> | undefined;
const bin = tempDir("managed-bin-");
const calls = join(bin, "calls.log");
const work = tempDir("managed-work-");
const stateDir = tempDir("managed-state-");
const rebootLock = join(work, "reboot.lock");

/** The agent's environment: the stand-ins first on PATH, the reboot lock in a temp directory. */
const agentEnv = {
  ...process.env,
  PATH: `${bin}:${process.env.PATH}`,
  IOT_JOBS_REBOOT_LOCK: rebootLock,
  IOT_JOBS_REBOOT_WAIT: "20",
};
const startAgent = () =>
  AgentProcess.start({
    brokerUrl: service.mqttUrl,
    thingName: "mt-pi",
    handlerDirectory: projectHandlerDir(),
    stateDir,
    command: [compiledAgent("linux-x64")],
    env: agentEnv,
  });

beforeAll(async () => {
  for (const tool of ["systemctl", "service", ...(realApt ? [] : ["apt-get"])]) {
    writeHandler(bin, tool, `#!/bin/sh\necho "${tool} $*" >> ${calls}\n`);
  }
  // A reboot that "goes down": the boot id in the lock changes (as after a boot) and the agent dies.
  writeHandler(
    bin,
    "reboot",
    `#!/bin/sh\necho "reboot" >> ${calls}\nread -r t b e < "$IOT_JOBS_REBOOT_LOCK"\n` +
      `echo "$t another-boot $e" > "$IOT_JOBS_REBOOT_LOCK"\n` +
      `agent=$(cut -d' ' -f4 /proc/$PPID/stat)\nkill -KILL "$agent"\n`,
  );
  files = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("artifact bytes\n") });
  service = await startLocalService();
  iot = iotClient(service.httpUrl);
  await iot.send(new Iot.CreateThingCommand({ thingName: "mt-pi" }));
  agent = startAgent();
}, 120_000);

afterAll(async () => {
  await agent?.kill();
  files?.stop(true);
  await service?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function runTemplate(jobId: string, template: string, documentParameters: Record<string, string>) {
  await iot.send(
    new Iot.CreateJobCommand({
      jobId,
      targets: [thingArn("mt-pi")],
      jobTemplateArn: managed(template),
      documentParameters,
    }),
  );
  return terminal(jobId);
}

async function terminal(jobId: string, executionNumber?: number) {
  const until = Date.now() + 60_000;
  for (;;) {
    const e = (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId, thingName: "mt-pi", executionNumber })))
      .execution!;
    if (!["QUEUED", "IN_PROGRESS"].includes(e.status!)) return e;
    if (Date.now() > until)
      throw new Error(`${jobId} still ${e.status}; agent log:\n${agent?.lines.slice(-30).join("\n")}`);
    await Bun.sleep(50);
  }
}

const recorded = () => (existsSync(calls) ? readFileSync(calls, "utf8") : "");

describe("AWS managed templates run by the compiled agent and our handlers", () => {
  test("AWS-Run-Command: comma-separated, \\, keeps a comma", async () => {
    const out = join(work, "run-command.out");
    const e = await runTemplate("t-run", "Run-Command", { command: `sh,-c,printf '%s|%s' "$0" "$1" > ${out},a\\,b,c` });
    expect(e.status).toBe("SUCCEEDED");
    expect(readFileSync(out, "utf8")).toBe("a,b|c");
    const doc = JSON.parse((await iot.send(new Iot.GetJobDocumentCommand({ jobId: "t-run" }))).document!);
    expect(doc.steps[0].action.runAsUser).toBe("");
  }, 90_000);

  test("AWS-Download-File fetches from a loopback server into filePath", async () => {
    const target = join(work, "downloaded.txt");
    const e = await runTemplate("t-dl", "Download-File", {
      downloadUrl: `http://127.0.0.1:${files!.port}/a.txt`,
      filePath: target,
    });
    expect(e.status).toBe("SUCCEEDED");
    expect(readFileSync(target, "utf8")).toBe("artifact bytes\n");
  }, 90_000);

  test(`AWS-Install-Application and AWS-Remove-Application with two packages in one parameter${realApt ? " (real apt-get)" : ""}`, async () => {
    const packages = realApt ? "hello tree" : "lftp dos2unix";
    expect((await runTemplate("t-install", "Install-Application", { packages })).status).toBe("SUCCEEDED");
    if (realApt) {
      const verify = Bun.spawnSync(["dpkg-query", "-W", "-f=${Status}\\n", "hello", "tree"]).stdout.toString();
      expect(verify).toBe("install ok installed\ninstall ok installed\n");
    } else expect(recorded()).toContain("apt-get install -y -q -- lftp dos2unix\n");
    expect((await runTemplate("t-remove", "Remove-Application", { packages })).status).toBe("SUCCEEDED");
    if (!realApt) expect(recorded()).toContain("apt-get remove -y -q --purge -- lftp dos2unix\n");
  }, 600_000);

  test("AWS-Start-, Stop- and Restart-Application with two services in one parameter", async () => {
    for (const [template, action] of [
      ["Start-Application", "start"],
      ["Stop-Application", "stop"],
      ["Restart-Application", "restart"],
    ]) {
      const e = await runTemplate(`t-${action}`, template!, { services: "nginx cron" });
      expect(e.status).toBe("SUCCEEDED");
      expect(recorded()).toContain(`systemctl ${action} -- nginx\nsystemctl ${action} -- cron\n`);
    }
  }, 90_000);

  test("a retry (same job, executionNumber 2) is delivered, run again and succeeds", async () => {
    const mark = join(work, "failed-once");
    const command = `sh,-c,test -f ${mark} || { touch ${mark}; exit 1; }`;
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "t-retry",
        targets: [thingArn("mt-pi")],
        jobTemplateArn: managed("Run-Command"),
        documentParameters: { command },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 2 }] },
      }),
    );
    expect((await terminal("t-retry", 1)).status).toBe("FAILED");
    const second = await terminal("t-retry", 2);
    expect(second.status).toBe("SUCCEEDED");
    const list = await iot.send(new Iot.ListJobExecutionsForThingCommand({ thingName: "mt-pi", jobId: "t-retry" }));
    expect(
      list.executionSummaries!.map((s) => [
        s.jobExecutionSummary!.executionNumber,
        s.jobExecutionSummary!.retryAttempt,
      ]),
    ).toEqual([
      [1, 0],
      [2, 1],
    ]);
  }, 90_000);

  test("AWS-Reboot: the agent goes down with the device and reports SUCCEEDED after the boot", async () => {
    await iot.send(
      new Iot.CreateJobCommand({ jobId: "t-reboot", targets: [thingArn("mt-pi")], jobTemplateArn: managed("Reboot") }),
    );
    expect(await agent!.proc.exited).not.toBe(0); // killed by the stand-in reboot
    expect(recorded()).toContain("reboot\n");
    agent = startAgent();
    const e = await terminal("t-reboot");
    expect(e.status).toBe("SUCCEEDED");
  }, 120_000);
});
