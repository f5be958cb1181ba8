/**
 * The console's cost during a roll-out (bun bench/console-rollout.ts [N] [ROUNDS], default 10000 2).
 *
 * The fleet roll-out of bench/fleet-rollout.ts (fresh service, N things, N simulated agents, one
 * job on a dynamic group), alternately without a console and with Debian's chromium showing the
 * job's page (/console#/jobs/rollout, opened before CreateJob so it follows the whole roll-out
 * live). Measured for the roll-out alone: wall time, the service's CPU seconds (user + system,
 * until 1 s after the last execution ended) and its peak RSS; for the console, the events it received and the views it fetched.
 */
import { chromium } from "playwright-core";
import { run } from "./fleet-rollout.ts";

const n = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 2);
/** Both variants: CPU is read 1 s after the roll-out ends (the last coalesced event and its fetches). */
const SETTLE_MS = 1000;

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
console.log(`console during a roll-out: ${n} things, ${rounds} rounds, alternating`);
console.log(
  "| round | console | roll-out to all terminal | service CPU during it | service peak RSS during it | events | view fetches |",
);
console.log("|---:|---|---:|---:|---:|---:|---:|");
for (let round = 1; round <= rounds; round++) {
  for (const withConsole of [false, true]) {
    let events = 0;
    let fetches = 0;
    const page = withConsole ? await browser.newPage({ viewport: { width: 1280, height: 900 } }) : undefined;
    const r = await run(
      n,
      async (http) => {
        if (!page) return;
        page.on("request", (req) => void (req.url().includes("/console/api/") && fetches++));
        await page.exposeFunction("__benchEvent", () => void events++);
        await page.addInitScript(() => {
          const Source = EventSource as unknown as new (url: string | URL) => EventTarget;
          // Counts the change events the page receives, then lets the page handle them as usual.
          (globalThis as unknown as { EventSource: unknown }).EventSource = class extends Source {
            constructor(url: string | URL) {
              super(url);
              this.addEventListener("change", () => (globalThis as unknown as { __benchEvent(): void }).__benchEvent());
            }
          };
        });
        await page.goto(`${http}/console#/jobs/rollout`);
        await page.waitForSelector("#live:not(.off)");
      },
      SETTLE_MS,
    );
    await page?.close();
    console.log(
      `| ${round} | ${withConsole ? "open on the job page" : "none"} | ${(r.rolloutMs / 1000).toFixed(2)} s | ${r.rolloutCpuS.toFixed(2)} s | ${r.rolloutPeakMb.toFixed(0)} MB | ${withConsole ? events : "–"} | ${withConsole ? fetches : "–"} |`,
    );
  }
}
await browser.close();
