/** A retry (same jobId, next executionNumber) has its own crash-loop count; the same execution keeps counting. */
import { expect, test } from "bun:test";
import { ExecutionRecord } from "../../src/state/execution-record.ts";
import { notificationKey, sameNotification } from "../../src/jobs/dedupe.ts";
import { tempDir } from "../helpers/temp.ts";

test("a retry of a job starts its crash-loop count at 1; the counts survive a restart", () => {
  const dir = tempDir();
  const record = new ExecutionRecord(dir);
  expect(record.recordStart("job", 1).starts).toBe(1);
  expect(new ExecutionRecord(dir).recordStart("job", 1).starts).toBe(2);
  expect(new ExecutionRecord(dir).recordStart("job", 1).starts).toBe(3);
  expect(new ExecutionRecord(dir).recordStart("job", 2).starts).toBe(1);
  expect(new ExecutionRecord(dir).recordStart("job", 2).starts).toBe(2);
});

test("a retry is not a duplicate of the execution before it; the same execution notified twice is", () => {
  const doc = { version: "1.0", steps: [] };
  const first = notificationKey("job", 1, doc, 100);
  expect(sameNotification(first, notificationKey("job", 1, doc, 100))).toBe(true);
  expect(sameNotification(first, notificationKey("job", 2, doc, 160))).toBe(false);
});
