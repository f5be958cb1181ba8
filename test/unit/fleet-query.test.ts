import { describe, expect, test } from "bun:test";
import { AwsError } from "../../src/service/aws-error.ts";
import { type IndexedThing, matches, parseQuery } from "../../src/service/fleet/query.ts";

const thing = (name: string, attributes: Record<string, string>, pkgs: Record<string, { version: string; attributes?: Record<string, string> }> = {}, groups: string[] = []): IndexedThing => ({
  thingName: name,
  thingGroupNames: groups,
  attributes,
  shadows: new Map([
    ["$package", { reported: pkgs }],
    ["", { reported: { temp: 21 } }],
  ]),
});
const fleet = [
  thing("pi-1", { site: "lab", rack: "12" }, { "telemetry-agent": { version: "1.0.0", attributes: { packageID: "1600" } } }, ["canary"]),
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
        return x as AwsError;
      }
    })();
    expect(e?.type).toBe("InvalidQueryException");
  });

  test("malformed queries are InvalidQueryException with a reason", () => {
    for (const q of ["", "(thingName:a", "thingName:a)", "thingName", "AND thingName:a", "thingName:", 'thingName:"open', "attributes.x>abc", "a..b:c", "x\\"]) {
      let error: unknown;
      try {
        parseQuery(q);
      } catch (x) {
        error = x;
      }
      expect(error instanceof AwsError && error.type === "InvalidQueryException").toBe(true);
    }
  });
});
