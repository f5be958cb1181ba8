/**
 * The agent's side of packages: its inventory file reported to `$package` at start and after each
 * SUCCEEDED job, against the local service (packages no longer installed are removed).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateJobCommand, CreateThingCommand, DescribeJobExecutionCommand } from "@aws-sdk/client-iot";
import { GetThingShadowCommand } from "@aws-sdk/client-iot-data-plane";
import { parseInventory, reportedState } from "../../src/jobs/package-inventory.ts";
import type { RunningService } from "../../src/service/service.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { dataClient, iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { projectHandlerDir, tempDir } from "../helpers/temp.ts";

describe("inventory file (pure)", () => {
  test("both shapes; removed packages become null", () => {
    const r = parseInventory(
      JSON.stringify({ tool: "2.1", agent: { version: "1.0.0", attributes: { channel: "beta" } } }),
    );
    if (!r.ok) throw new Error(r.reason);
    expect(reportedState(r.inventory, ["old", "tool"])).toEqual({
      old: null,
      tool: { version: "2.1" },
      agent: { version: "1.0.0", attributes: { channel: "beta" } },
    });
  });

  test("clear reasons for bad files", () => {
    const reason = (text: string) => {
      const r = parseInventory(text);
      return r.ok ? "ok" : r.reason;
    };
    expect(reason("{")).toBe("not valid JSON");
    expect(reason("[]")).toContain("JSON object");
    expect(reason('{"bad name":"1"}')).toContain("package names");
    expect(reason('{"p":{"version":"1","description":"x"}}')).toContain('only "version" and "attributes"');
    expect(reason('{"p":{"version":"1 0"}}')).toContain("p.version");
    expect(reason('{"p":{"version":"1","attributes":{"a":1}}}')).toContain("p.attributes");
  });
});

describe("agent ⇄ local service", () => {
  let service: RunningService;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    service = await startLocalService();
  });
  afterAll(async () => {
    for (const a of agents) await a.kill();
    await service.stop();
  });

  const shadow = async (thing: string) => {
    try {
      return JSON.parse(
        new TextDecoder().decode(
          (
            await dataClient(service.httpUrl).send(
              new GetThingShadowCommand({ thingName: thing, shadowName: "$package" }),
            )
          ).payload,
        ),
      ).state.reported;
    } catch {
      return undefined;
    }
  };
  const until = async (what: string, fn: () => Promise<boolean>) => {
    const end = Date.now() + 15_000;
    while (!(await fn())) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await Bun.sleep(50);
    }
  };

  test("reported at start, and again after a job that changed the inventory", async () => {
    const iot = iotClient(service.httpUrl);
    await iot.send(new CreateThingCommand({ thingName: "inv-1" }));
    const file = join(tempDir(), "inventory.json");
    writeFileSync(file, JSON.stringify({ tool: "2.1", old: "0.9" }));
    const agent = AgentProcess.start({
      brokerUrl: service.mqttUrl,
      thingName: "inv-1",
      handlerDirectory: projectHandlerDir(),
      extraArgs: ["--package-inventory-file", file],
    });
    agents.push(agent);
    await until(
      "the first report",
      async () =>
        JSON.stringify(await shadow("inv-1")) === JSON.stringify({ tool: { version: "2.1" }, old: { version: "0.9" } }),
    ).catch((e) => {
      throw new Error(`${e.message}\n${agent.lines.join("\n")}`);
    });

    const step = `sh,-c,printf '{"tool":"3.0"}' > ${file}`;
    await iot.send(
      new CreateJobCommand({
        jobId: "inv-job",
        targets: [thingArn("inv-1")],
        document: JSON.stringify({
          version: "1.0",
          steps: [{ action: { name: "upgrade", type: "runCommand", input: { command: step } } }],
        }),
      }),
    );
    await until(
      "SUCCEEDED",
      async () =>
        (await iot.send(new DescribeJobExecutionCommand({ jobId: "inv-job", thingName: "inv-1" }))).execution
          ?.status === "SUCCEEDED",
    );
    await until(
      "the second report",
      async () => JSON.stringify(await shadow("inv-1")) === JSON.stringify({ tool: { version: "3.0" } }),
    );
  });

  test("a broken inventory file is logged and changes nothing; jobs still run", async () => {
    const iot = iotClient(service.httpUrl);
    await iot.send(new CreateThingCommand({ thingName: "inv-2" }));
    const file = join(tempDir(), "inventory.json");
    writeFileSync(file, "{broken");
    const agent = AgentProcess.start({
      brokerUrl: service.mqttUrl,
      thingName: "inv-2",
      handlerDirectory: projectHandlerDir(),
      extraArgs: ["--package-inventory-file", file],
    });
    agents.push(agent);
    await agent.waitForLog("The package inventory is invalid");
    await iot.send(
      new CreateJobCommand({
        jobId: "inv-job-2",
        targets: [thingArn("inv-2")],
        document: JSON.stringify({
          version: "1.0",
          steps: [{ action: { name: "ok", type: "runCommand", input: { command: "true" } } }],
        }),
      }),
    );
    await until(
      "SUCCEEDED",
      async () =>
        (await iot.send(new DescribeJobExecutionCommand({ jobId: "inv-job-2", thingName: "inv-2" }))).execution
          ?.status === "SUCCEEDED",
    );
    expect(await shadow("inv-2")).toBeUndefined();
  });
});
