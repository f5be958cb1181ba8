import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import fc from "fast-check";
import {
  decode,
  decodeJobsRequest,
  decodeMessage,
  ExecutionResponse,
  StartNextRequest,
  UpdateJobExecutionRequest,
} from "../../src/protocol/messages.ts";
import {
  DEVICE_SETTABLE_STATUSES,
  isPending,
  isTerminal,
  JOB_EXECUTION_STATUSES,
} from "../../src/protocol/statuses.ts";
import {
  apiOfTopic,
  isServiceRequestTopic,
  jobsPushTopic,
  jobsTopics,
  parseShadowTopic,
  shadowTopic,
  thingOfTopic,
} from "../../src/protocol/topics.ts";

const root = join(import.meta.dir, "../..");
function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}

describe("src/protocol is the one place for the wire contract", () => {
  test("it is a leaf: its files import only each other and TypeBox", () => {
    for (const file of sources("src/protocol")) {
      const imports = [...readFileSync(join(root, file), "utf8").matchAll(/from "([^"]+)"/g)].map((m) => m[1]!);
      for (const spec of imports)
        expect([file, spec]).toEqual([file, expect.stringMatching(/^(\.\/[a-z.-]+\.ts|@sinclair\/typebox(\/\w+)?)$/)]);
    }
  });

  test("no other source file spells a Jobs topic, an id pattern, a status list or a Jobs limit", () => {
    const duplicates: Record<string, RegExp> = {
      "a $aws/things/… topic built by hand": /`\$aws\/things\/\$\{/,
      "the thing name pattern": /\[a-zA-Z0-9:_-\]\{1,128\}/,
      "the job id pattern": /\[a-zA-Z0-9_-\]\{1,64\}/,
      "the package / version name patterns": /^const (PACKAGE|VERSION)_NAME = \/|\[a-zA-Z0-9-_.\]/m,
      "a job, job template or package version ARN pattern": /:\\d\{12\}:(job|jobtemplate|package)\\\//,
      "the 10080-minute limit": /\b10080\b/,
      "the 32768-character document limit": /\b32768\b/,
      "the 1024-character statusDetails value limit": /,\s*1024\)|= 1024;/,
      "a status list": /"TIMED_OUT",\s*"REJECTED"/,
    };
    // *.generated.ts is AWS's service model transcribed by scripts/api-model/generate.py: the HTTP API's
    // input constraints as AWS states them, checked in sync with botocore, not a rule of ours.
    const files = [
      ...sources("src").filter((f) => !f.startsWith("src/protocol/") && !f.endsWith(".generated.ts")),
      "test/helpers/jobs-peer.ts",
    ];
    const found: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(root, file), "utf8");
      for (const [what, pattern] of Object.entries(duplicates))
        if (pattern.test(text)) found.push(`${relative(root, join(root, file))}: ${what}`);
    }
    expect(found).toEqual([]);
  });
});

describe("decode", () => {
  test("the result type follows from the schema", () => {
    const r = decode(UpdateJobExecutionRequest, { status: "SUCCEEDED", statusDetails: { k: "v" }, expectedVersion: 3 });
    if (!r.ok) throw new Error(r.message);
    const status: "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "REJECTED" = r.value.status;
    const version: number | undefined = r.value.expectedVersion;
    // @ts-expect-error a device cannot send QUEUED, and the type says so
    const queued: typeof r.value.status = "QUEUED";
    expect([status, version, queued] as unknown[]).toEqual(["SUCCEEDED", 3, "QUEUED"]);
    const s = decode(StartNextRequest, {});
    // @ts-expect-error start-next has no status
    expect(s.ok && s.value.status).toBeUndefined();
  });

  test("a failure names the first wrong field", () => {
    expect(decode(StartNextRequest, { statusDetails: { k: 1 } })).toMatchObject({ ok: false, path: "statusDetails.k" });
    expect(decode(StartNextRequest, { stepTimeoutInMinutes: 10081 })).toMatchObject({
      ok: false,
      message: expect.stringContaining("10080"),
    });
    expect(decode(UpdateJobExecutionRequest, {})).toEqual({ ok: false, path: "status", message: "status is required" });
    expect(decode(UpdateJobExecutionRequest, [])).toEqual({
      ok: false,
      path: "",
      message: "The payload must be a JSON object",
    });
  });

  test("decodeJobsRequest never throws, whatever the topic and payload", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("get", "start-next", "$next/get", "j/get", "j/update", "notify", "x/y/z", ""),
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
          fc.uint8Array({ maxLength: 64 }),
        ),
        (suffix, payload) => {
          const r = decodeJobsRequest(`$aws/things/t/jobs/${suffix}`, payload);
          if (!r.ok) expect(["InvalidTopic", "InvalidJson", "InvalidRequest"]).toContain(r.code);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("decodeMessage: the type from the schema, or from an explicit argument; undefined for anything else", () => {
    const inferred = decodeMessage(ExecutionResponse, '{"execution":{"jobId":"a"}}');
    const jobId: string | undefined = inferred?.execution?.jobId;
    expect(jobId).toBe("a");
    expect(decodeMessage<ExecutionResponse>(ExecutionResponse, "{")).toBeUndefined();
    expect(decodeMessage(ExecutionResponse, '{"execution":{}}')).toBeUndefined();
  });
});

describe("statuses", () => {
  test("eight statuses; a device sets four; QUEUED and IN_PROGRESS are the pending ones", () => {
    expect(JOB_EXECUTION_STATUSES.length).toBe(8);
    expect(DEVICE_SETTABLE_STATUSES.every((s) => JOB_EXECUTION_STATUSES.includes(s))).toBe(true);
    expect(JOB_EXECUTION_STATUSES.filter(isPending)).toEqual(["QUEUED", "IN_PROGRESS"]);
    expect(JOB_EXECUTION_STATUSES.filter(isTerminal)).toEqual([
      "SUCCEEDED",
      "FAILED",
      "TIMED_OUT",
      "REJECTED",
      "REMOVED",
      "CANCELED",
    ]);
  });
});

describe("topics", () => {
  test("Jobs builders", () => {
    const t = jobsTopics("pi-1");
    expect([t.get, t.startNext, t.describe("$next"), t.update("j1"), t.notify, t.notifyNext, t.all]).toEqual([
      "$aws/things/pi-1/jobs/get",
      "$aws/things/pi-1/jobs/start-next",
      "$aws/things/pi-1/jobs/$next/get",
      "$aws/things/pi-1/jobs/j1/update",
      "$aws/things/pi-1/jobs/notify",
      "$aws/things/pi-1/jobs/notify-next",
      "$aws/things/pi-1/jobs/#",
    ]);
    expect(jobsPushTopic("pi-1", "notify-next")).toBe(t.notifyNext);
  });

  test("shadow builders and the parser agree; the parser refuses what is not a request", () => {
    expect(shadowTopic("pi-1", "", "get")).toBe("$aws/things/pi-1/shadow/get");
    expect(shadowTopic("pi-1", "$package", "update", "documents")).toBe(
      "$aws/things/pi-1/shadow/name/$package/update/documents",
    );
    for (const [name, op] of [
      ["", "get"],
      ["$package", "update"],
      ["cfg", "delete"],
    ] as const) {
      expect(parseShadowTopic(shadowTopic("t:1", name, op))).toEqual({ thing: "t:1", shadowName: name, op });
    }
    for (const topic of [
      "$aws/things/t/shadow/update/accepted",
      "$aws/things/t/shadow/name//update",
      "$aws/things/t/shadow/name/a/b/update",
      "$aws/things/t/shadow/patch",
      "$aws/things/t+/shadow/get",
      "$aws/things/t/jobs/get",
    ])
      expect(parseShadowTopic(topic)).toBeUndefined();
  });

  test("what is a service request, and whose", () => {
    expect(isServiceRequestTopic("$aws/things/t/jobs/j/update")).toBe(true);
    expect(isServiceRequestTopic("$aws/things/t/shadow/name/s/update")).toBe(true);
    for (const reply of [
      "jobs/j/update/accepted",
      "jobs/notify",
      "jobs/notify-next",
      "shadow/update/delta",
      "shadow/update/documents",
      "other/x",
    ]) {
      expect([reply, isServiceRequestTopic(`$aws/things/t/${reply}`)]).toEqual([reply, false]);
    }
    expect(thingOfTopic("$aws/things/t-9/jobs/get")).toBe("t-9");
    expect(thingOfTopic("aws/things/t/jobs/get")).toBeUndefined();
    expect([
      apiOfTopic("$aws/things/t/jobs"),
      apiOfTopic("$aws/things/t/shadow/get"),
      apiOfTopic("$aws/things/t/other/x"),
    ]).toEqual(["jobs", "shadow", undefined]);
  });
});
