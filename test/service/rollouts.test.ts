/**
 * Job templates (AWS managed and custom), roll-out rates, abort and retry configs, through the AWS
 * SDK on the control plane and real MQTT devices on the embedded broker. Time is a ManualClock:
 * a roll-out minute passes when the test advances it, never by waiting.
 */
import { afterEach, describe, expect, test } from "bun:test";
import * as Iot from "@aws-sdk/client-iot";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningService } from "../../src/service/service.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { Device, groupArn, iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";

const MINUTE = 60_000;
const doc = JSON.stringify({
  version: "1.0",
  steps: [{ action: { name: "s", type: "runCommand", input: { command: "true" } } }],
});
const managedArn = (name: string) => `arn:aws:iot:us-east-1::jobtemplate/${name}:1.0`;

let service: RunningService | undefined;
let devices: Device[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const d of devices) await d.close();
  devices = [];
  await service?.stop();
  service = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup(things: string[], options: { dataDir?: string; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 0, 1));
  service = await startLocalService({ clock, dataDir: options.dataDir });
  const iot = iotClient(service.httpUrl);
  for (const thingName of things) await iot.send(new Iot.CreateThingCommand({ thingName })).catch(() => {});
  return { iot, clock, service };
}

async function caught(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { name: (e as Error).name, message: (e as Error).message };
  }
  throw new Error("expected a refusal");
}

async function executions(iot: Iot.IoTClient, jobId: string) {
  const out = await iot.send(new Iot.ListJobExecutionsForJobCommand({ jobId }));
  return (out.executionSummaries ?? []).map((s) => ({
    thing: s.thingArn!.split("/").pop()!,
    status: s.jobExecutionSummary!.status!,
    executionNumber: s.jobExecutionSummary!.executionNumber!,
    retryAttempt: s.jobExecutionSummary!.retryAttempt!,
  }));
}

async function describe_(iot: Iot.IoTClient, jobId: string) {
  return (await iot.send(new Iot.DescribeJobCommand({ jobId }))).job!;
}

/** A device that starts its next execution and reports `status` for it. */
async function run(device: Device, status: string): Promise<{ jobId: string; executionNumber: number }> {
  const started = await device.request("jobs/start-next", {});
  const e = started.payload.execution;
  if (!e) throw new Error(`${device.thing}: nothing to start`);
  const reply = await device.request(`jobs/${e.jobId}/update`, { status, executionNumber: e.executionNumber });
  expect(reply.topic.endsWith("/accepted")).toBe(true);
  return { jobId: e.jobId, executionNumber: e.executionNumber };
}

async function connect(url: string, thing: string): Promise<Device> {
  const d = await Device.connect(url, thing, [
    "$aws/things/{thing}/jobs/notify-next",
    "$aws/things/{thing}/jobs/start-next/+",
    "$aws/things/{thing}/jobs/+/update/+",
    "$aws/things/{thing}/jobs/+/get/+",
  ]);
  devices.push(d);
  return d;
}

describe("AWS managed job templates", () => {
  test("ListManagedJobTemplates lists the eight AWS templates at 1.0; DescribeManagedJobTemplate gives document and parameters", async () => {
    const { iot } = await setup([]);
    const list = await iot.send(new Iot.ListManagedJobTemplatesCommand({}));
    const names = list.managedJobTemplates!.map((t) => t.templateName).sort();
    expect(names).toEqual([
      "AWS-Download-File",
      "AWS-Install-Application",
      "AWS-Reboot",
      "AWS-Remove-Application",
      "AWS-Restart-Application",
      "AWS-Run-Command",
      "AWS-Start-Application",
      "AWS-Stop-Application",
    ]);
    for (const t of list.managedJobTemplates!) {
      expect(t.templateVersion).toBe("1.0");
      expect(t.templateArn).toBe(managedArn(t.templateName!));
    }
    const d = await iot.send(new Iot.DescribeManagedJobTemplateCommand({ templateName: "AWS-Download-File" }));
    expect(d.documentParameters!.map((p) => [p.key, p.regex, p.optional])).toEqual([
      ["downloadUrl", "(.*?)", false],
      ["filePath", "(.*?)", false],
      ["runAsUser", "(.){0,256}", true],
      ["pathToHandler", "(.){0,4096}", true],
    ]);
    const step = JSON.parse(d.document!).steps[0].action;
    expect(step.input.handler).toBe("download-file.sh");
    const missing = await caught(iot.send(new Iot.DescribeManagedJobTemplateCommand({ templateName: "AWS-Nothing" })));
    expect(missing.name).toBe("ResourceNotFoundException");
    const version = await caught(
      iot.send(new Iot.DescribeManagedJobTemplateCommand({ templateName: "AWS-Reboot", templateVersion: "2.0" })),
    );
    expect(version.name).toBe("ResourceNotFoundException");
  });

  test("CreateJob with AWS-Install-Application: the package list is ONE argument; omitted optional parameters become empty strings", async () => {
    const { iot } = await setup(["mt-1"]);
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "install",
        targets: [thingArn("mt-1")],
        jobTemplateArn: managedArn("AWS-Install-Application"),
        documentParameters: { packages: "lftp dos2unix" },
      }),
    );
    const document = JSON.parse((await iot.send(new Iot.GetJobDocumentCommand({ jobId: "install" }))).document!);
    expect(document.steps[0].action).toEqual({
      name: "Install-Application",
      type: "runHandler",
      input: { handler: "install-packages.sh", args: ["lftp dos2unix"], path: "" },
      runAsUser: "",
    });
    const job = await describe_(iot, "install");
    expect(job.jobTemplateArn).toBe(managedArn("AWS-Install-Application"));
    expect(job.documentParameters).toEqual({ packages: "lftp dos2unix" });
  });

  test("parameters: a value is substituted as data, never as JSON (quotes and braces survive)", async () => {
    const { iot } = await setup(["mt-2"]);
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "cmd",
        targets: [thingArn("mt-2")],
        jobTemplateArn: managedArn("AWS-Run-Command"),
        documentParameters: { command: 'echo,"a\\,b",}', runAsUser: "nobody" },
      }),
    );
    const action = JSON.parse((await iot.send(new Iot.GetJobDocumentCommand({ jobId: "cmd" }))).document!).steps[0]
      .action;
    expect(action.input.command).toBe('echo,"a\\,b",}');
    expect(action.runAsUser).toBe("nobody");
  });

  test("refusals name the parameter and the reason", async () => {
    const { iot } = await setup(["mt-3"]);
    const create = (extra: Partial<Iot.CreateJobCommandInput>) =>
      caught(iot.send(new Iot.CreateJobCommand({ jobId: "bad", targets: [thingArn("mt-3")], ...extra })));
    const required = await create({
      jobTemplateArn: managedArn("AWS-Download-File"),
      documentParameters: { filePath: "/tmp/x" },
    });
    expect(required.name).toBe("InvalidRequestException");
    expect(required.message).toContain("downloadUrl is required");
    const unknown = await create({ jobTemplateArn: managedArn("AWS-Reboot"), documentParameters: { force: "yes" } });
    expect(unknown.message).toContain("has no parameter force");
    const tooLong = await create({
      jobTemplateArn: managedArn("AWS-Download-File"),
      documentParameters: { downloadUrl: "http://x", filePath: "/x", runAsUser: "u".repeat(257) },
    });
    expect(tooLong.message).toContain("runAsUser does not match its pattern (.){0,256}");
    const plain = await create({ document: doc, documentParameters: { packages: "x" } });
    expect(plain.message).toContain("documentParameters can only be used with an AWS managed job template");
    await iot.send(new Iot.CreateJobTemplateCommand({ jobTemplateId: "custom", description: "c", document: doc }));
    const custom = await create({
      jobTemplateArn: "arn:aws:iot:us-east-1:123456789012:jobtemplate/custom",
      documentParameters: { packages: "x" },
    });
    expect(custom.message).toContain("not with a custom one");
    const both = await create({ jobTemplateArn: managedArn("AWS-Reboot"), document: doc });
    expect(both.message).toContain("not both");
    const missing = await create({ jobTemplateArn: managedArn("AWS-Nothing") });
    expect(missing.name).toBe("ResourceNotFoundException");
    // Nothing of the refused jobs was kept.
    expect((await iot.send(new Iot.ListJobsCommand({}))).jobs).toEqual([]);
  });
});

describe("custom job templates", () => {
  test("create from a document and from a job; CreateJob from a template, its own fields overriding", async () => {
    const { iot } = await setup(["ct-1"]);
    const rollout = { maximumPerMinute: 7 };
    const abortConfig = {
      criteriaList: [
        {
          failureType: "FAILED" as const,
          action: "CANCEL" as const,
          thresholdPercentage: 50,
          minNumberOfExecutedThings: 2,
        },
      ],
    };
    await iot.send(
      new Iot.CreateJobTemplateCommand({
        jobTemplateId: "tpl",
        description: "from a document",
        document: doc,
        jobExecutionsRolloutConfig: rollout,
        abortConfig,
        timeoutConfig: { inProgressTimeoutInMinutes: 30 },
      }),
    );
    const t = await iot.send(new Iot.DescribeJobTemplateCommand({ jobTemplateId: "tpl" }));
    expect(t.document).toBe(doc);
    expect(t.jobExecutionsRolloutConfig).toEqual(rollout);
    expect(t.abortConfig).toEqual(abortConfig);
    const arn = t.jobTemplateArn!;
    expect(arn).toBe("arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl");
    const dup = await caught(
      iot.send(new Iot.CreateJobTemplateCommand({ jobTemplateId: "tpl", description: "x", document: doc })),
    );
    expect(dup.name).toBe("ConflictException");

    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "from-tpl",
        targets: [thingArn("ct-1")],
        jobTemplateArn: arn,
        description: "mine",
      }),
    );
    const job = await describe_(iot, "from-tpl");
    expect(job.description).toBe("mine");
    expect(job.jobTemplateArn).toBe(arn);
    expect(job.jobExecutionsRolloutConfig).toEqual(rollout);
    expect(job.abortConfig).toEqual(abortConfig);
    expect(job.timeoutConfig).toEqual({ inProgressTimeoutInMinutes: 30 });

    await iot.send(
      new Iot.CreateJobTemplateCommand({
        jobTemplateId: "copy",
        description: "from a job",
        jobArn: job.jobArn,
        jobExecutionsRolloutConfig: { maximumPerMinute: 3 },
      }),
    );
    const copy = await iot.send(new Iot.DescribeJobTemplateCommand({ jobTemplateId: "copy" }));
    expect(copy.document).toBe(doc);
    expect(copy.abortConfig).toEqual(abortConfig);
    expect(copy.jobExecutionsRolloutConfig).toEqual({ maximumPerMinute: 3 });

    const listed = await iot.send(new Iot.ListJobTemplatesCommand({}));
    expect(listed.jobTemplates!.map((x) => x.jobTemplateId)).toEqual(["copy", "tpl"]);
    await iot.send(new Iot.DeleteJobTemplateCommand({ jobTemplateId: "copy" }));
    const gone = await caught(iot.send(new Iot.DescribeJobTemplateCommand({ jobTemplateId: "copy" })));
    expect(gone.name).toBe("ResourceNotFoundException");
    const noJob = await caught(
      iot.send(
        new Iot.CreateJobTemplateCommand({
          jobTemplateId: "x",
          description: "x",
          jobArn: "arn:aws:iot:us-east-1:123456789012:job/none",
        }),
      ),
    );
    expect(noJob.name).toBe("ResourceNotFoundException");
  });
});

describe("roll-out rates", () => {
  test("maximumPerMinute k: at most k things reached per minute, unreached ones get nothing, all reached in the end", async () => {
    const things = Array.from({ length: 10 }, (_, i) => `ro-${i}`);
    const { iot, clock, service } = await setup(things);
    const last = await connect(service.mqttUrl, "ro-9");
    await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "ro" }));
    for (const thingName of things)
      await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "ro", thingName }));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "rate",
        targets: [groupArn("ro")],
        document: doc,
        jobExecutionsRolloutConfig: { maximumPerMinute: 3 },
      }),
    );
    const perMinute: number[] = [];
    let seen = 0;
    for (let minute = 0; minute < 6; minute++) {
      const now = (await executions(iot, "rate")).length;
      perMinute.push(now - seen);
      seen = now;
      if (minute === 0) {
        const job = await describe_(iot, "rate");
        expect(job.isConcurrent).toBe(true);
        expect(job.status).toBe("IN_PROGRESS");
        // ro-9 is not reached yet: no execution, no notification.
        const pending = await last.request("jobs/get", {});
        expect(pending.payload.queuedJobs).toEqual([]);
        expect(last.messages.filter((m) => m.topic.endsWith("notify-next"))).toEqual([]);
      }
      clock.advance(MINUTE);
    }
    expect(perMinute).toEqual([3, 3, 3, 1, 0, 0]);
    await last.waitFor((m) => m.topic.endsWith("notify-next") && m.payload.execution?.jobId === "rate");
    const job = await describe_(iot, "rate");
    expect(job.isConcurrent).toBe(false);
    expect(job.jobProcessDetails!.numberOfQueuedThings).toBe(10);
  });

  test("a snapshot job with a roll-out completes only once every thing is reached and done", async () => {
    const things = ["rc-0", "rc-1", "rc-2"];
    const { iot, clock, service } = await setup(things);
    const ds = await Promise.all(things.map((t) => connect(service.mqttUrl, t)));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "done",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
      }),
    );
    await run(ds[0]!, "SUCCEEDED");
    await run(ds[1]!, "SUCCEEDED");
    expect((await describe_(iot, "done")).status).toBe("IN_PROGRESS");
    clock.advance(MINUTE);
    await run(ds[2]!, "SUCCEEDED");
    expect((await describe_(iot, "done")).status).toBe("COMPLETED");
  });

  test("exponentialRate with a succeeded-things criterion: the rate steps up from the minute after the criterion is met", async () => {
    const things = Array.from({ length: 12 }, (_, i) => `ex-${String(i).padStart(2, "0")}`);
    const { iot, clock, service } = await setup(things);
    const ds = new Map<string, Device>();
    for (const t of things) ds.set(t, await connect(service.mqttUrl, t));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "exp",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: {
          exponentialRate: {
            baseRatePerMinute: 2,
            incrementFactor: 2,
            rateIncreaseCriteria: { numberOfSucceededThings: 2 },
          },
        },
      }),
    );
    expect((await executions(iot, "exp")).length).toBe(2);
    // Both succeed: 2 succeeded → rate 4, from the next minute on (this one began at 2).
    for (const e of await executions(iot, "exp")) await run(ds.get(e.thing)!, "SUCCEEDED");
    expect((await executions(iot, "exp")).length).toBe(2);
    clock.advance(MINUTE);
    expect((await executions(iot, "exp")).length).toBe(6);
    clock.advance(MINUTE); // nothing more succeeded: still 4 per minute
    expect((await executions(iot, "exp")).length).toBe(10);
  });

  test("exponentialRate with a notified-things criterion: the rate rises at each multiple of the criterion", async () => {
    const things = Array.from({ length: 30 }, (_, i) => `en-${String(i).padStart(2, "0")}`);
    const { iot, clock } = await setup(things);
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "expn",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: {
          exponentialRate: {
            baseRatePerMinute: 2,
            incrementFactor: 1.5,
            rateIncreaseCriteria: { numberOfNotifiedThings: 5 },
          },
        },
      }),
    );
    const counts: number[] = [];
    let seen = 0;
    for (let minute = 0; minute < 9; minute++) {
      const n = (await executions(iot, "expn")).length;
      counts.push(n - seen);
      seen = n;
      clock.advance(MINUTE);
    }
    // The schedule by hand: each minute's rate = floor(2 × 1.5^floor(notified at its start / 5)).
    // m0: 2 (2). m1: 2 (4). m2: 2 (6). m3: 3 (9). m4: 3 (12). m5: 4 (16). m6: 6 (22). m7: 10 → the 8 left.
    expect(counts).toEqual([2, 2, 2, 3, 3, 4, 6, 8, 0]);
  });

  test("UpdateJob raises the rate within the current minute", async () => {
    const things = Array.from({ length: 6 }, (_, i) => `ru-${i}`);
    const { iot } = await setup(things);
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "upd",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
      }),
    );
    expect((await executions(iot, "upd")).length).toBe(1);
    await iot.send(new Iot.UpdateJobCommand({ jobId: "upd", jobExecutionsRolloutConfig: { maximumPerMinute: 4 } }));
    expect((await executions(iot, "upd")).length).toBe(4);
    expect((await describe_(iot, "upd")).jobExecutionsRolloutConfig).toEqual({ maximumPerMinute: 4 });
  });

  test("a restart resumes the roll-out at its rate: nothing lost, nothing reached twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rollout-restart-"));
    dirs.push(dir);
    const things = Array.from({ length: 7 }, (_, i) => `rr-${i}`);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    let { iot, service: s } = await setup(things, { dataDir: dir, clock });
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "rs",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: { maximumPerMinute: 3 },
      }),
    );
    expect((await executions(iot, "rs")).length).toBe(3);
    await s.stop();
    service = undefined;
    clock.advance(MINUTE / 2);
    ({ iot, service: s } = await setup([], { dataDir: dir, clock }));
    expect((await executions(iot, "rs")).length).toBe(3); // still the same minute
    clock.advance(MINUTE / 2);
    expect((await executions(iot, "rs")).length).toBe(6);
    clock.advance(MINUTE);
    const all = await executions(iot, "rs");
    expect(all.map((e) => e.thing).sort()).toEqual(things);
    expect(all.every((e) => e.executionNumber === 1)).toBe(true);
  });

  test("a restart after minutes down does not catch up: one minute's things at start, then the rate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rollout-down-"));
    dirs.push(dir);
    const things = Array.from({ length: 12 }, (_, i) => `rd-${String(i).padStart(2, "0")}`);
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    let { iot, service: s } = await setup(things, { dataDir: dir, clock });
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "down",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
      }),
    );
    expect((await executions(iot, "down")).length).toBe(2);
    await s.stop();
    service = undefined;
    clock.advance(5 * MINUTE); // five minutes missed while the service was down
    ({ iot, service: s } = await setup([], { dataDir: dir, clock }));
    clock.advance(0); // the overdue minute timer fires at once
    expect((await executions(iot, "down")).length).toBe(4); // a new minute: 2 more, not the 10 missed
    clock.advance(MINUTE - 1);
    expect((await executions(iot, "down")).length).toBe(4);
    clock.advance(1);
    expect((await executions(iot, "down")).length).toBe(6);
  });
});

test("a restart keeps a continuous job's held-back group members held back (start-up checks respect the roll-out)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rollout-continuous-"));
  dirs.push(dir);
  const things = Array.from({ length: 5 }, (_, i) => `rk-${i}`);
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  let { iot, service: s } = await setup(things, { dataDir: dir, clock });
  await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "rk" }));
  for (const thingName of things)
    await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "rk", thingName }));
  await iot.send(
    new Iot.CreateJobCommand({
      jobId: "rk",
      targets: [groupArn("rk")],
      targetSelection: "CONTINUOUS",
      document: doc,
      jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
    }),
  );
  await s.stop();
  service = undefined;
  ({ iot, service: s } = await setup([], { dataDir: dir, clock }));
  expect((await executions(iot, "rk")).length).toBe(2);
  // rk-3 leaves the group while held back: the continuous job never reaches it.
  await iot.send(new Iot.RemoveThingFromThingGroupCommand({ thingGroupName: "rk", thingName: "rk-3" }));
  clock.advance(MINUTE);
  expect((await executions(iot, "rk")).map((e) => e.thing)).toEqual(["rk-0", "rk-1", "rk-2", "rk-4"]);
});

describe("abort", () => {
  test("at the threshold the job is CANCELED with its reason; QUEUED ones CANCELED, IN_PROGRESS ones left to finish", async () => {
    const things = ["ab-0", "ab-1", "ab-2", "ab-3", "ab-4"];
    const { iot, service } = await setup(things);
    const ds = await Promise.all(things.map((t) => connect(service.mqttUrl, t)));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "abort",
        targets: things.map(thingArn),
        document: doc,
        abortConfig: {
          criteriaList: [
            { failureType: "FAILED", action: "CANCEL", thresholdPercentage: 50, minNumberOfExecutedThings: 2 },
          ],
        },
      }),
    );
    const running = await ds[0]!.request("jobs/start-next", {});
    expect(running.payload.execution.status).toBe("IN_PROGRESS");
    await run(ds[1]!, "FAILED"); // 1 executed: below the minimum
    expect((await describe_(iot, "abort")).status).toBe("IN_PROGRESS");
    await run(ds[2]!, "SUCCEEDED"); // 2 executed, 1 failed: 50% → abort
    const job = await describe_(iot, "abort");
    expect(job.status).toBe("CANCELED");
    expect(job.comment).toContain("1 of 2 executed things ended FAILED");
    const byThing = Object.fromEntries((await executions(iot, "abort")).map((e) => [e.thing, e.status]));
    expect(byThing).toEqual({
      "ab-0": "IN_PROGRESS",
      "ab-1": "FAILED",
      "ab-2": "SUCCEEDED",
      "ab-3": "CANCELED",
      "ab-4": "CANCELED",
    });
    // The IN_PROGRESS one still finishes.
    const done = await ds[0]!.request("jobs/abort/update", { status: "SUCCEEDED" });
    expect(done.topic.endsWith("/accepted")).toBe(true);
  });

  test("an abort cancels queued retries and stops the roll-out", async () => {
    const things = ["aq-0", "aq-1", "aq-2", "aq-3"];
    const { iot, service } = await setup(things);
    const ds = await Promise.all(things.map((t) => connect(service.mqttUrl, t)));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "aq",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 1 }] },
        abortConfig: {
          criteriaList: [
            { failureType: "ALL", action: "CANCEL", thresholdPercentage: 100, minNumberOfExecutedThings: 1 },
          ],
        },
      }),
    );
    await run(ds[0]!, "FAILED"); // retried: not executed yet, no abort
    let list = await executions(iot, "aq");
    expect(list.filter((e) => e.thing === "aq-0").map((e) => [e.executionNumber, e.status, e.retryAttempt])).toEqual([
      [1, "FAILED", 0],
      [2, "QUEUED", 1],
    ]);
    await run(ds[1]!, "REJECTED"); // executed, 100% → abort
    expect((await describe_(iot, "aq")).status).toBe("CANCELED");
    list = await executions(iot, "aq");
    expect(list.find((e) => e.thing === "aq-0" && e.executionNumber === 2)!.status).toBe("CANCELED");
    expect(list.some((e) => e.thing === "aq-2" || e.thing === "aq-3")).toBe(false);
    expect((await describe_(iot, "aq")).isConcurrent).toBe(false);
  });
});

describe("retries", () => {
  test("FAILED comes back as a new execution (executionNumber + 1, retryAttempt) up to the count; REJECTED never", async () => {
    const { iot, service } = await setup(["rt-1", "rt-2"]);
    const d1 = await connect(service.mqttUrl, "rt-1");
    const d2 = await connect(service.mqttUrl, "rt-2");
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "retry",
        targets: [thingArn("rt-1"), thingArn("rt-2")],
        document: doc,
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 2 }] },
      }),
    );
    const first = await run(d1, "FAILED");
    expect(first.executionNumber).toBe(1);
    const notified = await d1.waitFor(
      (m) => m.topic.endsWith("notify-next") && m.payload.execution?.executionNumber === 2,
    );
    expect(notified.payload.execution.jobId).toBe("retry");
    expect((await run(d1, "FAILED")).executionNumber).toBe(2);
    expect((await run(d1, "FAILED")).executionNumber).toBe(3);
    const none = await d1.request("jobs/start-next", {});
    expect(none.payload.execution).toBeUndefined();
    await run(d2, "REJECTED");
    const list = await executions(iot, "retry");
    expect(list.map((e) => [e.thing, e.executionNumber, e.status, e.retryAttempt])).toEqual([
      ["rt-1", 1, "FAILED", 0],
      ["rt-1", 2, "FAILED", 1],
      ["rt-1", 3, "FAILED", 2],
      ["rt-2", 1, "REJECTED", 0],
    ]);
    expect((await describe_(iot, "retry")).status).toBe("COMPLETED");
    const details = (await describe_(iot, "retry")).jobProcessDetails!;
    expect([details.numberOfFailedThings, details.numberOfRejectedThings, details.numberOfQueuedThings]).toEqual([
      1, 1, 0,
    ]);
    const e2 = await iot.send(
      new Iot.DescribeJobExecutionCommand({ jobId: "retry", thingName: "rt-1", executionNumber: 2 }),
    );
    expect(e2.execution!.status).toBe("FAILED");
  });

  test("TIMED_OUT is retried with a timeout config (ManualClock), and a TIMED_OUT retry without one is refused", async () => {
    const { iot, clock, service } = await setup(["to-1"]);
    const d = await connect(service.mqttUrl, "to-1");
    const refused = await caught(
      iot.send(
        new Iot.CreateJobCommand({
          jobId: "no-timeout",
          targets: [thingArn("to-1")],
          document: doc,
          jobExecutionsRetryConfig: { criteriaList: [{ failureType: "TIMED_OUT", numberOfRetries: 1 }] },
        }),
      ),
    );
    expect(refused.message).toContain("needs a timeoutConfig");
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "timeout",
        targets: [thingArn("to-1")],
        document: doc,
        timeoutConfig: { inProgressTimeoutInMinutes: 2 },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "ALL", numberOfRetries: 1 }] },
      }),
    );
    await d.request("jobs/start-next", {});
    const mid = await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "timeout", thingName: "to-1" }));
    expect(mid.execution!.approximateSecondsBeforeTimedOut).toBe(120);
    // The device API shows it too (DescribeJobExecution over MQTT).
    const described = await d.request("jobs/timeout/get", {});
    expect(described.payload.execution.approximateSecondsBeforeTimedOut).toBe(120);
    clock.advance(2 * MINUTE);
    const list = await executions(iot, "timeout");
    expect(list.map((e) => [e.executionNumber, e.status, e.retryAttempt])).toEqual([
      [1, "TIMED_OUT", 0],
      [2, "QUEUED", 1],
    ]);
    const again = await d.request("jobs/start-next", {});
    expect(again.payload.execution.executionNumber).toBe(2);
  });
});

describe("scheduling (ManualClock: 2026-01-01T00:00Z)", () => {
  const HOUR = 60 * MINUTE;
  const T0 = Date.UTC(2026, 0, 1);

  test("SCHEDULED until startTime: nothing reached, then IN_PROGRESS and every thing reached", async () => {
    const things = ["sc-0", "sc-1"];
    const { iot, clock, service } = await setup(things, { clock: new ManualClock(T0) });
    const device = await connect(service.mqttUrl, "sc-0");
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "later",
        targets: things.map(thingArn),
        document: doc,
        schedulingConfig: { startTime: "2026-01-01T01:00" },
      }),
    );
    let job = await describe_(iot, "later");
    expect(job.status).toBe("SCHEDULED");
    expect(job.schedulingConfig).toEqual({ startTime: "2026-01-01T01:00" });
    expect((await iot.send(new Iot.ListJobsCommand({ status: "SCHEDULED" }))).jobs!.map((j) => j.jobId)).toEqual([
      "later",
    ]);
    expect(await executions(iot, "later")).toEqual([]);
    clock.advance(HOUR - MINUTE);
    expect(await executions(iot, "later")).toEqual([]);
    clock.advance(MINUTE);
    job = await describe_(iot, "later");
    expect(job.status).toBe("IN_PROGRESS");
    expect((await executions(iot, "later")).map((e) => e.status)).toEqual(["QUEUED", "QUEUED"]);
    await device.waitFor((m) => m.topic.endsWith("notify-next") && m.payload.execution?.jobId === "later");
  });

  test("maintenance windows: rolls out (at its rate) only while a window is open; SCHEDULED between; scheduledJobRollouts", async () => {
    const things = Array.from({ length: 6 }, (_, i) => `mw-${i}`);
    const { iot, clock } = await setup(things, { clock: new ManualClock(T0) });
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "windows",
        targets: things.map(thingArn),
        document: doc,
        jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
        schedulingConfig: {
          startTime: "2026-01-01T01:00",
          maintenanceWindows: [{ startTime: "cron(0 0/2 * * ? *)", durationInMinutes: 2 }],
        },
      }),
    );
    const job = await describe_(iot, "windows");
    expect(job.scheduledJobRollouts!.map((r) => r.startTime)).toEqual([
      "2026-01-01T02:00",
      "2026-01-01T04:00",
      "2026-01-01T06:00",
      "2026-01-01T08:00",
      "2026-01-01T10:00",
      "2026-01-01T12:00",
      "2026-01-01T14:00",
    ]);
    clock.advance(HOUR); // 01:00: started, but no window is open
    expect((await describe_(iot, "windows")).status).toBe("SCHEDULED");
    expect((await executions(iot, "windows")).length).toBe(0);
    clock.advance(HOUR); // 02:00: the window opens
    expect((await describe_(iot, "windows")).status).toBe("IN_PROGRESS");
    expect((await executions(iot, "windows")).length).toBe(2);
    clock.advance(MINUTE); // 02:01
    expect((await executions(iot, "windows")).length).toBe(4);
    clock.advance(MINUTE); // 02:02: closed
    expect((await describe_(iot, "windows")).status).toBe("SCHEDULED");
    clock.advance(HOUR);
    expect((await executions(iot, "windows")).length).toBe(4);
    clock.advance(HOUR - 2 * MINUTE); // 04:00
    expect((await describe_(iot, "windows")).status).toBe("IN_PROGRESS");
    expect((await executions(iot, "windows")).length).toBe(6);
    expect((await describe_(iot, "windows")).scheduledJobRollouts).toBeUndefined();
  });

  test("endTime with CANCEL: QUEUED executions CANCELED; with STOP_ROLLOUT the job keeps what it reached", async () => {
    const things = ["et-0", "et-1", "et-2"];
    const { iot, clock, service } = await setup(things, { clock: new ManualClock(T0) });
    const d0 = await connect(service.mqttUrl, "et-0");
    for (const [jobId, endBehavior] of [
      ["end-cancel", "CANCEL"],
      ["end-stop", "STOP_ROLLOUT"],
    ] as const) {
      await iot.send(
        new Iot.CreateJobCommand({
          jobId,
          targets: things.map(thingArn),
          document: doc,
          jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
          schedulingConfig: { startTime: "2026-01-01T01:00", endTime: "2026-01-01T01:31", endBehavior },
        }),
      );
    }
    clock.advance(HOUR); // both start; each reaches et-0
    await run(d0, "SUCCEEDED"); // end-cancel on et-0
    clock.advance(MINUTE); // each reaches et-1
    clock.advance(30 * MINUTE); // 01:31: the end (et-2 was reached at 01:02 too: rate 1/min)
    const cancel = await describe_(iot, "end-cancel");
    expect(cancel.status).toBe("CANCELED");
    expect(cancel.comment).toContain("endTime");
    const byThing = Object.fromEntries((await executions(iot, "end-cancel")).map((e) => [e.thing, e.status]));
    expect(byThing).toEqual({ "et-0": "SUCCEEDED", "et-1": "CANCELED", "et-2": "CANCELED" });
    expect((await describe_(iot, "end-stop")).status).toBe("IN_PROGRESS");
    expect((await executions(iot, "end-stop")).length).toBe(3);
  });

  test("STOP_ROLLOUT at endTime: things not reached by then never are", async () => {
    const things = ["es-0", "es-1", "es-2"];
    const { iot, clock } = await setup(things, { clock: new ManualClock(T0) });
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "stop",
        targets: things.map(thingArn),
        document: doc,
        schedulingConfig: {
          startTime: "2026-01-01T01:00",
          endTime: "2026-01-01T05:00",
          maintenanceWindows: [{ startTime: "cron(0 6 * * ? *)", durationInMinutes: 60 }],
        },
      }),
    );
    clock.advance(5 * HOUR);
    const job = await describe_(iot, "stop");
    expect(job.status).toBe("COMPLETED");
    expect(await executions(iot, "stop")).toEqual([]);
  });

  test("a continuous job reaches things that joined its group while it was SCHEDULED", async () => {
    const { iot, clock } = await setup(["cj-0", "cj-1"], { clock: new ManualClock(T0) });
    await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "cj" }));
    await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "cj", thingName: "cj-0" }));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "cj",
        targets: [groupArn("cj")],
        targetSelection: "CONTINUOUS",
        document: doc,
        schedulingConfig: { startTime: "2026-01-01T01:00" },
      }),
    );
    await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "cj", thingName: "cj-1" }));
    expect(await executions(iot, "cj")).toEqual([]);
    clock.advance(HOUR);
    expect((await executions(iot, "cj")).map((e) => e.thing)).toEqual(["cj-0", "cj-1"]);
  });

  test("refusals: a start less than 30 minutes ahead, an end too soon, an unsupported cron", async () => {
    const { iot } = await setup(["sr-0"], { clock: new ManualClock(T0) });
    const create = (schedulingConfig: Iot.SchedulingConfig) =>
      caught(
        iot.send(
          new Iot.CreateJobCommand({ jobId: "bad", targets: [thingArn("sr-0")], document: doc, schedulingConfig }),
        ),
      );
    expect((await create({ startTime: "2026-01-01T00:20" })).message).toContain("at least 30 minutes from now");
    expect((await create({ startTime: "2026-01-01T01:00", endTime: "2026-01-01T01:10" })).message).toContain(
      "30 minutes after startTime",
    );
    expect((await create({ startTime: "2026-01-01 01:00" })).message).toContain("YYYY-MM-DDTHH:MM");
    const cron = await create({
      startTime: "2026-01-01T01:00",
      maintenanceWindows: [{ startTime: "cron(0 0 L * ? *)", durationInMinutes: 5 }],
    });
    expect(cron.message).toContain("L, W and # are not supported");
    expect((await iot.send(new Iot.ListJobsCommand({}))).jobs).toEqual([]);
  });

  test("a restart while SCHEDULED: the start that passed while the service was down applies at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "schedule-restart-"));
    dirs.push(dir);
    const clock = new ManualClock(T0);
    let { iot, service: s } = await setup(["sx-0"], { dataDir: dir, clock });
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "sx",
        targets: [thingArn("sx-0")],
        document: doc,
        schedulingConfig: { startTime: "2026-01-01T01:00" },
      }),
    );
    await s.stop();
    service = undefined;
    clock.advance(2 * HOUR);
    ({ iot, service: s } = await setup([], { dataDir: dir, clock }));
    expect((await describe_(iot, "sx")).status).toBe("IN_PROGRESS");
    expect((await executions(iot, "sx")).length).toBe(1);
  });
});
