/** Thing types (iot): CreateThingType, DescribeThingType, ListThingTypes, DeprecateThingType, DeleteThingType. */
import type { Fleet } from "../../registry/fleet.ts";
import type { ThingTypes } from "../../registry/thing-types.ts";
import type { Operations } from "../router.ts";
import { NO_TAGS, page, thingTypeArn, thingTypeShape, withToken } from "../shapes.ts";

export function thingTypeRoutes(types: ThingTypes, fleet: Fleet): Operations {
  return {
    CreateThingType: {
      honours: ["thingTypeName", "thingTypeProperties"],
      refuses: {
        "thingTypeProperties.mqtt5Configuration": "MQTT 5 is not spoken by the local broker",
        tags: NO_TAGS,
      },
      handle: (input) => {
        const props = input.thingTypeProperties ?? {};
        const t = types.create(input.thingTypeName, props.thingTypeDescription, props.searchableAttributes ?? []);
        return {
          thingTypeName: t.thingTypeName,
          thingTypeArn: thingTypeArn(t.thingTypeName),
          thingTypeId: t.thingTypeId,
        };
      },
    },
    DescribeThingType: {
      honours: ["thingTypeName"],
      handle: (input) => {
        const t = types.get(input.thingTypeName);
        return { thingTypeName: t.thingTypeName, thingTypeId: t.thingTypeId, ...thingTypeShape(t) };
      },
    },
    ListThingTypes: {
      honours: ["nextToken", "maxResults", "thingTypeName"],
      handle: (input) => {
        const list = types
          .all()
          .filter((t) => input.thingTypeName === undefined || t.thingTypeName === input.thingTypeName);
        const p = page(list, input.maxResults, input.nextToken, 100);
        return {
          thingTypes: p.items.map((t) => ({ thingTypeName: t.thingTypeName, ...thingTypeShape(t) })),
          ...withToken(p.nextToken),
        };
      },
    },
    DeprecateThingType: {
      honours: ["thingTypeName", "undoDeprecate"],
      handle: (input) => void types.deprecate(input.thingTypeName, input.undoDeprecate === true),
    },
    DeleteThingType: {
      honours: ["thingTypeName"],
      handle: (input) => {
        const users = fleet
          .things()
          .filter((t) => t.thingTypeName === input.thingTypeName)
          .map((t) => t.thingName);
        types.delete(input.thingTypeName, users);
      },
    },
  };
}
