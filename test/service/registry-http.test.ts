/**
 * Thing types and thing group hierarchies through @aws-sdk/client-iot: continuous jobs for a
 * parent group follow things in and out of its child groups, and everything survives a restart.
 */
import { afterAll, expect, test } from "bun:test";
import * as Iot from "@aws-sdk/client-iot";
import type { RunningService } from "../../src/service/service.ts";
import { groupArn, iotClient, startLocalService } from "../helpers/local-service.ts";
import { tempDir } from "../helpers/temp.ts";

const doc = JSON.stringify({
  version: "1.0",
  steps: [{ action: { name: "s", type: "runCommand", input: { command: "true" } } }],
});
let service: RunningService | undefined;
afterAll(async () => {
  await service?.stop();
});

const statuses = async (iot: Iot.IoTClient, jobId: string) =>
  Object.fromEntries(
    ((await iot.send(new Iot.ListJobExecutionsForJobCommand({ jobId }))).executionSummaries ?? []).map((e) => [
      e.thingArn!.split("/")[1],
      e.jobExecutionSummary!.status,
    ]),
  );

test("a continuous job for a parent group follows things in and out of a child group; types and hierarchy survive a restart", async () => {
  const dataDir = tempDir("registry");
  service = await startLocalService({ dataDir });
  let iot = iotClient(service.httpUrl);
  await iot.send(
    new Iot.CreateThingTypeCommand({ thingTypeName: "gateway", thingTypeProperties: { thingTypeDescription: "edge" } }),
  );
  await iot.send(new Iot.CreateThingCommand({ thingName: "gw-1", thingTypeName: "gateway" }));
  await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "site" }));
  await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "floor-1", parentGroupName: "site" }));
  await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "room-9", parentGroupName: "floor-1" }));
  await iot.send(
    new Iot.CreateJobCommand({
      jobId: "site-wide",
      targets: [groupArn("site")],
      document: doc,
      targetSelection: "CONTINUOUS",
    }),
  );
  expect(await statuses(iot, "site-wide")).toEqual({});

  await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "room-9", thingName: "gw-1" }));
  expect(await statuses(iot, "site-wide")).toEqual({ "gw-1": "QUEUED" });
  // Also in floor-1 directly: still reached, no second execution; leaving room-9 keeps it.
  await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "floor-1", thingName: "gw-1" }));
  await iot.send(new Iot.RemoveThingFromThingGroupCommand({ thingGroupName: "room-9", thingName: "gw-1" }));
  expect(await statuses(iot, "site-wide")).toEqual({ "gw-1": "QUEUED" });
  await iot.send(new Iot.RemoveThingFromThingGroupCommand({ thingGroupName: "floor-1", thingName: "gw-1" }));
  expect(await statuses(iot, "site-wide")).toEqual({ "gw-1": "REMOVED" });

  await expect(
    iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "d", parentGroupName: "nope" })),
  ).rejects.toBeInstanceOf(Iot.InvalidRequestException);
  await expect(iot.send(new Iot.DeleteThingGroupCommand({ thingGroupName: "floor-1" }))).rejects.toBeInstanceOf(
    Iot.InvalidRequestException,
  );

  await service.stop();
  service = await startLocalService({ dataDir });
  iot = iotClient(service.httpUrl);
  const room = await iot.send(new Iot.DescribeThingGroupCommand({ thingGroupName: "room-9" }));
  expect(room.thingGroupMetadata?.rootToParentThingGroups?.map((g) => g.groupName)).toEqual(["site", "floor-1"]);
  expect((await iot.send(new Iot.DescribeThingCommand({ thingName: "gw-1" }))).thingTypeName).toBe("gateway");
  expect(
    (await iot.send(new Iot.DescribeThingTypeCommand({ thingTypeName: "gateway" }))).thingTypeProperties
      ?.thingTypeDescription,
  ).toBe("edge");
  const kids = await iot.send(new Iot.ListThingGroupsCommand({ parentGroup: "site", recursive: true }));
  expect(kids.thingGroups?.map((g) => g.groupName)).toEqual(["floor-1", "room-9"]);
});

test("AssociateTargetsWithJob reaches only things the continuous job did not reach before", async () => {
  const svc = await startLocalService();
  try {
    const iot = iotClient(svc.httpUrl);
    for (const t of ["at-1", "at-2"]) await iot.send(new Iot.CreateThingCommand({ thingName: t }));
    for (const g of ["first", "second"]) await iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: g }));
    await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "first", thingName: "at-1" }));
    for (const t of ["at-1", "at-2"])
      await iot.send(new Iot.AddThingToThingGroupCommand({ thingGroupName: "second", thingName: t }));
    await iot.send(
      new Iot.CreateJobCommand({
        jobId: "grow",
        targets: [groupArn("first")],
        document: doc,
        targetSelection: "CONTINUOUS",
      }),
    );
    await iot.send(new Iot.CancelJobExecutionCommand({ jobId: "grow", thingName: "at-1" }));
    await iot.send(
      new Iot.AssociateTargetsWithJobCommand({ jobId: "grow", targets: [groupArn("second")], comment: "more" }),
    );
    // at-1 was reached already (its execution is CANCELED and stays the only one); at-2 is new.
    expect(await statuses(iot, "grow")).toEqual({ "at-1": "CANCELED", "at-2": "QUEUED" });
    await expect(
      iot.send(
        new Iot.AssociateTargetsWithJobCommand({
          jobId: "grow",
          targets: ["arn:aws:iot:us-east-1:123456789012:thing/at-1"],
        }),
      ),
    ).rejects.toBeInstanceOf(Iot.InvalidRequestException);
  } finally {
    await svc.stop();
  }
});

test("creating a thing, a group or a dynamic group again: 200 when nothing differs, refused when anything does (never dropped)", async () => {
  service ??= await startLocalService({});
  const iot = iotClient(service.httpUrl);
  const group = { thingGroupName: "again", thingGroupProperties: { thingGroupDescription: "first" } };
  const first = await iot.send(new Iot.CreateThingGroupCommand(group));
  expect((await iot.send(new Iot.CreateThingGroupCommand(group))).thingGroupId).toBe(first.thingGroupId);
  for (const thingGroupProperties of [
    { thingGroupDescription: "second" },
    { thingGroupDescription: "first", attributePayload: { attributes: { floor: "2" } } },
  ])
    await expect(
      iot.send(new Iot.CreateThingGroupCommand({ thingGroupName: "again", thingGroupProperties })),
    ).rejects.toBeInstanceOf(Iot.ResourceAlreadyExistsException);
  const dynamic = { thingGroupName: "again-dyn", queryString: "attributes.floor:2" };
  await iot.send(new Iot.CreateDynamicThingGroupCommand(dynamic));
  await iot.send(new Iot.CreateDynamicThingGroupCommand(dynamic));
  await expect(
    iot.send(
      new Iot.CreateDynamicThingGroupCommand({ ...dynamic, thingGroupProperties: { thingGroupDescription: "new" } }),
    ),
  ).rejects.toBeInstanceOf(Iot.ResourceAlreadyExistsException);
  await iot.send(new Iot.CreateThingTypeCommand({ thingTypeName: "again-type" }));
  await iot.send(
    new Iot.CreateThingCommand({ thingName: "again-thing", attributePayload: { attributes: { a: "1" } } }),
  );
  await iot.send(
    new Iot.CreateThingCommand({ thingName: "again-thing", attributePayload: { attributes: { a: "1" } } }),
  );
  await expect(
    iot.send(
      new Iot.CreateThingCommand({
        thingName: "again-thing",
        attributePayload: { attributes: { a: "1" } },
        thingTypeName: "again-type",
      }),
    ),
  ).rejects.toBeInstanceOf(Iot.ResourceAlreadyExistsException);
  const described = await iot.send(new Iot.DescribeThingGroupCommand({ thingGroupName: "again" }));
  expect(described.thingGroupProperties?.thingGroupDescription).toBe("first");
});
