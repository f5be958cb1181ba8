/**
 * npm run test:scenarios [-- --agent | --service]: the generated-scenario fuzzers, 1,000 scenarios
 * each by default (IOT_JOBS_SCENARIOS=N). The seed is printed first; IOT_JOBS_FUZZ_SEED=<seed> replays
 * the run, and each failing scenario is printed with its own seed (IOT_JOBS_SCENARIOS=1 replays it
 * alone: the same events; the timing of real processes can differ). IOT_JOBS_SCENARIO_FULL_DISK=0
 * leaves the full disk out of the service's mix. Exits 1 if any scenario broke an invariant.
 */
import { runAgentScenario, startAgentScenarioEnv } from "../test/fuzz/agent-scenarios.ts";
import { canMountTmpfs, runServiceScenario } from "../test/fuzz/service-scenarios.ts";
import { runSeed, scenarioCount, SeededRandom } from "../test/helpers/seeded-random.ts";
import { removeTempDirs } from "../test/helpers/temp.ts";

const args = process.argv.slice(2);
const which = args.includes("--agent") ? ["agent"] : args.includes("--service") ? ["service"] : ["agent", "service"];
const count = scenarioCount(1000);
const seed = runSeed();
const fullDisk = canMountTmpfs() && process.env.IOT_JOBS_SCENARIO_FULL_DISK !== "0";
const without = process.env.IOT_JOBS_SCENARIO_WITHOUT
  ? ` IOT_JOBS_SCENARIO_WITHOUT=${process.env.IOT_JOBS_SCENARIO_WITHOUT}`
  : "";
console.error(
  `IOT_JOBS_FUZZ_SEED=${seed} IOT_JOBS_SCENARIOS=${count}${without} (${which.join(" and ")}${which.includes("service") && !fullDisk ? "; no full disk" : ""})`,
);

const SCENARIO_LIMIT_MS = 5 * 60_000;
let failed = 0;
const summary: string[] = [];
for (const kind of which) {
  const started = Date.now();
  let bad = 0;
  const agentEnv = kind === "agent" ? await startAgentScenarioEnv() : undefined;
  try {
    for (let n = 0; n < count; n++) {
      const rng = new SeededRandom(seed + n);
      // A scenario that never ends (a promise of the harness that never settles) is a failure with
      // its seed, not the end of the run.
      const hung = { violations: [`no result after ${SCENARIO_LIMIT_MS / 60000} min (hung)`], events: [] as string[] };
      const { violations, events } = await Promise.race([
        agentEnv ? runAgentScenario(agentEnv, rng) : runServiceScenario(rng, { fullDisk }),
        Bun.sleep(SCENARIO_LIMIT_MS).then(() => hung),
      ]);
      if (violations.length > 0) {
        bad++;
        console.error(
          `\n${kind} scenario ${n} FAILED — replay: IOT_JOBS_FUZZ_SEED=${seed + n} IOT_JOBS_SCENARIOS=1${without} npm run test:scenarios -- --${kind}`,
        );
        console.error(`  events:\n    ${events.join("\n    ")}\n  broken:\n    ${violations.join("\n    ")}`);
      }
      if ((n + 1) % 25 === 0)
        console.error(`${kind}: ${n + 1}/${count}, ${bad} failed, ${((Date.now() - started) / 60000).toFixed(1)} min`);
    }
  } finally {
    await agentEnv?.stop();
  }
  failed += bad;
  summary.push(
    `${kind}: ${count - bad}/${count} scenarios clean in ${((Date.now() - started) / 60000).toFixed(1)} min (seed ${seed})`,
  );
}
console.log(summary.join("\n"));
removeTempDirs();
process.exit(failed === 0 ? 0 : 1);
