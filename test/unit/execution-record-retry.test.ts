/** A retry (same jobId, next executionNumber) has its own crash-loop count; the same execution keeps counting. */
import { expect, test } from "bun:test";
import { ExecutionRecord } from "../../src/state/execution-record.ts";
import { notificationKey, RecentExecution, sameNotification } from "../../src/jobs/dedupe.ts";
import { documentFingerprint } from "../../src/jobs/same-document.ts";
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

test("a job deleted and created again under its id (executionNumber 1 again) has its own crash-loop count", () => {
  const dir = tempDir();
  const signed = (date: string) => ({ url: `https://b.s3.amazonaws.com/k?X-Amz-Date=${date}&X-Amz-Signature=${date}` });
  const old = { queuedAt: 100, document: documentFingerprint(signed("1")) };
  expect(new ExecutionRecord(dir).recordStart("job", 1, old).starts).toBe(1);
  // Two deliveries of one execution (its pre-signed URL signed anew) keep counting.
  expect(
    new ExecutionRecord(dir).recordStart("job", 1, { ...old, document: documentFingerprint(signed("2")) }).starts,
  ).toBe(2);
  // Queued in another second, or in the same second with another document: a new execution.
  expect(new ExecutionRecord(dir).recordStart("job", 1, { ...old, queuedAt: 101 }).starts).toBe(1);
  expect(
    new ExecutionRecord(dir).recordStart("job", 1, { queuedAt: 101, document: documentFingerprint({ other: 1 }) })
      .starts,
  ).toBe(1);
});

test("after a refused start, a same-looking notify-next is confirmed again; a same-looking start-next reply is not", () => {
  const doc = { version: "1.0", steps: [] };
  const recent = new RecentExecution();
  expect(recent.isRepeat(notificationKey("job", 1, doc, 100))).toBe(false);
  expect(recent.isRepeat(notificationKey("job", 1, doc, 100), true)).toBe(true);
  recent.refusedStart("job");
  expect(recent.isRepeat(notificationKey("job", 1, doc, 100))).toBe(true);
  expect(recent.isRepeat(notificationKey("job", 1, doc, 100), true)).toBe(false);
  expect(recent.isRepeat(notificationKey("job", 1, doc, 100), true)).toBe(true);
});
