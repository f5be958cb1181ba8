/**
 * Property-based (fast-check): 10,000 generated job documents — valid, near-valid and hostile
 * (deep nesting, huge arrays, wrong types, unicode, control characters, 1 MB strings). The parser
 * never throws; every document is accepted or refused with a bounded, sanitised reason. A sample
 * of them then runs through the real agent against the local service: every one ends SUCCEEDED,
 * FAILED or REJECTED with a reason within the limits, and the agent survives all of them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { CreateJobCommand, CreateThingCommand, DescribeJobExecutionCommand } from "@aws-sdk/client-iot";
import fc from "fast-check";
import { jobDocument } from "../helpers/arbitraries.ts";
import { parseJobDocument } from "../../src/jobdoc/parse.ts";
import { nestsDeeperThan } from "../../src/protocol/json-depth.ts";
import { rejectionReason } from "../../src/jobs/rejection-reason.ts";
import type { RunningService } from "../../src/service/service.ts";
import { AgentProcess } from "../helpers/agent-process.ts";
import { compiledAgent } from "../helpers/executables.ts";
import { iotClient, startLocalService, thingArn } from "../helpers/local-service.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const RUNS = Number(process.env.IOT_JOBS_FUZZ_DOCUMENTS ?? 10_000);
const AGENT_SAMPLE = Number(process.env.IOT_JOBS_FUZZ_AGENT_SAMPLE ?? 1000);
const CONTROL = /[^\P{C}\n\t]/u;

describe("job documents, generated", () => {
  test(`${RUNS} documents: the parser never throws; refusals carry a bounded, sanitised reason`, () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(jobDocument, (doc) => {
        const r = parseJobDocument(doc);
        if (r.ok) {
          accepted++;
          return true;
        }
        refused++;
        const reason = rejectionReason(r.issues);
        return (
          reason.length > 0 &&
          reason.length <= 1024 &&
          !CONTROL.test(reason) &&
          reason.startsWith("Invalid job document: ")
        );
      }),
      { numRuns: RUNS },
    );
    // The generator must reach both sides, or the property says little.
    expect(accepted).toBeGreaterThan(RUNS / 50);
    expect(refused).toBeGreaterThan(RUNS / 50);
  }, 600_000);

  test("the same for raw text: arbitrary strings and bytes as the document", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" })), (text) => {
        const r = parseJobDocument(text);
        return r.ok || rejectionReason(r.issues).length <= 1024;
      }),
      { numRuns: Math.min(RUNS, 5000) },
    );
  });
});

describe("generated documents through the real agent", () => {
  let service: RunningService;
  let agent: AgentProcess;
  beforeAll(async () => {
    service = await startLocalService();
    await iotClient(service.httpUrl).send(new CreateThingCommand({ thingName: "fuzz-thing" }));
    const handlers = tempDir("fuzz-handlers-");
    writeHandler(handlers, "health-check.sh", "#!/bin/sh\necho healthy\n");
    // Generated documents really run: give the agent a PATH with nothing but harmless programs.
    const bin = tempDir("fuzz-bin-");
    for (const program of ["true", "false", "echo", "sh"]) symlinkSync(Bun.which(program)!, join(bin, program));
    agent = AgentProcess.start({
      brokerUrl: service.mqttUrl,
      thingName: "fuzz-thing",
      handlerDirectory: handlers,
      command: [compiledAgent("linux-x64")],
      stepTimeoutSeconds: 10,
      extraArgs: ["--log-level", "WARN"],
      env: { ...process.env, PATH: bin },
    });
  });
  afterAll(async () => {
    await agent.kill();
    await service.stop();
  });

  test(`${AGENT_SAMPLE} generated documents: each ends SUCCEEDED, FAILED or REJECTED with a reason within limits; the agent survives`, async () => {
    const iot = iotClient(service.httpUrl);
    const docs = fc.sample(jobDocument, AGENT_SAMPLE * 3).filter((d) => {
      const text = JSON.stringify(d ?? null);
      // What CreateJob accepts: at most 32,000 characters, nested at most MAX_JSON_DEPTH levels.
      return text !== undefined && text.length <= 32_000 && !nestsDeeperThan(text);
    });
    const chosen = docs.slice(0, AGENT_SAMPLE);
    for (const [i, doc] of chosen.entries()) {
      await iot.send(
        new CreateJobCommand({
          jobId: `fuzz-${i}`,
          targets: [thingArn("fuzz-thing")],
          document: JSON.stringify(doc ?? null),
        }),
      );
    }
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < chosen.length; i++) {
      const until = Date.now() + 60_000;
      for (;;) {
        const e = (await iot.send(new DescribeJobExecutionCommand({ jobId: `fuzz-${i}`, thingName: "fuzz-thing" })))
          .execution!;
        if (["SUCCEEDED", "FAILED", "REJECTED"].includes(e.status!)) {
          outcomes[e.status!] = (outcomes[e.status!] ?? 0) + 1;
          const details = e.statusDetails?.detailsMap ?? {};
          expect(typeof details.reason).toBe("string");
          for (const value of Object.values(details)) {
            expect(value.length).toBeLessThanOrEqual(1024);
            expect(CONTROL.test(value)).toBe(false);
          }
          break;
        }
        if (e.status !== "QUEUED" && e.status !== "IN_PROGRESS") throw new Error(`fuzz-${i} ended ${e.status}`);
        if (Date.now() > until)
          throw new Error(`fuzz-${i} still ${e.status}; document ${JSON.stringify(chosen[i]).slice(0, 300)}`);
        await Bun.sleep(20);
      }
    }
    expect(agent.proc.exitCode).toBeNull(); // still running
    console.log(`generated documents through the agent: ${JSON.stringify(outcomes)}`);
    if (chosen.length >= 30) expect(Object.keys(outcomes).length).toBeGreaterThanOrEqual(2); // the sample reaches more than one outcome
  }, 600_000);
});
