import { describe, expect, test } from "bun:test";
import { notificationKey, RecentExecution, sameNotification } from "../../src/jobs/dedupe.ts";
import { jobIdOfTruncatedExecution } from "../../src/jobs/oversized-message.ts";
import { sameDocument } from "../../src/jobs/same-document.ts";
import { reportableDetails } from "../../src/runner/sanitize.ts";
import { newClientToken } from "../../src/jobs/client-token.ts";
import { backoffDelay, jitteredDelay } from "../../src/util/backoff.ts";
import { REDACTED, redactSecrets } from "../../src/util/redact.ts";
import { sanitizeText } from "../../src/runner/sanitize.ts";
import { exitReason } from "../../src/runner/step-exit.ts";

describe("backoff", () => {
  test("10 s doubling to a 640 s cap, as the reference retries updates", () => {
    expect([0, 1, 2, 3, 6, 7, 20].map((n) => backoffDelay(n, 10_000, 640_000))).toEqual([
      10_000, 20_000, 40_000, 80_000, 640_000, 640_000, 640_000,
    ]);
  });
  test("jitter stays between half and all of the delay", () => {
    expect(jitteredDelay(2, 1000, 60_000, () => 0)).toBe(2000);
    expect(jitteredDelay(2, 1000, 60_000, () => 1)).toBe(4000);
    for (let i = 0; i < 100; i++) {
      const d = jitteredDelay(3, 1000, 60_000);
      expect(d).toBeGreaterThanOrEqual(4000);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });
});

describe("dedupe [DC-JOBS-dedupe]", () => {
  const url = (sig: string) =>
    `https://bucket.s3.us-east-1.amazonaws.com/firmware.bin?X-Amz-Signature=${sig}&X-Amz-Expires=3600`;
  const doc = (sig: string) => ({
    version: "1.0",
    steps: [
      { action: { name: "d", type: "runHandler", input: { handler: "download-file.sh", args: [url(sig), "/tmp/f"] } } },
    ],
  });
  test("the same execution with a regenerated pre-signed URL is a duplicate", () => {
    expect(sameNotification(notificationKey("j", 1, doc("aaa")), notificationKey("j", 1, doc("bbb")))).toBe(true);
  });
  test("a document given as a string or an object compares equal", () => {
    expect(
      sameNotification(notificationKey("j", 1, JSON.stringify(doc("a"), null, 2)), notificationKey("j", 1, doc("b"))),
    ).toBe(true);
  });
  test("another execution number, job id or document is not", () => {
    const a = notificationKey("j", 1, doc("a"));
    expect(sameNotification(a, notificationKey("j", 2, doc("a")))).toBe(false);
    expect(sameNotification(a, notificationKey("k", 1, doc("a")))).toBe(false);
    expect(sameNotification(a, notificationKey("j", 1, { ...doc("a"), includeStdOut: true }))).toBe(false);
    expect(sameNotification(undefined, a)).toBe(false);
  });
});

describe("client tokens", () => {
  test("10 characters of [0-9a-zA-Z], fresh each time", () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => newClientToken()));
    expect(tokens.size).toBe(1000);
    for (const t of tokens) expect(t).toMatch(/^[0-9a-zA-Z]{10}$/);
  });
});

describe("redactSecrets", () => {
  test("pre-signed URL signatures, credentials and tokens", () => {
    const url =
      "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIAXXX%2F2026&X-Amz-Security-Token=FwoGZX&X-Amz-Signature=abcdef0123";
    const out = redactSecrets(url);
    expect(out).not.toContain("abcdef0123");
    expect(out).not.toContain("AKIAXXX");
    expect(out).not.toContain("FwoGZX");
    expect(out).toContain("X-Amz-Algorithm=AWS4");
    expect(out).toContain(`X-Amz-Signature=${REDACTED}`);
  });
  test("PEM private keys, even cut off", () => {
    const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----";
    expect(redactSecrets(`key: ${pem} done`)).toBe(`key: -----BEGIN RSA PRIVATE KEY-----${REDACTED} done`);
    expect(redactSecrets("-----BEGIN PRIVATE KEY-----\nMIIE")).toBe(`-----BEGIN PRIVATE KEY-----${REDACTED}`);
  });
});

describe("sanitizeText", () => {
  test("keeps printable text, \\n and \\t; replaces other controls; drops \\r", () => {
    expect(sanitizeText("a\tb\r\nc\u0007d\u200be€😀")).toBe("a\tb\nc\uFFFDd\uFFFDe€😀");
  });
  test("% is kept (the reference turned it into a space)", () => expect(sanitizeText("100%")).toBe("100%"));
});

describe("exitReason", () => {
  test("worded as the specification's example", () => {
    expect(exitReason({ kind: "exited", code: 1 })).toBe("Exited with status: 1");
    expect(exitReason({ kind: "signaled", signal: "SIGKILL" })).toBe("Killed by signal: SIGKILL");
    expect(exitReason({ kind: "timed-out", seconds: 5 })).toBe("Timed out after 5 s");
  });
});

describe("redteam 08: dedupe keys on the execution, forgotten once it is terminal", () => {
  const doc = { version: "1.0", steps: [] };
  test("a re-created jobId (executionNumber 1 again) queued at another time is a new execution", () => {
    expect(sameNotification(notificationKey("j", 1, doc, 1000), notificationKey("j", 1, doc, 1005))).toBe(false);
    expect(sameNotification(notificationKey("j", 1, doc, 1000), notificationKey("j", 1, doc, 1000))).toBe(true);
  });
  test("the remembered execution repeats until forgotten; forgetting another job changes nothing", () => {
    const recent = new RecentExecution();
    const key = notificationKey("j", 1, doc, 1000);
    expect(recent.isRepeat(key)).toBe(false);
    expect(recent.isRepeat(key)).toBe(true);
    recent.forget("other");
    expect(recent.isRepeat(key)).toBe(true);
    recent.forget("j");
    expect(recent.isRepeat(key)).toBe(false);
  });
});

describe("redteam 06: reportableDetails, the one statusDetails gate", () => {
  test("control characters in any value, secrets, limits, empty values", () => {
    const out = reportableDetails({
      reason: "Handler directory /opt/h\u001b[0m does not exist",
      failedStep: "bad\u0007name",
      stdout: "x".repeat(3000) + "&X-Amz-Signature=" + "s".repeat(30),
      stderr: "",
      empty: "\r",
    });
    expect(out).toEqual({
      reason: "Handler directory /opt/h\uFFFD[0m does not exist",
      failedStep: "bad\uFFFDname",
      stdout: "x".repeat(1024 - 27) + "&X-Amz-Signature=[REDACTED]",
    });
    expect(reportableDetails(out)).toEqual(out); // idempotent
    expect(reportableDetails({ reason: "r".repeat(5000) }).reason!.length).toBe(1024);
  });
});

describe("redteam 12: the jobId of an oversized execution message", () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  test("read from the kept head, only when it comes before any jobDocument", () => {
    const head = '{"timestamp":1,"execution":{"jobId":"huge-1","thingName":"t","jobDocument":{"x":"';
    expect(jobIdOfTruncatedExecution(bytes(head))).toBe("huge-1");
    const documentFirst = '{"execution":{"jobDocument":{"jobId":"victim"},"jobId":"huge-1"';
    expect(jobIdOfTruncatedExecution(bytes(documentFirst))).toBeUndefined();
    expect(jobIdOfTruncatedExecution(bytes('{"execution":{"jobId":"not/valid"}'))).toBeUndefined();
    expect(jobIdOfTruncatedExecution(bytes('{"execution":{"status":"QUEUED","jobDocument":"xxxx'))).toBeUndefined();
  });
});

describe("sameDocument: the document the service returns tells a re-created job from the old one", () => {
  const doc = { version: "1.0", steps: [{ action: { name: "a", type: "runHandler", input: { handler: "x.sh" } } }] };
  test("equal whatever the key order, as an object or a JSON string", () => {
    const reordered = {
      steps: [{ action: { input: { handler: "x.sh" }, type: "runHandler", name: "a" } }],
      version: "1.0",
    };
    expect(sameDocument(doc, reordered)).toBe(true);
    expect(sameDocument(JSON.stringify(reordered), doc)).toBe(true);
  });
  test("different in any value, array order or extra key", () => {
    expect(sameDocument(doc, { ...doc, version: "1.1" })).toBe(false);
    expect(sameDocument({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameDocument({ a: 1 }, { a: 1, b: null })).toBe(false);
    expect(sameDocument({ a: "1" }, { a: 1 })).toBe(false);
  });
  test("pre-signed URLs signed at another moment are the same; another object, host or parameter is not", () => {
    const url = (key: string, date: string, sig: string) =>
      `https://bucket.s3.amazonaws.com/${key}?versionId=7&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=${date}&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=${sig}`;
    const doc = (u: string) => ({ version: "1.0", steps: [{ action: { input: { args: [u, "/tmp/x"] } } }] });
    expect(
      sameDocument(doc(url("a.tgz", "20261130T091500Z", "ab12")), doc(url("a.tgz", "20261130T091501Z", "cd34"))),
    ).toBe(true);
    expect(sameDocument(doc(url("a.tgz", "1", "ab")), doc(url("b.tgz", "1", "ab")))).toBe(false);
    expect(
      sameDocument(doc(url("a.tgz", "1", "ab")), doc(url("a.tgz", "1", "ab").replace("versionId=7", "versionId=8"))),
    ).toBe(false);
    // Without a signature nothing is stripped: X-Amz-* parameters of a plain URL are the document's own.
    expect(sameDocument({ u: "https://h/p?X-Amz-Date=1" }, { u: "https://h/p?X-Amz-Date=2" })).toBe(false);
  });

  test("a string that is not JSON is compared as itself; absent documents are equal only to each other", () => {
    expect(sameDocument("{not json", "{not json")).toBe(true);
    expect(sameDocument("{not json", doc)).toBe(false);
    expect(sameDocument(undefined, undefined)).toBe(true);
    expect(sameDocument(undefined, null)).toBe(false);
  });
});
