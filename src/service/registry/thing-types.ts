/**
 * Thing types: created, deprecated (and un-deprecated), deleted once deprecated and unused. A
 * thing may be given only an existing type that is not deprecated.
 */
import { randomUUID } from "node:crypto";
import { ServiceError } from "../errors.ts";
import type { ThingType } from "../model.ts";
import type { Store } from "../store.ts";

export class ThingTypes {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  create(thingTypeName: string, description: string | undefined, searchableAttributes: readonly string[]): ThingType {
    const existing = this.store.get("thingType", thingTypeName);
    if (existing) {
      const same =
        existing.description === description &&
        JSON.stringify(existing.searchableAttributes) === JSON.stringify(searchableAttributes);
      if (same) return existing; // AWS: creating an identical thing type again succeeds
      throw new ServiceError(
        "ResourceAlreadyExists",
        `Thing type ${thingTypeName} already exists with different properties`,
      );
    }
    const type: ThingType = {
      thingTypeName,
      thingTypeId: randomUUID(),
      ...(description !== undefined ? { description } : {}),
      searchableAttributes: [...searchableAttributes],
      deprecated: false,
      creationDate: Math.floor(this.now() / 1000),
    };
    this.store.put("thingType", thingTypeName, type);
    return type;
  }

  get(thingTypeName: string): ThingType {
    const t = this.store.get("thingType", thingTypeName);
    if (!t) throw new ServiceError("ResourceNotFound", `Thing type ${thingTypeName} does not exist`);
    return t;
  }

  /** The type a thing may be given now: existing and not deprecated. */
  assignable(thingTypeName: string): ThingType {
    const t = this.get(thingTypeName);
    if (t.deprecated)
      throw new ServiceError("InvalidRequest", `Thing type ${thingTypeName} is deprecated; no thing can be given it`);
    return t;
  }

  all(): ThingType[] {
    return [...this.store.all("thingType")].sort((a, b) => a.thingTypeName.localeCompare(b.thingTypeName));
  }

  deprecate(thingTypeName: string, undo: boolean): void {
    const { deprecationDate: _, ...t } = this.get(thingTypeName);
    const next: ThingType = undo
      ? { ...t, deprecated: false }
      : { ...t, deprecated: true, deprecationDate: Math.floor(this.now() / 1000) };
    this.store.put("thingType", thingTypeName, next);
  }

  /** AWS also waits 5 minutes after deprecation; here a deprecated type no thing uses may go at once. */
  delete(thingTypeName: string, usedBy: readonly string[]): void {
    const t = this.get(thingTypeName);
    if (!t.deprecated)
      throw new ServiceError("InvalidRequest", `Thing type ${thingTypeName} must be deprecated before it is deleted`);
    if (usedBy.length)
      throw new ServiceError(
        "InvalidRequest",
        `Thing type ${thingTypeName} is still the type of ${usedBy.length} thing(s), e.g. ${usedBy[0]}`,
      );
    this.store.delete("thingType", thingTypeName);
  }
}
