/**
 * Device shadows over HTTP (iot-data): Get/Update/DeleteThingShadow and ListNamedShadowsForThing.
 * The payload is a blob both ways; an HTTP change is also published on the MQTT shadow topics.
 */
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../../protocol/json-depth.ts";
import { ServiceError } from "../../errors.ts";
import type { ShadowService } from "../../shadows/shadows.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { Operations } from "../router.ts";
import { json } from "../router.ts";
import { page, withToken } from "../shapes.ts";

export type PublishShadow = (
  thingName: string,
  shadowName: string,
  op: "update" | "delete",
  messages: { suffix: string; payload: object }[],
) => void;

export function shadowRoutes(
  shadows: ShadowService,
  fleet: Fleet,
  publish: PublishShadow,
  now: () => number,
): Operations {
  return {
    GetThingShadow: {
      honours: ["thingName", "shadowName"],
      handle: (input) => {
        const res = shadows.get(input.thingName, input.shadowName ?? "");
        if (!res.ok) throw res.error; // the shadow service fails with the service's ServiceError
        return json(200, res.value);
      },
    },
    UpdateThingShadow: {
      honours: ["thingName", "shadowName", "payload"],
      handle: (input) => {
        const raw = input.payload as Uint8Array;
        let body: unknown;
        let text: string;
        try {
          text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
          body = nestsDeeperThan(text) ? undefined : JSON.parse(text);
        } catch {
          throw new ServiceError("InvalidRequest", "Invalid JSON");
        }
        if (body === undefined)
          throw new ServiceError("InvalidRequest", `The payload nests deeper than ${MAX_JSON_DEPTH} levels`);
        const name: string = input.shadowName ?? "";
        const res = shadows.update(input.thingName, name, body, raw.length);
        if (!res.ok) throw res.error; // the shadow service fails with the service's ServiceError
        publish(input.thingName, name, "update", [
          { suffix: "accepted", payload: res.value.accepted },
          ...(res.value.delta ? [{ suffix: "delta", payload: res.value.delta }] : []),
          { suffix: "documents", payload: res.value.documents },
        ]);
        return json(200, res.value.accepted);
      },
    },
    DeleteThingShadow: {
      honours: ["thingName", "shadowName"],
      handle: (input) => {
        const name: string = input.shadowName ?? "";
        const res = shadows.delete(input.thingName, name);
        if (!res.ok) throw res.error; // the shadow service fails with the service's ServiceError
        publish(input.thingName, name, "delete", [{ suffix: "accepted", payload: res.value }]);
        return json(200, res.value);
      },
    },
    ListNamedShadowsForThing: {
      honours: ["thingName", "nextToken", "pageSize"],
      handle: (input) => {
        fleet.thing(input.thingName);
        const p = page(shadows.names(input.thingName), input.pageSize, input.nextToken, 25);
        return { results: p.items, ...withToken(p.nextToken), timestamp: Math.floor(now() / 1000) };
      },
    },
  };
}
