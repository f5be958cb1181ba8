/** Things (iot): CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings. */
import { ServiceError } from "../../errors.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { Input, Operations } from "../router.ts";
import { page, thingArn, thingAttribute, thingDescription, withToken } from "../shapes.ts";

const NO_THING_TYPES = "thing types are not implemented by iot-jobs-local, so no thing type exists";
const attributesOf = (input: Input): Record<string, string> => input.attributePayload?.attributes ?? {};

export function thingRoutes(fleet: Fleet): Operations {
  const noSuchType = (name: string) => new ServiceError("ResourceNotFound", `Thing type ${name} does not exist (${NO_THING_TYPES})`);
  return {
    CreateThing: {
      honours: ["thingName", "thingTypeName", "attributePayload"],
      refuses: { billingGroupName: "billing groups are not implemented" },
      handle: (input) => {
        if (input.thingTypeName !== undefined) throw noSuchType(input.thingTypeName);
        const t = fleet.createThing(input.thingName, attributesOf(input));
        return { thingName: t.thingName, thingArn: thingArn(t.thingName), thingId: t.thingId };
      },
    },
    DescribeThing: {
      honours: ["thingName"],
      handle: (input) => thingDescription(fleet.thing(input.thingName)),
    },
    UpdateThing: {
      honours: ["thingName", "attributePayload", "expectedVersion", "thingTypeName", "removeThingType"],
      handle: (input) => {
        if (input.thingTypeName !== undefined) throw noSuchType(input.thingTypeName);
        const t = fleet.thing(input.thingName);
        // Without thing types no thing can have one to remove (removeThingType is a no-op).
        if (input.removeThingType === true && t.thingTypeName !== undefined) {
          throw new ServiceError("InvalidRequest", `removeThingType: thing ${t.thingName} has type ${t.thingTypeName} from an earlier version; ${NO_THING_TYPES}`);
        }
        fleet.updateThing(input.thingName, attributesOf(input), input.attributePayload?.merge === true, input.expectedVersion);
      },
    },
    DeleteThing: {
      honours: ["thingName", "expectedVersion"],
      handle: (input) => {
        if (!fleet.hasThing(input.thingName)) return; // AWS: deleting a thing that does not exist succeeds
        const t = fleet.thing(input.thingName);
        if (input.expectedVersion !== undefined && input.expectedVersion !== t.version) {
          throw new ServiceError("VersionConflict", `The version of thing ${t.thingName} is ${t.version}, not the expected ${input.expectedVersion}`);
        }
        fleet.deleteThing(input.thingName);
      },
    },
    ListThings: {
      honours: ["nextToken", "maxResults", "attributeName", "attributeValue", "thingTypeName", "usePrefixAttributeValue"],
      handle: (input) => {
        const name: string | undefined = input.attributeName;
        const value: string | undefined = input.attributeValue;
        if (input.usePrefixAttributeValue === true && (name === undefined || value === undefined)) {
          throw new ServiceError("InvalidRequest", "usePrefixAttributeValue needs attributeName and attributeValue");
        }
        const matchesValue = (v: string | undefined) =>
          v !== undefined && (value === undefined || (input.usePrefixAttributeValue === true ? v.startsWith(value) : v === value));
        const list = fleet
          .things()
          .filter((t) => name === undefined || matchesValue(t.attributes[name]))
          .filter((t) => input.thingTypeName === undefined || t.thingTypeName === input.thingTypeName)
          .sort((a, b) => a.thingName.localeCompare(b.thingName));
        const p = page(list, input.maxResults, input.nextToken, 100);
        return { things: p.items.map(thingAttribute), ...withToken(p.nextToken) };
      },
    },
  };
}
