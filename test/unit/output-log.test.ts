import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ByteSink } from "../../src/runner/byte-sink.ts";
import { OutputLog } from "../../src/runner/output-log.ts";
import { ManualClock } from "../../src/util/clock.ts";
import { REPO_ROOT, tempDir } from "../helpers/temp.ts";
import { writeFileSync } from "node:fs";

const enc = new TextEncoder();

function sink() {
  const bytes: number[] = [];
  let ends = 0;
  const inner: ByteSink = { push: (c) => bytes.push(...c), end: () => void ends++ };
  return { inner, bytes: () => new TextDecoder().decode(Uint8Array.from(bytes)), ends: () => ends };
}

describe("step output into the log", () => {
  test("lines split across chunks and UTF-8 sequences; bytes pass on unchanged; the last line on end", () => {
    const s = sink();
    const lines: string[] = [];
    const log = new OutputLog(s.inner, { line: (l) => lines.push(l) });
    const text = "héllo\nwörld\r\nlast";
    const bytes = enc.encode(text);
    for (let i = 0; i < bytes.length; i++) log.push(bytes.subarray(i, i + 1));
    log.end();
    expect(lines).toEqual(["héllo", "wörld", "last"]);
    expect(s.bytes()).toBe(text);
    expect(s.ends()).toBe(1);
  });

  test("control characters are neutralised; a long line is cut without buffering the rest", () => {
    const s = sink();
    const lines: string[] = [];
    const log = new OutputLog(s.inner, { line: (l) => lines.push(l), maxLineChars: 10 });
    log.push(enc.encode("a\u001b]0;pwned\u0007b\n"));
    for (let i = 0; i < 1000; i++) log.push(enc.encode("x".repeat(1000)));
    log.push(enc.encode("\nnext\n"));
    log.end();
    expect(lines[0]).not.toContain("\u001b");
    expect(lines[1]).toBe(`${"x".repeat(10)} …`);
    expect(lines[2]).toBe("next");
  });

  test("a PEM block is never logged line by line", () => {
    const s = sink();
    const lines: string[] = [];
    const log = new OutputLog(s.inner, { line: (l) => lines.push(l) });
    log.push(
      enc.encode(
        "before\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\nafter\n",
      ),
    );
    log.end();
    expect(lines).toEqual(["before", "-----BEGIN PRIVATE KEY----- [REDACTED: block not logged]", "after"]);
  });

  test("a flood: at most maxLines per window, then one summary line; the next window logs again", () => {
    const clock = new ManualClock();
    const s = sink();
    const lines: string[] = [];
    const log = new OutputLog(s.inner, { line: (l) => lines.push(l), maxLines: 5, windowMs: 1000, clock });
    for (let i = 0; i < 10_000; i++) log.push(enc.encode(`line ${i}\n`));
    expect(lines).toHaveLength(5);
    clock.advance(1000);
    log.push(enc.encode("later\n"));
    expect(lines.slice(5)).toEqual(["… 9,995 more line(s) not logged (more than 5 in 1 s)", "later"]);
    log.end();
    expect(lines).toHaveLength(7);
  });

  test("clock jumps: set back a year mid-flood, the next line starts a new window; forward 50 years, too", () => {
    const clock = new ManualClock();
    const s = sink();
    const lines: string[] = [];
    const log = new OutputLog(s.inner, { line: (l) => lines.push(l), maxLines: 5, windowMs: 1000, clock });
    for (let i = 0; i < 8; i++) log.push(enc.encode(`line ${i}\n`));
    expect(lines).toHaveLength(5);
    clock.set(clock.now() - 365 * 86_400_000);
    log.push(enc.encode("after the jump back\n"));
    expect(lines.slice(5)).toEqual(["… 3 more line(s) not logged (more than 5 in 1 s)", "after the jump back"]);
    for (let i = 0; i < 8; i++) log.push(enc.encode(`again ${i}\n`));
    clock.set(clock.now() + 50 * 365 * 86_400_000);
    log.push(enc.encode("after the jump forward\n"));
    expect(lines.at(-1)).toBe("after the jump forward");
    expect(lines.filter((l) => l.startsWith("again"))).toHaveLength(4);
  });
});

test("the agent's log gets a failing step's stderr (WARN) and, at DEBUG, its stdout", () => {
  const dir = tempDir();
  const doc = join(dir, "job.json");
  writeFileSync(
    doc,
    JSON.stringify({
      version: "1.0",
      steps: [
        {
          action: {
            name: "dl",
            type: "runCommand",
            input: {
              command: "sh,-c,echo fetching; echo 'curl: (6) Could not resolve host: example.invalid' >&2; exit 4",
            },
          },
        },
      ],
    }),
  );
  const run = (level: string) =>
    Bun.spawnSync(
      [
        process.execPath,
        join(REPO_ROOT, "src/main.ts"),
        "exec",
        doc,
        "--log-level",
        level,
        "--state-dir",
        join(dir, "s"),
      ],
      { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: dir } },
    );
  const info = run("INFO");
  const infoLog = info.stderr
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  expect(infoLog.find((l) => l.stream === "stderr")).toMatchObject({
    level: "WARN",
    line: "curl: (6) Could not resolve host: example.invalid",
  });
  expect(infoLog.find((l) => l.stream === "stdout")).toBeUndefined();
  const debug = run("DEBUG");
  const debugLog = debug.stderr
    .toString()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  expect(debugLog.find((l) => l.stream === "stdout")).toMatchObject({ level: "DEBUG", line: "fetching" });
});
