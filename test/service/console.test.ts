/**
 * The console's server side without a browser: the roll-out timeline (pure), the coalesced events
 * on a ManualClock, and /console over HTTP against the service in this process (the Host rule,
 * read-only methods, headers, the views, live events, and writes from the console's origin going
 * through the AWS operations like any caller's). The browser tests are test/console/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateJobCommand, CreateThingCommand, DescribeJobCommand } from "@aws-sdk/client-iot";
import { jobForView } from "../../src/service/console/console-api.ts";
import { ConsoleEvents, MAX_STREAMS } from "../../src/service/console/events.ts";
import { MAX_POINTS, timeline } from "../../src/service/console/timeline.ts";
import type { Job } from "../../src/service/model.ts";
import type { RunningService } from "../../src/service/service.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { Device, iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";

describe("timeline (executions by status per interval)", () => {
  const first = (thingName: string) => ({ thingName, executionNumber: 1 });

  test("rebuilds each execution's path from its timestamps; one point before the job began", () => {
    const t0 = 1_800_000_000; // a multiple of 60
    const t = timeline(
      [
        { ...first("a"), status: "SUCCEEDED", queuedAt: t0, startedAt: t0 + 30, lastUpdatedAt: t0 + 90 },
        { ...first("b"), status: "FAILED", queuedAt: t0, lastUpdatedAt: t0 + 150 }, // never IN_PROGRESS
        { ...first("c"), status: "IN_PROGRESS", queuedAt: t0 + 60, startedAt: t0 + 200, lastUpdatedAt: t0 + 200 },
        { ...first("d"), status: "QUEUED", queuedAt: t0 + 100, lastUpdatedAt: t0 + 100 },
      ],
      t0,
      t0 + 299,
    );
    expect(t.stepSeconds).toBe(5); // 300 s: the first step giving at most MAX_POINTS points
    const at = (status: keyof typeof t.counts, seconds: number) => t.counts[status]![(seconds + 1) / 5 + 0]!;
    // Point i ends at t.start + 5 i; t.start is the end of the interval before t0.
    expect(t.start).toBe(t0 - 1);
    expect(t.counts.QUEUED![0]).toBe(0);
    expect(at("QUEUED", 4)).toBe(2);
    expect(at("IN_PROGRESS", 34)).toBe(1);
    expect(at("SUCCEEDED", 94)).toBe(1);
    expect(at("FAILED", 149)).toBe(0); // a status counts from the first point that ends at or after it
    expect(at("FAILED", 154)).toBe(1);
    expect(at("QUEUED", 144)).toBe(3); // the failed one, the later job's, the queued one
    expect(at("IN_PROGRESS", 204)).toBe(1);
    const last = t.counts.QUEUED!.length - 1;
    expect([
      t.counts.QUEUED![last],
      t.counts.IN_PROGRESS![last],
      t.counts.SUCCEEDED![last],
      t.counts.FAILED![last],
    ]).toEqual([1, 1, 1, 1]);
    expect(t.counts.CANCELED).toBeUndefined();
  });

  test("a superseded attempt stops counting when its successor is queued: each thing counted once", () => {
    const t0 = 1_800_000_000;
    const t = timeline(
      [
        // A retry: FAILED at t0 + 20, the retry queued in the same second, SUCCEEDED at t0 + 40.
        { ...first("a"), superseded: true, status: "FAILED", queuedAt: t0, startedAt: t0 + 5, lastUpdatedAt: t0 + 20 },
        { thingName: "a", executionNumber: 2, status: "SUCCEEDED", queuedAt: t0 + 20, lastUpdatedAt: t0 + 40 },
        // A re-join of a continuous job: REMOVED from t0 + 10 until queued again at t0 + 30.
        { ...first("b"), superseded: true, status: "REMOVED", queuedAt: t0, lastUpdatedAt: t0 + 10 },
        { thingName: "b", executionNumber: 2, status: "QUEUED", queuedAt: t0 + 30, lastUpdatedAt: t0 + 30 },
      ],
      t0,
      t0 + 59,
    );
    expect(t.stepSeconds).toBe(1);
    const at = (status: keyof typeof t.counts, seconds: number) => t.counts[status]?.[seconds + 1] ?? 0;
    expect(t.counts.FAILED).toBeUndefined(); // replaced within the second it ended
    expect([at("IN_PROGRESS", 19), at("QUEUED", 20), at("QUEUED", 39), at("SUCCEEDED", 40)]).toEqual([1, 1, 2, 1]);
    // At t0 + 30 b's new execution joins a's retry in QUEUED.
    const rejoin = [at("REMOVED", 9), at("REMOVED", 10), at("REMOVED", 29), at("REMOVED", 30), at("QUEUED", 30)];
    expect(rejoin).toEqual([0, 1, 1, 0, 2]);
    for (let i = 0; i < t.counts.QUEUED!.length; i++) {
      const total = Object.values(t.counts).reduce((n, series) => n + series[i]!, 0);
      expect(total).toBeLessThanOrEqual(2);
    }
    expect([at("QUEUED", 59), at("SUCCEEDED", 59)]).toEqual([1, 1]);
  });

  test("minutes for long roll-outs, and the point count stays bounded", () => {
    const t0 = 1_800_000_000;
    const t = timeline(
      [{ ...first("a"), status: "SUCCEEDED", queuedAt: t0, startedAt: t0, lastUpdatedAt: t0 + 7000 }],
      t0,
      t0 + 2.5 * 3600,
    );
    expect(t.stepSeconds).toBe(60);
    expect(t.counts.SUCCEEDED!.length).toBeLessThanOrEqual(MAX_POINTS + 2);
    // Points end at t0 - 1 + 60 i: IN_PROGRESS at the ends t0 + 59 … t0 + 6959, SUCCEEDED from t0 + 7019.
    expect(t.counts.IN_PROGRESS!.filter((n) => n === 1).length).toBe(116);
  });

  test("10,000 executions take under 50 ms (it runs on every refresh of a job page)", () => {
    const t0 = 1_800_000_000;
    const executions = Array.from({ length: 10_000 }, (_, i) => ({
      ...first(`t-${i}`),
      status: "SUCCEEDED" as const,
      queuedAt: t0,
      startedAt: t0 + (i % 170),
      lastUpdatedAt: t0 + (i % 170) + 5,
    }));
    // The best of 5 runs, so that a loaded machine does not decide (a quiet one takes a few ms).
    let ms = Number.POSITIVE_INFINITY;
    let t = timeline(executions, t0, t0 + 179);
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      t = timeline(executions, t0, t0 + 179);
      ms = Math.min(ms, performance.now() - started);
    }
    expect(t.counts.SUCCEEDED!.at(-1)).toBe(10_000);
    expect(ms).toBeLessThan(50);
  });
});

describe("ConsoleEvents (coalesced change summaries)", () => {
  const read = async (res: Response) => {
    const reader = res.body!.getReader();
    const chunks: string[] = [];
    return {
      async next(): Promise<string> {
        const { value } = await reader.read();
        chunks.push(new TextDecoder().decode(value));
        return chunks.at(-1)!;
      },
      cancel: () => reader.cancel(),
    };
  };

  test("a burst of 10,000 execution changes is one message per interval; nothing is sent when nothing changed", async () => {
    const clock = new ManualClock();
    const events = new ConsoleEvents({ clock, intervalMs: 500 });
    const stream = await read(events.open()!);
    expect(await stream.next()).toContain("event: hello");
    for (let i = 0; i < 10_000; i++) events.changed("execution", `job-a\u0000thing-${i}\u00001`);
    events.changed("job", "job-a");
    clock.advance(499);
    clock.advance(1);
    const message = await stream.next();
    expect(message).toBe(`event: change\ndata: {"kinds":["execution","job"],"jobs":["job-a"]}\n\n`);
    // Quiet: nothing until the keepalive comment (5 s).
    clock.advance(4500);
    clock.advance(499);
    clock.advance(1);
    expect(await stream.next()).toBe(": keepalive\n\n");
    await stream.cancel();
    expect(events.streamCount).toBe(0);
  });

  test("many jobs at once are '*'; without an open stream a change costs nothing and no timer runs", async () => {
    const clock = new ManualClock();
    const events = new ConsoleEvents({ clock, intervalMs: 500 });
    events.changed("job", "ignored");
    const stream = await read(events.open()!);
    await stream.next();
    for (let i = 0; i < 100; i++) events.changed("job", `job-${i}`);
    clock.advance(500);
    expect(await stream.next()).toContain(`"jobs":"*"`);
    await stream.cancel();
    events.changed("job", "after-close");
    clock.advance(60_000); // no timer left: nothing to deliver, nothing thrown
    events.stop();
  });

  test(`at most ${MAX_STREAMS} streams`, () => {
    const events = new ConsoleEvents({ clock: new ManualClock() });
    const opened = Array.from({ length: MAX_STREAMS }, () => events.open());
    expect(opened.every(Boolean)).toBe(true);
    expect(events.open()).toBeUndefined();
    events.stop();
    expect(events.streamCount).toBe(0);
  });

  test("a change in the number of connected clients is announced as 'connection'", async () => {
    const clock = new ManualClock();
    let connected = 3;
    const events = new ConsoleEvents({ clock, intervalMs: 500, connectedCount: () => connected });
    const stream = await read(events.open()!);
    await stream.next();
    clock.advance(500); // the first count is only recorded
    connected = 4;
    clock.advance(500);
    expect(await stream.next()).toContain(`"kinds":["connection"]`);
    events.stop();
  });
});

test("the job view sends a roll-out's unreached things as a count, not 10,000 names", () => {
  const job = {
    jobId: "j",
    sequence: 7,
    rollout: { unreached: Array.from({ length: 10_000 }, (_, i) => `t-${i}`), notified: 5, minuteStart: 0 },
  } as unknown as Job;
  expect(jobForView(job)).toEqual({ jobId: "j", rollout: { notified: 5, minuteStart: 0, unreachedCount: 10_000 } });
  expect(jobForView({ jobId: "k", sequence: 1 } as unknown as Job)).toEqual({ jobId: "k" });
});

describe("/console over HTTP", () => {
  let svc: RunningService;
  let http: string;
  const host = () => new URL(http).host;
  beforeAll(async () => {
    svc = await startLocalService();
    http = svc.httpUrl;
    const iot = iotClient(http);
    await iot.send(new CreateThingCommand({ thingName: "c-1" }));
    await iot.send(new CreateThingCommand({ thingName: "c-2" }));
  });
  afterAll(() => svc.stop());

  test("the page, with headers that keep it out of frames and scripts to its own origin", async () => {
    const res = await fetch(`${http}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(await res.text()).toContain('<script type="module" src="/console/app.js">');
    expect((await fetch(`${http}/console/`)).status).toBe(200);
    expect((await fetch(`${http}/console/app.js`)).headers.get("content-type")).toContain("text/javascript");
    expect((await fetch(`${http}/console/nope.js`)).status).toBe(404);
  });

  test("the page's script parses (checked here too, for machines without chromium)", async () => {
    const js = await (await fetch(`${http}/console/app.js`)).text();
    expect(() => new Bun.Transpiler({ loader: "js" }).transformSync(js)).not.toThrow();
    expect(() => new Bun.Transpiler({ loader: "js" }).transformSync(`${js}\n}`)).toThrow(); // the check can fail
  });

  test("a foreign Host (DNS rebinding) is refused, reads included; the console only reads", async () => {
    const rebound = await fetch(`${http}/console/api/things`, { headers: { host: "evil.example" } });
    expect(rebound.status).toBe(400);
    expect(rebound.headers.get("x-amzn-ErrorType")).toBe("InvalidRequestException");
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await fetch(`${http}/console/api/jobs`, {
        method,
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      expect([method, res.status]).toEqual([method, 405]);
    }
  });

  test("writes from the console's own origin go through the API; from another origin they are refused", async () => {
    const body = JSON.stringify({
      targets: [thingArn("c-1")],
      document: JSON.stringify({ version: "1.0", steps: [] }),
    });
    const own = await fetch(`${http}/jobs/from-console`, {
      method: "PUT",
      body,
      headers: { origin: `http://${host()}`, "content-type": "application/json" },
    });
    expect(own.status).toBe(200);
    const foreign = await fetch(`${http}/jobs/from-elsewhere`, {
      method: "PUT",
      body,
      headers: { origin: "http://evil.example", "content-type": "application/json" },
    });
    expect(foreign.status).toBe(401);
  });

  test("views: jobs with counts, a job's executions with statusDetails, things with connection state", async () => {
    const device = await Device.connect(svc.mqttUrl, "c-2");
    await iotClient(http).send(
      new CreateJobCommand({
        jobId: "view-job",
        targets: [thingArn("c-2")],
        document: JSON.stringify({ version: "1.0", steps: [] }),
      }),
    );
    await device.request("jobs/start-next", {});
    await device.request("jobs/view-job/update", { status: "FAILED", statusDetails: { stderr: "no space left" } });
    const jobs = (await (await fetch(`${http}/console/api/jobs`)).json()) as {
      jobs: { jobId: string; counts: object }[];
    };
    expect(jobs.jobs.find((j) => j.jobId === "view-job")!.counts).toEqual({ FAILED: 1 });
    const job = (await (await fetch(`${http}/console/api/jobs/view-job`)).json()) as {
      job: { document: string };
      timeline: { counts: object };
    };
    expect(JSON.parse(job.job.document)).toEqual({ version: "1.0", steps: [] });
    expect(Object.keys(job.timeline.counts)).toContain("FAILED");
    const rows = (await (await fetch(`${http}/console/api/jobs/view-job/executions?status=FAILED`)).json()) as {
      total: number;
      executions: { thingName: string; statusDetails: object }[];
    };
    expect(rows).toMatchObject({
      total: 1,
      executions: [{ thingName: "c-2", statusDetails: { stderr: "no space left" } }],
    });
    const things = (await (await fetch(`${http}/console/api/things`)).json()) as {
      things: { thingName: string; connected: boolean }[];
    };
    expect(things.things.map((t) => [t.thingName, t.connected])).toEqual([
      ["c-1", false],
      ["c-2", true],
    ]);
    await device.close();
    expect((await fetch(`${http}/console/api/jobs/view-job/executions?status=DONE`)).status).toBe(400);
    expect((await fetch(`${http}/console/api/things?limit=201`)).status).toBe(400);
    expect((await fetch(`${http}/console/api/jobs/missing`)).status).toBe(404);
  });

  test("no secret: after CreateKeysAndCertificate no console view or event carries the private key", async () => {
    const events = await fetch(`${http}/console/events`);
    const reader = events.body!.getReader();
    let text = "";
    while (!text.includes("event: hello")) text += new TextDecoder().decode((await reader.read()).value);
    const created = await fetch(`${http}/keys-and-certificate?setAsActive=true`, { method: "POST" });
    expect(created.status).toBe(200);
    const { keyPair } = (await created.json()) as { keyPair: { PrivateKey: string } };
    expect(keyPair.PrivateKey).toContain("PRIVATE KEY");
    while (!text.includes("event: change")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const body = keyPair.PrivateKey.split("\n")[1]!; // a line of the key's base64
    for (const view of ["/jobs", "/things", "/groups", "/fleet-packages", "/packages"]) {
      const out = await (await fetch(`${http}/console/api${view}`)).text();
      expect([view, out.includes(body), out.includes("PRIVATE KEY")]).toEqual([view, false, false]);
    }
    expect([text.includes(body), text.includes("PRIVATE KEY")]).toEqual([false, false]);
  });

  test("/console/events: a change made through the API arrives as one summary", async () => {
    const res = await fetch(`${http}/console/events`);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("event: hello")) text += new TextDecoder().decode((await reader.read()).value);
    await iotClient(http).send(new CreateThingCommand({ thingName: "c-3" }));
    while (!text.includes("event: change")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain(`"kinds":["thing"]`);
    await reader.cancel();
  });
});

describe("a retried job in the console (jobExecutionsRetryConfig)", () => {
  // One thing FAILED, then SUCCEEDED on its retry; a second thing FAILED twice (out of retries).
  // DescribeJob counts things by their latest execution; the console's counts, bar and chart must too,
  // while its executions table still lists every attempt.
  let svc: RunningService;
  let http: string;
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0));
  beforeAll(async () => {
    svc = await startLocalService({ clock });
    http = svc.httpUrl;
  });
  afterAll(() => svc.stop());

  const run = async (device: Device, status: string) => {
    const started = await device.request("jobs/start-next", {});
    const { jobId, executionNumber } = started.payload.execution;
    clock.advance(20_000);
    await device.request(`jobs/${jobId}/update`, { status, executionNumber });
    clock.advance(20_000);
    return executionNumber as number;
  };

  test("counts, the job list and the chart's last point equal DescribeJob's; the table shows each attempt", async () => {
    const iot = iotClient(http);
    for (const t of ["r-1", "r-2"]) await iot.send(new CreateThingCommand({ thingName: t }));
    await iot.send(
      new CreateJobCommand({
        jobId: "retried",
        targets: [thingArn("r-1"), thingArn("r-2")],
        document: JSON.stringify({ version: "1.0", steps: [] }),
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 1 }] },
      }),
    );
    const r1 = await Device.connect(svc.mqttUrl, "r-1");
    const r2 = await Device.connect(svc.mqttUrl, "r-2");
    expect(await run(r1, "FAILED")).toBe(1);
    expect(await run(r1, "SUCCEEDED")).toBe(2);
    expect(await run(r2, "FAILED")).toBe(1);
    expect(await run(r2, "FAILED")).toBe(2);
    await r1.close();
    await r2.close();

    const { job } = await iot.send(new DescribeJobCommand({ jobId: "retried" }));
    expect(job!.status).toBe("COMPLETED");
    const p = job!.jobProcessDetails!;
    const described = Object.fromEntries(
      Object.entries({
        CANCELED: p.numberOfCanceledThings ?? 0,
        SUCCEEDED: p.numberOfSucceededThings ?? 0,
        FAILED: p.numberOfFailedThings ?? 0,
        REJECTED: p.numberOfRejectedThings ?? 0,
        QUEUED: p.numberOfQueuedThings ?? 0,
        IN_PROGRESS: p.numberOfInProgressThings ?? 0,
        REMOVED: p.numberOfRemovedThings ?? 0,
        TIMED_OUT: p.numberOfTimedOutThings ?? 0,
      }).filter(([, n]) => n),
    );
    expect(described).toEqual({ SUCCEEDED: 1, FAILED: 1 });

    const page = (await (await fetch(`${http}/console/api/jobs/retried`)).json()) as {
      counts: Record<string, number>;
      timeline: { counts: Record<string, number[]> };
    };
    expect(page.counts).toEqual(described);
    const chartEnd = Object.fromEntries(
      Object.entries(page.timeline.counts)
        .map(([s, series]) => [s, series.at(-1)!] as const)
        .filter(([, n]) => n),
    );
    expect(chartEnd).toEqual(described);
    // Every point of the chart counts each thing once at most: never 3 of 2 things.
    const points = Object.values(page.timeline.counts)[0]!.length;
    for (let i = 0; i < points; i++) {
      const total = Object.values(page.timeline.counts).reduce((n, series) => n + series[i]!, 0);
      expect(total).toBeLessThanOrEqual(2);
    }

    const list = (await (await fetch(`${http}/console/api/jobs`)).json()) as {
      jobs: { jobId: string; counts: Record<string, number> }[];
    };
    expect(list.jobs.find((j) => j.jobId === "retried")!.counts).toEqual(described);

    const rows = (await (await fetch(`${http}/console/api/jobs/retried/executions`)).json()) as {
      total: number;
      executions: { thingName: string; executionNumber: number; retryAttempt: number; status: string }[];
    };
    expect(rows.executions.map((e) => [e.thingName, e.executionNumber, e.retryAttempt, e.status])).toEqual([
      ["r-1", 1, 0, "FAILED"],
      ["r-1", 2, 1, "SUCCEEDED"],
      ["r-2", 1, 0, "FAILED"],
      ["r-2", 2, 1, "FAILED"],
    ]);
  });
});
