import { describe, expect, test } from "bun:test";
import { ServiceError } from "../../src/service/errors.ts";
import {
  compileQuery,
  type IndexedThing,
  MATCHES_NOTHING,
  matches,
  parseQuery,
  storedQuery,
} from "../../src/service/fleet/query.ts";
import { QUERY_LIMITS } from "../../src/service/limits.ts";

const thing = (
  name: string,
  attributes: Record<string, string>,
  pkgs: Record<string, { version: string; attributes?: Record<string, string> }> = {},
  groups: string[] = [],
): IndexedThing => ({
  thingName: name,
  thingGroupNames: groups,
  attributes,
  shadows: new Map([
    ["$package", { reported: pkgs }],
    ["", { reported: { temp: 21 } }],
  ]),
});
const fleet = [
  thing(
    "pi-1",
    { site: "lab", rack: "12" },
    { "telemetry-agent": { version: "1.0.0", attributes: { packageID: "1600" } } },
    ["canary"],
  ),
  thing("pi-2", { site: "lab", rack: "3" }, { "telemetry-agent": { version: "1.2.5" } }),
  thing("gw-1", { site: "plant" }, {}),
];
const run = (q: string) => fleet.filter((t) => matches(parseQuery(q), t)).map((t) => t.thingName);

describe("fleet queries", () => {
  test("fields, wildcards, boolean operators, parentheses", () => {
    expect(run("thingName:pi-1")).toEqual(["pi-1"]);
    expect(run("thingName:pi*")).toEqual(["pi-1", "pi-2"]);
    expect(run("thingName:*")).toEqual(["pi-1", "pi-2", "gw-1"]);
    expect(run("attributes.site:lab AND NOT thingName:pi-2")).toEqual(["pi-1"]);
    expect(run("attributes.site:plant OR thingGroupNames:canary")).toEqual(["pi-1", "gw-1"]);
    expect(run("(attributes.site:lab OR attributes.site:plant) thingName:*1")).toEqual(["pi-1", "gw-1"]);
    expect(run("shadow.reported.temp:21")).toEqual(["pi-1", "pi-2", "gw-1"]);
  });

  test("package versions in $package, with \\- escapes; things without the package match NOT", () => {
    expect(run("shadow.name.$package.reported.telemetry\\-agent.version:1.0.0")).toEqual(["pi-1"]);
    expect(run("shadow.name.$package.reported.telemetry-agent.version:1.2.5")).toEqual(["pi-2"]);
    expect(run("NOT shadow.name.$package.reported.telemetry\\-agent.version:1.2.5")).toEqual(["pi-1", "gw-1"]);
    expect(run("shadow.name.$package.reported.*.attributes.packageID>1500")).toEqual(["pi-1"]);
  });

  test("numeric comparison on attributes only", () => {
    expect(run("attributes.rack>5")).toEqual(["pi-1"]);
    expect(run("attributes.rack<=3")).toEqual(["pi-2"]);
    const e = (() => {
      try {
        parseQuery("shadow.name.$package.reported.telemetry\\-agent.version>1");
      } catch (x) {
        return x as ServiceError;
      }
    })();
    expect(e?.code).toBe("InvalidQuery");
  });

  test("malformed queries are InvalidQueryException with a reason", () => {
    for (const q of [
      "",
      "(thingName:a",
      "thingName:a)",
      "thingName",
      "AND thingName:a",
      "thingName:",
      'thingName:"open',
      "attributes.x>abc",
      "a..b:c",
      "x\\",
    ]) {
      let error: unknown;
      try {
        parseQuery(q);
      } catch (x) {
        error = x;
      }
      expect(error instanceof ServiceError && error.code === "InvalidQuery").toBe(true);
    }
  });
});

const queryError = (q: string): ServiceError | undefined => {
  const result = compileQuery(q);
  return result.ok ? undefined : result.error;
};

describe("query limits (QUERY_LIMITS, AWS's fleet-indexing figures)", () => {
  test("twelve terms pass, a thirteenth is InvalidQuery", () => {
    const terms = (n: number) => Array.from({ length: n }, (_, i) => `attributes.a${i}:v`).join(" OR ");
    expect(compileQuery(terms(QUERY_LIMITS.maxTerms)).ok).toBe(true);
    expect(queryError(terms(QUERY_LIMITS.maxTerms + 1))?.message).toContain("more than 12 terms");
  });

  test("one leading wildcard per query, in a query of at most 100 characters", () => {
    expect(compileQuery("thingName:*1 attributes.site:lab*").ok).toBe(true);
    expect(compileQuery("thingName:* attributes.site:*").ok).toBe(true); // a lone * is "anything"
    expect(queryError("thingName:*my thingGroupNames:*echo")?.message).toContain("only one term");
    const long = `thingName:*x AND attributes.k:${"v".repeat(100)}`;
    expect(queryError(long)?.message).toContain("at most 100 characters");
  });

  test("nesting deeper than maxNesting and over-long strings are InvalidQuery, never an exception", () => {
    expect(compileQuery(`${"NOT ".repeat(QUERY_LIMITS.maxNesting)}thingName:a`).ok).toBe(true);
    expect(queryError(`${"NOT ".repeat(QUERY_LIMITS.maxNesting + 1)}thingName:a`)?.message).toContain("nests");
    expect(
      compileQuery(`${"(".repeat(QUERY_LIMITS.maxNesting)}thingName:a${")".repeat(QUERY_LIMITS.maxNesting)}`).ok,
    ).toBe(true);
    expect(
      queryError(`${"(".repeat(QUERY_LIMITS.maxNesting + 1)}thingName:a${")".repeat(QUERY_LIMITS.maxNesting + 1)}`)
        ?.code,
    ).toBe("InvalidQuery");
    expect(queryError(`attributes.k:${"v".repeat(QUERY_LIMITS.maxLength)}`)?.message).toContain("longer than");
  });

  test("redteam-service 08: 25,000 nested NOTs are refused as InvalidQuery in bounded time; a stored one matches nothing", () => {
    const deep = `${"NOT ".repeat(25_000)}attributes.k:v`;
    const started = performance.now();
    expect(queryError(deep)?.code).toBe("InvalidQuery");
    expect(() => parseQuery(deep)).toThrow(ServiceError);
    expect(performance.now() - started).toBeLessThan(500);
    // What an older version stored: it must not throw on evaluation, and matches no thing.
    const stored = storedQuery(deep);
    expect(stored).toBe(MATCHES_NOTHING);
    expect(fleet.filter((t) => matches(stored, t))).toEqual([]);
    expect(storedQuery("thingName:pi-1")).not.toBe(MATCHES_NOTHING);
  });

  test("redteam-service 01: six wildcards against a long value answer in linear time", () => {
    const v = "a".repeat(800); // the longest attribute value AWS allows
    const t: IndexedThing = {
      thingName: "x",
      thingGroupNames: [],
      attributes: { v },
      shadows: new Map([["", { reported: { tag: "prodeu".repeat(1300) } }]]),
    };
    const started = performance.now();
    expect(matches(parseQuery(`attributes.v:${"*a".repeat(6)}*b`), t)).toBe(false);
    expect(matches(parseQuery(`attributes.v:${"*a".repeat(6)}*`), t)).toBe(true);
    expect(matches(parseQuery("shadow.reported.tag:*prod*eu*beta*"), t)).toBe(false);
    expect(performance.now() - started).toBeLessThan(50);
  });
});
