/**
 * CreateJob's package checks and substitution parameters:
 *   ${aws:iot:package:<p>:version:<v>:attributes:<key>}   one attribute (inside a JSON string)
 *   ${aws:iot:package:<p>:version:<v>:attributes}         all attributes (a whole JSON value)
 *   ${aws:iot:package::version::attributes[:<key>]}       the single destinationPackageVersions entry
 *   <v> = $default                                         the package's default version
 * with the error messages the Software Package Catalog documents, the document's references
 * checked against destinationPackageVersions, and DRAFT versions refused. Pure over a lookup.
 */
import { ATTRIBUTE_KEY_PATTERN, PACKAGE_VERSION_ARN_PATTERN as ARN } from "../../protocol/ids.ts";
import { ServiceError } from "../errors.ts";
import type { PackageVersion } from "../model.ts";
import { presignedPlaceholder } from "../s3/presigned-placeholders.ts";

export interface CatalogLookup {
  version(packageName: string, versionName: string): PackageVersion | undefined;
  defaultVersion(packageName: string): string | undefined;
  packageExists(packageName: string): boolean;
}

export interface Destination {
  readonly packageName: string;
  /** As written: a version name, `$default` or `$null`. */
  readonly versionName: string;
  /** `$default` resolved; undefined for `$null`. */
  readonly resolvedVersion: string | undefined;
}

export interface Substituted {
  readonly document: string;
  readonly destinations: Destination[];
  /** destinationPackageVersions with `$default` resolved (what DescribeJob shows). */
  readonly resolvedArns: string[];
}

const invalid = (message: string) => new ServiceError("InvalidRequest", message);
const MAX_DESTINATIONS = 25;
const PREFIX = "${aws:";
const PACKAGE_REF = new RegExp(
  `^aws:iot:package:([^:]*):version:([^:]*):(attributes(?::(${ATTRIBUTE_KEY_PATTERN.source.slice(1, -1)}))?` +
    "|artifact-location:s3-presigned-url)$",
);

export const MESSAGES = {
  emptyPairAmbiguous:
    "Cannot resolve empty package name and version name given multiple elements in destination package versions.",
  emptyPairMismatch: "Empty package name and version name have to be used in pair.",
  nullReferenced: "$null is not allowed to be referenced as a package version in job documents.",
  allAttributesAlone:
    "The package version attribute placeholder for all attributes has to be a json value by itself and not appended with other strings or nested with other placeholders.",
  notTerminated: "One or more parameters or placeholders are not terminated.",
  secondLayer: (inner: string) => `\${aws:${inner}[...]} should not be the second layer pattern.`,
  noArtifact: (p: string, v: string) =>
    `Package ${p} version ${v} does not have an associated artifact to generate an S3 presigned url.`,
  presignedRole: (p: string, v: string) =>
    `presignedUrlConfig role ARN is required to generate an S3 presigned url in job document for package ${p} version ${v} artifact.`,
} as const;

export function parseDestinations(arns: readonly string[], lookup: CatalogLookup): Destination[] {
  if (arns.length > MAX_DESTINATIONS)
    throw invalid(`destinationPackageVersions holds ${arns.length} entries; at most ${MAX_DESTINATIONS} are allowed`);
  const seen = new Set<string>();
  return arns.map((a) => {
    const m = ARN.exec(a);
    if (!m)
      throw invalid(
        `${JSON.stringify(a)} is not a package version ARN (arn:aws:iot:<region>:<account>:package/<name>/version/<version>)`,
      );
    const [, packageName, versionName] = m as unknown as [string, string, string];
    if (seen.has(packageName)) throw invalid(`destinationPackageVersions names package ${packageName} more than once`);
    seen.add(packageName);
    if (!lookup.packageExists(packageName))
      throw invalid(`Package ${packageName} in destinationPackageVersions does not exist`);
    if (versionName === "$null") return { packageName, versionName, resolvedVersion: undefined };
    const resolved = versionName === "$default" ? lookup.defaultVersion(packageName) : versionName;
    if (!resolved) throw invalid(`Package ${packageName} has no default version to resolve $default`);
    const version = lookup.version(packageName, resolved);
    if (!version)
      throw invalid(`Package ${packageName} version ${resolved} in destinationPackageVersions does not exist`);
    if (version.status === "DRAFT")
      throw invalid(
        `Package ${packageName} version ${resolved} is DRAFT; only PUBLISHED or DEPRECATED versions can be deployed`,
      );
    return { packageName, versionName, resolvedVersion: resolved };
  });
}

export function substitute(
  document: string,
  destinationArns: readonly string[],
  lookup: CatalogLookup,
  options: { readonly presigned?: boolean } = {},
): Substituted {
  const destinations = parseDestinations(destinationArns, lookup);
  const region = (a: string) => a.slice(0, a.indexOf(":package/"));
  const resolvedArns = destinationArns.map((a, i) => {
    const d = destinations[i]!;
    return d.versionName === "$default" ? `${region(a)}:package/${d.packageName}/version/${d.resolvedVersion}` : a;
  });
  const missing = new Set<string>();
  let out = "";
  let at = 0;
  for (;;) {
    const start = document.indexOf(PREFIX, at);
    if (start === -1) break;
    const close = document.indexOf("}", start);
    const nested = document.indexOf(PREFIX, start + PREFIX.length);
    if (close === -1) throw invalid(MESSAGES.notTerminated);
    if (nested !== -1 && nested < close) {
      const inner = document.slice(nested + PREFIX.length, close);
      if (/^iot:package:[^:]*:version:[^:]*:artifact-location:s3-presigned-url$/.test(inner))
        throw invalid(
          "${aws:iot:package:[...]:artifact:s3-presigned-url} cannot be nested inside another placeholder.",
        );
      throw invalid(MESSAGES.secondLayer(inner.split(":").slice(0, 2).join(":")));
    }
    const body = document.slice(start + 2, close);
    // A placeholder cannot span a JSON string's end: the `}` found belongs to the document.
    if (body.includes('"')) throw invalid(MESSAGES.notTerminated);
    const ref = PACKAGE_REF.exec(body);
    if (!ref) {
      // Some other ${aws:...} parameter: not ours to resolve; left as written.
      out += document.slice(at, close + 1);
      at = close + 1;
      continue;
    }
    let [, p, v] = ref as unknown as [string, string, string, string, string | undefined];
    const what = ref[3]!;
    const key = ref[4];
    if ((p === "") !== (v === "")) throw invalid(MESSAGES.emptyPairMismatch);
    if (p === "") {
      if (destinations.length !== 1) throw invalid(MESSAGES.emptyPairAmbiguous);
      p = destinations[0]!.packageName;
      v = destinations[0]!.versionName;
    }
    if (v === "$null") throw invalid(MESSAGES.nullReferenced);
    const dest = destinations.find((d) => d.packageName === p && d.versionName === v);
    let versionName = v;
    if (v === "$default") {
      if (!dest)
        throw invalid(
          `The job document uses ${p}:$default; add arn:…:package/${p}/version/$default to destinationPackageVersions`,
        );
      versionName = dest.resolvedVersion!;
    }
    if (!dest) missing.add(`${p}:${v}`);
    const version = lookup.version(p, versionName);

    if (what.startsWith("artifact-location")) {
      const location = (version?.artifact as { s3Location?: { bucket?: string; key?: string } } | undefined)
        ?.s3Location;
      if (!location?.bucket || !location.key) throw invalid(MESSAGES.noArtifact(p, versionName));
      if (!options.presigned) throw invalid(MESSAGES.presignedRole(p, versionName));
      // Signed at each delivery (jobs-engine documentObject), as AWS does.
      out += document.slice(at, start) + presignedPlaceholder({ bucket: location.bucket, key: location.key });
      at = close + 1;
      continue;
    }
    if (!version) {
      if (dest) throw invalid(`Package ${p} version ${versionName} does not exist`);
      out += document.slice(at, close + 1); // reported below as missing from destinationPackageVersions
      at = close + 1;
      continue;
    }
    if (key === undefined) {
      // All attributes: the placeholder must be a whole JSON string, replaced by an object.
      if (document[start - 1] !== '"' || document[close + 1] !== '"') throw invalid(MESSAGES.allAttributesAlone);
      out += document.slice(at, start - 1) + JSON.stringify(version.attributes);
      at = close + 2;
      continue;
    }
    const value = version.attributes[key];
    if (value === undefined) throw invalid(`Package ${p} version ${versionName} has no attribute ${key}`);
    out += document.slice(at, start) + JSON.stringify(value).slice(1, -1); // inside a JSON string
    at = close + 1;
  }
  out += document.slice(at);
  if (missing.size > 0) {
    throw invalid(
      `The job document references package versions not listed in destinationPackageVersions: ${[...missing].join(", ")}. Make both references match`,
    );
  }
  return { document: out, destinations, resolvedArns };
}
