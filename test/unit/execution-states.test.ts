/**
 * The execution state machine, every (status, event) pair: the expected table is written out here
 * independently of src/service/jobs/execution-states.ts, so a changed transition fails a test.
 */
import { describe, expect, test } from "bun:test";
import type { JobExecutionStatus } from "../../src/protocol/statuses.ts";
import { ServiceError } from "../../src/service/errors.ts";
import {
  EXECUTION_EVENTS,
  EXECUTION_STATUSES,
  type ExecutionEvent,
  nextStatus,
  reportEvent,
} from "../../src/service/jobs/execution-states.ts";

// Rows: from-status; columns in EXECUTION_EVENTS order; "-" = refused.
const COLUMNS =
  "start report-in-progress report-succeeded report-failed report-rejected cancel force-cancel time-out remove thing-deleted";
const EXPECTED: Record<JobExecutionStatus, string> = {
  QUEUED: "IN_PROGRESS IN_PROGRESS SUCCEEDED FAILED REJECTED CANCELED CANCELED - REMOVED REMOVED",
  IN_PROGRESS: "IN_PROGRESS IN_PROGRESS SUCCEEDED FAILED REJECTED - CANCELED TIMED_OUT - REMOVED",
  SUCCEEDED: "- - - - - - - - - -",
  FAILED: "- - - - - - - - - -",
  TIMED_OUT: "- - - - - - - - - -",
  REJECTED: "- - - - - - - - - -",
  REMOVED: "- - - - - - - - - -",
  CANCELED: "- - - - - - - - - -",
};

describe("execution state machine", () => {
  test("the events and statuses are the ones this table lists", () => {
    expect(EXECUTION_EVENTS.join(" ")).toBe(COLUMNS);
    expect([...EXECUTION_STATUSES].sort() as string[]).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const from of Object.keys(EXPECTED) as JobExecutionStatus[]) {
    const row = EXPECTED[from].split(" ");
    for (const [i, event] of (COLUMNS.split(" ") as ExecutionEvent[]).entries()) {
      const want = row[i]!;
      test(`${from} + ${event} → ${want === "-" ? "refused" : want}`, () => {
        const got = nextStatus(from, event);
        if (want === "-") {
          expect(got.ok).toBe(false);
          if (got.ok) return;
          expect(got.error).toBeInstanceOf(ServiceError);
          expect(got.error.code).toBe("InvalidStateTransition");
          expect(got.error.message).toContain(from);
        } else {
          expect(got).toEqual({ ok: true, status: want as JobExecutionStatus });
        }
      });
    }
  }

  test("refusals say why, as the device API and control plane report them", () => {
    const msg = (s: JobExecutionStatus, e: ExecutionEvent) => {
      const r = nextStatus(s, e);
      return r.ok ? "" : r.error.message;
    };
    expect(msg("SUCCEEDED", "report-succeeded")).toBe(
      "Cannot update the job execution from SUCCEEDED to SUCCEEDED: it is in a terminal state",
    );
    expect(msg("IN_PROGRESS", "cancel")).toBe("The job execution is IN_PROGRESS; cancel it with force=true");
    expect(msg("CANCELED", "force-cancel")).toBe("The job execution is already CANCELED");
  });

  test("only the four device-settable statuses are device reports", () => {
    const events = EXECUTION_STATUSES.map((s) => [s, reportEvent(s)]);
    expect(Object.fromEntries(events)).toEqual({
      QUEUED: undefined,
      IN_PROGRESS: "report-in-progress",
      SUCCEEDED: "report-succeeded",
      FAILED: "report-failed",
      TIMED_OUT: undefined,
      REJECTED: "report-rejected",
      REMOVED: undefined,
      CANCELED: undefined,
    });
  });
});
