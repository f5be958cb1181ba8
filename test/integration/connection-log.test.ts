/**
 * The agent's log when its connection drops or cannot be made, as a real process against a real
 * Mosquitto: a second client taking over the thing's client id (what a second agent, the Device
 * Client or `doctor` does) gives one "Disconnected" line saying the broker closed it and why that
 * happens; a refused TCP connection gives one "Connection error" line naming host:port and the errno.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import mqtt from "mqtt";
import { AgentProcess } from "../helpers/agent-process.ts";
import { freePort, Mosquitto, mosquittoPath } from "../helpers/mosquitto.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(50);
  }
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe.skipIf(!mosquittoPath())("the agent's connection log", () => {
  test("a second client with the thing's client id: the disconnect says the broker closed it, and the likely cause", async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const agent = AgentProcess.start({
      brokerUrl: broker.url,
      thingName: "pi-takeover",
      handlerDirectory: tempDir(),
    });
    cleanups.push(() => agent.kill());
    await agent.waitForLog('"msg":"Connected"');
    const intruder = await mqtt.connectAsync(broker.url, { clientId: "pi-takeover", reconnectPeriod: 0, clean: true });
    cleanups.push(() => intruder.endAsync(true));
    const line = JSON.parse(await agent.waitForLog('"msg":"Disconnected; reconnecting"'));
    expect(line).toMatchObject({
      level: "WARN",
      broker: `127.0.0.1:${broker.port}`,
      reason: "the broker closed the connection",
      hint: expect.stringContaining("another client with the same client id (pi-takeover) may have connected"),
    });
    expect(line.connectedSeconds).toBeGreaterThanOrEqual(0);
    // One line for the drop: no "Connection error" beside it.
    expect(agent.lines.filter((l) => l.includes('"msg":"Connection error"'))).toEqual([]);
  }, 30_000);

  test("doctor run beside the agent says it disconnects it once; the agent's line names the likely cause", async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const agent = AgentProcess.start({ brokerUrl: broker.url, thingName: "pi-doctor", handlerDirectory: tempDir() });
    cleanups.push(() => agent.kill());
    await agent.waitForLog('"msg":"Connected"');
    const doctor = Bun.spawn(
      [
        process.execPath,
        join(REPO_ROOT, "src/main.ts"),
        "doctor",
        "--endpoint",
        broker.url,
        "--thing-name",
        "pi-doctor",
      ],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: tempDir() } },
    );
    const out = await new Response(doctor.stdout).text();
    await doctor.exited;
    expect(out).toContain(
      "connected as client id pi-doctor (a client already connected with this id, such as the running agent or " +
        "Device Client, is disconnected once and reconnects)",
    );
    const line = JSON.parse(await agent.waitForLog('"msg":"Disconnected; reconnecting"'));
    expect(line.hint).toContain("`iot-jobs-agent doctor`");
    // And it comes back on its own.
    await until(() => agent.lines.filter((l) => l.includes('"msg":"Connected"')).length === 2);
  }, 30_000);

  test("nothing listens on the broker's port: the error names host:port and ECONNREFUSED", async () => {
    const port = await freePort();
    const agent = AgentProcess.start({
      brokerUrl: `mqtt://127.0.0.1:${port}`,
      thingName: "pi-refused",
      handlerDirectory: tempDir(),
    });
    cleanups.push(() => agent.kill());
    const line = JSON.parse(await agent.waitForLog('"msg":"Connection error"'));
    expect(line.broker).toBe(`127.0.0.1:${port}`);
    expect(line.detail).toContain("ECONNREFUSED");
  }, 30_000);
});
