/**
 * A job's own status, every (status, event) pair: the expected table is written out here
 * independently of src/service/jobs/job-states.ts, so a changed transition fails a test.
 */
import { expect, test } from "bun:test";
import { isAllDone, JOB_EVENTS, JOB_STATUSES, nextJobStatus } from "../../src/service/jobs/job-states.ts";
import type { JobStatus } from "../../src/service/model.ts";

// Rows: from-status; columns in JOB_EVENTS order; "=" unchanged, "!" refused.
const COLUMNS = "window-closed window-opened schedule-ended cancel all-done";
const EXPECTED: Record<JobStatus, string> = {
  SCHEDULED: "= IN_PROGRESS IN_PROGRESS CANCELED =",
  IN_PROGRESS: "SCHEDULED = = CANCELED COMPLETED",
  CANCELED: "= = = = =", // canceled again (with force, to end what is IN_PROGRESS): still CANCELED
  COMPLETED: "= = = ! =",
  DELETION_IN_PROGRESS: "= = = ! =",
};

test("every (job status, event) pair", () => {
  expect(JOB_EVENTS.join(" ")).toBe(COLUMNS);
  expect([...JOB_STATUSES].sort()).toEqual(Object.keys(EXPECTED).sort() as JobStatus[]);
  for (const status of JOB_STATUSES) {
    const row = EXPECTED[status].split(" ");
    JOB_EVENTS.forEach((event, i) => {
      const r = nextJobStatus({ jobId: "j", status }, event);
      const got = r.ok ? (r.status === status ? "=" : r.status) : "!";
      expect(`${status} ${event} → ${got}`).toBe(`${status} ${event} → ${row[i]}`);
      if (!r.ok) {
        expect(r.error.code).toBe("InvalidStateTransition");
        expect(r.error.message).toContain("Job j ");
      }
    });
  }
});

test("all done: SNAPSHOT jobs with nothing pending (executions and things not yet reached)", () => {
  expect(isAllDone({ targetSelection: "SNAPSHOT" }, 0)).toBe(true);
  expect(isAllDone({ targetSelection: "SNAPSHOT" }, 1)).toBe(false);
  expect(isAllDone({ targetSelection: "CONTINUOUS" }, 0)).toBe(false);
});
