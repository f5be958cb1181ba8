/**
 * The generated-scenario fuzzer for the local service: a seeded string of random control-plane
 * calls (AWS SDK: things, static groups and memberships, jobs on things and groups, cancels,
 * deletes, shadows) and device commands over MQTT (start-next, terminal updates), sent in
 * concurrent batches; SIGKILLs at random moments inside a batch, graceful restarts, and (as root)
 * a full disk: the data directory on a small tmpfs filled up, then freed. A model records what was
 * acknowledged (an answer came), what was refused (an error answer: nothing may change), and what
 * is unknown (the connection died: either outcome is fine). After every restart and at the end:
 *   1. every acknowledged write is there (things, groups, memberships, jobs, terminal updates,
 *      shadow values), every acknowledged delete stays deleted;
 *   2. nothing refused is visible (a write that got an error answer changed nothing);
 *   3. a job's status agrees with its executions (counts per status; a snapshot job whose
 *      executions are all terminal is COMPLETED);
 *   4. group memberships agree with the groups (a deleted group has no members, also after it is
 *      re-created; every member is an existing thing);
 *   5. no execution lost or duplicated (one execution per targeted thing, unique numbers);
 *   6. SQLite integrity_check ok.
 * Used by test/fuzz/service-scenarios.test.ts and scripts/scenarios.ts.
 */
import {
  AddThingToThingGroupCommand,
  CancelJobCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteJobCommand,
  DeleteThingCommand,
  DeleteThingGroupCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  type IoTClient,
  ListJobExecutionsForJobCommand,
  ListThingsInThingGroupCommand,
  RemoveThingFromThingGroupCommand,
} from "@aws-sdk/client-iot";
import {
  GetThingShadowCommand,
  type IoTDataPlaneClient,
  UpdateThingShadowCommand,
} from "@aws-sdk/client-iot-data-plane";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnService } from "../helpers/executables.ts";
import { dataClient, Device, groupArn, iotClient, thingArn } from "../helpers/local-service.ts";
import type { SeededRandom } from "../helpers/seeded-random.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";

type Known = "present" | "absent" | "unknown";
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"]);

/** What the service acknowledged, refused, or left unknown. */
class Model {
  readonly things = new Map<string, Known>();
  readonly groups = new Map<string, Known>();
  /** `group/thing`. */
  readonly members = new Map<string, Known>();
  readonly jobs = new Map<string, { known: Known; document: string; snapshot: boolean }>();
  /** `jobId/thing` → the acknowledged terminal status. */
  readonly terminal = new Map<string, string>();
  /** thing → [last acknowledged n, highest n sent]. */
  readonly shadows = new Map<string, { acked: number; sent: number }>();
}

type Outcome = "acked" | "refused" | "unknown";

/** `p`, or a rejection after `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Acked (an answer), refused (an error answer, with its status), or unknown (no answer). */
async function outcome(call: Promise<unknown>): Promise<{ outcome: Outcome; status?: number; value?: unknown }> {
  try {
    return { outcome: "acked", value: await call };
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    return status === undefined ? { outcome: "unknown" } : { outcome: "refused", status };
  }
}

interface Svc {
  http: string;
  mqtt: string;
  proc: ReturnType<typeof Bun.spawn>;
  stop(): Promise<void>;
}

export interface ServiceScenarioOptions {
  /** Put the data directory on a tmpfs that can be filled (needs root and mount). */
  readonly fullDisk: boolean;
  /** Event kinds left out (default: IOT_JOBS_SCENARIO_WITHOUT), e.g. "kill-in-group-delete". */
  readonly without?: ReadonlySet<string>;
}

export const canMountTmpfs = (): boolean => process.getuid?.() === 0 && Bun.which("mount") !== null;

/** Runs one scenario; returns the broken invariants and the event log. */
export async function runServiceScenario(
  rng: SeededRandom,
  options: ServiceScenarioOptions,
): Promise<{ violations: string[]; events: string[] }> {
  const root = tempDir("svc-scenario-");
  let mounted = false;
  if (options.fullDisk) {
    const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", root]);
    mounted = r.exitCode === 0;
  }
  const dataDir = join(root, "data");
  mkdirSync(dataDir, { mode: 0o700 });
  const command = [process.execPath, join(REPO_ROOT, "src/service/main.ts")];
  const events: string[] = [];
  // IOT_JOBS_SCENARIO_TRACE=1 prints each event as it happens (to see where a scenario hangs).
  if (process.env.IOT_JOBS_SCENARIO_TRACE === "1") {
    const push = events.push.bind(events);
    events.push = (...items: string[]) => {
      for (const e of items) console.error(`[service scenario] ${e}`);
      return push(...items);
    };
  }
  const violations: string[] = [];
  const model = new Model();
  const devices: Device[] = [];
  // Every service process this scenario starts, so none outlives it whatever path it took.
  const started: Svc[] = [];
  const serve = async () => {
    const service = await spawnService(command, ["--data-dir", dataDir, "--log-level", "ERROR"]);
    started.push(service);
    return service;
  };
  let svc: Svc = await serve();
  let iot: IoTClient = iotClient(svc.http);
  let data: IoTDataPlaneClient = dataClient(svc.http);
  const thingPool = Array.from({ length: 5 }, (_, i) => `t${i}`);
  const groupPool = ["g0", "g1", "g2"];
  let shadowCounter = 0;
  const jobPool = Array.from({ length: 6 }, (_, i) => `job${i}`);

  const restart = async (how: "SIGKILL" | "SIGTERM") => {
    for (const d of devices.splice(0)) await within(d.close(), 2000).catch(() => {});
    if (how === "SIGKILL") {
      svc.proc.kill("SIGKILL");
      await svc.proc.exited;
    } else {
      await svc.stop();
    }
    svc = await serve();
    iot = iotClient(svc.http);
    data = dataClient(svc.http);
  };

  /** One random operation; it updates the model by its outcome. */
  const operation = async (): Promise<string> => {
    const thing = rng.pick(thingPool);
    const group = rng.pick(groupPool);
    const jobId = rng.pick(jobPool);
    const kind = rng.weighted<string>([
      [4, "create-thing"],
      [1, "delete-thing"],
      [2, "create-group"],
      [1, "delete-group"],
      [3, "add-member"],
      [1, "remove-member"],
      [4, "create-job"],
      [1, "cancel-job"],
      [1, "delete-job"],
      [3, "device-update"],
      [2, "shadow"],
    ]);
    if (process.env.IOT_JOBS_SCENARIO_TRACE === "1") console.error(`[operation] ${kind} ${thing} ${group} ${jobId}`);
    const set = <K>(map: Map<K, Known>, key: K, r: Outcome, to: Known) => {
      if (r === "acked") map.set(key, to);
      else if (r === "unknown" && map.get(key) !== to) map.set(key, "unknown");
      // A refused create of something never made: it must stay invisible.
      else if (r === "refused" && to === "present" && !map.has(key)) map.set(key, "absent");
    };
    switch (kind) {
      case "create-thing": {
        const r = await outcome(iot.send(new CreateThingCommand({ thingName: thing })));
        set(model.things, thing, r.outcome, "present");
        return `create-thing ${thing}: ${r.outcome}${r.status ?? ""}`;
      }
      case "delete-thing": {
        const r = await outcome(iot.send(new DeleteThingCommand({ thingName: thing })));
        set(model.things, thing, r.outcome, "absent");
        if (r.outcome !== "refused") {
          for (const g of groupPool) set(model.members, `${g}/${thing}`, r.outcome, "absent");
          for (const key of [...model.terminal.keys()].filter((k) => k.endsWith(`/${thing}`)))
            model.terminal.delete(key);
          const shadow = model.shadows.get(thing);
          if (shadow) shadow.acked = 0; // AWS leaves a deleted thing's shadow: no promise either way
        }
        return `delete-thing ${thing}: ${r.outcome}${r.status ?? ""}`;
      }
      case "create-group": {
        const r = await outcome(iot.send(new CreateThingGroupCommand({ thingGroupName: group })));
        set(model.groups, group, r.outcome, "present");
        return `create-group ${group}: ${r.outcome}${r.status ?? ""}`;
      }
      case "delete-group": {
        const r = await outcome(iot.send(new DeleteThingGroupCommand({ thingGroupName: group })));
        set(model.groups, group, r.outcome, "absent");
        if (r.outcome !== "refused")
          for (const t of thingPool) set(model.members, `${group}/${t}`, r.outcome, "absent");
        return `delete-group ${group}: ${r.outcome}${r.status ?? ""}`;
      }
      case "add-member":
      case "remove-member": {
        const add = kind === "add-member";
        const input = { thingGroupName: group, thingName: thing };
        const r = await outcome(
          iot.send(add ? new AddThingToThingGroupCommand(input) : new RemoveThingFromThingGroupCommand(input)),
        );
        set(model.members, `${group}/${thing}`, r.outcome, add ? "present" : "absent");
        if (add && r.outcome === "acked") {
          // Acknowledged: both exist (whatever a SIGKILL left the model unsure of).
          model.groups.set(group, "present");
          model.things.set(thing, "present");
        }
        return `${kind} ${thing} ${group}: ${r.outcome}${r.status ?? ""}`;
      }
      case "create-job": {
        const targets = rng.chance(0.3)
          ? [groupArn(group)]
          : [thingArn(thing), ...(rng.chance(0.5) ? [thingArn(rng.pick(thingPool))] : [])];
        const snapshot = rng.chance(0.7);
        const document = JSON.stringify({ n: rng.int(0, 1e9) });
        const r = await outcome(
          iot.send(
            new CreateJobCommand({
              jobId,
              targets: [...new Set(targets)],
              document,
              targetSelection: snapshot ? "SNAPSHOT" : "CONTINUOUS",
            }),
          ),
        );
        const before = model.jobs.get(jobId);
        if (r.outcome === "acked") model.jobs.set(jobId, { known: "present", document, snapshot });
        else if (r.outcome === "refused" && before === undefined)
          model.jobs.set(jobId, { known: "absent", document: "", snapshot });
        else if (r.outcome === "unknown" && before?.known !== "present")
          model.jobs.set(jobId, { known: "unknown", document, snapshot });
        return `create-job ${jobId} ${targets.map((t) => t.split("/").pop()).join(",")} ${snapshot ? "SNAPSHOT" : "CONTINUOUS"}: ${r.outcome}${r.status ?? ""}`;
      }
      case "cancel-job": {
        const force = rng.chance(0.5);
        const r = await outcome(iot.send(new CancelJobCommand({ jobId, force })));
        return `cancel-job ${jobId} force=${force}: ${r.outcome}${r.status ?? ""}`;
      }
      case "delete-job": {
        const r = await outcome(iot.send(new DeleteJobCommand({ jobId, force: true })));
        const before = model.jobs.get(jobId);
        if (r.outcome === "acked") model.jobs.set(jobId, { known: "absent", document: "", snapshot: false });
        else if (r.outcome === "unknown" && before) model.jobs.set(jobId, { ...before, known: "unknown" });
        if (r.outcome !== "refused")
          for (const key of [...model.terminal.keys()].filter((k) => k.startsWith(`${jobId}/`)))
            model.terminal.delete(key);
        return `delete-job ${jobId}: ${r.outcome}${r.status ?? ""}`;
      }
      case "device-update": {
        let device: Device;
        try {
          // mqtt.js never settles a connect whose socket closes before CONNACK (a SIGKILLed service).
          device = await within(Device.connect(svc.mqtt, thing, [`$aws/things/${thing}/jobs/#`]), 5000);
        } catch {
          return `device ${thing}: not connected`;
        }
        devices.push(device);
        try {
          const next = await device.request("jobs/start-next", { clientToken: `c${rng.int(0, 1e9)}` });
          const execution = next.payload?.execution as { jobId?: string } | undefined;
          if (!next.topic.endsWith("/accepted") || !execution?.jobId) return `device ${thing}: nothing next`;
          const status = rng.pick(["SUCCEEDED", "FAILED", "IN_PROGRESS"]);
          const reply = await device.request(`jobs/${execution.jobId}/update`, {
            status,
            clientToken: `u${rng.int(0, 1e9)}`,
          });
          if (reply.topic.endsWith("/accepted") && TERMINAL.has(status))
            model.terminal.set(`${execution.jobId}/${thing}`, status);
          return `device ${thing}: ${execution.jobId} → ${status}: ${reply.topic.split("/").pop()}`;
        } catch (error) {
          return `device ${thing}: ${(error as Error).message.slice(0, 80)}`;
        } finally {
          await within(device.close(), 2000).catch(() => {});
          devices.splice(devices.indexOf(device), 1);
        }
      }
      default: {
        const entry = model.shadows.get(thing) ?? { acked: 0, sent: 0 };
        const n = ++shadowCounter;
        entry.sent = n;
        model.shadows.set(thing, entry);
        const payload = new TextEncoder().encode(JSON.stringify({ state: { reported: { n } } }));
        const r = await outcome(data.send(new UpdateThingShadowCommand({ thingName: thing, payload })));
        if (r.outcome === "acked") entry.acked = Math.max(entry.acked, n);
        return `shadow ${thing} n=${n}: ${r.outcome}${r.status ?? ""}`;
      }
    }
  };

  let filler: string | undefined;
  try {
    // A start that gives the random operations something to work on.
    for (const t of thingPool.slice(0, 3))
      model.things.set(
        t,
        (await outcome(iot.send(new CreateThingCommand({ thingName: t })))).outcome === "acked" ? "present" : "unknown",
      );
    model.groups.set(
      "g0",
      (await outcome(iot.send(new CreateThingGroupCommand({ thingGroupName: "g0" })))).outcome === "acked"
        ? "present"
        : "unknown",
    );
    const batches = rng.int(4, 10);
    for (let b = 0; b < batches; b++) {
      const size = rng.int(2, 8);
      const left = options.without ?? new Set((process.env.IOT_JOBS_SCENARIO_WITHOUT ?? "").split(","));
      const event = rng.weighted<string>(
        (
          [
            [5, "batch"],
            [3, "kill-in-batch"],
            [1, "restart"],
            [1, "kill-in-group-delete"],
            ...(mounted ? ([[1, "fill-disk"]] as const) : []),
          ] as const
        ).map(([w, kind]) => [left.has(kind) ? 0 : w, kind] as const),
      );
      if (event === "kill-in-group-delete") {
        await killInGroupDelete(`big${b}`);
        continue;
      }
      if (event === "fill-disk" && filler === undefined) {
        filler = join(root, "filler");
        Bun.spawnSync(["dd", "if=/dev/zero", `of=${filler}`, "bs=64k", "count=1000"], { stderr: "ignore" });
        events.push("disk full");
      }
      if (event === "restart") {
        await restart("SIGTERM");
        events.push("restart SIGTERM");
        await checkAll("after a graceful restart");
        continue;
      }
      // One after the other (two concurrent writes of one key have no order the model could know);
      // the SIGKILL lands at a random moment among them.
      const ops = (async () => {
        const done: string[] = [];
        for (let n = 0; n < size; n++) done.push(await operation());
        return done;
      })();
      if (event === "kill-in-batch") {
        await Bun.sleep(rng.int(0, 150));
        const [results] = await Promise.all([ops, restart("SIGKILL")]);
        events.push(`[${results.join(" | ")}] SIGKILL at ${results.length}, restarted`);
        await checkAll("after a SIGKILL");
      } else {
        events.push(`[${(await ops).join(" | ")}]`);
        await checkAll("live");
      }
      if (filler !== undefined && rng.chance(0.5)) {
        rmSync(filler, { force: true });
        filler = undefined;
        events.push("disk freed");
      }
    }
    if (filler !== undefined) rmSync(filler, { force: true });
    filler = undefined;
    await restart("SIGKILL");
    events.push("final SIGKILL, restarted");
    await checkAll("at the end, after a SIGKILL");
    svc.proc.kill("SIGKILL");
    await svc.proc.exited;
    const db = new Database(join(dataDir, "iot-jobs-local.sqlite"), { readonly: true });
    const check = db.query("PRAGMA integrity_check").get() as { integrity_check: string };
    db.close();
    if (check.integrity_check !== "ok") violations.push(`integrity_check: ${check.integrity_check}`);
  } catch (error) {
    violations.push(`the scenario broke: ${(error as Error).stack?.slice(0, 400)}`);
  } finally {
    for (const d of devices.splice(0)) await within(d.close(), 2000).catch(() => {});
    for (const s of started) s.proc.kill("SIGKILL");
    await within(Promise.all(started.map((s) => s.proc.exited)), 5000).catch(() => {});
    if (mounted) Bun.spawnSync(["umount", "-l", root]);
  }
  return { violations, events };

  /** Every member of a group (all pages), or undefined if the listing failed. */
  async function allMembers(group: string): Promise<string[] | undefined> {
    const out: string[] = [];
    let nextToken: string | undefined;
    do {
      const r = await outcome(
        iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group, maxResults: 250, nextToken })),
      );
      if (r.outcome !== "acked") return undefined;
      const page = r.value as { things?: string[]; nextToken?: string };
      out.push(...(page.things ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    return out;
  }

  /**
   * A SIGKILL a few milliseconds into deleting a group of 300 members: after the restart the group
   * is gone (if the delete was acknowledged) or whole; a group created again under its name has no
   * member (no membership outlives its group).
   */
  async function killInGroupDelete(big: string): Promise<void> {
    const members = Array.from({ length: 300 }, (_, k) => `${big}-m${k}`);
    try {
      await iot.send(new CreateThingGroupCommand({ thingGroupName: big }));
      for (let k = 0; k < members.length; k += 25) {
        await Promise.all(
          members.slice(k, k + 25).map(async (thingName) => {
            await iot.send(new CreateThingCommand({ thingName }));
            await iot.send(new AddThingToThingGroupCommand({ thingGroupName: big, thingName }));
          }),
        );
      }
    } catch (error) {
      // The small tmpfs of the full-disk runs may have no room for 300 things: a refusal (500, disk
      // full) of the set-up is the service saying no correctly, not what this event tests.
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 500) throw error;
      events.push(`delete-group ${big}: set-up refused (no room on the disk); skipped`);
      return;
    }
    const deleting = outcome(iot.send(new DeleteThingGroupCommand({ thingGroupName: big })));
    await Bun.sleep(rng.int(0, 12));
    const [r] = await Promise.all([deleting, restart("SIGKILL")]);
    events.push(`delete-group ${big} (300 members): ${r.outcome}${r.status ?? ""}; SIGKILL, restarted`);
    const survived =
      (await outcome(iot.send(new DescribeThingGroupCommand({ thingGroupName: big })))).outcome === "acked";
    const when = "after a SIGKILL during a group delete";
    if (survived && r.outcome === "acked")
      violations.push(`${when}: acknowledged delete of ${big}, the group is there`);
    if (survived) {
      const listed = await allMembers(big);
      if (listed && listed.length !== 0 && listed.length !== members.length) {
        violations.push(`${when}: ${big} survived with ${listed.length} of ${members.length} members (torn)`);
      }
      await outcome(iot.send(new DeleteThingGroupCommand({ thingGroupName: big })));
    }
    await iot.send(new CreateThingGroupCommand({ thingGroupName: big }));
    const again = await allMembers(big);
    if (again && again.length > 0) violations.push(`${when}: ${big} created again already has ${again.length} members`);
    await checkAll(when);
  }

  async function checkAll(when: string): Promise<void> {
    const fail = (text: string) => violations.push(`${when}: ${text}`);
    const trace = (what: string) => process.env.IOT_JOBS_SCENARIO_TRACE === "1" && console.error(`[check] ${what}`);
    const exists = async (call: Promise<unknown>): Promise<boolean | undefined> => {
      const r = await outcome(call);
      return r.outcome === "acked" ? true : r.status === 404 ? false : undefined;
    };
    // 1, 2. Things and groups: acknowledged present or absent (a refused write left the old state).
    for (const [thing, known] of model.things) {
      if (known === "unknown") continue;
      const seen = await exists(iot.send(new DescribeThingCommand({ thingName: thing })));
      if (seen !== undefined && seen !== (known === "present"))
        fail(`thing ${thing} should be ${known}, DescribeThing says ${seen ? "present" : "absent"}`);
    }
    for (const [group, known] of model.groups) {
      if (known === "unknown") continue;
      const seen = await exists(iot.send(new DescribeThingGroupCommand({ thingGroupName: group })));
      if (seen !== undefined && seen !== (known === "present"))
        fail(`group ${group} should be ${known}, DescribeThingGroup says ${seen ? "present" : "absent"}`);
    }
    trace("memberships");
    // 4. Memberships agree with the model and with the groups and things.
    for (const group of groupPool) {
      const r = await outcome(iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group, maxResults: 250 })));
      const listed = r.outcome === "acked" ? new Set((r.value as { things?: string[] }).things ?? []) : undefined;
      if (listed === undefined) continue;
      for (const thing of thingPool) {
        const known = model.members.get(`${group}/${thing}`) ?? "absent";
        if (known === "unknown" || model.things.get(thing) === "unknown" || model.groups.get(group) === "unknown")
          continue;
        const expected =
          known === "present" && model.things.get(thing) === "present" && model.groups.get(group) === "present";
        if (listed.has(thing) !== expected)
          fail(
            `group ${group} ${listed.has(thing) ? "lists" : "does not list"} ${thing} (model: membership ${known}, thing ${model.things.get(thing)}, group ${model.groups.get(group)})`,
          );
      }
    }
    trace("jobs");
    // 1, 3, 5. Jobs: present or absent as acknowledged; status agrees with executions; no duplicates.
    for (const [jobId, job] of model.jobs) {
      const r = await outcome(iot.send(new DescribeJobCommand({ jobId })));
      if (job.known !== "unknown") {
        const seen = r.outcome === "acked" ? true : r.status === 404 ? false : undefined;
        if (seen !== undefined && seen !== (job.known === "present"))
          fail(`job ${jobId} should be ${job.known}, DescribeJob says ${seen ? "present" : "absent"}`);
      }
      if (r.outcome !== "acked") continue;
      const described = (
        r.value as { job?: { status?: string; targetSelection?: string; jobProcessDetails?: Record<string, number> } }
      ).job!;
      const list = await outcome(iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 250 })));
      if (list.outcome !== "acked") continue;
      const summaries =
        (
          list.value as {
            executionSummaries?: {
              thingArn?: string;
              jobExecutionSummary?: { status?: string; executionNumber?: number };
            }[];
          }
        ).executionSummaries ?? [];
      // A thing may have several executions of a job (a continuous job's thing removed from the group
      // and added again: REMOVED, then a new one), but never two with one number, nor two active.
      const keys = summaries.map((s) => `${s.thingArn!.split("/").pop()}#${s.jobExecutionSummary?.executionNumber}`);
      if (new Set(keys).size !== keys.length) fail(`job ${jobId} has duplicate executions: ${keys.join(",")}`);
      const active = summaries
        .filter((s) => !TERMINAL.has(s.jobExecutionSummary!.status!))
        .map((s) => s.thingArn!.split("/").pop()!);
      if (new Set(active).size !== active.length)
        fail(`job ${jobId} has two active executions on one thing: ${active.join(",")}`);
      const count = (status: string) => summaries.filter((s) => s.jobExecutionSummary?.status === status).length;
      const d = described.jobProcessDetails ?? {};
      for (const [field, status] of [
        ["numberOfQueuedThings", "QUEUED"],
        ["numberOfInProgressThings", "IN_PROGRESS"],
        ["numberOfSucceededThings", "SUCCEEDED"],
        ["numberOfFailedThings", "FAILED"],
        ["numberOfCanceledThings", "CANCELED"],
      ] as const) {
        if ((d[field] ?? 0) !== count(status))
          fail(`job ${jobId}: ${field} ${d[field] ?? 0} but ${count(status)} executions are ${status}`);
      }
      const allTerminal = summaries.every((s) => TERMINAL.has(s.jobExecutionSummary!.status!));
      if (described.targetSelection === "SNAPSHOT" && allTerminal && described.status === "IN_PROGRESS")
        fail(`snapshot job ${jobId} is IN_PROGRESS with every execution terminal (${summaries.length})`);
      if (!allTerminal && described.status === "COMPLETED") fail(`job ${jobId} COMPLETED with executions not terminal`);
    }
    trace("terminal");
    // 1. Acknowledged terminal updates stay.
    for (const [key, status] of model.terminal) {
      const [jobId, thing] = key.split("/") as [string, string];
      const job = model.jobs.get(jobId);
      if (job?.known !== "present" || model.things.get(thing) !== "present") continue;
      const r = await outcome(iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing })));
      const seen =
        r.outcome === "acked"
          ? (r.value as { execution?: { status?: string } }).execution?.status
          : `(${r.outcome}${r.status ?? ""})`;
      if (r.outcome !== "unknown" && seen !== status)
        fail(`acknowledged ${status} of ${jobId} on ${thing} is now ${seen}`);
    }
    trace("shadows");
    // 1, 2. Shadows: at least the acknowledged value, never one that was not sent.
    for (const [thing, entry] of model.shadows) {
      if (entry.acked === 0 || model.things.get(thing) === "unknown") continue;
      const r = await outcome(data.send(new GetThingShadowCommand({ thingName: thing })));
      if (r.outcome !== "acked") {
        if (r.outcome === "refused")
          fail(`the acknowledged shadow of ${thing} (n=${entry.acked}) is gone (${r.status})`);
        continue;
      }
      const doc = JSON.parse(new TextDecoder().decode((r.value as { payload: Uint8Array }).payload)) as {
        state?: { reported?: { n?: number } };
      };
      const n = doc.state?.reported?.n ?? 0;
      if (n < entry.acked || n > entry.sent)
        fail(`shadow ${thing}: n=${n}, acknowledged ${entry.acked}, highest sent ${entry.sent}`);
    }
  }
}

/** Leaves a note on disk for a human replaying a scenario (unused by the checks). */
export function writeEvents(file: string, events: string[]): void {
  if (existsSync(file)) rmSync(file);
  writeFileSync(file, `${events.join("\n")}\n`);
}
