/**
 * Things, static and dynamic thing groups, and the fleet index they are searched by. Dynamic
 * group membership is kept materialised and re-evaluated whenever a thing's attributes or shadows
 * change; joins and leaves are reported so jobs can follow (continuous jobs reach joiners,
 * leavers' queued executions are REMOVED).
 */
import { randomUUID } from "node:crypto";
import { AwsError, invalid, notFound } from "../aws-error.ts";
import { type IndexedThing, matches, parseQuery, type Query, storedQuery } from "../fleet/query.ts";
import { arn, type Thing, type ThingGroup } from "../model.ts";
import type { Store } from "../store.ts";
import { THING_NAME_PATTERN as THING_NAME, THING_NAME_PATTERN as GROUP_NAME } from "../../protocol/ids.ts";

const ATTRIBUTE_KEY = /^[a-zA-Z0-9_.,@/:#=[\]-]{1,128}$/;
/** AWS: a thing group hierarchy is at most 7 levels deep. */
const MAX_GROUP_DEPTH = 7;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;

export type MembershipListener = (thingName: string, joined: readonly string[], left: readonly string[]) => void;

export class Fleet {
  /** Dynamic group → its parsed query and current members. */
  private readonly dynamic = new Map<string, { query: Query; members: Set<string> }>();
  private listener: MembershipListener = () => {};

  constructor(
    private readonly store: Store,
    /** A thing's shadows by name ("" = classic), from the shadow service's index. */
    private readonly shadowsOf: (thingName: string) => ReadonlyMap<string, { desired?: Record<string, unknown>; reported?: Record<string, unknown> }>,
    private readonly now: () => number,
  ) {
    for (const g of store.all("group")) if (g.queryString) this.dynamic.set(g.thingGroupName, { query: storedQuery(g.queryString), members: new Set() });
    for (const t of store.all("thing")) for (const d of this.dynamic.values()) if (matches(d.query, this.indexed(t))) d.members.add(t.thingName);
  }

  onMembershipChange(listener: MembershipListener): void {
    this.listener = listener;
  }

  // ---- things ---------------------------------------------------------------------------------

  createThing(thingName: string, attributes: Record<string, string> = {}, thingTypeName?: string): Thing {
    if (!THING_NAME.test(thingName)) throw invalid(`Thing name ${JSON.stringify(thingName)} must be 1-128 characters of [a-zA-Z0-9:_-]`);
    checkAttributes(attributes);
    const existing = this.store.get("thing", thingName);
    if (existing) {
      if (JSON.stringify(existing.attributes) === JSON.stringify(attributes)) return existing;
      throw new AwsError("ResourceAlreadyExistsException", `Thing ${thingName} already exists with different attributes`);
    }
    const thing: Thing = { thingName, thingId: randomUUID(), attributes: { ...attributes }, version: 1, groups: [], ...(thingTypeName ? { thingTypeName } : {}) };
    this.store.put("thing", thingName, thing);
    this.reevaluate(thingName);
    return thing;
  }

  thing(thingName: string): Thing {
    const t = this.store.get("thing", thingName);
    if (!t) throw notFound(`Thing ${thingName} cannot be found.`);
    return t;
  }

  hasThing(thingName: string): boolean {
    return this.store.get("thing", thingName) !== undefined;
  }

  /** `thingType`: undefined leaves the type; `{ name: undefined }` removes it; `{ name }` sets it. */
  updateThing(thingName: string, attributes: Record<string, string>, merge: boolean, expectedVersion?: number, thingType?: { name?: string }): void {
    const t = this.thing(thingName);
    if (expectedVersion !== undefined && expectedVersion !== t.version) throw new AwsError("VersionConflictException", `The version for thing ${thingName} does not match the expected version.`);
    const next = merge ? { ...t.attributes } : {};
    for (const [k, v] of Object.entries(attributes)) {
      if (v === "") delete next[k];
      else next[k] = v;
    }
    checkAttributes(next);
    t.attributes = next;
    if (thingType?.name !== undefined) t.thingTypeName = thingType.name;
    else if (thingType) delete t.thingTypeName;
    t.version++;
    this.store.put("thing", thingName, t);
    this.reevaluate(thingName);
  }

  deleteThing(thingName: string): void {
    this.thing(thingName);
    this.store.delete("thing", thingName);
    for (const d of this.dynamic.values()) d.members.delete(thingName);
  }

  things(): Thing[] {
    return [...this.store.all("thing")];
  }

  // ---- groups ---------------------------------------------------------------------------------

  createGroup(thingGroupName: string, description?: string, queryString?: string, options: { parent?: string; attributes?: Record<string, string> } = {}): ThingGroup {
    if (!GROUP_NAME.test(thingGroupName)) throw invalid(`Thing group name ${JSON.stringify(thingGroupName)} must be 1-128 characters of [a-zA-Z0-9:_-]`);
    const query = queryString === undefined ? undefined : parseQuery(queryString);
    if (options.attributes) checkAttributes(options.attributes);
    if (options.parent !== undefined) {
      const parent = this.store.get("group", options.parent);
      if (!parent) throw invalid(`Parent thing group ${options.parent} does not exist`);
      if (parent.queryString) throw invalid(`Dynamic thing group ${options.parent} cannot have child groups`);
      if (this.ancestors(options.parent).length + 2 > MAX_GROUP_DEPTH) throw invalid(`A thing group hierarchy has at most ${MAX_GROUP_DEPTH} levels`);
    }
    const existing = this.store.get("group", thingGroupName);
    if (existing) {
      if (existing.queryString === queryString && existing.parentGroupName === options.parent) return existing;
      throw new AwsError("ResourceAlreadyExistsException", `Thing group ${thingGroupName} already exists`);
    }
    const group: ThingGroup = {
      thingGroupName,
      thingGroupId: randomUUID(),
      creationDate: Math.floor(this.now() / 1000),
      version: 1,
      ...(description ? { description } : {}),
      ...(queryString !== undefined ? { queryString } : {}),
      ...(options.parent !== undefined ? { parentGroupName: options.parent } : {}),
      ...(options.attributes && Object.keys(options.attributes).length ? { attributes: { ...options.attributes } } : {}),
    };
    this.store.put("group", thingGroupName, group);
    if (query) {
      const members = new Set<string>();
      for (const t of this.store.all("thing")) if (matches(query, this.indexed(t))) members.add(t.thingName);
      this.dynamic.set(thingGroupName, { query, members });
    }
    return group;
  }

  /** UpdateThingGroup: description and attributes (merged or replaced; "" removes a key). */
  updateGroup(thingGroupName: string, update: { description?: string; attributes?: Record<string, string>; merge: boolean; expectedVersion?: number }): ThingGroup {
    const g = this.group(thingGroupName);
    if (update.expectedVersion !== undefined && update.expectedVersion !== g.version) {
      throw new AwsError("VersionConflictException", `The version of thing group ${thingGroupName} is ${g.version}, not the expected ${update.expectedVersion}`);
    }
    let attributes: Record<string, string> = { ...g.attributes };
    if (update.attributes) {
      attributes = update.merge ? attributes : {};
      for (const [k, v] of Object.entries(update.attributes)) {
        if (v === "") delete attributes[k];
        else attributes[k] = v;
      }
      checkAttributes(attributes);
    }
    const { attributes: _, ...rest } = g;
    const next: ThingGroup = {
      ...rest,
      ...(update.description !== undefined ? { description: update.description } : {}),
      ...(Object.keys(attributes).length ? { attributes } : {}),
      version: g.version + 1,
    };
    this.store.put("group", thingGroupName, next);
    return next;
  }

  /** The group's ancestors, parent first. */
  ancestors(thingGroupName: string): string[] {
    const chain: string[] = [];
    for (let g = this.store.get("group", thingGroupName); g?.parentGroupName !== undefined; g = this.store.get("group", g.parentGroupName)) {
      chain.push(g.parentGroupName);
    }
    return chain;
  }

  /** Child groups, or with `recursive` every descendant. */
  children(thingGroupName: string, recursive: boolean): ThingGroup[] {
    const direct = this.groups().filter((g) => g.parentGroupName === thingGroupName);
    return recursive ? direct.flatMap((g) => [g, ...this.children(g.thingGroupName, true)]) : direct;
  }

  /** Static groups a thing belongs to directly or through a child group (what group jobs reach). */
  private reachedGroups(t: Thing): Set<string> {
    return new Set(t.groups.flatMap((g) => [g, ...this.ancestors(g)]));
  }

  group(thingGroupName: string): ThingGroup {
    const g = this.store.get("group", thingGroupName);
    if (!g) throw notFound(`Thing group ${thingGroupName} cannot be found.`);
    return g;
  }

  deleteGroup(thingGroupName: string, dynamicExpected: boolean): void {
    const g = this.store.get("group", thingGroupName);
    if (!g) return; // AWS: deleting a missing group succeeds
    if (this.children(thingGroupName, false).length) throw invalid(`Thing group ${thingGroupName} has child groups; delete them first`);
    if (Boolean(g.queryString) !== dynamicExpected) throw invalid(`Thing group ${thingGroupName} is ${g.queryString ? "dynamic; use DeleteDynamicThingGroup" : "static; use DeleteThingGroup"}`);
    this.store.delete("group", thingGroupName);
    this.dynamic.delete(thingGroupName);
    for (const t of this.store.all("thing")) {
      if (!t.groups.includes(thingGroupName)) continue;
      t.groups = t.groups.filter((n) => n !== thingGroupName);
      this.store.put("thing", t.thingName, t);
    }
  }

  addToGroup(thingGroupName: string, thingName: string): void {
    const g = this.group(thingGroupName);
    if (g.queryString) throw invalid(`Cannot add things to dynamic thing group ${thingGroupName}`);
    const t = this.thing(thingName);
    if (t.groups.includes(thingGroupName)) return;
    const before = this.reachedGroups(t);
    t.groups.push(thingGroupName);
    this.store.put("thing", thingName, t);
    this.listener(thingName, [...this.reachedGroups(t)].filter((n) => !before.has(n)), []);
    this.reevaluate(thingName); // thingGroupNames is a queryable field
  }

  removeFromGroup(thingGroupName: string, thingName: string): void {
    const g = this.group(thingGroupName);
    if (g.queryString) throw invalid(`Cannot remove things from dynamic thing group ${thingGroupName}`);
    const t = this.thing(thingName);
    if (!t.groups.includes(thingGroupName)) return;
    const before = this.reachedGroups(t);
    t.groups = t.groups.filter((n) => n !== thingGroupName);
    this.store.put("thing", thingName, t);
    const after = this.reachedGroups(t);
    this.listener(thingName, [], [...before].filter((n) => !after.has(n)));
    this.reevaluate(thingName);
  }

  /** A group's things and, for a parent, its descendants' things: what a job for the group reaches. */
  reach(thingGroupName: string): string[] {
    const names = new Set(this.members(thingGroupName));
    for (const child of this.children(thingGroupName, true)) for (const m of this.members(child.thingGroupName)) names.add(m);
    return [...names].sort();
  }

  members(thingGroupName: string): string[] {
    const g = this.group(thingGroupName);
    if (g.queryString) return [...(this.dynamic.get(thingGroupName)?.members ?? [])].sort();
    return this.things()
      .filter((t) => t.groups.includes(thingGroupName))
      .map((t) => t.thingName)
      .sort();
  }

  groups(): ThingGroup[] {
    return [...this.store.all("group")];
  }

  // ---- index ----------------------------------------------------------------------------------

  indexed(t: Thing): IndexedThing {
    return { thingName: t.thingName, thingId: t.thingId, thingTypeName: t.thingTypeName, thingGroupNames: t.groups, attributes: t.attributes, shadows: this.shadowsOf(t.thingName) };
  }

  search(queryString: string): Thing[] {
    const query = parseQuery(queryString);
    return this.things().filter((t) => matches(query, this.indexed(t)));
  }

  /** A thing's attributes or shadows changed: update dynamic memberships and report joins/leaves. */
  reevaluate(thingName: string): void {
    const t = this.store.get("thing", thingName);
    const joined: string[] = [];
    const left: string[] = [];
    const doc = t ? this.indexed(t) : undefined;
    for (const [name, d] of this.dynamic) {
      const now = doc !== undefined && matches(d.query, doc);
      const was = d.members.has(thingName);
      if (now && !was) (d.members.add(thingName), joined.push(name));
      if (!now && was) (d.members.delete(thingName), left.push(name));
    }
    if (joined.length || left.length) this.listener(thingName, joined, left);
  }

  arnOf(kind: "thing" | "thinggroup", name: string): string {
    return arn(`${kind}/${name}`);
  }
}

function checkAttributes(attributes: Record<string, string>): void {
  if (Object.keys(attributes).length > 50) throw invalid("A thing can have at most 50 attributes");
  for (const [k, v] of Object.entries(attributes)) {
    if (!ATTRIBUTE_KEY.test(k)) throw invalid(`Attribute name ${JSON.stringify(k)} is not valid`);
    if (typeof v !== "string" || !ATTRIBUTE_VALUE.test(v)) throw invalid(`Attribute ${k} has an invalid value`);
  }
}
