/**
 * Things, static and dynamic thing groups, and the fleet index they are searched by. Dynamic
 * group membership is kept materialised and re-evaluated whenever a thing's attributes or shadows
 * change; joins and leaves are reported so jobs can follow (continuous jobs reach joiners,
 * leavers' queued executions are REMOVED) — inside the command's transaction, so they commit
 * with it. A dynamic group whose query cannot be compiled or evaluated (a query stored by an
 * older version) is disabled and reported, never allowed to fail the writes of the whole fleet.
 */
import { randomUUID } from "node:crypto";
import { dictOf } from "../dict.ts";
import { ServiceError } from "../errors.ts";
import { compileQuery, type IndexedThing, matches, parseQuery, type Query } from "../fleet/query.ts";
import { arn, type Thing, type ThingGroup } from "../model.ts";
import type { Store } from "../store.ts";
import {
  THING_NAME_PATTERN as GROUP_NAME,
  THING_NAME_PATTERN as THING_NAME,
  THING_NAME_RULE,
} from "../../protocol/ids.ts";

const ATTRIBUTE_KEY = /^[a-zA-Z0-9_.,@/:#=[\]-]{1,128}$/;
const ATTRIBUTE_VALUE = /^[a-zA-Z0-9_.,@/:#=[\]-]{0,800}$/;
/** AWS: a thing group hierarchy is at most 7 levels deep. */
const MAX_GROUP_DEPTH = 7;
/** Things by the static groups they list. */
const BY_GROUP = "thing.group";

const invalid = (message: string) => new ServiceError("InvalidRequest", message);

export type MembershipListener = (thingName: string, joined: readonly string[], left: readonly string[]) => void;
/** A dynamic group was disabled: its query does not compile or evaluate here. */
export type GroupProblemListener = (thingGroupName: string, problem: string) => void;

interface DynamicGroup {
  readonly query: Query | undefined;
  /** Committed members; a transaction's changes are staged in `Fleet.staged` until COMMIT. */
  readonly members: Set<string>;
  /** Why the group no longer follows its query (its members stay as they were). */
  problem?: string;
}

export class Fleet {
  private readonly dynamic = new Map<string, DynamicGroup>();
  /** Membership changes of the open transaction (group → thing → member), applied after COMMIT. */
  private staged: Map<DynamicGroup, Map<string, boolean>> | undefined;
  private listener: MembershipListener = () => {};
  private thingDeletedListener: (thingName: string) => void = () => {};

  constructor(
    private readonly store: Store,
    /** A thing's shadows by name ("" = classic), from the shadow service's index. */
    private readonly shadowsOf: (
      thingName: string,
    ) => ReadonlyMap<
      string,
      { readonly desired?: Record<string, unknown>; readonly reported?: Record<string, unknown> }
    >,
    private readonly now: () => number,
    private readonly onGroupProblem: GroupProblemListener = () => {},
  ) {
    store.defineIndex("thing", BY_GROUP, (t) => t.groups);
    for (const g of store.all("group")) {
      if (g.queryString === undefined) continue;
      // A query an older version stored without today's limits (fleet/query.ts): disabled, reported.
      const compiled = compileQuery(g.queryString);
      const query = compiled.ok ? compiled.query : undefined;
      const problem = compiled.ok
        ? undefined
        : `its query is no longer valid (${compiled.error.message}); delete and recreate it`;
      this.dynamic.set(g.thingGroupName, { query, members: new Set(), ...(problem ? { problem } : {}) });
      if (problem) this.onGroupProblem(g.thingGroupName, problem);
    }
    for (const t of store.all("thing")) {
      for (const [name, d] of this.dynamic) if (this.evaluate(name, d, t)) d.members.add(t.thingName);
    }
  }

  onMembershipChange(listener: MembershipListener): void {
    this.listener = listener;
  }

  onThingDeleted(listener: (thingName: string) => void): void {
    this.thingDeletedListener = listener;
  }

  /** Dynamic groups that were disabled, with the reason. */
  groupProblems(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [name, d] of this.dynamic) if (d.problem) out.set(name, d.problem);
    return out;
  }

  // ---- things ---------------------------------------------------------------------------------

  createThing(thingName: string, attributes: Readonly<Record<string, string>> = {}, thingTypeName?: string): Thing {
    if (!THING_NAME.test(thingName))
      throw invalid(`Thing name ${JSON.stringify(thingName)} must be ${THING_NAME_RULE}`);
    checkAttributes(attributes);
    const existing = this.store.get("thing", thingName);
    if (existing) {
      // AWS answers 200 only when nothing differs; a different value is never dropped silently.
      if (sameDict(existing.attributes, attributes) && existing.thingTypeName === thingTypeName) return existing;
      throw new ServiceError(
        "ResourceAlreadyExists",
        `Thing ${thingName} already exists with different attributes or thing type`,
      );
    }
    const thing: Thing = {
      thingName,
      thingId: randomUUID(),
      attributes: dictOf(attributes),
      version: 1,
      groups: [],
      ...(thingTypeName ? { thingTypeName } : {}),
    };
    this.store.transaction(() => {
      this.store.put("thing", thingName, thing);
      this.reevaluate(thingName);
    });
    return thing;
  }

  thing(thingName: string): Thing {
    const t = this.store.get("thing", thingName);
    if (!t) throw new ServiceError("ResourceNotFound", `Thing ${thingName} cannot be found.`);
    return t;
  }

  hasThing(thingName: string): boolean {
    return this.store.get("thing", thingName) !== undefined;
  }

  /** `thingType`: undefined leaves the type; `{ name: undefined }` removes it; `{ name }` sets it. */
  updateThing(
    thingName: string,
    attributes: Readonly<Record<string, string>>,
    merge: boolean,
    expectedVersion?: number,
    thingType?: { name?: string },
  ): void {
    const t = this.thing(thingName);
    checkVersion(t, expectedVersion);
    const next = merge ? dictOf(t.attributes) : dictOf<string>(undefined);
    for (const [k, v] of Object.entries(attributes)) {
      if (v === "") delete next[k];
      else next[k] = v;
    }
    checkAttributes(next);
    const { thingTypeName: _, ...rest } = t;
    const typeName = thingType === undefined ? t.thingTypeName : thingType.name;
    const updated: Thing = {
      ...rest,
      attributes: next,
      version: t.version + 1,
      ...(typeName !== undefined ? { thingTypeName: typeName } : {}),
    };
    this.store.transaction(() => {
      this.store.put("thing", thingName, updated);
      this.reevaluate(thingName);
    });
  }

  /**
   * DeleteThing, as AWS: a missing thing is not an error; a wrong expectedVersion is a
   * VersionConflict. The thing's pending executions end REMOVED in the same transaction.
   */
  deleteThing(thingName: string, expectedVersion?: number): void {
    const t = this.store.get("thing", thingName);
    if (!t) return;
    checkVersion(t, expectedVersion);
    this.store.transaction(() => {
      this.store.delete("thing", thingName);
      for (const d of this.dynamic.values()) this.setMember(d, thingName, false);
      this.thingDeletedListener(thingName);
    });
  }

  things(): Thing[] {
    return [...this.store.all("thing")];
  }

  // ---- groups ---------------------------------------------------------------------------------

  createGroup(
    thingGroupName: string,
    description?: string,
    queryString?: string,
    options: { parent?: string; attributes?: Readonly<Record<string, string>> } = {},
  ): ThingGroup {
    if (!GROUP_NAME.test(thingGroupName)) {
      throw invalid(`Thing group name ${JSON.stringify(thingGroupName)} must be ${THING_NAME_RULE}`);
    }
    const query = queryString === undefined ? undefined : parseQuery(queryString);
    if (options.attributes) checkAttributes(options.attributes);
    if (options.parent !== undefined) {
      const parent = this.store.get("group", options.parent);
      if (!parent) throw invalid(`Parent thing group ${options.parent} does not exist`);
      if (parent.queryString) throw invalid(`Dynamic thing group ${options.parent} cannot have child groups`);
      if (this.ancestors(options.parent).length + 2 > MAX_GROUP_DEPTH) {
        throw invalid(`A thing group hierarchy has at most ${MAX_GROUP_DEPTH} levels`);
      }
    }
    const existing = this.store.get("group", thingGroupName);
    if (existing) {
      const same =
        existing.queryString === queryString &&
        existing.parentGroupName === options.parent &&
        (existing.description ?? "") === (description ?? "") &&
        sameDict(existing.attributes ?? {}, options.attributes ?? {});
      if (same) return existing;
      throw new ServiceError(
        "ResourceAlreadyExists",
        `Thing group ${thingGroupName} already exists with a different query, parent, description or attributes`,
      );
    }
    const group: ThingGroup = {
      thingGroupName,
      thingGroupId: randomUUID(),
      creationDate: Math.floor(this.now() / 1000),
      version: 1,
      ...(description ? { description } : {}),
      ...(queryString !== undefined ? { queryString } : {}),
      ...(options.parent !== undefined ? { parentGroupName: options.parent } : {}),
      ...(options.attributes && Object.keys(options.attributes).length
        ? { attributes: dictOf(options.attributes) }
        : {}),
    };
    this.store.transaction(() => {
      this.store.put("group", thingGroupName, group);
      if (query) {
        const d: DynamicGroup = { query, members: new Set() };
        for (const t of this.store.all("thing")) if (this.evaluate(thingGroupName, d, t)) d.members.add(t.thingName);
        this.store.afterCommit(() => this.dynamic.set(thingGroupName, d));
      }
    });
    return group;
  }

  /** UpdateThingGroup: description and attributes (merged or replaced; "" removes a key). */
  updateGroup(
    thingGroupName: string,
    update: {
      description?: string;
      attributes?: Readonly<Record<string, string>>;
      merge: boolean;
      expectedVersion?: number;
    },
  ): ThingGroup {
    const g = this.group(thingGroupName);
    if (update.expectedVersion !== undefined && update.expectedVersion !== g.version) {
      throw new ServiceError(
        "VersionConflict",
        `The version of thing group ${thingGroupName} is ${g.version}, not the expected ${update.expectedVersion}`,
      );
    }
    let attributes = dictOf(g.attributes);
    if (update.attributes) {
      attributes = update.merge ? attributes : dictOf<string>(undefined);
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
    let g = this.store.get("group", thingGroupName);
    while (g?.parentGroupName !== undefined) {
      chain.push(g.parentGroupName);
      g = this.store.get("group", g.parentGroupName);
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
    if (!g) throw new ServiceError("ResourceNotFound", `Thing group ${thingGroupName} cannot be found.`);
    return g;
  }

  /** The group and every member's reference to it go in one transaction (a crash tears nothing). */
  deleteGroup(thingGroupName: string, dynamicExpected: boolean): void {
    const g = this.store.get("group", thingGroupName);
    if (!g) return; // AWS: deleting a missing group succeeds
    if (this.children(thingGroupName, false).length) {
      throw invalid(`Thing group ${thingGroupName} has child groups; delete them first`);
    }
    if (Boolean(g.queryString) !== dynamicExpected) {
      throw invalid(
        `Thing group ${thingGroupName} is ${g.queryString ? "dynamic; use DeleteDynamicThingGroup" : "static; use DeleteThingGroup"}`,
      );
    }
    this.store.transaction(() => {
      // Its things leave it — and the ancestors they reached only through it — by the rule of
      // RemoveThingFromThingGroup, so continuous jobs' QUEUED executions end REMOVED for them too.
      const dynamic = Boolean(g.queryString);
      const leavers = dynamic ? this.members(thingGroupName) : [...this.store.lookup(BY_GROUP, thingGroupName)];
      const before = new Map(
        leavers.map((n) => [n, dynamic ? new Set([thingGroupName]) : this.reachedGroups(this.store.get("thing", n)!)]),
      );
      this.store.delete("group", thingGroupName);
      this.store.afterCommit(() => this.dynamic.delete(thingGroupName));
      this.dropGroupFromThings(thingGroupName);
      for (const name of leavers) {
        const after = dynamic ? new Set<string>() : this.reachedGroups(this.store.get("thing", name)!);
        const left = [...before.get(name)!].filter((n) => !after.has(n));
        if (left.length) this.listener(name, [], left);
      }
    });
  }

  /** Removes a group name from every thing that lists it; how many things changed. */
  dropGroupFromThings(thingGroupName: string): number {
    const listing = [...this.store.lookup(BY_GROUP, thingGroupName)];
    for (const name of listing) {
      const t = this.store.get("thing", name)!;
      this.store.put("thing", name, { ...t, groups: t.groups.filter((n) => n !== thingGroupName) });
    }
    return listing.length;
  }

  /** Group names that things list but that do not exist (startup checks). */
  danglingGroupNames(): string[] {
    const names = new Set<string>();
    for (const t of this.store.all("thing")) for (const g of t.groups) if (!this.store.get("group", g)) names.add(g);
    return [...names];
  }

  addToGroup(thingGroupName: string, thingName: string): void {
    const g = this.group(thingGroupName);
    if (g.queryString) throw invalid(`Cannot add things to dynamic thing group ${thingGroupName}`);
    const t = this.thing(thingName);
    if (t.groups.includes(thingGroupName)) return;
    const before = this.reachedGroups(t);
    const next: Thing = { ...t, groups: [...t.groups, thingGroupName] };
    this.store.transaction(() => {
      this.store.put("thing", thingName, next);
      this.listener(
        thingName,
        [...this.reachedGroups(next)].filter((n) => !before.has(n)),
        [],
      );
      this.reevaluate(thingName); // thingGroupNames is a queryable field
    });
  }

  removeFromGroup(thingGroupName: string, thingName: string): void {
    const g = this.group(thingGroupName);
    if (g.queryString) throw invalid(`Cannot remove things from dynamic thing group ${thingGroupName}`);
    const t = this.thing(thingName);
    if (!t.groups.includes(thingGroupName)) return;
    const before = this.reachedGroups(t);
    const next: Thing = { ...t, groups: t.groups.filter((n) => n !== thingGroupName) };
    const after = this.reachedGroups(next);
    this.store.transaction(() => {
      this.store.put("thing", thingName, next);
      this.listener(
        thingName,
        [],
        [...before].filter((n) => !after.has(n)),
      );
      this.reevaluate(thingName);
    });
  }

  /** A group's things and, for a parent, its descendants' things: what a job for the group reaches. */
  reach(thingGroupName: string): string[] {
    const names = new Set(this.members(thingGroupName));
    for (const child of this.children(thingGroupName, true)) {
      for (const m of this.members(child.thingGroupName)) names.add(m);
    }
    return [...names].sort();
  }

  members(thingGroupName: string): string[] {
    const g = this.group(thingGroupName);
    if (g.queryString) {
      const d = this.dynamic.get(thingGroupName);
      if (!d) return [];
      const members = new Set(d.members);
      for (const [thing, member] of this.staged?.get(d) ?? []) {
        if (member) members.add(thing);
        else members.delete(thing);
      }
      return [...members].sort();
    }
    return [...this.store.lookup(BY_GROUP, thingGroupName)].sort();
  }

  groups(): ThingGroup[] {
    return [...this.store.all("group")];
  }

  // ---- index ----------------------------------------------------------------------------------

  indexed(t: Thing): IndexedThing {
    return {
      thingName: t.thingName,
      thingId: t.thingId,
      thingTypeName: t.thingTypeName,
      thingGroupNames: t.groups,
      attributes: t.attributes,
      shadows: this.shadowsOf(t.thingName),
    };
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
    for (const [name, d] of this.dynamic) {
      if (d.problem) continue;
      const now = t !== undefined && this.evaluate(name, d, t);
      if (d.problem) continue;
      const was = this.isMember(d, thingName);
      if (now === was) continue;
      this.setMember(d, thingName, now);
      (now ? joined : left).push(name);
    }
    if (joined.length || left.length) this.listener(thingName, joined, left);
  }

  arnOf(kind: "thing" | "thinggroup", name: string): string {
    return arn(`${kind}/${name}`);
  }

  /** Does `t` match the group's query? A query that throws disables the group instead. */
  private evaluate(name: string, d: DynamicGroup, t: Thing): boolean {
    if (!d.query || d.problem) return false;
    try {
      return matches(d.query, this.indexed(t));
    } catch (error) {
      d.problem = `its query cannot be evaluated: ${(error as Error).message}`;
      this.onGroupProblem(name, d.problem);
      return false;
    }
  }

  private isMember(d: DynamicGroup, thingName: string): boolean {
    return this.staged?.get(d)?.get(thingName) ?? d.members.has(thingName);
  }

  /** Stages a membership change: applied once the store commits, dropped if it rolls back. */
  private setMember(d: DynamicGroup, thingName: string, member: boolean): void {
    if (this.isMember(d, thingName) === member) return;
    if (!this.store.inTransaction) {
      if (member) d.members.add(thingName);
      else d.members.delete(thingName);
      return;
    }
    if (!this.staged) {
      const staged = new Map<DynamicGroup, Map<string, boolean>>();
      this.staged = staged;
      this.store.afterCommit(() => {
        this.staged = undefined;
        for (const [group, changes] of staged) {
          for (const [thing, isMember] of changes) {
            if (isMember) group.members.add(thing);
            else group.members.delete(thing);
          }
        }
      });
      this.store.onRollback(() => (this.staged = undefined));
    }
    this.staged.set(d, (this.staged.get(d) ?? new Map()).set(thingName, member));
  }
}

function checkVersion(t: Thing, expectedVersion: number | undefined): void {
  if (expectedVersion !== undefined && expectedVersion !== t.version) {
    throw new ServiceError(
      "VersionConflict",
      `The version for thing ${t.thingName} does not match the expected version.`,
    );
  }
}

function checkAttributes(attributes: Readonly<Record<string, string>>): void {
  if (Object.keys(attributes).length > 50) throw invalid("A thing can have at most 50 attributes");
  for (const [k, v] of Object.entries(attributes)) {
    if (!ATTRIBUTE_KEY.test(k)) throw invalid(`Attribute name ${JSON.stringify(k)} is not valid`);
    if (typeof v !== "string" || !ATTRIBUTE_VALUE.test(v)) throw invalid(`Attribute ${k} has an invalid value`);
  }
}

/** Same keys with the same values, in any order. */
function sameDict(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}
