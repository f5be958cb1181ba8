import { describe, expect, test } from "bun:test";
import { ServiceError } from "../../src/service/errors.ts";
import { type CatalogLookup, MESSAGES, substitute } from "../../src/service/catalog/substitution.ts";
import type { PackageVersion, PackageVersionStatus } from "../../src/service/model.ts";

const version = (
  packageName: string,
  versionName: string,
  status: PackageVersionStatus,
  attributes: Record<string, string>,
  artifact?: unknown,
): PackageVersion => ({
  packageName,
  versionName,
  status,
  attributes,
  creationDate: 0,
  lastModifiedDate: 0,
  ...(artifact ? { artifact } : {}),
});
const versions = [
  version("agent", "1.2.0", "PUBLISHED", { url: 'https://example.test/a?x=1&y="q"', sha256: "abc" }),
  version("agent", "1.1.0", "DEPRECATED", { url: "old" }),
  version("agent", "2.0.0", "DRAFT", { url: "draft" }),
  version("fw", "7", "PUBLISHED", { image: "fw.bin" }, { s3Location: { bucket: "b", key: "k" } }),
];
const lookup: CatalogLookup = {
  version: (p, v) => versions.find((x) => x.packageName === p && x.versionName === v),
  defaultVersion: (p) => (p === "agent" ? "1.2.0" : undefined),
  packageExists: (p) => p === "agent" || p === "fw",
};
const arn = (p: string, v: string) => `arn:aws:iot:us-east-1:123456789012:package/${p}/version/${v}`;

function error(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceError);
    expect((e as ServiceError).code).toBe("InvalidRequest");
    return (e as ServiceError).message;
  }
  throw new Error("expected an error");
}

describe("substitution forms", () => {
  test("one attribute, JSON-escaped inside the string", () => {
    const out = substitute(
      '{"u":"${aws:iot:package:agent:version:1.2.0:attributes:url}","h":"sha=${aws:iot:package:agent:version:1.2.0:attributes:sha256}"}',
      [arn("agent", "1.2.0")],
      lookup,
    );
    expect(JSON.parse(out.document)).toEqual({ u: 'https://example.test/a?x=1&y="q"', h: "sha=abc" });
  });

  test("all attributes become an object", () => {
    const out = substitute(
      '{"a":"${aws:iot:package:agent:version:1.2.0:attributes}"}',
      [arn("agent", "1.2.0")],
      lookup,
    );
    expect(JSON.parse(out.document)).toEqual({ a: { url: 'https://example.test/a?x=1&y="q"', sha256: "abc" } });
  });

  test("the empty pair takes the single destination", () => {
    const out = substitute(
      '{"u":"${aws:iot:package::version::attributes:url}","all":"${aws:iot:package::version::attributes}"}',
      [arn("agent", "1.1.0")],
      lookup,
    );
    expect(JSON.parse(out.document)).toEqual({ u: "old", all: { url: "old" } });
  });

  test("$default resolves to the package's default version, in the document and the ARNs", () => {
    const out = substitute(
      '{"u":"${aws:iot:package:agent:version:$default:attributes:sha256}"}',
      [arn("agent", "$default")],
      lookup,
    );
    expect(JSON.parse(out.document)).toEqual({ u: "abc" });
    expect(out.resolvedArns).toEqual([arn("agent", "1.2.0")]);
  });

  test("other ${aws:...} parameters and plain ${VAR} are left alone; extra destinations are allowed", () => {
    const doc = '{"c":"echo ${HOME}","p":"${aws:iot:s3-presigned-url:https://s3/x}"}';
    expect(substitute(doc, [arn("agent", "1.2.0"), arn("fw", "7")], lookup).document).toBe(doc);
  });

  test("$null in destinations means uninstall and needs no version", () => {
    expect(substitute("{}", [arn("agent", "$null")], lookup).destinations[0]).toEqual({
      packageName: "agent",
      versionName: "$null",
      resolvedVersion: undefined,
    });
  });
});

describe("the documented error messages", () => {
  test("each one", () => {
    const two = [arn("agent", "1.2.0"), arn("fw", "7")];
    expect(error(() => substitute('{"u":"${aws:iot:package::version::attributes:url}"}', two, lookup))).toBe(
      MESSAGES.emptyPairAmbiguous,
    );
    expect(error(() => substitute('{"u":"${aws:iot:package:agent:version::attributes:url}"}', two, lookup))).toBe(
      MESSAGES.emptyPairMismatch,
    );
    expect(
      error(() =>
        substitute('{"u":"${aws:iot:package:agent:version:$null:attributes:url}"}', [arn("agent", "$null")], lookup),
      ),
    ).toBe(MESSAGES.nullReferenced);
    expect(
      error(() =>
        substitute('{"u":"x${aws:iot:package:agent:version:1.2.0:attributes}"}', [arn("agent", "1.2.0")], lookup),
      ),
    ).toBe(MESSAGES.allAttributesAlone);
    expect(
      error(() =>
        substitute('{"u":"${aws:iot:package:agent:version:1.2.0:attributes:url"}', [arn("agent", "1.2.0")], lookup),
      ),
    ).toBe(MESSAGES.notTerminated);
    expect(
      error(() =>
        substitute('{"u":"${aws:iot:package:agent:version:1.2.0:attributes:url', [arn("agent", "1.2.0")], lookup),
      ),
    ).toBe(MESSAGES.notTerminated);
    expect(
      error(() =>
        substitute(
          '{"u":"${aws:iot:package:agent:version:${aws:iot:package:fw:version:7:attributes:image}:attributes:url}"}',
          two,
          lookup,
        ),
      ),
    ).toBe("${aws:iot:package[...]} should not be the second layer pattern.");
    expect(
      error(() =>
        substitute(
          '{"u":"${aws:iot:package:agent:version:1.2.0:artifact-location:s3-presigned-url}"}',
          [arn("agent", "1.2.0")],
          lookup,
        ),
      ),
    ).toBe(MESSAGES.noArtifact("agent", "1.2.0"));
    expect(
      error(() =>
        substitute(
          '{"u":"${aws:iot:package:fw:version:7:artifact-location:s3-presigned-url}"}',
          [arn("fw", "7")],
          lookup,
        ),
      ),
    ).toBe(MESSAGES.presignedRole("fw", "7"));
  });

  test("references must match destinationPackageVersions, naming what is missing", () => {
    const msg = error(() =>
      substitute(
        '{"u":"${aws:iot:package:agent:version:1.2.0:attributes:url}","f":"${aws:iot:package:fw:version:7:attributes:image}"}',
        [arn("agent", "1.2.0")],
        lookup,
      ),
    );
    expect(msg).toContain("fw:7");
    expect(msg).not.toContain("agent:1.2.0");
  });

  test("DRAFT, missing versions, unknown attributes, bad ARNs, too many and duplicate entries", () => {
    expect(error(() => substitute("{}", [arn("agent", "2.0.0")], lookup))).toContain("DRAFT");
    expect(error(() => substitute("{}", [arn("agent", "9.9")], lookup))).toContain("does not exist");
    expect(error(() => substitute("{}", [arn("nope", "1")], lookup))).toContain("does not exist");
    expect(error(() => substitute("{}", [arn("fw", "$default")], lookup))).toContain("no default version");
    expect(
      error(() =>
        substitute('{"u":"${aws:iot:package:agent:version:1.2.0:attributes:nope}"}', [arn("agent", "1.2.0")], lookup),
      ),
    ).toContain("no attribute nope");
    expect(error(() => substitute("{}", ["arn:aws:iot:us-east-1:123456789012:thing/x"], lookup))).toContain(
      "not a package version ARN",
    );
    expect(
      error(() =>
        substitute(
          "{}",
          Array.from({ length: 26 }, () => arn("agent", "1.2.0")),
          lookup,
        ),
      ),
    ).toContain("at most 25");
    expect(error(() => substitute("{}", [arn("agent", "1.2.0"), arn("agent", "1.1.0")], lookup))).toContain(
      "more than once",
    );
    expect(
      error(() =>
        substitute('{"u":"${aws:iot:package:agent:version:$default:attributes:url}"}', [arn("agent", "1.2.0")], lookup),
      ),
    ).toContain("$default");
  });
});
