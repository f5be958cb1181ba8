import { describe, expect, test } from "bun:test";
import { agentSubscriptions, agentTopics, parseJobsTopic } from "../../src/protocol/topics.ts";

describe("Jobs topics [JOBS-API-topics]", () => {
  test("the agent subscribes to the reference's five topics, in its order", () => {
    expect(agentSubscriptions("pi-1")).toEqual([
      "$aws/things/pi-1/jobs/start-next/accepted",
      "$aws/things/pi-1/jobs/start-next/rejected",
      "$aws/things/pi-1/jobs/notify-next",
      "$aws/things/pi-1/jobs/+/update/accepted",
      "$aws/things/pi-1/jobs/+/update/rejected",
    ]);
    expect(agentTopics("pi-1").update("job-7")).toBe("$aws/things/pi-1/jobs/job-7/update");
  });
  test("parses every API topic", () => {
    expect(parseJobsTopic("$aws/things/t/jobs/notify")).toEqual({ thing: "t", topic: { kind: "notify" } });
    expect(parseJobsTopic("$aws/things/t/jobs/notify-next")).toEqual({ thing: "t", topic: { kind: "notify-next" } });
    expect(parseJobsTopic("$aws/things/t/jobs/get")).toEqual({ thing: "t", topic: { kind: "get" } });
    expect(parseJobsTopic("$aws/things/t/jobs/start-next/accepted")).toEqual({
      thing: "t",
      topic: { kind: "start-next", reply: "accepted" },
    });
    expect(parseJobsTopic("$aws/things/t/jobs/$next/get")).toEqual({
      thing: "t",
      topic: { kind: "describe", jobId: "$next" },
    });
    expect(parseJobsTopic("$aws/things/t/jobs/j1/get/rejected")).toEqual({
      thing: "t",
      topic: { kind: "describe", jobId: "j1", reply: "rejected" },
    });
    expect(parseJobsTopic("$aws/things/t:1/jobs/j_1-2/update/accepted")).toEqual({
      thing: "t:1",
      topic: { kind: "update", jobId: "j_1-2", reply: "accepted" },
    });
  });
  test("refuses what is not the API", () => {
    for (const topic of [
      "$aws/things/t/jobs",
      "$aws/things/t/jobs/notify/accepted",
      "$aws/things/t/jobs/j1/update/maybe",
      "$aws/things/t/jobs/$next/update",
      "$aws/things/t/jobs/j 1/update",
      "$aws/things/t/jobs/j1/update/accepted/extra",
      "$aws/things/t/shadow/update",
      "$aws/things/t+/jobs/notify",
      "aws/things/t/jobs/notify",
      `$aws/things/t/jobs/${"j".repeat(65)}/update`,
    ])
      expect(parseJobsTopic(topic)).toBeUndefined();
  });
});
