/**
 * No timer outlives its reason: the agent in-process (JobsAgent, our MQTT connection, the real
 * runner spawning real steps) on a counting Clock, against Mosquitto and the Jobs peer. After each
 * job the live timers are the connection's own (keepalive, stable-link): the update publisher's
 * reply waits, the step spawner's drain timer, the kill grace and the progress reporter's timer are
 * all gone — after the 1st job and after the 30th alike.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AgentConfig } from "../../src/config/schema.ts";
import { JobsAgent } from "../../src/jobs/agent.ts";
import { progressFileIn } from "../../src/jobs/progress-file.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { connect } from "../../src/mqtt/connection.ts";
import { runContextFor } from "../../src/runner/run-context.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { ExecutionRecord } from "../../src/state/execution-record.ts";
import { type Clock, systemClock } from "../../src/util/clock.ts";
import { JobsPeer } from "../helpers/jobs-peer.ts";
import { Mosquitto } from "../helpers/mosquitto.ts";
import { tempDir } from "../helpers/temp.ts";

/** systemClock, counting the timers that are armed and have neither fired nor been cancelled. */
class CountingClock implements Clock {
  live = 0;
  now(): number {
    return systemClock.now();
  }
  setTimeout(fn: () => void, ms: number) {
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      this.live--;
      return true;
    };
    this.live++;
    const inner = systemClock.setTimeout(() => settle() && fn(), ms);
    return { cancel: () => void (settle() && inner.cancel()) };
  }
}

let broker: Mosquitto;
let peer: JobsPeer;
beforeAll(async () => {
  broker = await Mosquitto.start();
  peer = await JobsPeer.start(broker.url);
});
afterAll(async () => {
  await peer.stop();
  await broker.stop();
});

async function settle(clock: CountingClock, to: number, ms = 300): Promise<number> {
  const end = Date.now() + ms;
  while (clock.live > to && Date.now() < end) await Bun.sleep(10);
  return clock.live;
}

describe("timers after each job", () => {
  for (const reportProgress of [false, true]) {
    test(`30 jobs (reportProgress ${reportProgress}): the live timers after the 30th are those after the 1st, only the connection's`, async () => {
      const clock = new CountingClock();
      const thing = `timers-${reportProgress}`;
      const stateDir = tempDir();
      const connection = connect(
        {
          endpoint: {
            protocol: "mqtt",
            host: "127.0.0.1",
            port: broker.port,
            alpn: undefined,
            mutualTlsRequired: false,
          },
          thingName: thing,
          cert: undefined,
          key: undefined,
          rootCa: undefined,
        },
        { clock },
      );
      const config = {
        jobs: {
          handlerDirectory: tempDir(),
          stepTimeoutSeconds: 60,
          signing: { trustedCertificates: undefined, required: false },
        },
      } as unknown as AgentConfig;
      const agent = new JobsAgent({
        thingName: thing,
        connection,
        log: silentLogger(),
        record: new ExecutionRecord(stateDir),
        stepTimeoutSeconds: 60,
        maxReruns: 3,
        updateRetryMs: 10_000,
        progressIntervalMs: 1000,
        progressFile: progressFileIn(stateDir),
        clock,
        runJob: (document, signal, jobLog, hooks) =>
          runJob(document, {
            ...runContextFor(config, jobLog, signal),
            clock,
            onStepStart: (_s, i) => hooks.onStepStart?.(i),
            progressFile: hooks.progressFile,
          }),
      });
      agent.start();
      const connectionTimers: number[] = [];
      try {
        for (let i = 1; i <= 30; i++) {
          peer.queueJob(thing, `job-${i}`, {
            version: "1.0",
            reportProgress,
            steps: [
              { action: { name: "one", type: "runCommand", input: { command: "true" } } },
              {
                action: {
                  name: "two",
                  type: "runCommand",
                  input: { command: 'sh,-c,echo percent=5 >> "${IOT_JOBS_PROGRESS_FILE:-/dev/null}"' },
                },
              },
            ],
          });
          await peer.waitForStatus(thing, `job-${i}`, "SUCCEEDED");
          if (i === 1 || i === 30) connectionTimers.push(await settle(clock, 2));
        }
        // keepalive and the stable-link timer (30 s) at most; nothing left of the jobs.
        expect(connectionTimers[0]).toBeLessThanOrEqual(2);
        expect(connectionTimers[1]).toBe(connectionTimers[0]!);
      } finally {
        await agent.stop();
        await connection.close(true);
      }
    }, 60_000);
  }
});
