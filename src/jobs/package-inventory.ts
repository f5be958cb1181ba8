/**
 * The local package inventory (a JSON file the device's own tooling keeps) and the `$package`
 * shadow update it becomes. Pure. Accepted shapes, per package name:
 *   { "<package>": "1.2.0" }
 *   { "<package>": { "version": "1.2.0", "attributes": { "k": "v" } } }
 * Packages reported before but gone from the inventory are set to null (removed from the shadow).
 */

import { PACKAGE_NAME_PATTERN, PACKAGE_NAME_RULE, VERSION_NAME_PATTERN, VERSION_NAME_RULE } from "../protocol/ids.ts";

export interface InstalledPackage {
  readonly version: string;
  readonly attributes?: Record<string, string>;
}

export type Inventory = ReadonlyMap<string, InstalledPackage>;

export function parseInventory(text: string): { ok: true; inventory: Inventory } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not valid JSON" };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return { ok: false, reason: "expected a JSON object of package name → version" };
  const out = new Map<string, InstalledPackage>();
  for (const [name, entry] of Object.entries(value)) {
    if (!PACKAGE_NAME_PATTERN.test(name))
      return { ok: false, reason: `${JSON.stringify(name)}: package names are ${PACKAGE_NAME_RULE}` };
    const pkg = typeof entry === "string" ? { version: entry } : entry;
    if (pkg === null || typeof pkg !== "object" || Array.isArray(pkg))
      return { ok: false, reason: `${name}: expected a version string or {"version", "attributes"}` };
    const { version, attributes, ...rest } = pkg as { version?: unknown; attributes?: unknown };
    if (Object.keys(rest).length > 0)
      return {
        ok: false,
        reason: `${name}: only "version" and "attributes" are allowed, not ${Object.keys(rest)
          .map((k) => JSON.stringify(k))
          .join(", ")}`,
      };
    if (typeof version !== "string" || !VERSION_NAME_PATTERN.test(version))
      return { ok: false, reason: `${name}.version: ${VERSION_NAME_RULE}` };
    if (
      attributes !== undefined &&
      (attributes === null ||
        typeof attributes !== "object" ||
        Array.isArray(attributes) ||
        Object.values(attributes).some((a) => typeof a !== "string"))
    ) {
      return { ok: false, reason: `${name}.attributes: expected an object of strings` };
    }
    out.set(
      name,
      attributes === undefined ? { version } : { version, attributes: attributes as Record<string, string> },
    );
  }
  return { ok: true, inventory: out };
}

/** The `reported` section for `$package`: the inventory, plus null for packages no longer there. */
export function reportedState(
  inventory: Inventory,
  previouslyReported: Iterable<string>,
): Record<string, InstalledPackage | null> {
  const reported: Record<string, InstalledPackage | null> = {};
  for (const name of previouslyReported) if (!inventory.has(name)) reported[name] = null;
  for (const [name, pkg] of inventory) reported[name] = pkg;
  return reported;
}
