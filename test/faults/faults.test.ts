/**
 * The fault-injection scenarios, a short run (3 trials each) inside `npm test`; the full counts
 * come from `npm run test:faults` (100 trials each) and are recorded in docs/RELIABILITY.md.
 */
import { describe, expect, test } from "bun:test";
import { runScenario, SCENARIOS } from "./scenarios.ts";

const TRIALS = Number(process.env.IOT_JOBS_FAULT_TRIALS ?? 3);

describe("fault injection (short run)", () => {
  for (const s of SCENARIOS) {
    test(`${s.name}: ${s.promise}`, async () => {
      const { passed, failures } = await runScenario(s, TRIALS);
      expect(failures).toEqual([]);
      expect(passed).toBe(TRIALS);
    }, 240_000);
  }
});
