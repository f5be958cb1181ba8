/**
 * Thing groups (iot): static and dynamic groups, membership, listings, and the fleet index
 * (SearchIndex), which dynamic groups are defined by.
 */
import { ServiceError } from "../../errors.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { ShadowService } from "../../shadows/shadows.ts";
import type { Input, Operations } from "../router.ts";
import { NO_TAGS, groupArn, groupNameAndArn, page, withToken } from "../shapes.ts";

const QUERY_VERSION = "2017-09-30";
const INDEX = "AWS_Things";

export function groupRoutes(fleet: Fleet, shadows: ShadowService): Operations {
  const described = (name: string) => {
    const g = fleet.group(name);
    return {
      thingGroupName: g.thingGroupName,
      thingGroupArn: groupArn(g.thingGroupName),
      thingGroupId: g.thingGroupId,
    };
  };
  const groupAndThing = (input: Input) => {
    const group: string | undefined =
      input.thingGroupName ?? (input.thingGroupArn as string | undefined)?.split(":thinggroup/")[1];
    const thing: string | undefined = input.thingName ?? (input.thingArn as string | undefined)?.split(":thing/")[1];
    if (!group || !thing)
      throw new ServiceError(
        "InvalidRequest",
        "thingGroupName (or thingGroupArn) and thingName (or thingArn) are required",
      );
    return { group, thing };
  };
  const checkIndex = (input: Input) => {
    if (input.indexName !== undefined && input.indexName !== INDEX)
      throw new ServiceError("ResourceNotFound", `Index ${input.indexName} not found; the local service has ${INDEX}`);
    if (input.queryVersion !== undefined && input.queryVersion !== QUERY_VERSION)
      throw new ServiceError("InvalidRequest", `queryVersion must be ${QUERY_VERSION}`);
  };
  const deleteGroup = (input: Input, dynamic: boolean) => {
    const exists = fleet.groups().find((g) => g.thingGroupName === input.thingGroupName);
    if (exists && input.expectedVersion !== undefined && input.expectedVersion !== exists.version) {
      throw new ServiceError(
        "VersionConflict",
        `The version of thing group ${exists.thingGroupName} is ${exists.version}, not the expected ${input.expectedVersion}`,
      );
    }
    fleet.deleteGroup(input.thingGroupName, dynamic);
  };

  return {
    CreateThingGroup: {
      honours: ["thingGroupName", "parentGroupName", "thingGroupProperties"],
      refuses: { tags: NO_TAGS },
      handle: (input) => {
        const props = input.thingGroupProperties ?? {};
        fleet.createGroup(input.thingGroupName, props.thingGroupDescription, undefined, {
          parent: input.parentGroupName,
          attributes: props.attributePayload?.attributes,
        });
        return described(input.thingGroupName);
      },
    },
    CreateDynamicThingGroup: {
      honours: ["thingGroupName", "thingGroupProperties", "indexName", "queryString", "queryVersion"],
      refuses: { tags: NO_TAGS },
      handle: (input) => {
        checkIndex(input);
        const props = input.thingGroupProperties ?? {};
        fleet.createGroup(input.thingGroupName, props.thingGroupDescription, input.queryString, {
          attributes: props.attributePayload?.attributes,
        });
        return {
          ...described(input.thingGroupName),
          indexName: INDEX,
          queryString: input.queryString,
          queryVersion: QUERY_VERSION,
        };
      },
    },
    DescribeThingGroup: {
      honours: ["thingGroupName"],
      handle: (input) => {
        const g = fleet.group(input.thingGroupName);
        const rootToParent = fleet.ancestors(g.thingGroupName).reverse();
        return {
          ...described(g.thingGroupName),
          version: g.version,
          thingGroupProperties: {
            ...(g.description ? { thingGroupDescription: g.description } : {}),
            ...(g.attributes ? { attributePayload: { attributes: g.attributes } } : {}),
          },
          thingGroupMetadata: {
            ...(g.parentGroupName !== undefined ? { parentGroupName: g.parentGroupName } : {}),
            rootToParentThingGroups: rootToParent.map((name) => ({ groupName: name, groupArn: groupArn(name) })),
            creationDate: g.creationDate,
          },
          ...(g.queryString
            ? { indexName: INDEX, queryString: g.queryString, queryVersion: QUERY_VERSION, status: "ACTIVE" }
            : {}),
        };
      },
    },
    UpdateThingGroup: {
      honours: ["thingGroupName", "thingGroupProperties", "expectedVersion"],
      handle: (input) => {
        const props = input.thingGroupProperties;
        const g = fleet.updateGroup(input.thingGroupName, {
          description: props.thingGroupDescription,
          attributes: props.attributePayload?.attributes,
          merge: props.attributePayload?.merge === true,
          expectedVersion: input.expectedVersion,
        });
        return { version: g.version };
      },
    },
    DeleteThingGroup: { honours: ["thingGroupName", "expectedVersion"], handle: (input) => deleteGroup(input, false) },
    DeleteDynamicThingGroup: {
      honours: ["thingGroupName", "expectedVersion"],
      handle: (input) => deleteGroup(input, true),
    },
    AddThingToThingGroup: {
      honours: ["thingGroupName", "thingGroupArn", "thingName", "thingArn", "overrideDynamicGroups"],
      handle: (input) => {
        // overrideDynamicGroups matters only at the dynamic-group membership limit, which this service has not.
        const { group, thing } = groupAndThing(input);
        fleet.addToGroup(group, thing);
      },
    },
    RemoveThingFromThingGroup: {
      honours: ["thingGroupName", "thingGroupArn", "thingName", "thingArn"],
      handle: (input) => {
        const { group, thing } = groupAndThing(input);
        fleet.removeFromGroup(group, thing);
      },
    },
    ListThingsInThingGroup: {
      honours: ["thingGroupName", "recursive", "nextToken", "maxResults"],
      handle: (input) => {
        const things =
          input.recursive === true ? fleet.reach(input.thingGroupName) : fleet.members(input.thingGroupName);
        const p = page(things, input.maxResults, input.nextToken, 25);
        return { things: p.items, ...withToken(p.nextToken) };
      },
    },
    ListThingGroups: {
      honours: ["nextToken", "maxResults", "parentGroup", "namePrefixFilter", "recursive"],
      handle: (input) => {
        const prefix: string = input.namePrefixFilter ?? "";
        // Without parentGroup every group is listed; with it, its children (all descendants if recursive).
        if (input.parentGroup !== undefined) fleet.group(input.parentGroup);
        const groups =
          input.parentGroup === undefined
            ? fleet.groups()
            : fleet.children(input.parentGroup, input.recursive === true);
        const list = groups
          .filter((g) => g.thingGroupName.startsWith(prefix))
          .sort((a, b) => a.thingGroupName.localeCompare(b.thingGroupName));
        const p = page(list, input.maxResults, input.nextToken, 100);
        return { thingGroups: p.items.map(groupNameAndArn), ...withToken(p.nextToken) };
      },
    },
    ListThingGroupsForThing: {
      honours: ["thingName", "nextToken", "maxResults"],
      handle: (input) => {
        fleet.thing(input.thingName);
        const list = fleet
          .groups()
          .filter((g) => fleet.members(g.thingGroupName).includes(input.thingName))
          .sort((a, b) => a.thingGroupName.localeCompare(b.thingGroupName));
        const p = page(list, input.maxResults, input.nextToken, 25);
        return { thingGroups: p.items.map(groupNameAndArn), ...withToken(p.nextToken) };
      },
    },
    DescribeIndex: {
      honours: ["indexName"],
      handle: (input) => {
        checkIndex(input);
        return { indexName: INDEX, indexStatus: "ACTIVE", schema: "REGISTRY_AND_SHADOW" };
      },
    },
    /** What the local index holds: the registry and every shadow (classic and named); no connectivity, no groups. */
    GetIndexingConfiguration: {
      honours: [],
      handle: () => ({
        thingIndexingConfiguration: {
          thingIndexingMode: "REGISTRY_AND_SHADOW",
          thingConnectivityIndexingMode: "OFF",
          namedShadowIndexingMode: "ON",
        },
        thingGroupIndexingConfiguration: { thingGroupIndexingMode: "OFF" },
      }),
    },
    SearchIndex: {
      honours: ["indexName", "queryString", "nextToken", "maxResults", "queryVersion"],
      handle: (input) => {
        checkIndex(input);
        const found = fleet.search(input.queryString).sort((a, b) => a.thingName.localeCompare(b.thingName));
        const p = page(found, input.maxResults, input.nextToken, 500);
        return {
          things: p.items.map((t) => {
            const named = shadows.names(t.thingName);
            const states = shadows.statesOf(t.thingName);
            const shadow =
              states.has("") || named.length
                ? {
                    shadow: JSON.stringify({
                      ...(states.get("") ?? {}),
                      ...(named.length ? { name: Object.fromEntries(named.map((n) => [n, states.get(n)])) } : {}),
                    }),
                  }
                : {};
            return {
              thingName: t.thingName,
              thingId: t.thingId,
              ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
              thingGroupNames: t.groups,
              attributes: t.attributes,
              ...shadow,
            };
          }),
          thingGroups: [],
          ...withToken(p.nextToken),
        };
      },
    },
  };
}
