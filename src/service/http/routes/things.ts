/** Things (iot): CreateThing, DescribeThing, UpdateThing, DeleteThing, ListThings. */
import { ServiceError } from "../../errors.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { ThingTypes } from "../../registry/thing-types.ts";
import type { Identity } from "../../identity/identity.ts";
import type { Input, Operations } from "../router.ts";
import { page, thingArn, thingAttribute, thingDescription, withToken } from "../shapes.ts";

const attributesOf = (input: Input): Record<string, string> => input.attributePayload?.attributes ?? {};

export function thingRoutes(fleet: Fleet, types: ThingTypes, identity?: Identity): Operations {
  return {
    CreateThing: {
      honours: ["thingName", "thingTypeName", "attributePayload"],
      refuses: { billingGroupName: "billing groups are not implemented" },
      handle: (input) => {
        if (input.thingTypeName !== undefined) types.assignable(input.thingTypeName);
        const existing = fleet.hasThing(input.thingName) ? fleet.thing(input.thingName) : undefined;
        if (existing && existing.thingTypeName !== input.thingTypeName) {
          throw new ServiceError(
            "ResourceAlreadyExists",
            `Thing ${input.thingName} already exists with a different thing type`,
          );
        }
        const t = fleet.createThing(input.thingName, attributesOf(input), input.thingTypeName);
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
        if (input.thingTypeName !== undefined && input.removeThingType === true) {
          throw new ServiceError("InvalidRequest", "Give thingTypeName or removeThingType, not both");
        }
        if (input.thingTypeName !== undefined) types.assignable(input.thingTypeName);
        const thingType =
          input.thingTypeName !== undefined
            ? { name: input.thingTypeName as string }
            : input.removeThingType === true
              ? {}
              : undefined;
        fleet.updateThing(
          input.thingName,
          attributesOf(input),
          input.attributePayload?.merge === true,
          input.expectedVersion,
          thingType,
        );
      },
    },
    DeleteThing: {
      honours: ["thingName", "expectedVersion"],
      handle: (input) => {
        if (!fleet.hasThing(input.thingName)) return; // AWS: deleting a thing that does not exist succeeds
        const t = fleet.thing(input.thingName);
        if (input.expectedVersion !== undefined && input.expectedVersion !== t.version) {
          throw new ServiceError(
            "VersionConflict",
            `The version of thing ${t.thingName} is ${t.version}, not the expected ${input.expectedVersion}`,
          );
        }
        // AWS's precondition and message: principals are detached first.
        if ((identity?.principalsOf(input.thingName).length ?? 0) > 0)
          throw new ServiceError(
            "InvalidRequest",
            `Cannot delete. Thing ${input.thingName} is still attached to one or more principals`,
          );
        fleet.deleteThing(input.thingName);
      },
    },
    ListThings: {
      honours: [
        "nextToken",
        "maxResults",
        "attributeName",
        "attributeValue",
        "thingTypeName",
        "usePrefixAttributeValue",
      ],
      handle: (input) => {
        const name: string | undefined = input.attributeName;
        const value: string | undefined = input.attributeValue;
        if (input.usePrefixAttributeValue === true && (name === undefined || value === undefined)) {
          throw new ServiceError("InvalidRequest", "usePrefixAttributeValue needs attributeName and attributeValue");
        }
        const matchesValue = (v: string | undefined) =>
          v !== undefined &&
          (value === undefined || (input.usePrefixAttributeValue === true ? v.startsWith(value) : v === value));
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
