/**
 * The logger writes pino's format without pino: the same calls through pino itself (configured as
 * the agent configured it before, kept here as the oracle) and through createLogger give the same
 * JSON lines, time aside. Plus what pino did not do: secrets in error messages and stacks.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { createLogger, type Logger } from "../../src/log/logger.ts";
import { redactSecrets } from "../../src/util/redact.ts";
import { tempDir } from "../helpers/temp.ts";

function redactDeep(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)]));
}

/** pino as src/log/logger.ts configured it until issue 16. */
function pinoOracle(lines: string[]): pino.Logger {
  return pino(
    {
      level: "debug",
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label.toUpperCase() }),
        log: (object) => redactDeep(object, 0) as Record<string, unknown>,
      },
      redact: {
        paths: ["key", "privateKey", "token", "password", "*.key", "*.privateKey", "*.token", "*.password"],
        censor: "[REDACTED]",
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((a) => (typeof a === "string" ? redactSecrets(a) : a)) as Parameters<typeof method>,
          );
        },
      },
      serializers: { err: pino.stdSerializers.err },
    },
    { write: (line: string) => void lines.push(line) },
  );
}

const withoutTime = (line: string) => {
  const { time, ...rest } = JSON.parse(line) as Record<string, unknown>;
  expect(String(time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return JSON.stringify(rest);
};

function ours(): { log: Logger; lines: () => string[] } {
  const file = join(tempDir(), "agent.log");
  const log = createLogger({ level: "DEBUG", type: "file", file });
  return { log, lines: () => readFileSync(file, "utf8").split("\n").filter(Boolean) };
}

describe("logger: pino's format without pino", () => {
  test("the same calls give the same lines (field order included), time aside", () => {
    const calls = (log: Logger) => {
      log.info("Starting");
      log.warn({ endpoint: "mqtt://h:1", n: 3, ok: true, none: undefined, list: [1, "a"] }, "Connected");
      const child = log.child({ jobId: "job-1", executionNumber: 2 });
      child.info({ steps: 3 }, "Running job");
      child.debug(
        { stream: "stdout", line: "see https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&x=1" },
        "Step output",
      );
      child.error({ password: "p", token: "t", nested: { key: "k", privateKey: "pk", other: "o" } }, "secret fields");
      const err = Object.assign(new Error("boom"), { code: "EACCES" });
      child.error({ err }, "Cannot save local state");
      child.error({ err });
      log.info({ msgLike: "x token=abc" }, "a token=zzz in the message");
      log.debug("below the level? no: debug is on");
    };
    const pinoLines: string[] = [];
    calls(pinoOracle(pinoLines) as unknown as Logger); // the same five methods, child and bindings
    const o = ours();
    calls(o.log);
    // pino's stack names its own call site; the rest of each line must match byte for byte.
    const normalise = (line: string) => withoutTime(line).replace(/"stack":"[^"]*"/, '"stack":"…"');
    expect(o.lines().map(normalise)).toEqual(pinoLines.map(normalise));
  });

  test("levels below the configured one write nothing; isLevelEnabled and bindings as pino's", () => {
    const file = join(tempDir(), "a.log");
    const log = createLogger({ level: "WARN", type: "file", file });
    log.info("hidden");
    log.debug({ a: 1 }, "hidden");
    log.warn("shown");
    expect(
      readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).msg),
    ).toEqual(["shown"]);
    expect([log.isLevelEnabled("info"), log.isLevelEnabled("warn"), log.isLevelEnabled("error")]).toEqual([
      false,
      true,
      true,
    ]);
    expect(log.child({ jobId: "j" }).child({ executionNumber: 1 }).bindings()).toEqual({
      jobId: "j",
      executionNumber: 1,
    });
  });

  test("beyond pino: a secret in an error's message or stack is redacted too", () => {
    const o = ours();
    o.log.error(
      { err: new Error("GET https://x.s3.amazonaws.com/f?X-Amz-Signature=deadbeef failed") },
      "Download failed",
    );
    const line = o.lines()[0]!;
    expect(line).not.toContain("deadbeef");
    expect(JSON.parse(line).err.message).toContain("X-Amz-Signature=[REDACTED]");
  });
});
