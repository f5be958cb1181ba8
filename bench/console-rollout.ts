/**
 * The console's cost during a roll-out (bun bench/console-rollout.ts [N] [ROUNDS], default 10000 2).
 *
 * The fleet roll-out of bench/fleet-rollout.ts (fresh service, N things, N simulated agents, one
 * job on a dynamic group), in turn: without a console; with Debian's chromium showing the job's
 * page (/console#/jobs/rollout, opened before CreateJob so it follows the whole roll-out live);
 * and with a script in this process that does what that page does over HTTP (reads
 * /console/events and, after each change, the two views the page reads) without rendering — to
 * tell the service's cost from the browser's competing for the same cores. Measured for the
 * roll-out: wall time, the service's CPU seconds (user + system, until 1 s after the last
 * execution ended) and its peak RSS; for the console, the events received and the views fetched.
 * CONSOLE_SCREENSHOT=FILE.png saves the job page as chromium shows it at the end.
 */
import { chromium } from "playwright-core";
import { run } from "./fleet-rollout.ts";

const n = Number(process.argv[2] ?? 10_000);
const rounds = Number(process.argv[3] ?? 2);
/** Every variant: CPU is read 1 s after the roll-out ends (the last coalesced event and its fetches). */
const SETTLE_MS = 1000;
type Variant = "none" | "chromium" | "script";

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });

/** What the job page does, without a browser: follow the events, re-read the views one at a time. */
function scriptConsole(http: string, counts: { events: number; fetches: number }): () => void {
  const abort = new AbortController();
  const views = [`${http}/console/api/jobs/rollout`, `${http}/console/api/jobs/rollout/executions?offset=0`];
  let busy = false;
  let again = false;
  const refresh = async (): Promise<void> => {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    for (const v of views) {
      counts.fetches++;
      await (await fetch(v, { signal: abort.signal })).arrayBuffer();
    }
    busy = false;
    if (again) {
      again = false;
      await refresh();
    }
  };
  void (async () => {
    const res = await fetch(`${http}/console/events`, { signal: abort.signal });
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const text = new TextDecoder().decode(value);
      if (text.includes("event: change")) {
        counts.events++;
        void refresh().catch(() => {});
      }
    }
  })().catch(() => {});
  return () => abort.abort();
}

console.log(`console during a roll-out: ${n} things, ${rounds} rounds`);
console.log(
  "| round | console | roll-out to all terminal | service CPU during it | service peak RSS during it | events | view fetches |",
);
console.log("|---:|---|---:|---:|---:|---:|---:|");
for (let round = 1; round <= rounds; round++) {
  for (const variant of ["none", "chromium", "script"] as Variant[]) {
    const counts = { events: 0, fetches: 0 };
    const page = variant === "chromium" ? await browser.newPage({ viewport: { width: 1280, height: 900 } }) : undefined;
    let stopScript = () => {};
    const r = await run(
      n,
      async (http) => {
        if (variant === "script") stopScript = scriptConsole(http, counts);
        if (!page) return;
        page.on("request", (req) => void (req.url().includes("/console/api/") && counts.fetches++));
        await page.exposeFunction("__benchEvent", () => void counts.events++);
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
      async () => {
        if (page && process.env.CONSOLE_SCREENSHOT) await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT });
      },
    );
    stopScript();
    await page?.close();
    const label = { none: "none", chromium: "chromium on the job page", script: "script reading what the page reads" };
    const counted = variant !== "none";
    console.log(
      `| ${round} | ${label[variant]} | ${(r.rolloutMs / 1000).toFixed(2)} s | ${r.rolloutCpuS.toFixed(2)} s | ${r.rolloutPeakMb.toFixed(0)} MB | ${counted ? counts.events : "–"} | ${counted ? counts.fetches : "–"} |`,
    );
  }
}
await browser.close();
