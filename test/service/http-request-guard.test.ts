/** The HTTP front's pure rules: Host and write checks, the SigV4 scope, model validation, error codes. */
import { describe, expect, test } from "bun:test";
import { httpError, SERVICE_ERROR_CODES, ServiceError } from "../../src/service/errors.ts";
import { fromText, MODEL, validate } from "../../src/service/http/api-model.ts";
import { errorResponse } from "../../src/service/http/router.ts";
import { checkHost, checkWrite, signingName } from "../../src/service/http/request-guard.ts";

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof ServiceError ? e.code : `not a ServiceError: ${e}`;
  }
};

describe("Host", () => {
  test("IP literals, localhost and names under it are served; other names only when given", () => {
    for (const host of [
      "127.0.0.1:8080",
      "10.1.2.3",
      "[::1]:8080",
      "[fe80::1]",
      "localhost",
      "LOCALHOST:1",
      "svc.localhost:80",
    ]) {
      expect([host, code(() => checkHost(host, []))]).toEqual([host, undefined]);
    }
    for (const host of ["rebind.attacker.test:8080", "gateway.lan", "localhost.attacker.test", "127.0.0.1.nip.io"]) {
      expect([host, code(() => checkHost(host, []))]).toEqual([host, "InvalidRequest"]);
    }
    expect(code(() => checkHost("Gateway.LAN:8080", ["gateway.lan"]))).toBeUndefined();
  });

  test("missing and malformed Host headers are InvalidRequest", () => {
    for (const host of [null, "", "a b", "host:port", "[::1", "x:123456", "a/b"]) {
      expect([host, code(() => checkHost(host, []))]).toEqual([host, "InvalidRequest"]);
    }
  });
});

describe("writes a browser could send", () => {
  const headers = (h: Record<string, string>) => new Headers(h);
  test("another Origin is Unauthorized; the service's own is fine; reads are not checked", () => {
    expect(code(() => checkWrite("POST", headers({ origin: "http://attacker.test" }), "127.0.0.1:8080"))).toBe(
      "Unauthorized",
    );
    expect(code(() => checkWrite("DELETE", headers({ origin: "http://127.0.0.1:3000" }), "127.0.0.1:8080"))).toBe(
      "Unauthorized",
    );
    expect(
      code(() => checkWrite("PUT", headers({ origin: "http://127.0.0.1:8080" }), "127.0.0.1:8080")),
    ).toBeUndefined();
    expect(
      code(() => checkWrite("GET", headers({ origin: "http://attacker.test" }), "127.0.0.1:8080")),
    ).toBeUndefined();
  });

  test("preflight-free content types are refused for writes; JSON, octet-stream and none pass", () => {
    for (const type of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "Multipart/Form-Data; boundary=x",
    ]) {
      expect([type, code(() => checkWrite("POST", headers({ "content-type": type }), "h"))]).toEqual([
        type,
        "InvalidRequest",
      ]);
    }
    for (const type of ["application/json", "application/octet-stream", "application/x-amz-json-1.1"]) {
      expect([type, code(() => checkWrite("POST", headers({ "content-type": type }), "h"))]).toEqual([type, undefined]);
    }
    expect(code(() => checkWrite("POST", headers({}), "h"))).toBeUndefined();
  });
});

test("the SigV4 credential scope names the API (header or presigned query)", () => {
  const auth =
    "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/iot-jobs-data/aws4_request, SignedHeaders=host, Signature=0";
  expect(signingName(new Headers({ authorization: auth }), new URLSearchParams())).toBe("iot-jobs-data");
  expect(
    signingName(
      new Headers(),
      new URLSearchParams({ "X-Amz-Credential": "AKID/20261130/us-east-1/iotdata/aws4_request" }),
    ),
  ).toBe("iotdata");
  expect(signingName(new Headers(), new URLSearchParams())).toBeUndefined();
  expect(signingName(new Headers({ authorization: "Bearer x" }), new URLSearchParams())).toBeUndefined();
});

describe("model validation", () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };

  test("lengths, patterns (Java classes translated), enums, ranges and required members, each named", () => {
    expect(message(() => validate("iot", "CancelJobRequest", { jobId: "j", reasonCode: "lower" }, ""))).toContain(
      "at 'reasonCode'",
    );
    expect(message(() => validate("iot", "CancelJobRequest", { jobId: "j", reasonCode: "UPPER_1" }, ""))).toBe("");
    expect(
      message(() =>
        validate(
          "iot",
          "CreateThingGroupRequest",
          { thingGroupName: "g", thingGroupProperties: { thingGroupDescription: "a\u0000" } },
          "",
        ),
      ),
    ).toContain("at 'thingGroupProperties.thingGroupDescription'");
    expect(message(() => validate("iot", "ListJobsRequest", { status: "RUNNING" }, ""))).toContain("enum value set");
    expect(message(() => validate("iot", "ListThingsRequest", { maxResults: 251 }, ""))).toContain(
      "less than or equal to 250",
    );
    expect(message(() => validate("iot", "CreateJobRequest", { jobId: "j" }, ""))).toContain(
      "at 'targets' failed to satisfy constraint: Member must not be null",
    );
    expect(
      message(() => validate("iot", "CreateJobRequest", { jobId: "j", targets: ["t"], surprise: 1 }, "")),
    ).toContain("surprise is not a member");
  });

  test("path and query text becomes the member's type, or is refused", () => {
    expect(fromText("iot", "RegistryMaxResults", ["5"], "maxResults")).toBe(5);
    expect(message(() => fromText("iot", "RegistryMaxResults", ["5x"], "maxResults"))).toContain(
      "Member must be an integer",
    );
    expect(fromText("iot", "ForceFlag", ["true"], "force")).toBe(true);
    expect(message(() => fromText("iot", "ForceFlag", ["yes"], "force"))).toContain("true or false");
  });
});

describe("error codes", () => {
  test("every operation answers every domain error with a code it declares, at the model's status", () => {
    const undeclared: string[] = [];
    for (const spec of MODEL.operations) {
      for (const code of SERVICE_ERROR_CODES) {
        // Answers about the request itself, undeclared on purpose (docs/LOCAL-SERVICE.md).
        if (code === "NotImplemented" || code === "MethodNotAllowed" || code === "RequestEntityTooLarge") continue;
        const error = httpError(new ServiceError(code, "m"));
        // A few read-only operations declare no client error at all: nothing in the model fits.
        if (
          error.status < 500 &&
          !spec.errors.some((e) => ["InvalidRequestException", "ValidationException"].includes(e))
        )
          continue;
        const response = errorResponse(error, spec);
        const type = response.headers.get("x-amzn-ErrorType")!;
        const status = MODEL.models[spec.service].errors[type];
        if (!spec.errors.includes(type) || status !== response.status)
          undeclared.push(`${spec.service} ${spec.name}: ${code} -> ${type} ${response.status}`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  test("the two a review reached with the CLI: CancelJob of a finished job, DeletePackage with versions", () => {
    const spec = (name: string) => MODEL.operations.find((o) => o.service === "iot" && o.name === name)!;
    const typeOf = (code: "InvalidStateTransition" | "Conflict", op: string) =>
      errorResponse(httpError(new ServiceError(code, "m")), spec(op)).headers.get("x-amzn-ErrorType");
    expect(typeOf("InvalidStateTransition", "CancelJob")).toBe("InvalidRequestException");
    expect(typeOf("Conflict", "DeletePackage")).toBe("ValidationException");
  });
});
