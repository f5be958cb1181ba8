/**
 * Does a device's request cost more as its history grows? One thing runs N jobs one after the
 * other (bun bench/execution-history.ts [N] [SOURCE_ROOT]); each job is created, then the device's
 * start-next and its final SUCCEEDED update are timed through the Jobs device API over a store on
 * disk (SQLite, WAL), as in the service. Printed: the median of each window of 100 jobs, and its
 * ratio to the first window. Goal: the ratio stays near 1 (cost does not grow with history).
 * SOURCE_ROOT (default: this checkout) lets the same bench measure another checkout's service.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const n = Number(process.argv[2] ?? 10_000);
const root = process.argv[3] ?? join(import.meta.dir, "..");
const load = (path: string) => import(join(root, "src/service", path));
const [{ Store }, { Fleet }, { ShadowService }, { PackageCatalog }, { JobsEngine }, { JobControl }, { JobsDeviceApi }] =
  await Promise.all(
    [
      "store.ts",
      "registry/fleet.ts",
      "shadows/shadows.ts",
      "catalog/packages.ts",
      "jobs/jobs-engine.ts",
      "jobs/job-control.ts",
      "jobs/device-api.ts",
    ].map(load),
  );

const dir = mkdtempSync(join(tmpdir(), "bench-history-"));
// A clock with timers for engines that take one; the older engine reads only now().
const clock = { now: () => Date.now(), setTimeout: () => ({ cancel() {} }) };
const store = new Store(dir);
let fleet: any;
const shadows = new ShadowService(
  store,
  (t: string) => fleet.hasThing(t),
  clock.now,
  (t: string) => fleet.reevaluate(t),
);
fleet = new Fleet(store, (t: string) => shadows.statesOf(t), clock.now);
const catalog = new PackageCatalog(store, clock.now);
const engine = new JobsEngine(store, { minuteMs: 60_000, clock, notify: () => {} });
const jobs = new JobControl(store, engine, fleet, catalog, clock.now, { clock, minuteMs: 60_000 });
fleet.onMembershipChange((t: string, j: string[], l: string[]) => jobs.onMembershipChange(t, j, l));
const api = new JobsDeviceApi(engine, clock);

const startNext: number[] = [];
const update: number[] = [];
function runJobs(thing: string, count: number): void {
  fleet.createThing(thing);
  for (let i = 0; i < count; i++) {
    const jobId = `${thing}-job-${i}`;
    jobs.createJob({
      jobId,
      targets: [`arn:aws:iot:us-east-1:123456789012:thing/${thing}`],
      document: '{"version":"1.0","steps":[]}',
    });
    let t = performance.now();
    const started = api.handle(`$aws/things/${thing}/jobs/start-next`, "{}");
    startNext.push(performance.now() - t);
    if (started[0]?.payload.execution?.jobId !== jobId)
      throw new Error(`${jobId} did not start: ${JSON.stringify(started)}`);
    t = performance.now();
    const done = api.handle(`$aws/things/${thing}/jobs/${jobId}/update`, '{"status":"SUCCEEDED"}');
    update.push(performance.now() - t);
    if (!done[0]?.topic.endsWith("/accepted")) throw new Error(`${jobId} update refused: ${JSON.stringify(done)}`);
  }
}
// Warm-up on another thing (the JIT), so the first window of the measured thing is not its compile time.
runJobs("warm-up", 300);
startNext.length = update.length = 0;
runJobs("pi-1", n);
store.close();
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const window = (xs: number[], end: number) => median(xs.slice(Math.max(0, end - 100), end));
const checkpoints = [100, 1000, 2500, 5000, 10_000].filter((c) => c <= n);
console.log(
  `source: ${root}\nexecutions already finished on the thing → median ms of the next 100 jobs (ratio to the first 100)`,
);
console.log("finished      start-next          final update");
for (const c of checkpoints) {
  const s = window(startNext, c);
  const u = window(update, c);
  const ratio = (x: number, first: number) => (x / first).toFixed(2);
  console.log(
    `${String(c - 100).padStart(8)}   ${s.toFixed(3).padStart(7)} (${ratio(s, window(startNext, 100))}×)   ${u.toFixed(3).padStart(7)} (${ratio(u, window(update, 100))}×)`,
  );
}
