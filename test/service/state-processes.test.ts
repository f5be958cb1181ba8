/**
 * Regression tests for the service's state defects that are about processes (issue 11; numbers
 * are the red-team README's defect numbers): `iot-jobs-local serve` runs as a child process, is
 * SIGKILLed, restarted, run twice on one directory, and run on a full disk (a tmpfs this test
 * mounts, when root). Data directories an older version could have left behind are written
 * directly in the store's format, then the service is started on them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnService } from "../helpers/executables.ts";
import { Device } from "../helpers/local-service.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";
import { executionKey } from "../../src/service/store.ts";

const SERVICE = [process.execPath, join(REPO_ROOT, "src/service/main.ts")];
const ARN = "arn:aws:iot:us-east-1:123456789012";
const running: { proc: ReturnType<typeof Bun.spawn> }[] = [];
const devices: Device[] = [];

afterAll(async () => {
  for (const d of devices) await d.close().catch(() => {});
  for (const s of running) s.proc.kill("SIGKILL");
});

async function start(dataDir: string, extra: string[] = []) {
  const svc = await spawnService(SERVICE, ["--data-dir", dataDir, "--log-level", "WARN", ...extra]);
  running.push(svc);
  return svc;
}

async function kill(svc: { proc: ReturnType<typeof Bun.spawn> }): Promise<void> {
  svc.proc.kill("SIGKILL");
  await svc.proc.exited;
}

const call = async (http: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${http}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
};

/** A data directory holding `rows` in the store's one table (what an older version wrote). */
function seed(dir: string, rows: { kind: string; key: string; value: unknown }[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dir, "iot-jobs-local.sqlite"), { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run(
    "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, key))",
  );
  const put = db.prepare("INSERT OR REPLACE INTO records (kind, key, json) VALUES (?, ?, ?)");
  db.transaction(() => {
    for (const r of rows) put.run(r.kind, r.key, JSON.stringify(r.value));
  })();
  db.close();
}

const thing = (name: string, groups: string[] = [], attributes: Record<string, string> = {}) => ({
  kind: "thing",
  key: name,
  value: { thingName: name, thingId: `id-${name}`, attributes, version: 1, groups },
});
const group = (name: string, queryString?: string) => ({
  kind: "group",
  key: name,
  value: {
    thingGroupName: name,
    thingGroupId: `gid-${name}`,
    creationDate: 1,
    version: 1,
    ...(queryString ? { queryString } : {}),
  },
});
const job = (jobId: string, targets: string[], targetSelection: "SNAPSHOT" | "CONTINUOUS", sequence: number) => ({
  kind: "job",
  key: jobId,
  value: {
    jobId,
    jobArn: `${ARN}:job/${jobId}`,
    targets,
    targetSelection,
    document: "{}",
    documentBeforeSubstitution: "{}",
    destinationPackageVersions: [],
    destinationPackageVersionsBeforeSubstitution: [],
    status: "IN_PROGRESS",
    createdAt: 1,
    lastUpdatedAt: 1,
    sequence,
  },
});
const execution = (jobId: string, thingName: string, status: string, sequence: number) => ({
  kind: "execution",
  key: executionKey(jobId, thingName, 1),
  value: {
    jobId,
    thingName,
    executionNumber: 1,
    status,
    statusDetails: {},
    queuedAt: 1,
    lastUpdatedAt: 1,
    versionNumber: 1,
    sequence,
  },
});

function rows(dir: string, kind: string): any[] {
  const db = new Database(join(dir, "iot-jobs-local.sqlite"), { readonly: true });
  try {
    return (db.query("SELECT json FROM records WHERE kind = ?").all(kind) as { json: string }[]).map((r) =>
      JSON.parse(r.json),
    );
  } finally {
    db.close();
  }
}

describe("processes and data directories (issue 11)", () => {
  test("redteam-service 07: a second service on one data directory refuses to start, naming the holder", async () => {
    const dir = tempDir("svc-two-");
    const a = await start(dir);
    const b = Bun.spawn([...SERVICE, "serve", "--mqtt-port", "0", "--http-port", "0", "--data-dir", dir], {
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await b.exited).toBe(1);
    expect(await new Response(b.stdout).text()).toBe(""); // never printed a ready line
    expect(await new Response(b.stderr).text()).toContain(`in use by another iot-jobs-local (pid ${a.proc.pid})`);
    expect((await call(a.http, "POST", "/things/still-a", {})).status).toBe(200);
    // The kernel releases the lock when its holder dies, however it dies.
    await kill(a);
    const c = await start(dir);
    expect((await call(c.http, "GET", "/things/still-a")).status).toBe(200);
    await c.stop();
  });

  test("redteam-service 04: SIGKILL during DeleteThingGroup of 10,000 members leaves the group whole or gone, never torn", async () => {
    for (const killAfterMs of [5, 25, 60]) {
      const dir = tempDir("svc-delgrp-");
      seed(dir, [group("fleet"), ...Array.from({ length: 10_000 }, (_, i) => thing(`t-${i}`, ["fleet"]))]);
      const svc = await start(dir);
      const deleting = fetch(`${svc.http}/thing-groups/fleet`, { method: "DELETE" }).catch(() => undefined);
      await Bun.sleep(killAfterMs);
      await kill(svc);
      await deleting;
      const listing = rows(dir, "thing").filter((t) => t.groups.includes("fleet")).length;
      const exists = rows(dir, "group").some((g) => g.thingGroupName === "fleet");
      expect({ killAfterMs, exists, listing }).toEqual({ killAfterMs, exists, listing: exists ? 10_000 : 0 });
      const again = await start(dir);
      const members = await call(again.http, "GET", "/thing-groups/fleet/things?maxResults=5");
      expect(members.status).toBe(exists ? 200 : 404);
      if (!exists) {
        // A new group of the same name starts empty; a job on it reaches nobody.
        await call(again.http, "POST", "/thing-groups/fleet", {});
        expect((await call(again.http, "GET", "/thing-groups/fleet/things")).body.things).toEqual([]);
      }
      await again.stop();
    }
  }, 60_000);

  test("redteam-service 05: what a crash of an older version left behind is repaired at start, and reported", async () => {
    const dir = tempDir("svc-torn-");
    seed(dir, [
      // A SNAPSHOT job whose executions are all terminal, still IN_PROGRESS.
      thing("d-1"),
      job("snap", [`${ARN}:thing/d-1`], "SNAPSHOT", 1),
      execution("snap", "d-1", "SUCCEEDED", 1),
      // A thing matching a CONTINUOUS job's dynamic group, without an execution of it.
      group("dg", "attributes.role:x"),
      job("cont", [`${ARN}:thinggroup/dg`], "CONTINUOUS", 2),
      thing("m-1", [], { role: "x" }),
      // A thing listing a group that was deleted.
      thing("lister", ["deleted-group"]),
      // A pending execution of a thing that was deleted.
      job("orph", [`${ARN}:thing/ghost`, `${ARN}:thing/d-1`], "SNAPSHOT", 3),
      execution("orph", "ghost", "QUEUED", 3),
      execution("orph", "d-1", "FAILED", 3),
    ]);
    const svc = await start(dir);
    expect((await call(svc.http, "GET", "/jobs/snap")).body.job.status).toBe("COMPLETED");
    expect((await call(svc.http, "GET", "/things/m-1/jobs/cont")).body.execution.status).toBe("QUEUED");
    const search = await call(svc.http, "POST", "/indices/search", { queryString: "thingGroupNames:deleted-group" });
    expect(search.body.things).toEqual([]);
    expect((await call(svc.http, "GET", "/jobs/orph")).body.job).toMatchObject({
      status: "COMPLETED",
      jobProcessDetails: { numberOfRemovedThings: 1 },
    });
    await svc.stop();
    const log = await new Response(svc.proc.stderr as ReadableStream).text();
    expect(log).toContain("Repaired state left inconsistent by an earlier crash");
    for (const word of ['"snap"', '"m-1"', '"deleted-group"', '"ghost"']) expect(log).toContain(word);
    // Repaired on disk too, in one go: a second start finds nothing to repair.
    const second = await start(dir);
    await second.stop();
    expect(await new Response(second.proc.stderr as ReadableStream).text()).not.toContain("Repaired");
  });

  test("redteam-service 05: SIGKILL under load leaves no SNAPSHOT job stuck and no continuous-job member without its execution", async () => {
    for (let trial = 0; trial < 3; trial++) {
      const dir = tempDir("svc-kill-");
      const svc = await start(dir);
      await call(svc.http, "POST", "/dynamic-thing-groups/dg", { queryString: "attributes.role:x" });
      await call(svc.http, "PUT", "/jobs/cont", {
        targets: [`${ARN}:thinggroup/dg`],
        document: "{}",
        targetSelection: "CONTINUOUS",
      });
      await call(svc.http, "POST", "/things/dev", {});
      const d = await Device.connect(svc.mqtt, "dev", []);
      devices.push(d);
      let stop = false;
      const joiners = (async () => {
        for (let n = 0; !stop; n++)
          if (
            (
              await call(svc.http, "POST", `/things/m-${n}`, { attributePayload: { attributes: { role: "x" } } }).catch(
                () => ({ status: 0 }),
              )
            ).status !== 200
          )
            return;
      })();
      const runner = (async () => {
        for (let n = 0; !stop; n++) {
          const created = await call(svc.http, "PUT", `/jobs/j-${n}`, {
            targets: [`${ARN}:thing/dev`],
            document: "{}",
          }).catch(() => ({ status: 0 }));
          if (created.status !== 200) return;
          // Not awaited: a QoS 1 publish to a killed broker would wait for ever.
          d.client.publish(`${d.prefix}/jobs/j-${n}/update`, JSON.stringify({ status: "SUCCEEDED" }), { qos: 0 });
        }
      })();
      await Bun.sleep(300 + trial * 350);
      await kill(svc);
      stop = true;
      await Promise.allSettled([joiners, runner]);
      await d.close().catch(() => {});
      const again = await start(dir);
      await again.stop();
      const jobs = rows(dir, "job");
      const executions = rows(dir, "execution");
      const pending = (jobId: string) =>
        executions.some((e) => e.jobId === jobId && (e.status === "QUEUED" || e.status === "IN_PROGRESS"));
      const stuck = jobs
        .filter((j) => j.targetSelection === "SNAPSHOT" && j.status === "IN_PROGRESS" && !pending(j.jobId))
        .map((j) => j.jobId);
      const missing = rows(dir, "thing")
        .filter(
          (t) =>
            t.attributes.role === "x" && !executions.some((e) => e.jobId === "cont" && e.thingName === t.thingName),
        )
        .map((t) => t.thingName);
      expect({ trial, stuck, missing }).toEqual({ trial, stuck: [], missing: [] });
      expect(jobs.length).toBeGreaterThan(1);
    }
  }, 60_000);

  test("redteam-service 08: a dynamic group whose stored query no longer compiles is disabled and reported at start; writes still work", async () => {
    const dir = tempDir("svc-badquery-");
    seed(dir, [
      group("broken", "attributes.a:x AND ((("),
      group("fine", "attributes.a:x"),
      thing("q-1", [], { a: "x" }),
    ]);
    const startedAt = Date.now();
    const svc = await start(dir);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect((await call(svc.http, "POST", "/things/q-2", { attributePayload: { attributes: { a: "x" } } })).status).toBe(
      200,
    );
    expect(
      (await call(svc.http, "PATCH", "/things/q-1", { attributePayload: { attributes: { a: "y" } } })).status,
    ).toBe(200);
    expect((await call(svc.http, "POST", "/things/q-2/shadow", { state: { reported: { v: 1 } } })).status).toBe(200);
    expect((await call(svc.http, "GET", "/thing-groups/fine/things")).body.things).toEqual(["q-2"]);
    await svc.stop();
    const log = await new Response(svc.proc.stderr as ReadableStream).text();
    expect(log).toContain("Dynamic thing group broken is disabled");
  });

  test("issue 12: state after refused requests is the same in memory and after a SIGKILL and restart", async () => {
    const dir = tempDir("svc-refused-");
    const svc = await start(dir);
    await call(svc.http, "POST", "/things/r-1", { attributePayload: { attributes: { a: "1" } } });
    await call(svc.http, "PUT", "/packages/r-pkg", { description: "old" });
    await call(svc.http, "PUT", "/packages/r-pkg/versions/1", { description: "v-old" });
    await call(svc.http, "PUT", "/jobs/r-job", { targets: [`${ARN}:thing/r-1`], document: "{}" });
    const refused = [
      await call(svc.http, "PATCH", "/packages/r-pkg/versions/1", { description: "v-new", recipe: "r".repeat(4000) }),
      await call(svc.http, "PATCH", "/packages/r-pkg", { description: "new", defaultVersionName: "1" }),
      await call(svc.http, "PATCH", "/things/r-1", { attributePayload: { attributes: { b: "2", "bad key!": "x" } } }),
      await call(svc.http, "PATCH", "/things/r-1", {
        attributePayload: { attributes: { b: "2" } },
        expectedVersion: 7,
      }),
      await call(svc.http, "DELETE", "/things/r-1?expectedVersion=9"),
      await call(svc.http, "DELETE", "/jobs/r-job"),
      await call(svc.http, "POST", "/things/r-1/shadow", { state: { reported: { big: "x".repeat(9000) } } }),
    ];
    expect(refused.map((r) => r.status >= 400)).toEqual(refused.map(() => true));
    const snapshot = async (http: string) => ({
      thing: (await call(http, "GET", "/things/r-1")).body,
      pkg: (await call(http, "GET", "/packages/r-pkg")).body,
      version: (await call(http, "GET", "/packages/r-pkg/versions/1")).body,
      job: (await call(http, "GET", "/jobs/r-job")).body,
      shadow: (await call(http, "GET", "/things/r-1/shadow")).status,
    });
    const before = await snapshot(svc.http);
    expect([
      before.thing.version,
      before.pkg.description,
      before.version.description,
      before.job.job.status,
      before.shadow,
    ]).toEqual([1, "old", "v-old", "IN_PROGRESS", 404]);
    await kill(svc);
    const again = await start(dir);
    expect(await snapshot(again.http)).toEqual(before);
    await again.stop();
  });
});

const isRoot = process.getuid?.() === 0;
const hasMount = Bun.which("mount") !== null;

describe("a full disk (issue 11)", () => {
  test.skipIf(!isRoot || !hasMount)(
    "redteam-service 06: with the disk full, a refused write changes nothing in memory; a SUCCEEDED is neither lost nor run twice",
    async () => {
      const mnt = tempDir("svc-full-");
      const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt]);
      if (mounted.exitCode !== 0) {
        console.warn(`skipped: cannot mount a tmpfs (${mounted.stderr.toString().trim()})`);
        return;
      }
      try {
        const dir = join(mnt, "data");
        let svc = await start(dir);
        await call(svc.http, "POST", "/things/dev-1", {});
        await call(svc.http, "POST", "/things/dev-shadow", {});
        const sd = await Device.connect(svc.mqtt, "dev-shadow", ["$aws/things/{thing}/shadow/update/+"]);
        devices.push(sd);
        await call(svc.http, "PUT", "/jobs/job-pre", { targets: [`${ARN}:thing/dev-1`], document: "{}" });
        const d = await Device.connect(svc.mqtt, "dev-1", []);
        devices.push(d);
        expect((await d.request("jobs/start-next", {})).payload.execution.status).toBe("IN_PROGRESS");

        // Fill the file system, then keep writing until SQLite refuses (its WAL may have room left).
        const filler = join(mnt, "filler");
        try {
          writeFileSync(filler, Buffer.alloc(3 * 1024 * 1024));
        } catch {
          // ENOSPC: full, which is the point
        }
        const answers: { name: string; status: number }[] = [];
        for (let n = 0; n < 400 && !answers.some((a) => a.status === 500); n++) {
          const name = `t-full-${n}`;
          answers.push({
            name,
            status: (
              await call(svc.http, "POST", `/things/${name}`, {
                attributePayload: { attributes: { pad: "p".repeat(700) } },
              })
            ).status,
          });
        }
        const refusedThing = answers.find((a) => a.status === 500);
        expect(refusedThing).toBeDefined();
        // Memory did not change: the thing SQLite refused does not exist.
        expect((await call(svc.http, "GET", `/things/${refusedThing!.name}`)).status).toBe(404);

        const succeeded = await d.request("jobs/job-pre/update", { status: "SUCCEEDED" });
        expect(succeeded.payload.code).toBe("InternalError");
        // A shadow update over MQTT that the store refuses is answered too (it used to get nothing).
        const shadow = await sd.request("shadow/update", { state: { reported: { pad: "p".repeat(4000) } } });
        expect(shadow.topic).toEndWith("/shadow/update/rejected");
        expect(shadow.payload.code).toBe(500);
        await sd.close();
        expect((await call(svc.http, "GET", "/things/dev-1/jobs/job-pre")).body.execution.status).toBe("IN_PROGRESS");
        expect((await call(svc.http, "GET", "/jobs/job-pre")).body.job.status).toBe("IN_PROGRESS");

        // Space comes back: the retry is accepted, once.
        rmSync(filler, { force: true });
        expect((await d.request("jobs/job-pre/update", { status: "SUCCEEDED" })).topic).toEndWith("/accepted");
        await d.close();
        await svc.stop();

        svc = await start(dir);
        for (const a of answers)
          expect({ name: a.name, status: (await call(svc.http, "GET", `/things/${a.name}`)).status }).toEqual({
            name: a.name,
            status: a.status === 200 ? 200 : 404,
          });
        expect((await call(svc.http, "GET", "/things/dev-1/jobs/job-pre")).body.execution.status).toBe("SUCCEEDED");
        expect((await call(svc.http, "GET", "/jobs/job-pre")).body.job.status).toBe("COMPLETED");
        await svc.stop();
        const db = new Database(join(dir, "iot-jobs-local.sqlite"), { readonly: true });
        expect((db.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check).toBe("ok");
        db.close();
      } finally {
        for (const s of running) s.proc.kill("SIGKILL");
        await Bun.sleep(100);
        Bun.spawnSync(["umount", "-l", mnt]);
      }
    },
    60_000,
  );
  if (!isRoot || !hasMount) test("redteam-service 06 needs root and mount(8) for its tmpfs: skipped", () => {});
});
