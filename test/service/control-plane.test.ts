/**
 * Contract suite for the control plane, driven by the official AWS SDK v3 clients
 * (@aws-sdk/client-iot, @aws-sdk/client-iot-data-plane) with only an endpoint override.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as Iot from "@aws-sdk/client-iot";
import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  ListNamedShadowsForThingCommand,
  UpdateThingShadowCommand,
  type IoTDataPlaneClient,
} from "@aws-sdk/client-iot-data-plane";
import type { RunningService } from "../../src/service/service.ts";
import {
  dataClient,
  Device,
  groupArn,
  iotClient,
  startLocalService,
  thingArn,
  versionArn,
} from "../helpers/local-service.ts";
import { tempDir } from "../helpers/temp.ts";

let service: RunningService;
let iot: Iot.IoTClient;
let data: IoTDataPlaneClient;
const devices: Device[] = [];

beforeAll(async () => {
  service = await startLocalService();
  iot = iotClient(service.httpUrl);
  data = dataClient(service.httpUrl);
});
afterAll(async () => {
  for (const d of devices) await d.close().catch(() => {});
  await service.stop();
});

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const parse = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b));
const doc = JSON.stringify({
  version: "1.0",
  steps: [{ action: { name: "s", type: "runCommand", input: { command: "true" } } }],
});

async function device(thing: string): Promise<Device> {
  const d = await Device.connect(service.mqttUrl, thing, []);
  devices.push(d);
  return d;
}

describe("things and groups", () => {
  test("create, describe, update attributes, list, delete; typed errors", async () => {
    const created = await iot.send(
      new Iot.CreateThingCommand({ thingName: "cp-1", attributePayload: { attributes: { site: "lab" } } }),
    );
    expect(created.thingArn).toBe(thingArn("cp-1"));
    // Idempotent with the same attributes, a conflict with others.
    await iot.send(
      new Iot.CreateThingCommand({ thingName: "cp-1", attributePayload: { attributes: { site: "lab" } } }),
    );
    await expect(
      iot.send(new Iot.CreateThingCommand({ thingName: "cp-1", attributePayload: { attributes: { site: "x" } } })),
    ).rejects.toBeInstanceOf(Iot.ResourceAlreadyExistsException);
    await iot.send(
      new Iot.UpdateThingCommand({ thingName: "cp-1", attributePayload: { attributes: { rack: "7" }, merge: true } }),
    );
    expect((await iot.send(new Iot.DescribeThingCommand({ thingName: "cp-1" }))).attributes).toEqual({
      site: "lab",
      rack: "7",
    });
    await expect(
      iot.send(
        new Iot.UpdateThingCommand({ thingName: "cp-1", expectedVersion: 1, attributePayload: { attributes: {} } }),
      ),
    ).rejects.toBeInstanceOf(Iot.VersionConflictException);
    expect(
      (await iot.send(new Iot.ListThingsCommand({ attributeName: "rack", attributeValue: "7" }))).things?.map(
        (t) => t.thingName,
      ),
    ).toEqual(["cp-1"]);
    await expect(iot.send(new Iot.DescribeThingCommand({ thingName: "nope" }))).rejects.toBeInstanceOf(
      Iot.ResourceNotFoundException,
    );
    await expect(iot.send(new Iot.CreateThingCommand({ thingName: "bad name!" }))).rejects.toBeInstanceOf(
      Iot.InvalidRequestException,
    );
    await iot.send(new Iot.DeleteThingCommand({ thingName: "cp-1" }));
    await expect(iot.send(new Iot.DescribeThingCommand({ thingName: "cp-1" }))).rejects.toBeInstanceOf(
      Iot.ResourceNotFoundException,
    );
  });

  test("static groups, dynamic groups and SearchIndex", async () => {
    for (const [name, site] of [
      ["g-1", "lab"],
      ["g-2", "lab"],
      ["g-3", "plant"],
    ])
      await iot.send(
        new Iot.CreateThingCommand({ thingName: name!, attributePayload: { attributes: { site: site!, zone: "z" } } }),
      );
    await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "static-a" }));
    await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "static-a", thingName: "g-3" }));
    expect((await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "static-a" }))).things).toEqual([
      "g-3",
    ]);
    const dyn = await iot.send(
      new Iot.CreateDynamicThingGroupCommand({
        thingGroupName: "lab-things",
        queryString: "attributes.site:lab AND attributes.zone:z",
      }),
    );
    expect(dyn.queryString).toBe("attributes.site:lab AND attributes.zone:z");
    expect((await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "lab-things" }))).things).toEqual([
      "g-1",
      "g-2",
    ]);
    await iot.send(
      new Iot.UpdateThingCommand({ thingName: "g-3", attributePayload: { attributes: { site: "lab" }, merge: true } }),
    );
    expect((await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "lab-things" }))).things).toEqual([
      "g-1",
      "g-2",
      "g-3",
    ]);
    const found = await iot.send(
      new Iot.SearchIndexCommand({
        indexName: "AWS_Things",
        queryString: "thingName:g-* AND thingGroupNames:static-a",
      }),
    );
    expect(found.things?.map((t) => t.thingName)).toEqual(["g-3"]);
    await expect(iot.send(new Iot.SearchIndexCommand({ queryString: "(thingName:x" }))).rejects.toBeInstanceOf(
      Iot.InvalidQueryException,
    );
    await expect(
      iot.send(new Iot.CreateDynamicThingGroupCommand({ thingGroupName: "bad", queryString: "attributes.x>" })),
    ).rejects.toBeInstanceOf(Iot.InvalidQueryException);
    await expect(
      iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "lab-things", thingName: "g-1" })),
    ).rejects.toBeInstanceOf(Iot.InvalidRequestException);
  });
});

describe("jobs", () => {
  test("a job for a group reaches its members; DescribeJob counts; ListJobExecutions; cancel and delete", async () => {
    for (const t of ["j-1", "j-2"]) await iot.send(new Iot.CreateThingCommand({ thingName: t }));
    await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "j-group" }));
    for (const t of ["j-1", "j-2"])
      await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "j-group", thingName: t }));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "grp-job",
        targets: [groupArn("j-group")],
        document: doc,
        description: "two things",
      }),
    );
    await expect(
      iot.send(new Iot.CreateJobCommand({ jobId: "grp-job", targets: [groupArn("j-group")], document: doc })),
    ).rejects.toBeInstanceOf(Iot.ResourceAlreadyExistsException);
    const d1 = await device("j-1");
    await d1.request("jobs/start-next", {});
    await d1.request("jobs/grp-job/update", { status: "SUCCEEDED" });
    const job = (await iot.send(new Iot.DescribeJobCommand({ jobId: "grp-job" }))).job!;
    expect(job.status).toBe("IN_PROGRESS");
    expect(job.jobProcessDetails).toMatchObject({ numberOfSucceededThings: 1, numberOfQueuedThings: 1 });
    const execs = await iot.send(new Iot.ListJobExecutionsForJobCommand({ jobId: "grp-job" }));
    expect(execs.executionSummaries?.map((e) => [e.thingArn, e.jobExecutionSummary?.status])).toEqual([
      [thingArn("j-1"), "SUCCEEDED"],
      [thingArn("j-2"), "QUEUED"],
    ]);
    expect(
      (await iot.send(new Iot.ListJobExecutionsForThingCommand({ thingName: "j-1" }))).executionSummaries?.[0]?.jobId,
    ).toBe("grp-job");
    const ex = await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "grp-job", thingName: "j-1" }));
    expect(ex.execution?.status).toBe("SUCCEEDED");
    expect(ex.execution?.queuedAt).toBeInstanceOf(Date);
    await iot.send(new Iot.CancelJobCommand({ jobId: "grp-job", comment: "enough" }));
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "grp-job", thingName: "j-2" }))).execution?.status,
    ).toBe("CANCELED");
    expect((await iot.send(new Iot.ListJobsCommand({ status: "CANCELED" }))).jobs?.map((j) => j.jobId)).toContain(
      "grp-job",
    );
    await iot.send(new Iot.DeleteJobCommand({ jobId: "grp-job" }));
    await expect(iot.send(new Iot.DescribeJobCommand({ jobId: "grp-job" }))).rejects.toBeInstanceOf(
      Iot.ResourceNotFoundException,
    );
  });

  test("CancelJob leaves IN_PROGRESS executions alone unless forced", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "cf-1" }));
    await iot.send(new Iot.CreateJobCommand({ jobId: "cf-job", targets: [thingArn("cf-1")], document: doc }));
    const d = await device("cf-1");
    await d.request("jobs/start-next", {});
    await iot.send(new Iot.CancelJobCommand({ jobId: "cf-job" }));
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "cf-job", thingName: "cf-1" }))).execution?.status,
    ).toBe("IN_PROGRESS");
    await iot.send(new Iot.CancelJobCommand({ jobId: "cf-job", force: true }));
    const e = (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "cf-job", thingName: "cf-1" }))).execution!;
    expect([e.status, e.forceCanceled]).toEqual(["CANCELED", true]);
    expect((await iot.send(new Iot.DescribeJobCommand({ jobId: "cf-job" }))).job).toMatchObject({
      status: "CANCELED",
      forceCanceled: true,
    });
    await expect(iot.send(new Iot.DeleteJobCommand({ jobId: "nope" }))).rejects.toBeInstanceOf(
      Iot.ResourceNotFoundException,
    );
  });

  test("CreateJob refusals: bad id, unknown target, bad document, bad timeout", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "r-1" }));
    const bad = async (input: Partial<Iot.CreateJobCommandInput>, type: unknown) =>
      expect(
        iot.send(
          new Iot.CreateJobCommand({
            jobId: "ok-id",
            targets: [thingArn("r-1")],
            document: doc,
            ...input,
          } as Iot.CreateJobCommandInput),
        ),
      ).rejects.toBeInstanceOf(type as never);
    await bad({ jobId: "bad id" }, Iot.InvalidRequestException);
    await bad({ targets: [thingArn("ghost")] }, Iot.ResourceNotFoundException);
    await bad({ targets: ["not-an-arn"] }, Iot.InvalidRequestException);
    await bad({ document: "{oops" }, Iot.InvalidRequestException);
    await bad({ document: "x".repeat(32769) }, Iot.InvalidRequestException);
    await bad({ timeoutConfig: { inProgressTimeoutInMinutes: 0 } }, Iot.InvalidRequestException);
    await bad({ targetSelection: "SOMETIMES" as Iot.TargetSelection }, Iot.InvalidRequestException);
  });

  test("continuous jobs reach things that join a dynamic group later; leavers' queued executions are REMOVED", async () => {
    await iot.send(
      new Iot.CreateDynamicThingGroupCommand({ thingGroupName: "ring-1", queryString: "attributes.ring:1" }),
    );
    await iot.send(new Iot.CreateThingCommand({ thingName: "c-1", attributePayload: { attributes: { ring: "1" } } }));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "cont-1",
        targets: [groupArn("ring-1")],
        document: doc,
        targetSelection: "CONTINUOUS",
      }),
    );
    await iot.send(new Iot.CreateThingCommand({ thingName: "c-2", attributePayload: { attributes: { ring: "0" } } }));
    await expect(
      iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "cont-1", thingName: "c-2" })),
    ).rejects.toBeInstanceOf(Iot.ResourceNotFoundException);
    await iot.send(
      new Iot.UpdateThingCommand({ thingName: "c-2", attributePayload: { attributes: { ring: "1" }, merge: true } }),
    );
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "cont-1", thingName: "c-2" }))).execution?.status,
    ).toBe("QUEUED");
    await iot.send(
      new Iot.UpdateThingCommand({ thingName: "c-1", attributePayload: { attributes: { ring: "2" }, merge: true } }),
    );
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "cont-1", thingName: "c-1" }))).execution?.status,
    ).toBe("REMOVED");
    expect((await iot.send(new Iot.DescribeJobCommand({ jobId: "cont-1" }))).job?.status).toBe("IN_PROGRESS"); // continuous jobs never complete
  });
});

describe("deleting a group is leaving it (found by the review of the issue 11 fixes)", () => {
  test("a child group deleted under a CONTINUOUS job's parent: its things' QUEUED executions are REMOVED", async () => {
    await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "del-p" }));
    await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "del-c", parentGroupName: "del-p" }));
    await iot.send(new Iot.CreateThingCommand({ thingName: "del-t1" }));
    await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "del-c", thingName: "del-t1" }));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "del-cont",
        targets: [groupArn("del-p")],
        document: doc,
        targetSelection: "CONTINUOUS",
      }),
    );
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "del-cont", thingName: "del-t1" }))).execution
        ?.status,
    ).toBe("QUEUED");
    await iot.send(new Iot.DeleteThingGroupCommand({ thingGroupName: "del-c" }));
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "del-cont", thingName: "del-t1" }))).execution
        ?.status,
    ).toBe("REMOVED");
    const d = await device("del-t1");
    expect((await d.request("jobs/start-next", {})).payload.execution).toBeUndefined();
  });

  test("a dynamic group deleted under its CONTINUOUS job: its members' QUEUED executions are REMOVED", async () => {
    await iot.send(
      new Iot.CreateDynamicThingGroupCommand({ thingGroupName: "del-dyn", queryString: "attributes.deldyn:1" }),
    );
    await iot.send(
      new Iot.CreateThingCommand({ thingName: "del-t2", attributePayload: { attributes: { deldyn: "1" } } }),
    );
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "del-dyn-job",
        targets: [groupArn("del-dyn")],
        document: doc,
        targetSelection: "CONTINUOUS",
      }),
    );
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "del-dyn-job", thingName: "del-t2" }))).execution
        ?.status,
    ).toBe("QUEUED");
    await iot.send(new Iot.DeleteDynamicThingGroupCommand({ thingGroupName: "del-dyn" }));
    expect(
      (await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "del-dyn-job", thingName: "del-t2" }))).execution
        ?.status,
    ).toBe("REMOVED");
  });
});

describe("dynamic groups follow shadows", () => {
  test("a shadow update moves a thing into and out of a group whose query reads the shadow", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "dg-1" }));
    await iot.send(
      new Iot.CreateDynamicThingGroupCommand({
        thingGroupName: "hot",
        queryString: "shadow.name.env.reported.mode:hot",
      }),
    );
    const members = async () =>
      (await iot.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "hot" }))).things;
    expect(await members()).toEqual([]);
    await data.send(
      new UpdateThingShadowCommand({
        thingName: "dg-1",
        shadowName: "env",
        payload: json({ state: { reported: { mode: "hot" } } }),
      }),
    );
    expect(await members()).toEqual(["dg-1"]);
    await data.send(
      new UpdateThingShadowCommand({
        thingName: "dg-1",
        shadowName: "env",
        payload: json({ state: { reported: { mode: "cool" } } }),
      }),
    );
    expect(await members()).toEqual([]);
  });
});

describe("software package catalog", () => {
  test("version lifecycle, attribute rules, default version and delete ordering", async () => {
    await iot.send(new Iot.CreatePackageCommand({ packageName: "agent", description: "the agent" }));
    await expect(iot.send(new Iot.CreatePackageCommand({ packageName: "agent" }))).rejects.toBeInstanceOf(
      Iot.ConflictException,
    );
    await expect(iot.send(new Iot.CreatePackageCommand({ packageName: "bad name" }))).rejects.toBeInstanceOf(
      Iot.ValidationException,
    );
    const v = await iot.send(
      new Iot.CreatePackageVersionCommand({
        packageName: "agent",
        versionName: "1.0.0",
        attributes: { url: "https://example.test/agent-1.0.0.tgz" },
      }),
    );
    expect(v.status).toBe("DRAFT");
    await expect(
      iot.send(
        new Iot.CreatePackageVersionCommand({
          packageName: "agent",
          versionName: "big",
          attributes: { a: "x".repeat(3100) },
        }),
      ),
    ).rejects.toBeInstanceOf(Iot.ValidationException);
    await iot.send(
      new Iot.UpdatePackageVersionCommand({
        packageName: "agent",
        versionName: "1.0.0",
        attributes: { sha256: "ab12" },
      }),
    );
    await expect(
      iot.send(new Iot.UpdatePackageCommand({ packageName: "agent", defaultVersionName: "1.0.0" })),
    ).rejects.toBeInstanceOf(Iot.ConflictException);
    await expect(
      iot.send(
        new Iot.UpdatePackageVersionCommand({ packageName: "agent", versionName: "1.0.0", action: "DEPRECATE" }),
      ),
    ).rejects.toBeInstanceOf(Iot.ConflictException);
    await iot.send(
      new Iot.UpdatePackageVersionCommand({ packageName: "agent", versionName: "1.0.0", action: "PUBLISH" }),
    );
    await expect(
      iot.send(
        new Iot.UpdatePackageVersionCommand({
          packageName: "agent",
          versionName: "1.0.0",
          attributes: { url: "changed" },
        }),
      ),
    ).rejects.toBeInstanceOf(Iot.ConflictException);
    await iot.send(
      new Iot.UpdatePackageVersionCommand({ packageName: "agent", versionName: "1.0.0", action: "DEPRECATE" }),
    );
    await iot.send(
      new Iot.UpdatePackageVersionCommand({ packageName: "agent", versionName: "1.0.0", action: "PUBLISH" }),
    );
    const got = await iot.send(new Iot.GetPackageVersionCommand({ packageName: "agent", versionName: "1.0.0" }));
    expect([got.status, got.attributes]).toEqual([
      "PUBLISHED",
      { url: "https://example.test/agent-1.0.0.tgz", sha256: "ab12" },
    ]);
    await iot.send(new Iot.UpdatePackageCommand({ packageName: "agent", defaultVersionName: "1.0.0" }));
    expect((await iot.send(new Iot.GetPackageCommand({ packageName: "agent" }))).defaultVersionName).toBe("1.0.0");
    // Both operations declare only ValidationException for a client's mistake (botocore's model).
    await expect(
      iot.send(new Iot.DeletePackageVersionCommand({ packageName: "agent", versionName: "1.0.0" })),
    ).rejects.toBeInstanceOf(Iot.ValidationException);
    await expect(iot.send(new Iot.DeletePackageCommand({ packageName: "agent" }))).rejects.toBeInstanceOf(
      Iot.ValidationException,
    );
    expect(
      (
        await iot.send(new Iot.ListPackageVersionsCommand({ packageName: "agent", status: "PUBLISHED" }))
      ).packageVersionSummaries?.map((s) => s.versionName),
    ).toEqual(["1.0.0"]);
    await iot.send(new Iot.UpdatePackageCommand({ packageName: "agent", unsetDefaultVersion: true }));
    await iot.send(new Iot.DeletePackageVersionCommand({ packageName: "agent", versionName: "1.0.0" }));
    await iot.send(new Iot.DeletePackageCommand({ packageName: "agent" }));
    expect((await iot.send(new Iot.ListPackagesCommand({}))).packageSummaries?.map((p) => p.packageName)).not.toContain(
      "agent",
    );
  });

  test("CreateJob with substitution and destinationPackageVersions; $package written on SUCCEEDED; $null removes", async () => {
    await iot.send(
      new Iot.UpdatePackageConfigurationCommand({
        versionUpdateByJobsConfig: { enabled: true, roleArn: "arn:aws:iam::123456789012:role/jobs-shadow" },
      }),
    );
    expect((await iot.send(new Iot.GetPackageConfigurationCommand({}))).versionUpdateByJobsConfig?.enabled).toBe(true);
    await iot.send(new Iot.CreatePackageCommand({ packageName: "tool" }));
    await iot.send(
      new Iot.CreatePackageVersionCommand({
        packageName: "tool",
        versionName: "2.1",
        attributes: { url: "https://example.test/tool-2.1", sha256: "ff" },
      }),
    );
    const raw = JSON.stringify({
      version: "1.0",
      steps: [
        {
          action: {
            name: "dl",
            type: "runHandler",
            input: {
              handler: "download-file.sh",
              args: ["${aws:iot:package:tool:version:2.1:attributes:url}", "/tmp/x"],
            },
          },
        },
      ],
    });
    await iot.send(new Iot.CreateThingCommand({ thingName: "pkg-1" }));
    const create = (jobId: string, dest: string[], document = raw) =>
      iot.send(
        new Iot.CreateJobCommand({ jobId, targets: [thingArn("pkg-1")], document, destinationPackageVersions: dest }),
      );
    await expect(create("pk-draft", [versionArn("tool", "2.1")])).rejects.toThrow(/DRAFT/);
    await iot.send(new Iot.UpdatePackageVersionCommand({ packageName: "tool", versionName: "2.1", action: "PUBLISH" }));
    await expect(create("pk-missing", [])).rejects.toThrow(/tool:2\.1/);
    await expect(
      create("pk-pair", [versionArn("tool", "2.1")], '{"u":"${aws:iot:package::version:2.1:attributes:url}"}'),
    ).rejects.toThrow("Empty package name and version name have to be used in pair.");
    await create("pk-1", [versionArn("tool", "2.1")]);
    expect((await iot.send(new Iot.GetJobDocumentCommand({ jobId: "pk-1" }))).document).toContain(
      "https://example.test/tool-2.1",
    );
    expect((await iot.send(new Iot.GetJobDocumentCommand({ jobId: "pk-1", beforeSubstitution: true }))).document).toBe(
      raw,
    );
    expect((await iot.send(new Iot.DescribeJobCommand({ jobId: "pk-1" }))).job?.destinationPackageVersions).toEqual([
      versionArn("tool", "2.1"),
    ]);

    const d = await device("pkg-1");
    const started = await d.request("jobs/start-next", {});
    expect(started.payload.execution.jobDocument.steps[0].action.input.args[0]).toBe("https://example.test/tool-2.1");
    // `$package` commits with the SUCCEEDED: it is there when the update is accepted.
    await d.request("jobs/pk-1/update", { status: "SUCCEEDED" });
    expect(
      parse((await data.send(new GetThingShadowCommand({ thingName: "pkg-1", shadowName: "$package" }))).payload).state
        .reported,
    ).toEqual({ tool: { version: "2.1" } });

    await create("pk-2", [versionArn("tool", "$null")], "{}");
    await d.request("jobs/start-next", {});
    await d.request("jobs/pk-2/update", { status: "SUCCEEDED" });
    expect(
      parse((await data.send(new GetThingShadowCommand({ thingName: "pkg-1", shadowName: "$package" }))).payload).state
        .reported,
    ).toBeUndefined();
  });
});

describe("shadows over HTTP", () => {
  test("named shadows: update, delta, get, version conflict, $package key rules, list, delete", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "sh-1" }));
    const sub = await Device.connect(service.mqttUrl, "sh-1", ["$aws/things/sh-1/shadow/name/cfg/update/#"]);
    devices.push(sub);
    const first = parse(
      (
        await data.send(
          new UpdateThingShadowCommand({
            thingName: "sh-1",
            shadowName: "cfg",
            payload: json({ state: { desired: { rate: 5 }, reported: { rate: 1 } }, clientToken: "c1" }),
          }),
        )
      ).payload,
    );
    expect(first).toMatchObject({ version: 1, clientToken: "c1", state: { desired: { rate: 5 } } });
    await sub.waitFor((m) => m.topic.endsWith("/update/delta"));
    expect(sub.messages.find((m) => m.topic.endsWith("/delta"))!.payload.state).toEqual({ rate: 5 });
    await sub.waitFor((m) => m.topic.endsWith("/update/documents"));
    const got = parse((await data.send(new GetThingShadowCommand({ thingName: "sh-1", shadowName: "cfg" }))).payload);
    expect(got.state).toEqual({ desired: { rate: 5 }, reported: { rate: 1 }, delta: { rate: 5 } });
    await expect(
      data.send(
        new UpdateThingShadowCommand({
          thingName: "sh-1",
          shadowName: "cfg",
          payload: json({ state: { reported: { rate: 5 } }, version: 9 }),
        }),
      ),
    ).rejects.toMatchObject({ name: "ConflictException" });
    await data.send(
      new UpdateThingShadowCommand({
        thingName: "sh-1",
        shadowName: "cfg",
        payload: json({ state: { reported: { rate: 5, extra: null } }, version: 1 }),
      }),
    );
    expect(
      parse((await data.send(new GetThingShadowCommand({ thingName: "sh-1", shadowName: "cfg" }))).payload).state.delta,
    ).toBeUndefined();
    await expect(
      data.send(
        new UpdateThingShadowCommand({
          thingName: "sh-1",
          shadowName: "$package",
          payload: json({ state: { reported: { tool: { version: "1", description: "x" } } } }),
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidRequestException", message: "State contains an invalid node" });
    await expect(
      data.send(new UpdateThingShadowCommand({ thingName: "sh-1", shadowName: "cfg", payload: json({ nostate: 1 }) })),
    ).rejects.toMatchObject({ message: "Missing required node: state" });
    await expect(
      data.send(
        new UpdateThingShadowCommand({
          thingName: "sh-1",
          shadowName: "cfg",
          payload: new TextEncoder().encode("{nope"),
        }),
      ),
    ).rejects.toMatchObject({ message: "Invalid JSON" });
    await expect(data.send(new GetThingShadowCommand({ thingName: "ghost", shadowName: "cfg" }))).rejects.toMatchObject(
      { name: "ResourceNotFoundException" },
    );
    expect((await data.send(new ListNamedShadowsForThingCommand({ thingName: "sh-1" }))).results).toEqual(["cfg"]);
    await data.send(new DeleteThingShadowCommand({ thingName: "sh-1", shadowName: "cfg" }));
    await expect(data.send(new GetThingShadowCommand({ thingName: "sh-1", shadowName: "cfg" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
      message: "No shadow exists with name: cfg",
    });
  });
});

describe("robustness", () => {
  test("an operation the service does not implement is NotImplementedException naming it; model checks name the member", async () => {
    await expect(iot.send(new Iot.UpdateIndexingConfigurationCommand({}))).rejects.toMatchObject({
      name: "NotImplementedException",
      $metadata: { httpStatusCode: 501 },
      message: expect.stringContaining("UpdateIndexingConfiguration (iot) is not implemented by iot-jobs-local"),
    });
    await expect(iot.send(new Iot.ListThingsCommand({ maxResults: 0 }))).rejects.toMatchObject({
      name: "InvalidRequestException",
      message: expect.stringContaining("at 'maxResults' failed to satisfy constraint"),
    });
  });

  test("malformed JSON, wrong types and oversized bodies get AWS-shaped 4xx answers; the service keeps serving", async () => {
    const send = (method: string, path: string, body?: string) =>
      fetch(`${service.httpUrl}${path}`, { method, body, headers: { "content-type": "application/json" } });
    await iot.send(new Iot.CreateThingCommand({ thingName: "m-thing" }));
    const routes = [
      ["PUT", "/jobs/m-1"],
      ["POST", "/things/m-1"],
      ["PATCH", "/things/m-thing"],
      ["POST", "/thing-groups/m-1"],
      ["POST", "/dynamic-thing-groups/m-1"],
      ["PUT", "/thing-groups/addThingToThingGroup"],
      ["PUT", "/thing-groups/removeThingFromThingGroup"],
      ["POST", "/indices/search"],
      ["PUT", "/jobs/m-1/cancel"],
      ["PUT", "/things/m-thing/jobs/m-1/cancel"],
      ["PUT", "/packages/m-1"],
      ["PATCH", "/packages/m-1"],
      ["PUT", "/packages/m-1/versions/1"],
      ["PATCH", "/packages/m-1/versions/1"],
      ["PATCH", "/package-configuration"],
      ["POST", "/things/m-thing/shadow?name=m"],
    ] as const;
    for (const [method, path] of routes) {
      for (const body of [
        "{",
        "[1]",
        '"str"',
        JSON.stringify({
          targets: 5,
          attributePayload: 7,
          queryString: 9,
          description: 1,
          versionUpdateByJobsConfig: { enabled: "yes" },
          thingGroupProperties: 3,
          thingGroupName: 4,
          comment: 5,
          statusDetails: 6,
          attributes: 7,
          action: 8,
          state: 9,
        }),
        "x".repeat(300_000),
      ]) {
        const res = await send(method, path, body);
        if (res.status < 400) throw new Error(`${method} ${path} accepted ${body.slice(0, 80)}`);
        expect(res.status).toBeLessThan(500);
        expect(res.headers.get("x-amzn-errortype")).toBeTruthy();
        expect(typeof ((await res.json()) as { message?: unknown }).message).toBe("string");
      }
    }
    // A path no model has is not implemented here (501 NotImplementedException, docs/LOCAL-SERVICE.md).
    const unknown = await send("GET", "/no/such/api");
    expect([unknown.status, unknown.headers.get("x-amzn-errortype")]).toEqual([501, "NotImplementedException"]);
    expect((await iot.send(new Iot.ListThingsCommand({}))).things).toBeDefined();
  });
});

describe("persistence", () => {
  test("stopping and restarting the service loses no thing, job, execution, package or shadow", async () => {
    const dir = tempDir("svc-data-");
    let s = await startLocalService({ dataDir: dir });
    let c = iotClient(s.httpUrl);
    await c.send(new Iot.CreateThingCommand({ thingName: "p-1", attributePayload: { attributes: { a: "1" } } }));
    await c.send(new Iot.CreateDynamicThingGroupCommand({ thingGroupName: "p-dyn", queryString: "attributes.a:1" }));
    await c.send(new Iot.CreatePackageCommand({ packageName: "p-pkg" }));
    await c.send(
      new Iot.CreatePackageVersionCommand({ packageName: "p-pkg", versionName: "1", attributes: { k: "v" } }),
    );
    await c.send(new Iot.CreateJobCommand({ jobId: "p-job", targets: [groupArn("p-dyn")], document: doc }));
    await dataClient(s.httpUrl).send(
      new UpdateThingShadowCommand({
        thingName: "p-1",
        shadowName: "cfg",
        payload: json({ state: { reported: { x: 1 } } }),
      }),
    );
    const d = await Device.connect(s.mqttUrl, "p-1");
    await d.request("jobs/start-next", { statusDetails: { step: "1" } });
    await d.close();
    await s.stop();

    s = await startLocalService({ dataDir: dir });
    c = iotClient(s.httpUrl);
    try {
      expect((await c.send(new Iot.DescribeThingCommand({ thingName: "p-1" }))).attributes).toEqual({ a: "1" });
      expect((await c.send(new Iot.ListThingsInThingGroupCommand({ thingGroupName: "p-dyn" }))).things).toEqual([
        "p-1",
      ]);
      expect(
        (await c.send(new Iot.GetPackageVersionCommand({ packageName: "p-pkg", versionName: "1" }))).attributes,
      ).toEqual({ k: "v" });
      const e = await c.send(new Iot.DescribeJobExecutionCommand({ jobId: "p-job", thingName: "p-1" }));
      expect([e.execution?.status, e.execution?.statusDetails?.detailsMap, e.execution?.versionNumber]).toEqual([
        "IN_PROGRESS",
        { step: "1" },
        2,
      ]);
      expect(
        parse(
          (await dataClient(s.httpUrl).send(new GetThingShadowCommand({ thingName: "p-1", shadowName: "cfg" })))
            .payload,
        ).state.reported,
      ).toEqual({ x: 1 });
      const d2 = await Device.connect(s.mqttUrl, "p-1");
      expect((await d2.request("jobs/p-job/update", { status: "SUCCEEDED", expectedVersion: 2 })).topic).toEndWith(
        "/accepted",
      );
      await d2.close();
    } finally {
      await s.stop();
    }
  });
});
