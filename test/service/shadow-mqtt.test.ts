/** The shadow MQTT API of the local service, with mqtt.js devices on the embedded broker. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateThingCommand } from "@aws-sdk/client-iot";
import type { RunningService } from "../../src/service/service.ts";
import { Device, iotClient, startLocalService } from "../helpers/local-service.ts";

let service: RunningService;
const devices: Device[] = [];
beforeAll(async () => {
  service = await startLocalService();
  for (const t of ["sm-1", "sm-2"]) await iotClient(service.httpUrl).send(new CreateThingCommand({ thingName: t }));
});
afterAll(async () => {
  for (const d of devices) await d.close().catch(() => {});
  await service.stop();
});

async function device(thing: string, shadow = "cfg"): Promise<Device> {
  const d = await Device.connect(service.mqttUrl, thing, [
    `$aws/things/${thing}/shadow/name/${shadow}/#`,
    `$aws/things/${thing}/shadow/get/+`,
    `$aws/things/${thing}/shadow/update/+`,
  ]);
  devices.push(d);
  return d;
}

describe("named and classic shadows over MQTT", () => {
  test("update → accepted, delta, documents; get; version conflict; null deletes; delete", async () => {
    const d = await device("sm-1");
    const mark = d.messages.length;
    const accepted = await d.request("shadow/name/cfg/update", {
      state: { desired: { led: "on" }, reported: { led: "off" } },
      clientToken: "u1",
    });
    expect(accepted.topic).toEndWith("/update/accepted");
    expect(accepted.payload).toMatchObject({ version: 1, clientToken: "u1", state: { desired: { led: "on" } } });
    expect(accepted.payload.metadata.desired.led.timestamp).toBeLessThan(10_000_000_000);
    const delta = await d.waitFor((m) => m.topic.endsWith("/update/delta"), mark);
    expect(delta.payload.state).toEqual({ led: "on" });
    const docs = await d.waitFor((m) => m.topic.endsWith("/update/documents"), mark);
    expect(docs.payload).toMatchObject({
      previous: null,
      current: { version: 1, state: { desired: { led: "on" }, reported: { led: "off" } } },
    });

    const got = await d.request("shadow/name/cfg/get", { clientToken: "g1" });
    expect(got.payload).toMatchObject({ version: 1, clientToken: "g1", state: { delta: { led: "on" } } });
    const conflict = await d.request("shadow/name/cfg/update", { state: { reported: { led: "on" } }, version: 5 });
    expect(conflict.payload).toMatchObject({ code: 409, message: "Version conflict" });
    await d.request("shadow/name/cfg/update", { state: { reported: { led: "on", temp: 20 } }, version: 1 });
    await d.request("shadow/name/cfg/update", { state: { reported: { temp: null } } });
    expect((await d.request("shadow/name/cfg/get", {})).payload.state).toEqual({
      desired: { led: "on" },
      reported: { led: "on" },
    });
    expect((await d.request("shadow/name/cfg/delete", {})).payload.version).toBe(3);
    expect((await d.request("shadow/name/cfg/get", {})).payload).toMatchObject({
      code: 404,
      message: "No shadow exists with name: cfg",
    });
    // The classic shadow is separate.
    expect((await d.request("shadow/update", { state: { reported: { up: true } } })).payload.version).toBe(1);
  });

  test("every rejection on the shadow topics, and the service keeps serving", async () => {
    const d = await device("sm-1", "bad");
    const reject = async (body: unknown) => (await d.request("shadow/name/bad/update", body)).payload;
    expect(await reject("{nope")).toMatchObject({ code: 400, message: "Invalid JSON" });
    expect(await reject({})).toMatchObject({ code: 400, message: "Missing required node: state" });
    expect(await reject({ state: 5 })).toMatchObject({ code: 400, message: "State node must be an object" });
    expect(await reject({ state: { desired: [1] } })).toMatchObject({
      code: 400,
      message: "Desired node must be an object",
    });
    expect(await reject({ state: { reported: "x" } })).toMatchObject({
      code: 400,
      message: "Reported node must be an object",
    });
    expect(await reject({ state: { other: {} } })).toMatchObject({
      code: 400,
      message: "State contains an invalid node",
    });
    expect(await reject({ state: { reported: {} }, version: "1" })).toMatchObject({
      code: 400,
      message: "Invalid version",
    });
    expect(await reject({ state: { reported: {} }, clientToken: "x".repeat(65) })).toMatchObject({
      code: 400,
      message: "Invalid clientToken",
    });
    expect(await reject({ state: { reported: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } })).toMatchObject({
      code: 400,
      message: "JSON contains too many levels of nesting; maximum is 6",
    });
    expect(await reject({ state: { reported: { big: "x".repeat(9000) } } })).toMatchObject({ code: 413 });
    expect((await d.request("shadow/name/bad/update", new Uint8Array([0xff, 0xfe]))).payload).toMatchObject({
      code: 415,
    });
    const pkg = await device("sm-1", "$package");
    expect(
      (await pkg.request("shadow/name/$package/update", { state: { reported: { tool: { version: "1", url: "x" } } } }))
        .payload,
    ).toMatchObject({ code: 400, message: "State contains an invalid node" });
    expect(
      (
        await pkg.request("shadow/name/$package/update", {
          state: { reported: { tool: { version: "1", attributes: { a: "b" } } } },
        })
      ).topic,
    ).toEndWith("/accepted");
  });

  test("thing A can neither read nor change thing B's shadows", async () => {
    const a = await device("sm-1", "x");
    const b = await device("sm-2", "secret");
    await b.request("shadow/name/secret/update", { state: { reported: { pin: "1234" } } });
    await expect(
      a.client.subscribeAsync("$aws/things/sm-2/shadow/name/secret/get/accepted", { qos: 1 }),
    ).rejects.toThrow(/Subscribe error/);
    const closed = new Promise<void>((resolve) => a.client.once("close", () => resolve()));
    a.client.publish(
      "$aws/things/sm-2/shadow/name/secret/update",
      JSON.stringify({ state: { reported: { pin: "0000" } } }),
      { qos: 1 },
    );
    await closed;
    expect((await b.request("shadow/name/secret/get", {})).payload.state.reported).toEqual({ pin: "1234" });
  });
});
