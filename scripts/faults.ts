/**
 * npm run test:faults [-- --trials N] [--only TEXT]: every fault-injection scenario of
 * test/faults/scenarios.ts, N trials each (default 100), against real processes and a real broker.
 * Prints `scenario | trials | passed` and the first failures; exits 1 if any trial failed.
 */
import { runScenario, SCENARIOS } from "../test/faults/scenarios.ts";
import { removeTempDirs } from "../test/helpers/temp.ts";

const args = process.argv.slice(2);
const at = args.indexOf("--trials");
const trials = at === -1 ? 100 : Number(args[at + 1]);
const onlyAt = args.indexOf("--only");
const only = onlyAt === -1 ? undefined : args[onlyAt + 1];

const rows: string[] = [];
let failed = 0;
const started = Date.now();
for (const s of SCENARIOS.filter((x) => !only || x.name.includes(only))) {
  const t0 = Date.now();
  const { passed, failures } = await runScenario(s, trials);
  failed += trials - passed;
  rows.push(`| ${s.name} | ${trials} | ${passed} | ${((Date.now() - t0) / 1000).toFixed(0)} s | ${s.promise} |`);
  console.error(`${s.name}: ${passed}/${trials}`);
  for (const f of failures.slice(0, 5)) console.error(`  ${f}`);
}
console.log("| scenario | trials | passed | time | promise |");
console.log("|---|---:|---:|---:|---|");
for (const r of rows) console.log(r);
console.log(`\n${failed === 0 ? "all passed" : `${failed} failed`} in ${((Date.now() - started) / 60000).toFixed(1)} min`);
removeTempDirs();
process.exit(failed === 0 ? 0 : 1);
