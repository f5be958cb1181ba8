/**
 * The Software Package Catalog: packages, versions (DRAFT → PUBLISHED ⇄ DEPRECATED), attributes
 * editable only in DRAFT (3 KB in all), default versions, delete ordering, and the package
 * configuration that lets Jobs write `$package`.
 */
import { dictOf } from "../dict.ts";
import { ServiceError } from "../errors.ts";
import {
  arn,
  type PackageConfiguration,
  type PackageVersion,
  type PackageVersionStatus,
  type SoftwarePackage,
} from "../model.ts";
import { type Store, versionKey } from "../store.ts";
import {
  ATTRIBUTE_KEY_PATTERN as ATTRIBUTE_KEY,
  ATTRIBUTE_KEY_RULE,
  PACKAGE_NAME_PATTERN as PACKAGE_NAME,
  PACKAGE_NAME_RULE,
  VERSION_NAME_PATTERN as VERSION_NAME,
  VERSION_NAME_RULE,
} from "../../protocol/ids.ts";

const NO_CONTROL = /^[^\p{C}]+$/u;
export const MAX_ATTRIBUTES_BYTES = 3072;
const CONFIG_KEY = "package-configuration";

const validation = (message: string) => new ServiceError("Validation", message);
const conflict = (message: string) => new ServiceError("Conflict", message);
const notFound = (message: string) => new ServiceError("ResourceNotFound", message);

export const packageArn = (p: string) => arn(`package/${p}`);
export const versionArn = (p: string, v: string) => arn(`package/${p}/version/${v}`);

export class PackageCatalog {
  constructor(
    private readonly store: Store,
    private readonly now: () => number,
  ) {}

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  createPackage(packageName: string, description?: string): SoftwarePackage {
    if (!PACKAGE_NAME.test(packageName))
      throw validation(`Package name ${JSON.stringify(packageName)} must be ${PACKAGE_NAME_RULE}`);
    checkDescription(description);
    if (this.store.get("package", packageName)) throw conflict(`Package ${packageName} already exists`);
    const now = this.seconds();
    const pkg: SoftwarePackage = {
      packageName,
      creationDate: now,
      lastModifiedDate: now,
      ...(description !== undefined ? { description } : {}),
    };
    this.store.put("package", packageName, pkg);
    return pkg;
  }

  getPackage(packageName: string): SoftwarePackage {
    const p = this.store.get("package", packageName);
    if (!p) throw notFound(`Package ${packageName} not found`);
    return p;
  }

  /** Every field is checked before anything changes; the package is then replaced whole. */
  updatePackage(
    packageName: string,
    update: { description?: string; defaultVersionName?: string; unsetDefaultVersion?: boolean },
  ): void {
    const p = this.getPackage(packageName);
    if (update.defaultVersionName !== undefined && update.unsetDefaultVersion)
      throw validation("Give defaultVersionName or unsetDefaultVersion, not both");
    checkDescription(update.description);
    if (update.defaultVersionName !== undefined) {
      const v = this.getVersion(packageName, update.defaultVersionName);
      if (v.status === "DRAFT")
        throw conflict(
          `Version ${update.defaultVersionName} of package ${packageName} is DRAFT; publish it before naming it the default version`,
        );
    }
    const next: { -readonly [K in keyof SoftwarePackage]: SoftwarePackage[K] } = {
      ...p,
      lastModifiedDate: this.seconds(),
    };
    if (update.description !== undefined) next.description = update.description;
    if (update.defaultVersionName !== undefined) next.defaultVersionName = update.defaultVersionName;
    if (update.unsetDefaultVersion) delete next.defaultVersionName;
    this.store.put("package", packageName, next);
  }

  deletePackage(packageName: string): void {
    if (!this.store.get("package", packageName)) return; // deleting a missing package succeeds
    if (this.versions(packageName).length > 0)
      throw conflict(`Package ${packageName} still has versions; delete them first`);
    this.store.delete("package", packageName);
  }

  /** Whether the artifact store holds an object (set by the service: the S3 subset). */
  private artifactExists: ((bucket: string, key: string) => boolean) | undefined;

  setArtifactStore(exists: (bucket: string, key: string) => boolean): void {
    this.artifactExists = exists;
  }

  /** A version's artifact must name an object that exists, so a typo fails here, not on every device. */
  private checkArtifact(artifact: unknown): void {
    if (artifact === undefined || !this.artifactExists) return;
    const l = (artifact as { s3Location?: { bucket?: string; key?: string } }).s3Location;
    if (!l?.bucket || !l.key) throw validation("artifact.s3Location needs a bucket and a key");
    if (!this.artifactExists(l.bucket, l.key))
      throw validation(`The artifact s3://${l.bucket}/${l.key} does not exist (upload it with the S3 API first)`);
  }

  packages(): SoftwarePackage[] {
    return [...this.store.all("package")].sort((a, b) => a.packageName.localeCompare(b.packageName));
  }

  createVersion(
    packageName: string,
    versionName: string,
    fields: {
      description?: string;
      attributes?: Record<string, string>;
      recipe?: string;
      artifact?: unknown;
    },
  ): PackageVersion {
    this.getPackage(packageName);
    if (!VERSION_NAME.test(versionName))
      throw validation(`Version name ${JSON.stringify(versionName)} must be ${VERSION_NAME_RULE}`);
    checkDescription(fields.description);
    checkAttributes(fields.attributes ?? {});
    if (fields.recipe !== undefined && fields.recipe.length > 3072)
      throw validation("recipe must be at most 3072 characters");
    this.checkArtifact(fields.artifact);
    if (this.store.get("version", versionKey(packageName, versionName)))
      throw conflict(`Version ${versionName} of package ${packageName} already exists`);
    const now = this.seconds();
    const v: PackageVersion = {
      packageName,
      versionName,
      attributes: dictOf(fields.attributes),
      status: "DRAFT",
      creationDate: now,
      lastModifiedDate: now,
      ...(fields.description !== undefined ? { description: fields.description } : {}),
      ...(fields.recipe !== undefined ? { recipe: fields.recipe } : {}),
      ...(fields.artifact !== undefined ? { artifact: fields.artifact } : {}),
    };
    this.store.put("version", versionKey(packageName, versionName), v);
    return v;
  }

  getVersion(packageName: string, versionName: string): PackageVersion {
    const v = this.store.get("version", versionKey(packageName, versionName));
    if (!v) throw notFound(`Version ${versionName} of package ${packageName} not found`);
    return v;
  }

  findVersion(packageName: string, versionName: string): PackageVersion | undefined {
    return this.store.get("version", versionKey(packageName, versionName));
  }

  updateVersion(
    packageName: string,
    versionName: string,
    update: {
      description?: string;
      attributes?: Record<string, string>;
      action?: string;
      recipe?: string;
      artifact?: unknown;
    },
  ): void {
    const v = this.getVersion(packageName, versionName);
    this.checkArtifact(update.artifact);
    if (update.attributes !== undefined || update.artifact !== undefined) {
      if (v.status !== "DRAFT")
        throw conflict(
          `Attributes and artifact of version ${versionName} can only be updated while it is DRAFT; it is ${v.status}. Create a new version instead`,
        );
    }
    // Validate every field first; the version is then replaced whole (a refusal changes nothing).
    checkDescription(update.description);
    if (update.recipe !== undefined && update.recipe.length > 3072)
      throw validation("recipe must be at most 3072 characters");
    let attributes = v.attributes;
    if (update.attributes !== undefined) {
      // Given attributes are merged in; an empty value removes a key.
      const merged = dictOf(v.attributes);
      for (const [k, value] of Object.entries(update.attributes))
        if (value === "") delete merged[k];
        else merged[k] = value;
      checkAttributes(merged);
      attributes = merged;
    }
    const status = update.action !== undefined ? nextStatus(v.status, update.action, versionName) : v.status;
    const next: { -readonly [K in keyof PackageVersion]: PackageVersion[K] } = {
      ...v,
      attributes,
      status,
      lastModifiedDate: this.seconds(),
    };
    if (update.description !== undefined) next.description = update.description;
    if (update.artifact !== undefined) next.artifact = update.artifact;
    if (update.recipe !== undefined) next.recipe = update.recipe;
    this.store.put("version", versionKey(packageName, versionName), next);
  }

  deleteVersion(packageName: string, versionName: string): void {
    const v = this.findVersion(packageName, versionName);
    if (!v) return;
    if (this.store.get("package", packageName)?.defaultVersionName === versionName)
      throw conflict(`Version ${versionName} is the default version of package ${packageName}; unset it first`);
    this.store.delete("version", versionKey(packageName, versionName));
  }

  versions(packageName: string, status?: PackageVersionStatus): PackageVersion[] {
    return [...this.store.all("version")]
      .filter((v) => v.packageName === packageName && (!status || v.status === status))
      .sort((a, b) => a.versionName.localeCompare(b.versionName));
  }

  configuration(): PackageConfiguration {
    return (
      (this.store.get("setting", CONFIG_KEY) as PackageConfiguration | undefined) ?? {
        versionUpdateByJobsConfig: { enabled: false },
      }
    );
  }

  updateConfiguration(config: { enabled?: boolean; roleArn?: string }): void {
    const current = this.configuration();
    const next: PackageConfiguration = {
      versionUpdateByJobsConfig: {
        ...current.versionUpdateByJobsConfig,
        ...(config.enabled !== undefined ? { enabled: config.enabled } : {}),
        ...(config.roleArn !== undefined ? { roleArn: config.roleArn } : {}),
      },
    };
    if (next.versionUpdateByJobsConfig.enabled && !next.versionUpdateByJobsConfig.roleArn)
      throw validation("versionUpdateByJobsConfig.roleArn is required to enable it");
    this.store.put("setting", CONFIG_KEY, next);
  }
}

function nextStatus(from: PackageVersionStatus, action: string, versionName: string): PackageVersionStatus {
  if (action === "PUBLISH" && (from === "DRAFT" || from === "DEPRECATED" || from === "PUBLISHED")) return "PUBLISHED";
  if (action === "DEPRECATE" && (from === "PUBLISHED" || from === "DEPRECATED")) return "DEPRECATED";
  if (action !== "PUBLISH" && action !== "DEPRECATE")
    throw validation(`action must be PUBLISH or DEPRECATE, not ${JSON.stringify(action)}`);
  throw conflict(
    `Version ${versionName} is ${from}; it cannot be ${action === "DEPRECATE" ? "deprecated" : "published"} from that state`,
  );
}

function checkDescription(description: string | undefined): void {
  if (description === undefined || description === "") return;
  if (description.length > 1024 || !NO_CONTROL.test(description))
    throw validation("description must be at most 1024 characters without control characters");
}

function checkAttributes(attributes: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(attributes)) {
    if (!ATTRIBUTE_KEY.test(k)) throw validation(`Attribute key ${JSON.stringify(k)} must match ${ATTRIBUTE_KEY_RULE}`);
    if (typeof v !== "string" || !NO_CONTROL.test(v))
      throw validation(`Attribute ${k} must be a non-empty string without control characters`);
  }
  const bytes = new TextEncoder().encode(
    Object.entries(attributes)
      .map(([k, v]) => k + v)
      .join(""),
  ).length;
  if (bytes > MAX_ATTRIBUTES_BYTES)
    throw validation(
      `Attributes total ${bytes} bytes; at most ${MAX_ATTRIBUTES_BYTES} are allowed per package version`,
    );
}
