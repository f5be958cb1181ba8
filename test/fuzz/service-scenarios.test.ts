/**
 * The service's generated-scenario fuzzer (test/fuzz/service-scenarios.ts), a short run in
 * `npm test` (IOT_JOBS_SCENARIOS, default 3). The seed is printed; `IOT_JOBS_FUZZ_SEED=<seed>`
 * replays the run. A full disk (a filled tmpfs) is part of the mix only as root.
 * `npm run test:scenarios` runs 1,000.
 */
import { describe, expect, test } from "bun:test";
import { runSeed, scenarioCount, SeededRandom } from "../helpers/seeded-random.ts";
import { canMountTmpfs, runServiceScenario } from "./service-scenarios.ts";

const COUNT = scenarioCount(3);
const SEED = runSeed();
/**
 * The full disk is left out of the short run until its fix is merged: a write refused with a 500
 * stays visible (the memory changes before SQLite fails) — known defect service 06.
 * IOT_JOBS_SCENARIO_FULL_DISK=1 turns it on (as root).
 */
const FULL_DISK = canMountTmpfs() && process.env.IOT_JOBS_SCENARIO_FULL_DISK === "1";
/**
 * Also left out until its fix is merged: a SIGKILL while a 300-member group is deleted leaves
 * memberships that a group created again under the name inherits — known defect service 04.
 * IOT_JOBS_SCENARIO_WITHOUT= (empty) runs the full mix.
 */
const WITHOUT = new Set(
  process.env.IOT_JOBS_SCENARIO_WITHOUT !== undefined
    ? process.env.IOT_JOBS_SCENARIO_WITHOUT.split(",").filter(Boolean)
    : ["kill-in-group-delete"],
);

describe("service: generated scenarios", () => {
  test(
    `${COUNT} scenarios (seed ${SEED}): acknowledged writes kept, refused ones invisible, jobs and groups consistent`,
    async () => {
      console.error(
        `service scenarios: IOT_JOBS_FUZZ_SEED=${SEED} IOT_JOBS_SCENARIOS=${COUNT} IOT_JOBS_SCENARIO_WITHOUT=${[...WITHOUT].join(",")}${FULL_DISK ? " with a full disk" : " (no full disk: IOT_JOBS_SCENARIO_FULL_DISK=1, root)"}`,
      );
      const failures: string[] = [];
      for (let n = 0; n < COUNT; n++) {
        const { violations, events } = await runServiceScenario(new SeededRandom(SEED + n), {
          fullDisk: FULL_DISK,
          without: WITHOUT,
        });
        if (violations.length > 0)
          failures.push(`scenario seed ${SEED + n}:\n  events: ${events.join("\n    ")}\n  ${violations.join("\n  ")}`);
      }
      expect(failures).toEqual([]);
    },
    60_000 + COUNT * 60_000,
  );
});
