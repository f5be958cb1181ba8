/** The IoT policy evaluator (src/service/identity/policy.ts): table-driven decisions and reasons. */
import { describe, expect, test } from "bun:test";
import { ServiceError } from "../../src/service/errors.ts";
import { decide, type NamedPolicy, type PolicyContext, parsePolicy } from "../../src/service/identity/policy.ts";
import { jobsMinimumPolicy } from "../helpers/iot-identity.ts";

const A = "arn:aws:iot:us-east-1:123456789012";
const named = (name: string, doc: unknown): NamedPolicy => ({ name, policy: parsePolicy(JSON.stringify(doc)) });
const attached: PolicyContext = { clientId: "pi-1", thing: { thingName: "pi-1", attributes: { site: "lab" } } };
const unattached: PolicyContext = { clientId: "pi-1" };
const seed = [named("jobs-min", JSON.parse(jobsMinimumPolicy("us-east-1", "123456789012")))];

describe("the minimum Jobs policy", () => {
  const cases: [
    string,
    "iot:Connect" | "iot:Publish" | "iot:Subscribe" | "iot:Receive",
    string,
    PolicyContext,
    boolean,
  ][] = [
    ["connect as the attached thing", "iot:Connect", `${A}:client/pi-1`, attached, true],
    ["connect when the client id is no attached thing", "iot:Connect", `${A}:client/pi-1`, unattached, false],
    ["connect as another client id", "iot:Connect", `${A}:client/pi-2`, attached, false],
    ["publish start-next", "iot:Publish", `${A}:topic/$aws/things/pi-1/jobs/start-next`, attached, true],
    [
      "publish an update (jobId matched by *)",
      "iot:Publish",
      `${A}:topic/$aws/things/pi-1/jobs/job-7/update`,
      attached,
      true,
    ],
    [
      "publish another thing's start-next",
      "iot:Publish",
      `${A}:topic/$aws/things/pi-2/jobs/start-next`,
      attached,
      false,
    ],
    ["publish a get the policy does not list", "iot:Publish", `${A}:topic/$aws/things/pi-1/jobs/get`, attached, false],
    ["publish a shadow update", "iot:Publish", `${A}:topic/$aws/things/pi-1/shadow/update`, attached, false],
    [
      "subscribe +/update/accepted (the + is literal, matched by *)",
      "iot:Subscribe",
      `${A}:topicfilter/$aws/things/pi-1/jobs/+/update/accepted`,
      attached,
      true,
    ],
    ["subscribe notify-next", "iot:Subscribe", `${A}:topicfilter/$aws/things/pi-1/jobs/notify-next`, attached, true],
    [
      "subscribe notify (not listed)",
      "iot:Subscribe",
      `${A}:topicfilter/$aws/things/pi-1/jobs/notify`,
      attached,
      false,
    ],
    ["subscribe # on its own prefix", "iot:Subscribe", `${A}:topicfilter/$aws/things/pi-1/#`, attached, false],
    ["receive an update reply", "iot:Receive", `${A}:topic/$aws/things/pi-1/jobs/j1/update/accepted`, attached, true],
    [
      "receive another thing's notify-next",
      "iot:Receive",
      `${A}:topic/$aws/things/pi-2/jobs/notify-next`,
      attached,
      false,
    ],
  ];
  for (const [name, action, resource, ctx, allowed] of cases) {
    test(`${allowed ? "allows" : "denies"}: ${name}`, () => {
      expect(decide(seed, action, resource, ctx).allowed).toBe(allowed);
    });
  }
});

describe("rules", () => {
  const allowAll = named("all", {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "iot:*", Resource: "*" }],
  });
  const denyShadow = named("no-shadow", {
    Version: "2012-10-17",
    Statement: [
      { Sid: "NoShadow", Effect: "Deny", Action: ["iot:Publish"], Resource: `${A}:topic/$aws/things/*/shadow/*` },
    ],
  });

  test("an explicit Deny wins over any Allow, and names its statement", () => {
    const d = decide([allowAll, denyShadow], "iot:Publish", `${A}:topic/$aws/things/pi-1/shadow/update`, attached);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("explicit Deny: policy no-shadow statement 0 (NoShadow)");
    expect(decide([allowAll, denyShadow], "iot:Publish", `${A}:topic/a/b`, attached).allowed).toBe(true);
  });

  test("no policy, no Allow: denied, and the reason says so", () => {
    expect(decide([], "iot:Connect", `${A}:client/x`, unattached).reason).toBe(
      "no policy is attached to the certificate",
    );
    const d = decide([denyShadow], "iot:Connect", `${A}:client/x`, unattached);
    expect(d.reason).toBe("no statement of no-shadow is for iot:Connect");
  });

  test("? matches exactly one character; * any run including slashes", () => {
    const p = named("q", {
      Statement: [{ Effect: "Allow", Action: "iot:Publish", Resource: [`${A}:topic/dev/??/x`, `${A}:topic/logs/*`] }],
    });
    expect(decide([p], "iot:Publish", `${A}:topic/dev/ab/x`, attached).allowed).toBe(true);
    expect(decide([p], "iot:Publish", `${A}:topic/dev/abc/x`, attached).allowed).toBe(false);
    expect(decide([p], "iot:Publish", `${A}:topic/logs/a/b/c`, attached).allowed).toBe(true);
  });

  test("MQTT wildcards in a resource are literal characters", () => {
    const p = named("m", {
      Statement: [{ Effect: "Allow", Action: "iot:Subscribe", Resource: `${A}:topicfilter/t/+/x` }],
    });
    expect(decide([p], "iot:Subscribe", `${A}:topicfilter/t/+/x`, attached).allowed).toBe(true);
    expect(decide([p], "iot:Subscribe", `${A}:topicfilter/t/a/x`, attached).allowed).toBe(false);
  });

  test("variables: ClientId, thing attributes, type; unresolved ones match nothing and are named", () => {
    const p = named("v", {
      Statement: [
        { Effect: "Allow", Action: "iot:Publish", Resource: `${A}:topic/c/\${iot:ClientId}` },
        {
          Effect: "Allow",
          Action: "iot:Publish",
          Resource: `${A}:topic/site/\${iot:Connection.Thing.Attributes[site]}/*`,
        },
        { Effect: "Allow", Action: "iot:Publish", Resource: `${A}:topic/type/\${iot:Connection.Thing.ThingTypeName}` },
      ],
    });
    expect(decide([p], "iot:Publish", `${A}:topic/c/pi-1`, unattached).allowed).toBe(true);
    expect(decide([p], "iot:Publish", `${A}:topic/site/lab/t`, attached).allowed).toBe(true);
    expect(decide([p], "iot:Publish", `${A}:topic/site/other/t`, attached).allowed).toBe(false);
    const d = decide([p], "iot:Publish", `${A}:topic/type/sensor`, attached);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("${iot:Connection.Thing.ThingTypeName} is unresolved");
  });

  test("escapes ${*} ${?} ${$} are literal characters", () => {
    const p = named("e", { Statement: [{ Effect: "Allow", Action: "iot:Publish", Resource: `${A}:topic/a\${*}b` }] });
    expect(decide([p], "iot:Publish", `${A}:topic/a*b`, attached).allowed).toBe(true);
    expect(decide([p], "iot:Publish", `${A}:topic/axb`, attached).allowed).toBe(false);
  });

  test("Condition: Bool on IsAttached, StringLike on ClientId", () => {
    const p = named("c", {
      Statement: [
        {
          Effect: "Allow",
          Action: "iot:Connect",
          Resource: "*",
          Condition: { Bool: { "iot:Connection.Thing.IsAttached": "true" }, StringLike: { "iot:ClientId": "pi-*" } },
        },
      ],
    });
    expect(decide([p], "iot:Connect", `${A}:client/pi-1`, attached).allowed).toBe(true);
    expect(decide([p], "iot:Connect", `${A}:client/pi-1`, unattached).allowed).toBe(false);
    expect(decide([p], "iot:Connect", `${A}:client/x`, { ...attached, clientId: "x" }).allowed).toBe(false);
  });

  test("the seed's typo (no iot segment in the Connect ARN) is named in one reason", () => {
    const typo = JSON.parse(jobsMinimumPolicy("us-east-1", "123456789012"));
    typo.Statement[0].Resource = "arn:aws:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}";
    const d = decide([named("typo", typo)], "iot:Connect", `${A}:client/pi-1`, attached);
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain("policy typo statement 0");
    expect(d.reason).toContain("lacks the iot service segment");
  });

  test("malformed policies are MalformedPolicyException with the reason", () => {
    for (const [doc, text] of [
      ["{", "not valid JSON"],
      [
        JSON.stringify({ Statement: [{ Effect: "Maybe", Action: "iot:*", Resource: "*" }] }),
        "Effect must be Allow or Deny",
      ],
      [JSON.stringify({ Statement: [{ Effect: "Allow", Action: [], Resource: "*" }] }), "Action must be"],
      [JSON.stringify({ Statement: [{ Effect: "Allow", Action: "iot:*", NotResource: "*" }] }), "NotResource"],
      [
        JSON.stringify({
          Statement: [{ Effect: "Allow", Action: "iot:*", Resource: "*", Condition: { IpAddress: {} } }],
        }),
        "IpAddress",
      ],
    ] as const) {
      let error: unknown;
      try {
        parsePolicy(doc);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ServiceError);
      expect((error as ServiceError).code).toBe("MalformedPolicy");
      expect((error as ServiceError).message).toContain(text);
    }
  });
});
