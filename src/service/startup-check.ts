/**
 * At start, before serving: the invariants an older version (whose commands were several commits)
 * could leave broken by a crash are checked and repaired, in one transaction, and what was found
 * is reported. Each repair is what the interrupted command would have done:
 *   - things listing a group that no longer exists lose that name (a torn DeleteThingGroup);
 *   - pending executions of things that no longer exist end REMOVED (DeleteThing before it did so);
 *   - SNAPSHOT jobs IN_PROGRESS with nothing pending are COMPLETED;
 *   - members of a group targeted by an IN_PROGRESS CONTINUOUS job without an execution get one
 *     (except those its roll-out still holds back: they are reached at the roll-out's rate).
 */
import { targetGroups } from "./jobs/job-control.ts";
import type { JobsEngine } from "./jobs/jobs-engine.ts";
import type { Fleet } from "./registry/fleet.ts";
import type { Store } from "./store.ts";

export interface StartupRepairs {
  /** Group names removed from the things that listed them. */
  readonly danglingGroups: { group: string; things: number }[];
  /** Things deleted with executions still pending: those are now REMOVED. */
  readonly orphanedThings: string[];
  /** SNAPSHOT jobs now COMPLETED. */
  readonly completedJobs: string[];
  /** CONTINUOUS jobs and the members that now have their execution. */
  readonly queued: { jobId: string; things: string[] }[];
}

export function repairAtStartup(store: Store, fleet: Fleet, engine: JobsEngine): StartupRepairs {
  const repairs: StartupRepairs = { danglingGroups: [], orphanedThings: [], completedJobs: [], queued: [] };
  store.transaction(() => {
    for (const group of fleet.danglingGroupNames()) {
      repairs.danglingGroups.push({ group, things: fleet.dropGroupFromThings(group) });
    }
    const orphans = new Set<string>();
    for (const job of store.all("job")) {
      for (const e of engine.pendingExecutions(job.jobId)) if (!fleet.hasThing(e.thingName)) orphans.add(e.thingName);
    }
    for (const thing of orphans) {
      engine.thingDeleted(thing);
      repairs.orphanedThings.push(thing);
    }
    for (const job of [...store.all("job")]) {
      if (job.status !== "IN_PROGRESS") continue;
      if (job.targetSelection === "SNAPSHOT") {
        engine.settleJob(job.jobId);
        if (store.get("job", job.jobId)?.status === "COMPLETED") repairs.completedJobs.push(job.jobId);
        continue;
      }
      const things: string[] = [];
      const held = new Set(job.rollout?.unreached ?? []);
      for (const group of targetGroups(job)) {
        if (!store.get("group", group)) continue;
        for (const thing of fleet.reach(group)) {
          if (held.has(thing)) continue;
          if (engine.execution(job.jobId, thing) === undefined && engine.queue(job, thing)) things.push(thing);
        }
      }
      if (things.length) repairs.queued.push({ jobId: job.jobId, things });
    }
  });
  return repairs;
}

export function repairsFound(r: StartupRepairs): boolean {
  return r.danglingGroups.length + r.orphanedThings.length + r.completedJobs.length + r.queued.length > 0;
}
