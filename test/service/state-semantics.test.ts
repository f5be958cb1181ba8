/**
 * Regression tests for the service's state defects found by the red team (issue 11; numbers are
 * the README's defect numbers) that show in one process, plus the validate-then-apply rule
 * (issue 12): AWS semantics of DeleteJob / DeleteThing, prototype keys in shadows, refused
 * requests that change nothing, and a SQLite refusal that leaves memory as it was.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as Iot from "@aws-sdk/client-iot";
import { GetThingShadowCommand, UpdateThingShadowCommand } from "@aws-sdk/client-iot-data-plane";
import type { RunningService } from "../../src/service/service.ts";
import { dataClient, Device, iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { tempDir } from "../helpers/temp.ts";

let service: RunningService;
let iot: Iot.IoTClient;
const devices: Device[] = [];

beforeAll(async () => {
  service = await startLocalService();
  iot = iotClient(service.httpUrl);
});
afterAll(async () => {
  for (const d of devices) await d.close().catch(() => {});
  await service.stop();
});

const doc = JSON.stringify({
  version: "1.0",
  steps: [{ action: { name: "s", type: "runCommand", input: { command: "true" } } }],
});
const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const parse = (b: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(b));

async function device(url: string, thing: string): Promise<Device> {
  const d = await Device.connect(url, thing, []);
  devices.push(d);
  return d;
}

describe("AWS semantics (issue 11)", () => {
  test("redteam-service 09: DeleteJob without force refuses an IN_PROGRESS job (InvalidStateTransition)", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "dj-1" }));
    await iot.send(new Iot.CreateJobCommand({ jobId: "dj-job", targets: [thingArn("dj-1")], document: doc }));
    await expect(iot.send(new Iot.DeleteJobCommand({ jobId: "dj-job" }))).rejects.toMatchObject({
      name: "InvalidStateTransitionException",
    });
    expect((await iot.send(new Iot.DescribeJobCommand({ jobId: "dj-job" }))).job?.status).toBe("IN_PROGRESS");
    await iot.send(new Iot.CancelJobCommand({ jobId: "dj-job" }));
    await iot.send(new Iot.DeleteJobCommand({ jobId: "dj-job" }));
    await expect(iot.send(new Iot.DescribeJobCommand({ jobId: "dj-job" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });

    await iot.send(new Iot.CreateJobCommand({ jobId: "dj-forced", targets: [thingArn("dj-1")], document: doc }));
    await iot.send(new Iot.DeleteJobCommand({ jobId: "dj-forced", force: true }));
    await expect(iot.send(new Iot.DescribeJobCommand({ jobId: "dj-forced" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
  });

  test("redteam-service 10: DeleteThing ends the thing's pending executions REMOVED so the job completes; a missing thing is 200", async () => {
    for (const t of ["dt-stay", "dt-gone"]) await iot.send(new Iot.CreateThingCommand({ thingName: t }));
    await iot.send(
      new Iot.CreateJobCommand({ jobId: "dt-job", targets: [thingArn("dt-stay"), thingArn("dt-gone")], document: doc }),
    );
    await iot.send(new Iot.DeleteThingCommand({ thingName: "dt-gone" }));
    const d = await device(service.mqttUrl, "dt-stay");
    await d.request("jobs/start-next", {});
    expect((await d.request("jobs/dt-job/update", { status: "SUCCEEDED" })).topic).toEndWith("/accepted");
    const job = (await iot.send(new Iot.DescribeJobCommand({ jobId: "dt-job" }))).job!;
    expect(job.status).toBe("COMPLETED");
    expect(job.jobProcessDetails).toMatchObject({
      numberOfSucceededThings: 1,
      numberOfRemovedThings: 1,
      numberOfQueuedThings: 0,
    });

    await iot.send(new Iot.DeleteThingCommand({ thingName: "never-existed" })); // AWS: 200
    // A new thing with the old name does not inherit a pending execution.
    await iot.send(new Iot.CreateThingCommand({ thingName: "dt-gone" }));
    const again = await device(service.mqttUrl, "dt-gone");
    expect((await again.request("jobs/start-next", {})).payload.execution).toBeUndefined();
  });

  test("redteam-service 11: DeleteThing with a stale expectedVersion is a VersionConflict and deletes nothing", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "ev-1" }));
    await iot.send(new Iot.UpdateThingCommand({ thingName: "ev-1", attributePayload: { attributes: { a: "1" } } }));
    await expect(iot.send(new Iot.DeleteThingCommand({ thingName: "ev-1", expectedVersion: 1 }))).rejects.toMatchObject(
      { name: "VersionConflictException" },
    );
    expect((await iot.send(new Iot.DescribeThingCommand({ thingName: "ev-1" }))).version).toBe(2);
    await iot.send(new Iot.DeleteThingCommand({ thingName: "ev-1", expectedVersion: 2 }));
    await expect(iot.send(new Iot.DescribeThingCommand({ thingName: "ev-1" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
    });
  });

  test("redteam-service 22: a shadow key __proto__ is an ordinary key: stored, returned, indexed and persisted alike", async () => {
    const dir = tempDir("svc-proto-");
    let s = await startLocalService({ dataDir: dir });
    try {
      await iotClient(s.httpUrl).send(new Iot.CreateThingCommand({ thingName: "p1" }));
      // JSON text, so __proto__ is a key of the payload and not the literal's prototype.
      const payload = new TextEncoder().encode(
        `{"state":{"reported":{"__proto__":{"polluted":"yes"},"constructor":"c","a":1}}}`,
      );
      await dataClient(s.httpUrl).send(new UpdateThingShadowCommand({ thingName: "p1", payload }));
      const look = async () => {
        const got = parse((await dataClient(s.httpUrl).send(new GetThingShadowCommand({ thingName: "p1" }))).payload);
        const search = async (q: string) =>
          (await iotClient(s.httpUrl).send(new Iot.SearchIndexCommand({ queryString: q }))).things?.map(
            (t) => t.thingName,
          );
        return {
          reported: JSON.stringify(got.state.reported),
          polluted: await search("shadow.reported.polluted:yes"),
          a: await search("shadow.reported.a:1"),
        };
      };
      const before = await look();
      expect(before.reported).toBe('{"__proto__":{"polluted":"yes"},"constructor":"c","a":1}');
      expect(before.polluted).toEqual([]); // "polluted" is under __proto__, not a top-level key
      expect(before.a).toEqual(["p1"]);
      await s.stop();
      s = await startLocalService({ dataDir: dir });
      expect(await look()).toEqual(before);
    } finally {
      await s.stop();
    }
  });
});

describe("prototype keys elsewhere (issue 11, with 22)", () => {
  test("thing attributes named __proto__ and constructor are ordinary attributes, before and after a restart", async () => {
    const dir = tempDir("svc-proto-attr-");
    let s = await startLocalService({ dataDir: dir });
    const describe = async () =>
      (await iotClient(s.httpUrl).send(new Iot.DescribeThingCommand({ thingName: "pa-1" }))).attributes;
    try {
      // JSON text, so __proto__ is a key of the body and not the literal's prototype.
      const body = '{"attributePayload":{"attributes":{"__proto__":"p","constructor":"c","a":"1"}}}';
      expect((await fetch(`${s.httpUrl}/things/pa-1`, { method: "POST", body })).status).toBe(200);
      const merge = '{"attributePayload":{"attributes":{"__proto__":"q"},"merge":true}}';
      expect((await fetch(`${s.httpUrl}/things/pa-1`, { method: "PATCH", body: merge })).status).toBe(200);
      const before = await describe();
      expect(JSON.stringify(before)).toBe('{"__proto__":"q","constructor":"c","a":"1"}');
      await s.stop();
      s = await startLocalService({ dataDir: dir });
      expect(JSON.stringify(await describe())).toBe(JSON.stringify(before));
    } finally {
      await s.stop();
    }
  });
});

describe("validate, then apply (issue 12)", () => {
  test("a refused package update changes nothing: a new description with a 4,000-character recipe", async () => {
    await iot.send(new Iot.CreatePackageCommand({ packageName: "va-pkg", description: "old" }));
    await iot.send(
      new Iot.CreatePackageVersionCommand({ packageName: "va-pkg", versionName: "1", description: "v-old" }),
    );
    const patch = (body: unknown) =>
      fetch(`${service.httpUrl}/packages/va-pkg/versions/1`, {
        method: "PATCH",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
      });
    const refused = await patch({ description: "v-new", recipe: "r".repeat(4000) });
    expect(refused.status).toBe(400);
    expect(
      (await iot.send(new Iot.GetPackageVersionCommand({ packageName: "va-pkg", versionName: "1" }))).description,
    ).toBe("v-old");
    // Default version that is DRAFT: refused, and the description given with it is not applied either.
    await expect(
      iot.send(new Iot.UpdatePackageCommand({ packageName: "va-pkg", description: "new", defaultVersionName: "1" })),
    ).rejects.toMatchObject({ name: "ConflictException" });
    expect((await iot.send(new Iot.GetPackageCommand({ packageName: "va-pkg" }))).description).toBe("old");
  });

  test("a refused shadow update (state above 8 KB after the merge) leaves the stored document as it was", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "va-sh" }));
    const data = dataClient(service.httpUrl);
    await data.send(
      new UpdateThingShadowCommand({
        thingName: "va-sh",
        payload: bytes({ state: { reported: { big: "x".repeat(5000) } } }),
      }),
    );
    await expect(
      data.send(
        new UpdateThingShadowCommand({
          thingName: "va-sh",
          payload: bytes({ state: { desired: { big: "y".repeat(5000) } } }),
        }),
      ),
    ).rejects.toThrow();
    const got = parse((await data.send(new GetThingShadowCommand({ thingName: "va-sh" }))).payload);
    expect(got.version).toBe(1);
    expect(Object.keys(got.state)).toEqual(["reported"]);
  });

  test("a command SQLite refuses leaves memory as it was (nothing staged is applied), and its notifications are not sent", async () => {
    await iot.send(new Iot.CreateThingCommand({ thingName: "va-db" }));
    await iot.send(new Iot.CreateJobCommand({ jobId: "va-db-job", targets: [thingArn("va-db")], document: doc }));
    const d = await Device.connect(service.mqttUrl, "va-db", ["$aws/things/va-db/jobs/notify-next"]);
    devices.push(d);
    await d.request("jobs/start-next", {});
    const mark = d.messages.length;
    // Make every write fail the way a full disk does, from inside SQLite.
    const db = (service.store as unknown as { db: import("bun:sqlite").Database }).db;
    db.run("CREATE TRIGGER refuse BEFORE UPDATE ON records BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    try {
      const r = await d.request("jobs/va-db-job/update", { status: "SUCCEEDED" });
      expect(r.payload).toMatchObject({ code: "InternalError" });
      const started = await d.request("jobs/start-next", { stepTimeoutInMinutes: 5 }); // a write: refused
      expect(started.payload).toMatchObject({ code: "InternalError" });
      const e = await iot.send(new Iot.DescribeJobExecutionCommand({ jobId: "va-db-job", thingName: "va-db" }));
      expect([e.execution?.status, e.execution?.versionNumber]).toEqual(["IN_PROGRESS", 2]);
      expect((await iot.send(new Iot.DescribeJobCommand({ jobId: "va-db-job" }))).job?.status).toBe("IN_PROGRESS");
      const refusedThing = await fetch(`${service.httpUrl}/things/va-db`, {
        method: "PATCH",
        body: JSON.stringify({ attributePayload: { attributes: { k: "v" } } }),
      });
      expect(refusedThing.status).toBe(500);
      expect((await iot.send(new Iot.DescribeThingCommand({ thingName: "va-db" }))).attributes).toEqual({});
    } finally {
      db.run("DROP TRIGGER refuse");
    }
    expect(d.topics(mark).filter((t) => t.endsWith("notify-next"))).toEqual([]);
    // Space is back: the device's retry is accepted, exactly once.
    expect((await d.request("jobs/va-db-job/update", { status: "SUCCEEDED" })).topic).toEndWith("/accepted");
    expect((await d.request("jobs/va-db-job/update", { status: "SUCCEEDED" })).payload).toMatchObject({
      code: "InvalidStateTransition",
    });
    expect((await iot.send(new Iot.DescribeJobCommand({ jobId: "va-db-job" }))).job?.status).toBe("COMPLETED");
  });
});
