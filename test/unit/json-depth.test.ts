import { describe, expect, test } from "bun:test";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../src/protocol/json-depth.ts";
import type { RunningService } from "../../src/service/service.ts";
import { Device, startLocalService } from "../helpers/local-service.ts";

describe("JSON nesting bound (found by the review of the issue 11 fixes)", () => {
  test("counts arrays and objects, not brackets inside strings; linear", () => {
    expect(nestsDeeperThan(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`)).toBe(false);
    expect(nestsDeeperThan(`${"[".repeat(MAX_JSON_DEPTH + 1)}${"]".repeat(MAX_JSON_DEPTH + 1)}`)).toBe(true);
    expect(nestsDeeperThan(JSON.stringify({ a: "[[[[[[[[[[".repeat(100), b: '\\"{{{{' }))).toBe(false);
    const t0 = performance.now();
    expect(nestsDeeperThan(`"${"x".repeat(5_000_000)}"`)).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  test("redteam-service 18: a 45,000-deep value is a 400 on HTTP and a rejection on MQTT, never a 500 or silence", async () => {
    const service: RunningService = await startLocalService();
    try {
      const deep = `${"[".repeat(45_000)}${"]".repeat(45_000)}`;
      const post = (path: string, body: string) =>
        fetch(`${service.httpUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });
      const thing = await post("/things/deep-1", `{"attributePayload":{"attributes":{"a":${deep}}}}`);
      expect(thing.status).toBe(400);
      expect(await thing.text()).toContain("nests deeper than");
      expect((await post("/things/deep-2", "{}")).status).toBe(200);
      const d = await Device.connect(service.mqttUrl, "deep-2", ["$aws/things/{thing}/shadow/update/+"]);
      try {
        const r = await d.request("jobs/start-next", `{"statusDetails":{"k":${deep}}}`);
        expect(r.topic).toEndWith("/rejected");
        expect(r.payload.code).toBe("InvalidRequest");
        const s = await d.request("shadow/update", `{"state":{"reported":${deep}}}`);
        expect(s.topic).toEndWith("/rejected");
        expect(s.payload.code).toBe(400);
      } finally {
        await d.close();
      }
    } finally {
      await service.stop();
    }
  });
});
