/**
 * Progress of long jobs, end to end: the agent process, a real Mosquitto and the Jobs peer. A
 * document with reportProgress gets IN_PROGRESS updates naming the step and carrying what its
 * handler wrote to $IOT_JOBS_PROGRESS_FILE, at most one per progress-interval-seconds; a document
 * without it gets the Device Client's reports, and its handler no progress file.
 */
import { describe, expect, test } from "bun:test";
import { jobsHarness } from "../helpers/jobs-harness.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

const h = jobsHarness("progress");

const PROGRESS_HANDLER = `#!/bin/sh
echo "file=\${IOT_JOBS_PROGRESS_FILE:-none}"
[ -n "$IOT_JOBS_PROGRESS_FILE" ] || exit 0
for p in 10 50 90; do
  echo "percent=$p" >> "$IOT_JOBS_PROGRESS_FILE"
  echo "phase=download" >> "$IOT_JOBS_PROGRESS_FILE"
  sleep 1.3
done
`;

const documentWith = (reportProgress: boolean | undefined) => ({
  version: "1.0",
  includeStdOut: true,
  ...(reportProgress === undefined ? {} : { reportProgress }),
  steps: [
    { action: { name: "Prepare", type: "runCommand", input: { command: "true" } } },
    { action: { name: "Download-File", type: "runHandler", input: { handler: "progress.sh" } } },
    { action: { name: "Finish", type: "runCommand", input: { command: "true" } } },
  ],
});

describe("progress of long jobs", () => {
  test("reportProgress: step and the handler's entries in IN_PROGRESS, at most one progress update per interval", async () => {
    const handlers = tempDir();
    writeHandler(handlers, "progress.sh", PROGRESS_HANDLER);
    const thing = h.newThing();
    h.startAgent(thing, handlers, { progressIntervalSeconds: 1 });
    h.peer.queueJob(thing, "long", documentWith(true));
    const done = await h.peer.waitForStatus(thing, "long", "SUCCEEDED", 30_000);
    const inProgress = h.peer
      .updatesFor("long")
      .filter((u) => u.request.status === "IN_PROGRESS" && u.reply === "accepted");
    const details = inProgress.map((u) => u.request.statusDetails as Record<string, string>);
    expect(details[0]).toEqual({ step: "1/3 Prepare" });
    expect(details).toContainEqual({ step: "2/3 Download-File" });
    expect(
      details.some(
        (d) => d.step === "2/3 Download-File" && d.phase === "download" && /^(10|50|90)$/.test(d.percent ?? ""),
      ),
    ).toBe(true);
    expect(details.at(-1)).toEqual({ step: "3/3 Finish" });
    // Progress updates (no step timer change) come an interval after the update before them (less the
    // delivery jitter under load; the exact rate limit is test/unit/progress.test.ts, on a ManualClock).
    for (let i = 1; i < inProgress.length; i++) {
      if (inProgress[i]!.request.stepTimeoutInMinutes === undefined)
        expect(inProgress[i]!.at - inProgress[i - 1]!.at).toBeGreaterThanOrEqual(500);
    }
    expect(inProgress.length).toBeLessThanOrEqual(3 + 5); // three step starts, a progress update per second at most
    expect(done.statusDetails.stdout).toMatch(/^file=\/.+\/step-progress\n$/);
    expect(done.statusDetails).not.toHaveProperty("percent");
  }, 40_000);

  test("without reportProgress: IN_PROGRESS carries empty statusDetails, as the Device Client's; no progress file", async () => {
    const handlers = tempDir();
    writeHandler(handlers, "progress.sh", PROGRESS_HANDLER);
    const thing = h.newThing();
    h.startAgent(thing, handlers, { progressIntervalSeconds: 1 });
    for (const [jobId, flag] of [
      ["plain", undefined],
      ["off", false],
    ] as const) {
      h.peer.queueJob(thing, jobId, documentWith(flag));
      const done = await h.peer.waitForStatus(thing, jobId, "SUCCEEDED", 30_000);
      const inProgress = h.peer.updatesFor(jobId).filter((u) => u.request.status === "IN_PROGRESS");
      expect(inProgress.map((u) => u.request.statusDetails)).toEqual([{}, {}, {}]);
      expect(done.statusDetails.stdout).toBe("file=none\n");
    }
  }, 40_000);
});
