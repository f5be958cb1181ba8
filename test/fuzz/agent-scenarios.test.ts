/**
 * The agent's generated-scenario fuzzer (test/fuzz/agent-scenarios.ts), a short run in `npm test`
 * (IOT_JOBS_SCENARIOS, default 3). The seed is printed; `IOT_JOBS_FUZZ_SEED=<seed>` replays the run.
 * `npm run test:scenarios` runs 1,000.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { runSeed, scenarioCount, SeededRandom } from "../helpers/seeded-random.ts";
import { type AgentScenarioEnv, runAgentScenario, startAgentScenarioEnv, withoutFromEnv } from "./agent-scenarios.ts";

const COUNT = scenarioCount(3);
const SEED = runSeed();
/**
 * Left out of the short run until their fixes are merged: "hostile-name" jobs (a control character
 * in failedStep) get the terminal update refused and the thing's queue stuck — known defect agent 06;
 * "secret-encoded" jobs print secrets JSON-/HTML-/URL-encoded or as a SigV4 header, which reach
 * statusDetails — known defect agent 11. IOT_JOBS_SCENARIO_WITHOUT= (empty) runs the full mix.
 */
const WITHOUT =
  process.env.IOT_JOBS_SCENARIO_WITHOUT !== undefined ? withoutFromEnv() : new Set(["hostile-name", "secret-encoded"]);

describe("agent: generated scenarios", () => {
  let env: AgentScenarioEnv;
  beforeAll(async () => {
    env = await startAgentScenarioEnv();
  });
  afterAll(() => env.stop());

  test(
    `${COUNT} scenarios (seed ${SEED}): nothing stuck, never concurrent, no step left alive, no secret shown`,
    async () => {
      console.error(
        `agent scenarios: IOT_JOBS_FUZZ_SEED=${SEED} IOT_JOBS_SCENARIOS=${COUNT} IOT_JOBS_SCENARIO_WITHOUT=${[...WITHOUT].join(",")}`,
      );
      const failures: string[] = [];
      for (let n = 0; n < COUNT; n++) {
        const { violations, events } = await runAgentScenario(env, new SeededRandom(SEED + n), {
          without: WITHOUT,
          quietMs: 20_000,
        });
        if (violations.length > 0)
          failures.push(`scenario seed ${SEED + n}:\n  events: ${events.join("; ")}\n  ${violations.join("\n  ")}`);
      }
      expect(failures).toEqual([]);
    },
    60_000 + COUNT * 50_000,
  );
});
