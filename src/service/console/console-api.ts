/**
 * The console's read-only views: only what the public API cannot answer in one cheap call (every
 * job with its counts by status, a job's executions with their statusDetails, the roll-out over
 * time, things with their groups, `$package` versions and connection state, the fleet's package
 * versions). Every state change goes through the AWS REST operations instead (console-app.js).
 * Pure over the domain objects; nothing here writes.
 */
import type { PackageCatalog } from "../catalog/packages.ts";
import { ServiceError } from "../errors.ts";
import type { JobControl } from "../jobs/job-control.ts";
import type { JobsEngine } from "../jobs/jobs-engine.ts";
import { arn, type Execution, type Job } from "../model.ts";
import type { Fleet } from "../registry/fleet.ts";
import { PACKAGE_SHADOW, type ShadowService } from "../shadows/shadows.ts";
import { JOB_EXECUTION_STATUSES } from "../../protocol/statuses.ts";
import { timeline } from "./timeline.ts";

export interface ConsoleDeps {
  readonly fleet: Fleet;
  readonly jobs: JobControl;
  readonly engine: JobsEngine;
  readonly catalog: PackageCatalog;
  readonly shadows: ShadowService;
  /** undefined: the broker cannot tell (attached to an external one). */
  readonly isConnected?: (thingName: string) => boolean;
  /** Epoch ms. */
  readonly now: () => number;
}

/** Rows per page of the executions and things tables. */
export const PAGE_LIMIT = 200;
/** Things listed per version in the fleet view (the count is always exact). */
const THINGS_PER_VERSION = 100;
const NO_VERSION = "(none)";

type Query = URLSearchParams;

export function consoleApi(d: ConsoleDeps): (path: string, query: Query) => unknown {
  // Things by the status of their latest execution, as DescribeJob counts them (the engine's one
  // rule, from its index: the jobs list costs statuses × jobs, not executions); the statuses no
  // thing has are left out of the view. The executions view still lists every attempt.
  const countsOf = (jobId: string) =>
    Object.fromEntries(Object.entries(d.engine.thingsByStatus(jobId)).filter(([, n]) => n > 0));
  const packagesOf = (thingName: string): Record<string, string> => {
    const reported = d.shadows.statesOf(thingName).get(PACKAGE_SHADOW)?.reported ?? {};
    const out: Record<string, string> = {};
    for (const [p, v] of Object.entries(reported)) {
      const version = (v as { version?: unknown } | null)?.version;
      if (typeof version === "string") out[p] = version;
    }
    return out;
  };
  const dynamicMembers = () => {
    const byThing = new Map<string, string[]>();
    for (const g of d.fleet.groups()) {
      if (!g.queryString) continue;
      for (const t of d.fleet.members(g.thingGroupName)) {
        const list = byThing.get(t);
        if (list) list.push(g.thingGroupName);
        else byThing.set(t, [g.thingGroupName]);
      }
    }
    return byThing;
  };

  const routes: [RegExp, (m: string[], q: Query) => unknown][] = [
    [
      /^\/jobs$/,
      () => {
        const jobs = d.jobs.jobs();
        return { jobs: jobs.reverse().map((j) => ({ ...jobSummary(j), counts: countsOf(j.jobId) })) };
      },
    ],
    [
      /^\/jobs\/([^/]+)$/,
      ([id]) => {
        const job = d.jobs.job(id!);
        const executions = d.engine.executionsOfJob(job.jobId);
        const end = job.completedAt ?? Math.floor(d.now() / 1000);
        const points = timeline(executions, job.createdAt, Math.max(end, job.createdAt));
        return { job: jobForView(job), counts: countsOf(job.jobId), attempts: executions.length, timeline: points };
      },
    ],
    [
      /^\/jobs\/([^/]+)\/executions$/,
      ([id], q) => {
        const job = d.jobs.job(id!);
        const status = q.get("status") || undefined;
        if (status !== undefined && !(JOB_EXECUTION_STATUSES as readonly string[]).includes(status))
          throw new ServiceError("InvalidRequest", `status must be one of ${JOB_EXECUTION_STATUSES.join(", ")}`);
        const all = d.engine
          .executionsOfJob(job.jobId)
          .filter((e) => status === undefined || e.status === status)
          .sort((a, b) => byCodePoint(a.thingName, b.thingName) || a.executionNumber - b.executionNumber);
        const { offset, limit } = window(q);
        return { total: all.length, offset, executions: all.slice(offset, offset + limit).map(executionRow) };
      },
    ],
    [
      /^\/things$/,
      (_, q) => {
        const filter = q.get("q")?.toLowerCase() ?? "";
        const things = d.fleet
          .things()
          .filter((t) => t.thingName.toLowerCase().includes(filter))
          .sort((a, b) => byCodePoint(a.thingName, b.thingName));
        const { offset, limit } = window(q);
        const dynamic = dynamicMembers();
        return {
          total: things.length,
          offset,
          connectionKnown: d.isConnected !== undefined,
          things: things.slice(offset, offset + limit).map((t) => ({
            thingName: t.thingName,
            thingArn: arn(`thing/${t.thingName}`),
            ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
            attributes: t.attributes,
            groups: t.groups,
            dynamicGroups: dynamic.get(t.thingName) ?? [],
            packages: packagesOf(t.thingName),
            ...(d.isConnected ? { connected: d.isConnected(t.thingName) } : {}),
          })),
        };
      },
    ],
    [
      /^\/groups$/,
      () => ({
        groups: d.fleet
          .groups()
          .sort((a, b) => a.thingGroupName.localeCompare(b.thingGroupName))
          .map((g) => {
            const members = d.fleet.members(g.thingGroupName);
            return {
              thingGroupName: g.thingGroupName,
              thingGroupArn: arn(`thinggroup/${g.thingGroupName}`),
              dynamic: g.queryString !== undefined,
              ...(g.queryString !== undefined ? { queryString: g.queryString } : {}),
              ...(g.parentGroupName ? { parentGroupName: g.parentGroupName } : {}),
              ...(g.description ? { description: g.description } : {}),
              memberCount: members.length,
              members: members.slice(0, THINGS_PER_VERSION),
            };
          }),
        problems: Object.fromEntries(d.fleet.groupProblems()),
      }),
    ],
    [
      /^\/fleet-packages$/,
      () => {
        // package → version → things
        const byPackage = new Map<string, Map<string, string[]>>();
        const things = d.fleet.things();
        for (const t of things) {
          for (const [p, v] of Object.entries(packagesOf(t.thingName))) {
            let versions = byPackage.get(p);
            if (!versions) {
              versions = new Map();
              byPackage.set(p, versions);
            }
            const list = versions.get(v);
            if (list) list.push(t.thingName);
            else versions.set(v, [t.thingName]);
          }
        }
        for (const p of d.catalog.packages())
          if (!byPackage.has(p.packageName)) byPackage.set(p.packageName, new Map());
        return {
          thingCount: things.length,
          packages: [...byPackage]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([packageName, versions]) => {
              let installed = 0;
              const rows = [...versions]
                .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
                .map(([version, list]) => {
                  installed += list.length;
                  return { version, count: list.length, things: list.sort().slice(0, THINGS_PER_VERSION) };
                });
              rows.push({ version: NO_VERSION, count: things.length - installed, things: [] });
              return { packageName, versions: rows };
            }),
        };
      },
    ],
    [
      /^\/packages$/,
      () => ({
        configuration: d.catalog.configuration(),
        packages: d.catalog
          .packages()
          .sort((a, b) => a.packageName.localeCompare(b.packageName))
          .map((p) => ({
            ...p,
            versions: d.catalog
              .versions(p.packageName)
              .sort((a, b) => a.creationDate - b.creationDate || a.versionName.localeCompare(b.versionName)),
          })),
      }),
    ],
  ];

  return (path, query) => {
    for (const [pattern, handle] of routes) {
      const m = pattern.exec(path);
      if (m) return handle(m.slice(1).map(decodeURIComponent), query);
    }
    throw new ServiceError("ResourceNotFound", `No console view at ${path.slice(0, 200)}`);
  };
}

/** Names in code-point order: what the API's lists use, and ~10× cheaper than localeCompare on 10,000 rows. */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function window(q: Query): { offset: number; limit: number } {
  const offset = Number(q.get("offset") ?? 0);
  const limit = Number(q.get("limit") ?? PAGE_LIMIT);
  if (!Number.isInteger(offset) || offset < 0)
    throw new ServiceError("InvalidRequest", "offset must be an integer ≥ 0");
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_LIMIT)
    throw new ServiceError("InvalidRequest", `limit must be an integer from 1 to ${PAGE_LIMIT}`);
  return { offset, limit };
}

/**
 * The job record as the job page shows it, without what grows with the fleet: a roll-out's list of
 * things not reached yet (roll-out rates keep one; 10,000 names on every refresh) becomes its count.
 */
export function jobForView(job: Job): Record<string, unknown> {
  const { sequence: _, ...shown } = job as Job & { rollout?: { unreached?: readonly string[] } };
  const rollout = (shown as { rollout?: { unreached?: readonly string[] } }).rollout;
  if (!rollout?.unreached) return shown;
  const { unreached, ...rest } = rollout;
  return { ...shown, rollout: { ...rest, unreachedCount: unreached.length } };
}

function jobSummary(j: Job) {
  return {
    jobId: j.jobId,
    status: j.status,
    targetSelection: j.targetSelection,
    ...(j.description ? { description: j.description } : {}),
    createdAt: j.createdAt,
    lastUpdatedAt: j.lastUpdatedAt,
    ...(j.completedAt ? { completedAt: j.completedAt } : {}),
  };
}

function executionRow(e: Execution) {
  return {
    thingName: e.thingName,
    status: e.status,
    executionNumber: e.executionNumber,
    retryAttempt: (e as Execution & { retryAttempt?: number }).retryAttempt ?? 0,
    statusDetails: e.statusDetails,
    queuedAt: e.queuedAt,
    ...(e.startedAt !== undefined ? { startedAt: e.startedAt } : {}),
    lastUpdatedAt: e.lastUpdatedAt,
    versionNumber: e.versionNumber,
    ...(e.forceCanceled ? { forceCanceled: true } : {}),
  };
}
