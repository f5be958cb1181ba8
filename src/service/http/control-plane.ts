/**
 * The control-plane HTTP API on AWS IoT's REST paths and JSON shapes (botocore `iot` and
 * `iot-data` models), so `@aws-sdk/client-iot` and `@aws-sdk/client-iot-data-plane` work with only
 * an endpoint override. Each route translates; the rules live in the domain modules.
 */
import { AwsError, invalid, notFound } from "../aws-error.ts";
import { type PackageCatalog, packageArn, versionArn } from "../catalog/packages.ts";
import type { JobControl } from "../jobs/job-control.ts";
import type { JobsEngine } from "../jobs/jobs-engine.ts";
import { arn, type Execution, type Job, type PackageVersionStatus } from "../model.ts";
import type { Fleet } from "../registry/fleet.ts";
import type { ShadowService } from "../shadows/shadows.ts";
import { json, Router } from "./router.ts";

export interface ControlPlaneDeps {
  readonly fleet: Fleet;
  readonly jobs: JobControl;
  readonly engine: JobsEngine;
  readonly catalog: PackageCatalog;
  readonly shadows: ShadowService;
  /** Publishes the MQTT side of an HTTP shadow change (accepted / delta / documents). */
  readonly publishShadow: (thingName: string, shadowName: string, op: "update" | "delete", messages: { suffix: string; payload: object }[]) => void;
}

const str = (v: unknown, field: string, required = false): string | undefined => {
  if (v === undefined || v === null) {
    if (required) throw invalid(`${field} is required`);
    return undefined;
  }
  if (typeof v !== "string") throw invalid(`${field} must be a string`);
  return v;
};
const strMap = (v: unknown, field: string): Record<string, string> | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v) || Object.values(v).some((x) => typeof x !== "string")) throw invalid(`${field} must be a map of strings`);
  return v as Record<string, string>;
};
const obj = (v: unknown, field: string): Record<string, unknown> | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v)) throw invalid(`${field} must be an object`);
  return v as Record<string, unknown>;
};
const bool = (q: URLSearchParams, name: string) => q.get(name) === "true";
const int = (v: unknown, field: string): number | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw invalid(`${field} must be an integer`);
  return v;
};

/** Page of a sorted list: nextToken is the index of the first item of the next page. */
function page<T>(items: T[], q: URLSearchParams, defaultSize = 100): { items: T[]; nextToken?: string } {
  const size = Math.min(250, Math.max(1, Number(q.get("maxResults") ?? defaultSize) || defaultSize));
  const start = Number(q.get("nextToken") ?? "0") || 0;
  const slice = items.slice(start, start + size);
  return start + size < items.length ? { items: slice, nextToken: String(start + size) } : { items: slice };
}

export function controlPlane(d: ControlPlaneDeps): Router {
  const r = new Router();
  const { fleet, jobs, engine, catalog, shadows } = d;

  // ---- things and groups ----------------------------------------------------------------------
  r.add("POST", "/things/{thingName}", ({ params, body }) => {
    const attributes = strMap(obj(body.attributePayload, "attributePayload")?.attributes, "attributePayload.attributes") ?? {};
    const t = fleet.createThing(params.thingName!, attributes, str(body.thingTypeName, "thingTypeName"));
    return { thingName: t.thingName, thingArn: arn(`thing/${t.thingName}`), thingId: t.thingId };
  });
  r.add("GET", "/things/{thingName}", ({ params }) => {
    const t = fleet.thing(params.thingName!);
    return { defaultClientId: t.thingName, thingName: t.thingName, thingId: t.thingId, thingArn: arn(`thing/${t.thingName}`), attributes: t.attributes, version: t.version, ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}) };
  });
  r.add("PATCH", "/things/{thingName}", ({ params, body }) => {
    const payload = obj(body.attributePayload, "attributePayload") ?? {};
    fleet.updateThing(params.thingName!, strMap(payload.attributes, "attributePayload.attributes") ?? {}, payload.merge === true, int(body.expectedVersion, "expectedVersion"));
  });
  r.add("DELETE", "/things/{thingName}", ({ params, query }) => {
    const expected = query.get("expectedVersion");
    if (expected !== null && !/^\d+$/.test(expected)) throw invalid("expectedVersion must be an integer");
    fleet.deleteThing(params.thingName!, expected === null ? undefined : Number(expected));
  });
  r.add("GET", "/things", ({ query }) => {
    const name = query.get("attributeName");
    const value = query.get("attributeValue");
    const list = fleet
      .things()
      .filter((t) => !name || t.attributes[name] === value)
      .sort((a, b) => a.thingName.localeCompare(b.thingName));
    const p = page(list, query);
    return { things: p.items.map((t) => ({ thingName: t.thingName, thingArn: arn(`thing/${t.thingName}`), attributes: t.attributes, version: t.version })), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  });

  const groupOut = (name: string) => {
    const g = fleet.group(name);
    return { thingGroupName: g.thingGroupName, thingGroupArn: arn(`thinggroup/${g.thingGroupName}`), thingGroupId: g.thingGroupId };
  };
  r.add("POST", "/thing-groups/{thingGroupName}", ({ params, body }) => {
    const description = str(obj(body.thingGroupProperties, "thingGroupProperties")?.thingGroupDescription, "thingGroupDescription");
    fleet.createGroup(params.thingGroupName!, description);
    return groupOut(params.thingGroupName!);
  });
  r.add("POST", "/dynamic-thing-groups/{thingGroupName}", ({ params, body }) => {
    const queryString = str(body.queryString, "queryString", true)!;
    fleet.createGroup(params.thingGroupName!, undefined, queryString);
    return { ...groupOut(params.thingGroupName!), indexName: "AWS_Things", queryString, queryVersion: "2017-09-30" };
  });
  r.add("GET", "/thing-groups/{thingGroupName}", ({ params }) => {
    const g = fleet.group(params.thingGroupName!);
    return {
      ...groupOut(g.thingGroupName),
      version: g.version,
      thingGroupProperties: g.description ? { thingGroupDescription: g.description } : {},
      thingGroupMetadata: { creationDate: g.creationDate },
      ...(g.queryString ? { indexName: "AWS_Things", queryString: g.queryString, queryVersion: "2017-09-30", status: "ACTIVE" } : {}),
    };
  });
  r.add("DELETE", "/thing-groups/{thingGroupName}", ({ params }) => void fleet.deleteGroup(params.thingGroupName!, false));
  r.add("DELETE", "/dynamic-thing-groups/{thingGroupName}", ({ params }) => void fleet.deleteGroup(params.thingGroupName!, true));
  const groupAndThing = (body: Record<string, unknown>) => {
    const group = str(body.thingGroupName, "thingGroupName") ?? str(body.thingGroupArn, "thingGroupArn")?.split("thinggroup/")[1];
    const thing = str(body.thingName, "thingName") ?? str(body.thingArn, "thingArn")?.split("thing/")[1];
    if (!group || !thing) throw invalid("thingGroupName (or thingGroupArn) and thingName (or thingArn) are required");
    return { group, thing };
  };
  r.add("PUT", "/thing-groups/addThingToThingGroup", ({ body }) => {
    const { group, thing } = groupAndThing(body);
    fleet.addToGroup(group, thing);
  });
  r.add("PUT", "/thing-groups/removeThingFromThingGroup", ({ body }) => {
    const { group, thing } = groupAndThing(body);
    fleet.removeFromGroup(group, thing);
  });
  r.add("GET", "/thing-groups/{thingGroupName}/things", ({ params, query }) => {
    const p = page(fleet.members(params.thingGroupName!), query, 25);
    return { things: p.items, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  });
  r.add("GET", "/thing-groups", ({ query }) => {
    const p = page(fleet.groups().sort((a, b) => a.thingGroupName.localeCompare(b.thingGroupName)), query);
    return { thingGroups: p.items.map((g) => ({ groupName: g.thingGroupName, groupArn: arn(`thinggroup/${g.thingGroupName}`) })), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  });

  // ---- fleet index ----------------------------------------------------------------------------
  r.add("POST", "/indices/search", ({ body }) => {
    const indexName = str(body.indexName, "indexName");
    if (indexName && indexName !== "AWS_Things") throw notFound(`Index ${indexName} not found; the local service has AWS_Things`);
    const queryString = str(body.queryString, "queryString", true)!;
    const found = fleet.search(queryString).sort((a, b) => a.thingName.localeCompare(b.thingName));
    const q = new URLSearchParams();
    if (body.maxResults !== undefined) q.set("maxResults", String(int(body.maxResults, "maxResults")));
    if (body.nextToken !== undefined) q.set("nextToken", String(str(body.nextToken, "nextToken")));
    const p = page(found, q, 500);
    return {
      things: p.items.map((t) => {
        const named = shadows.names(t.thingName);
        const states = shadows.statesOf(t.thingName);
        return {
          thingName: t.thingName,
          thingId: t.thingId,
          attributes: t.attributes,
          thingGroupNames: t.groups,
          ...(states.has("") || named.length
            ? { shadow: JSON.stringify({ ...(states.get("") ?? {}), ...(named.length ? { name: Object.fromEntries(named.map((n) => [n, states.get(n)])) } : {}) }) }
            : {}),
        };
      }),
      thingGroups: [],
      ...(p.nextToken ? { nextToken: p.nextToken } : {}),
    };
  });

  // ---- jobs -----------------------------------------------------------------------------------
  r.add("PUT", "/jobs/{jobId}", ({ params, body }) => {
    const targets = body.targets;
    if (!Array.isArray(targets) || targets.some((t) => typeof t !== "string")) throw invalid("targets must be a list of ARNs");
    const destinations = body.destinationPackageVersions;
    if (destinations !== undefined && (!Array.isArray(destinations) || destinations.some((t) => typeof t !== "string"))) throw invalid("destinationPackageVersions must be a list of ARNs");
    const timeout = obj(body.timeoutConfig, "timeoutConfig");
    const job = jobs.createJob({
      jobId: params.jobId!,
      targets: targets as string[],
      document: str(body.document, "document"),
      description: str(body.description, "description"),
      targetSelection: str(body.targetSelection, "targetSelection"),
      timeoutConfig: timeout ? { inProgressTimeoutInMinutes: int(timeout.inProgressTimeoutInMinutes, "timeoutConfig.inProgressTimeoutInMinutes") } : undefined,
      destinationPackageVersions: destinations as string[] | undefined,
    });
    return { jobArn: job.jobArn, jobId: job.jobId, ...(job.description ? { description: job.description } : {}) };
  });
  r.add("GET", "/jobs/{jobId}", ({ params, query }) => ({ job: jobOut(jobs.job(params.jobId!), bool(query, "beforeSubstitution")) }));
  r.add("GET", "/jobs/{jobId}/job-document", ({ params, query }) => {
    const job = jobs.job(params.jobId!);
    return { document: bool(query, "beforeSubstitution") ? job.documentBeforeSubstitution : job.document };
  });
  r.add("GET", "/jobs", ({ query }) => {
    const list = jobs.jobs(query.get("status") ?? undefined, query.get("thingGroupName") ?? undefined);
    const p = page(list, query);
    return {
      jobs: p.items.map((j) => ({ jobArn: j.jobArn, jobId: j.jobId, targetSelection: j.targetSelection, status: j.status, createdAt: j.createdAt, lastUpdatedAt: j.lastUpdatedAt, ...(j.completedAt ? { completedAt: j.completedAt } : {}) })),
      ...(p.nextToken ? { nextToken: p.nextToken } : {}),
    };
  });
  r.add("PUT", "/jobs/{jobId}/cancel", ({ params, query, body }) => {
    const job = jobs.cancelJob(params.jobId!, bool(query, "force"), str(body.comment, "comment"), str(body.reasonCode, "reasonCode"));
    return { jobArn: job.jobArn, jobId: job.jobId, ...(job.description ? { description: job.description } : {}) };
  });
  r.add("DELETE", "/jobs/{jobId}", ({ params, query }) => void jobs.deleteJob(params.jobId!, bool(query, "force")));
  r.add("PUT", "/things/{thingName}/jobs/{jobId}/cancel", ({ params, query, body }) => {
    fleet.thing(params.thingName!);
    const e = engine.execution(params.jobId!, params.thingName!);
    if (!e) throw notFound(`Job execution for job ${params.jobId} on thing ${params.thingName} not found`);
    const result = engine.cancelExecution(e, bool(query, "force"), strMap(body.statusDetails, "statusDetails"), int(body.expectedVersion, "expectedVersion"));
    if (!result.ok) throw result.error;
  });
  r.add("GET", "/things/{thingName}/jobs/{jobId}", ({ params, query }) => {
    const n = query.get("executionNumber");
    const e = engine.execution(params.jobId!, params.thingName!, n === null ? undefined : Number(n));
    if (!e) throw notFound(`Job execution for job ${params.jobId} on thing ${params.thingName} not found`);
    return { execution: executionOut(e) };
  });
  r.add("GET", "/jobs/{jobId}/things", ({ params, query }) => {
    jobs.job(params.jobId!);
    const p = page(jobs.executionsOfJob(params.jobId!, query.get("status") ?? undefined), query);
    return {
      executionSummaries: p.items.map((e) => ({ thingArn: arn(`thing/${e.thingName}`), jobExecutionSummary: summaryOut(e) })),
      ...(p.nextToken ? { nextToken: p.nextToken } : {}),
    };
  });
  r.add("GET", "/things/{thingName}/jobs", ({ params, query }) => {
    const status = query.get("status");
    const list = engine
      .executionsOfThing(params.thingName!)
      .filter((e) => !status || e.status === status)
      .sort((a, b) => a.sequence - b.sequence || a.executionNumber - b.executionNumber);
    const p = page(list, query);
    return { executionSummaries: p.items.map((e) => ({ jobId: e.jobId, jobExecutionSummary: summaryOut(e) })), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  });

  const jobOut = (job: Job, beforeSubstitution: boolean) => {
    const counts: Record<string, number> = {};
    for (const e of jobs.executionsOfJob(job.jobId)) counts[e.status] = (counts[e.status] ?? 0) + 1;
    return {
      jobArn: job.jobArn,
      jobId: job.jobId,
      targetSelection: job.targetSelection,
      status: job.status,
      forceCanceled: job.forceCanceled ?? false,
      ...(job.comment ? { comment: job.comment } : {}),
      ...(job.reasonCode ? { reasonCode: job.reasonCode } : {}),
      targets: job.targets,
      ...(job.description ? { description: job.description } : {}),
      createdAt: job.createdAt,
      lastUpdatedAt: job.lastUpdatedAt,
      ...(job.completedAt ? { completedAt: job.completedAt } : {}),
      jobProcessDetails: {
        numberOfCanceledThings: counts.CANCELED ?? 0,
        numberOfSucceededThings: counts.SUCCEEDED ?? 0,
        numberOfFailedThings: counts.FAILED ?? 0,
        numberOfRejectedThings: counts.REJECTED ?? 0,
        numberOfQueuedThings: counts.QUEUED ?? 0,
        numberOfInProgressThings: counts.IN_PROGRESS ?? 0,
        numberOfRemovedThings: counts.REMOVED ?? 0,
        numberOfTimedOutThings: counts.TIMED_OUT ?? 0,
      },
      ...(job.inProgressTimeoutInMinutes ? { timeoutConfig: { inProgressTimeoutInMinutes: job.inProgressTimeoutInMinutes } } : {}),
      ...(job.destinationPackageVersions.length ? { destinationPackageVersions: beforeSubstitution ? job.destinationPackageVersionsBeforeSubstitution : job.destinationPackageVersions } : {}),
      isConcurrent: false,
    };
  };
  const summaryOut = (e: Execution) => ({
    status: e.status,
    queuedAt: e.queuedAt,
    ...(e.startedAt ? { startedAt: e.startedAt } : {}),
    lastUpdatedAt: e.lastUpdatedAt,
    executionNumber: e.executionNumber,
    retryAttempt: 0,
  });
  const executionOut = (e: Execution) => ({
    jobId: e.jobId,
    status: e.status,
    forceCanceled: e.forceCanceled ?? false,
    statusDetails: { detailsMap: e.statusDetails },
    thingArn: arn(`thing/${e.thingName}`),
    queuedAt: e.queuedAt,
    ...(e.startedAt ? { startedAt: e.startedAt } : {}),
    lastUpdatedAt: e.lastUpdatedAt,
    executionNumber: e.executionNumber,
    versionNumber: e.versionNumber,
  });

  // ---- software package catalog ---------------------------------------------------------------
  r.add("PUT", "/packages/{packageName}", ({ params, body }) => {
    const p = catalog.createPackage(params.packageName!, str(body.description, "description"), strMap(body.tags, "tags"));
    return { packageName: p.packageName, packageArn: packageArn(p.packageName), ...(p.description !== undefined ? { description: p.description } : {}) };
  });
  r.add("GET", "/packages/{packageName}", ({ params }) => {
    const p = catalog.getPackage(params.packageName!);
    return { packageName: p.packageName, packageArn: packageArn(p.packageName), ...(p.description !== undefined ? { description: p.description } : {}), ...(p.defaultVersionName ? { defaultVersionName: p.defaultVersionName } : {}), creationDate: p.creationDate, lastModifiedDate: p.lastModifiedDate };
  });
  r.add("PATCH", "/packages/{packageName}", ({ params, body }) => {
    catalog.updatePackage(params.packageName!, { description: str(body.description, "description"), defaultVersionName: str(body.defaultVersionName, "defaultVersionName"), unsetDefaultVersion: body.unsetDefaultVersion === true });
  });
  r.add("DELETE", "/packages/{packageName}", ({ params }) => void catalog.deletePackage(params.packageName!));
  r.add("GET", "/packages", ({ query }) => {
    const p = page(catalog.packages(), query);
    return { packageSummaries: p.items.map((x) => ({ packageName: x.packageName, ...(x.defaultVersionName ? { defaultVersionName: x.defaultVersionName } : {}), creationDate: x.creationDate, lastModifiedDate: x.lastModifiedDate })), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  });
  const versionOut = (packageName: string, versionName: string) => {
    const v = catalog.getVersion(packageName, versionName);
    return { packageVersionArn: versionArn(v.packageName, v.versionName), packageName: v.packageName, versionName: v.versionName, ...(v.description !== undefined ? { description: v.description } : {}), attributes: v.attributes, status: v.status };
  };
  r.add("PUT", "/packages/{packageName}/versions/{versionName}", ({ params, body }) => {
    catalog.createVersion(params.packageName!, params.versionName!, { description: str(body.description, "description"), attributes: strMap(body.attributes, "attributes"), recipe: str(body.recipe, "recipe"), artifact: body.artifact, tags: strMap(body.tags, "tags") });
    return versionOut(params.packageName!, params.versionName!);
  });
  r.add("GET", "/packages/{packageName}/versions/{versionName}", ({ params }) => {
    const v = catalog.getVersion(params.packageName!, params.versionName!);
    return { ...versionOut(v.packageName, v.versionName), ...(v.artifact ? { artifact: v.artifact } : {}), ...(v.recipe !== undefined ? { recipe: v.recipe } : {}), creationDate: v.creationDate, lastModifiedDate: v.lastModifiedDate };
  });
  r.add("PATCH", "/packages/{packageName}/versions/{versionName}", ({ params, body }) => {
    catalog.updateVersion(params.packageName!, params.versionName!, { description: str(body.description, "description"), attributes: strMap(body.attributes, "attributes"), action: str(body.action, "action"), recipe: str(body.recipe, "recipe"), artifact: body.artifact });
  });
  r.add("DELETE", "/packages/{packageName}/versions/{versionName}", ({ params }) => void catalog.deleteVersion(params.packageName!, params.versionName!));
  r.add("GET", "/packages/{packageName}/versions", ({ params, query }) => {
    catalog.getPackage(params.packageName!);
    const p = page(catalog.versions(params.packageName!, (query.get("status") ?? undefined) as PackageVersionStatus | undefined), query);
    return { packageVersionSummaries: p.items.map((v) => ({ packageName: v.packageName, versionName: v.versionName, status: v.status, creationDate: v.creationDate, lastModifiedDate: v.lastModifiedDate })), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  });
  r.add("GET", "/package-configuration", () => catalog.configuration());
  r.add("PATCH", "/package-configuration", ({ body }) => {
    const c = obj(body.versionUpdateByJobsConfig, "versionUpdateByJobsConfig") ?? {};
    if (c.enabled !== undefined && typeof c.enabled !== "boolean") throw invalid("versionUpdateByJobsConfig.enabled must be a boolean");
    catalog.updateConfiguration({ enabled: c.enabled as boolean | undefined, roleArn: str(c.roleArn, "versionUpdateByJobsConfig.roleArn") });
  });

  // ---- shadows (iot-data) ---------------------------------------------------------------------
  const shadowError = (code: number, message: string) =>
    new AwsError(code === 404 ? "ResourceNotFoundException" : code === 409 ? "ConflictException" : code === 413 ? "RequestEntityTooLargeException" : code === 415 ? "UnsupportedDocumentEncodingException" : code === 500 ? "InternalFailureException" : "InvalidRequestException", message);
  r.add("GET", "/things/{thingName}/shadow", ({ params, query }) => {
    const res = shadows.get(params.thingName!, query.get("name") ?? "");
    if (!res.ok) throw res.error;
    return json(200, res.value);
  });
  r.add(
    "POST",
    "/things/{thingName}/shadow",
    ({ params, query, raw }) => {
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
      } catch {
        throw shadowError(400, "Invalid JSON");
      }
      const name = query.get("name") ?? "";
      const res = shadows.update(params.thingName!, name, body, raw.length);
      if (!res.ok) throw res.error;
      d.publishShadow(params.thingName!, name, "update", [
        { suffix: "accepted", payload: res.value.accepted },
        ...(res.value.delta ? [{ suffix: "delta", payload: res.value.delta }] : []),
        { suffix: "documents", payload: res.value.documents },
      ]);
      return json(200, res.value.accepted);
    },
    { raw: true },
  );
  r.add("DELETE", "/things/{thingName}/shadow", ({ params, query }) => {
    const name = query.get("name") ?? "";
    const res = shadows.delete(params.thingName!, name);
    if (!res.ok) throw res.error;
    d.publishShadow(params.thingName!, name, "delete", [{ suffix: "accepted", payload: res.value }]);
    return json(200, res.value);
  });
  r.add("GET", "/api/things/shadow/ListNamedShadowsForThing/{thingName}", ({ params }) => {
    fleet.thing(params.thingName!);
    return { results: shadows.names(params.thingName!), timestamp: Math.floor(Date.now() / 1000) };
  });

  return r;
}
