import { afterAll, afterEach, beforeAll } from "bun:test";
import { AgentProcess, type AgentProcessOptions } from "./agent-process.ts";
import { JobsPeer } from "./jobs-peer.ts";
import { Mosquitto } from "./mosquitto.ts";

/**
 * For a test file: a real Mosquitto and the Jobs peer for the whole file, agents killed after
 * each test. Use the returned getters inside tests (they are set in beforeAll).
 */
export function jobsHarness(prefix: string) {
  let broker: Mosquitto;
  let peer: JobsPeer;
  const agents: AgentProcess[] = [];
  let counter = 0;
  beforeAll(async () => {
    broker = await Mosquitto.start();
    peer = await JobsPeer.start(broker.url);
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.kill("SIGKILL");
  });
  afterAll(async () => {
    await peer.stop();
    await broker.stop();
  });
  return {
    get broker() {
      return broker;
    },
    get peer() {
      return peer;
    },
    newThing: () => `${prefix}-${process.pid}-${++counter}`,
    startAgent(thing: string, handlerDirectory: string, extra: Partial<AgentProcessOptions> = {}): AgentProcess {
      const agent = AgentProcess.start({ brokerUrl: broker.url, thingName: thing, handlerDirectory, ...extra });
      agents.push(agent);
      return agent;
    },
  };
}
