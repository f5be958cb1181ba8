import { expect } from "bun:test";
import { AgentProcess } from "./agent-process.ts";
import type { JobsPeer } from "./jobs-peer.ts";
import { projectHandlerDir } from "./temp.ts";

/**
 * Starts the agent COMMAND as THING against the broker, queues one job (our health-check.sh
 * handler, then a command), waits for SUCCEEDED and stops the agent with SIGTERM (exit 0).
 */
export async function runOneJob(
  brokerUrl: string,
  peer: JobsPeer,
  command: readonly string[],
  thing: string,
  env?: Record<string, string | undefined>,
): Promise<void> {
  const agent = AgentProcess.start({
    brokerUrl,
    thingName: thing,
    handlerDirectory: projectHandlerDir(),
    command,
    env,
  });
  try {
    peer.queueJob(thing, `e2e-${thing}`, {
      version: "1.0",
      includeStdOut: true,
      steps: [
        { action: { name: "health", type: "runHandler", input: { handler: "health-check.sh", path: "default" } } },
        { action: { name: "arch", type: "runCommand", input: { command: "sh,-c,echo arch=$(uname -m)" } } },
      ],
    });
    const done = await peer.waitForStatus(thing, `e2e-${thing}`, "SUCCEEDED", 90_000);
    expect(done.statusDetails.stdout).toMatch(/^healthy\narch=\w+\n$/);
    expect(await agent.kill("SIGTERM")).toBe(0);
  } finally {
    await agent.kill("SIGKILL");
  }
}
