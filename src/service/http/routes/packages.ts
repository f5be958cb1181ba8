/** The software package catalog (iot): packages, versions, and the package configuration. */
import { type PackageCatalog, packageArn, versionArn } from "../../catalog/packages.ts";
import { ServiceError } from "../../errors.ts";
import type { PackageVersionStatus } from "../../model.ts";
import type { Input, Operation, Operations } from "../router.ts";
import { NO_TAGS, page, withToken } from "../shapes.ts";

/**
 * `clientToken` (the SDKs fill it in) makes a retried write answer what the first one answered:
 * the same token with the same input replays the first result; with other input it is a
 * ConflictException. Tokens are remembered in memory for an hour.
 */
class IdempotencyTokens {
  private readonly seen = new Map<string, { input: string; result: unknown; at: number }>();
  constructor(private readonly now: () => number) {}

  run(operation: string, input: Input, fn: () => unknown): unknown {
    if (input.clientToken === undefined) return fn();
    const key = `${operation}\u0000${input.clientToken}`;
    const { clientToken: _, ...rest } = input;
    const signature = JSON.stringify(rest);
    for (const [k, v] of this.seen) if (this.now() - v.at > 3_600_000) this.seen.delete(k);
    const earlier = this.seen.get(key);
    if (earlier) {
      if (earlier.input !== signature)
        throw new ServiceError(
          "Conflict",
          `clientToken ${input.clientToken} was used with a different ${operation} request`,
        );
      return earlier.result;
    }
    const result = fn();
    this.seen.set(key, { input: signature, result, at: this.now() });
    return result;
  }
}

export function packageRoutes(catalog: PackageCatalog, now: () => number): Operations {
  const tokens = new IdempotencyTokens(now);
  const idempotent = (name: string, op: Operation): Operation => ({
    ...op,
    handle: (input) => tokens.run(name, input, () => op.handle(input)),
  });
  const versionOut = (packageName: string, versionName: string) => {
    const v = catalog.getVersion(packageName, versionName);
    return {
      packageVersionArn: versionArn(v.packageName, v.versionName),
      packageName: v.packageName,
      versionName: v.versionName,
      ...(v.description !== undefined ? { description: v.description } : {}),
      attributes: v.attributes,
      status: v.status,
    };
  };
  const ops: Record<string, Operation> = {
    CreatePackage: {
      honours: ["packageName", "description", "clientToken"],
      refuses: { tags: NO_TAGS },
      handle: (input) => {
        const p = catalog.createPackage(input.packageName, input.description);
        return {
          packageName: p.packageName,
          packageArn: packageArn(p.packageName),
          ...(p.description !== undefined ? { description: p.description } : {}),
        };
      },
    },
    GetPackage: {
      honours: ["packageName"],
      handle: (input) => {
        const p = catalog.getPackage(input.packageName);
        return {
          packageName: p.packageName,
          packageArn: packageArn(p.packageName),
          ...(p.description !== undefined ? { description: p.description } : {}),
          ...(p.defaultVersionName ? { defaultVersionName: p.defaultVersionName } : {}),
          creationDate: p.creationDate,
          lastModifiedDate: p.lastModifiedDate,
        };
      },
    },
    UpdatePackage: {
      honours: ["packageName", "description", "defaultVersionName", "unsetDefaultVersion", "clientToken"],
      handle: (input) =>
        void catalog.updatePackage(input.packageName, {
          description: input.description,
          defaultVersionName: input.defaultVersionName,
          unsetDefaultVersion: input.unsetDefaultVersion === true,
        }),
    },
    DeletePackage: {
      honours: ["packageName", "clientToken"],
      handle: (input) => {
        // AWS: deleting a package that does not exist succeeds (ResourceNotFound is not declared).
        if (catalog.packages().some((p) => p.packageName === input.packageName))
          catalog.deletePackage(input.packageName);
      },
    },
    ListPackages: {
      honours: ["maxResults", "nextToken"],
      handle: (input) => {
        const p = page(catalog.packages(), input.maxResults, input.nextToken, 100);
        return {
          packageSummaries: p.items.map((x) => ({
            packageName: x.packageName,
            ...(x.defaultVersionName ? { defaultVersionName: x.defaultVersionName } : {}),
            creationDate: x.creationDate,
            lastModifiedDate: x.lastModifiedDate,
          })),
          ...withToken(p.nextToken),
        };
      },
    },
    CreatePackageVersion: {
      honours: ["packageName", "versionName", "description", "attributes", "artifact", "recipe", "clientToken"],
      refuses: { tags: NO_TAGS },
      handle: (input) => {
        catalog.createVersion(input.packageName, input.versionName, {
          description: input.description,
          attributes: input.attributes,
          recipe: input.recipe,
          artifact: input.artifact,
        });
        return versionOut(input.packageName, input.versionName);
      },
    },
    GetPackageVersion: {
      honours: ["packageName", "versionName"],
      handle: (input) => {
        const v = catalog.getVersion(input.packageName, input.versionName);
        return {
          ...versionOut(v.packageName, v.versionName),
          ...(v.artifact ? { artifact: v.artifact } : {}),
          ...(v.recipe !== undefined ? { recipe: v.recipe } : {}),
          creationDate: v.creationDate,
          lastModifiedDate: v.lastModifiedDate,
        };
      },
    },
    UpdatePackageVersion: {
      honours: [
        "packageName",
        "versionName",
        "description",
        "attributes",
        "artifact",
        "action",
        "recipe",
        "clientToken",
      ],
      handle: (input) =>
        void catalog.updateVersion(input.packageName, input.versionName, {
          description: input.description,
          attributes: input.attributes,
          action: input.action,
          recipe: input.recipe,
          artifact: input.artifact,
        }),
    },
    DeletePackageVersion: {
      honours: ["packageName", "versionName", "clientToken"],
      handle: (input) => {
        if (catalog.findVersion(input.packageName, input.versionName))
          catalog.deleteVersion(input.packageName, input.versionName);
      },
    },
    ListPackageVersions: {
      honours: ["packageName", "status", "maxResults", "nextToken"],
      handle: (input) => {
        if (!catalog.packages().some((p) => p.packageName === input.packageName))
          throw new ServiceError("InvalidRequest", `Package ${input.packageName} does not exist`);
        const p = page(
          catalog.versions(input.packageName, input.status as PackageVersionStatus | undefined),
          input.maxResults,
          input.nextToken,
          100,
        );
        return {
          packageVersionSummaries: p.items.map((v) => ({
            packageName: v.packageName,
            versionName: v.versionName,
            status: v.status,
            creationDate: v.creationDate,
            lastModifiedDate: v.lastModifiedDate,
          })),
          ...withToken(p.nextToken),
        };
      },
    },
    GetPackageConfiguration: { honours: [], handle: () => catalog.configuration() },
    UpdatePackageConfiguration: {
      honours: ["versionUpdateByJobsConfig", "clientToken"],
      handle: (input) =>
        void catalog.updateConfiguration({
          enabled: input.versionUpdateByJobsConfig?.enabled,
          roleArn: input.versionUpdateByJobsConfig?.roleArn,
        }),
    },
  };
  for (const name of Object.keys(ops))
    if (ops[name]!.honours.includes("clientToken")) ops[name] = idempotent(name, ops[name]!);
  return ops;
}
