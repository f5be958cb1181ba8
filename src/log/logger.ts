/**
 * Logging: JSON lines through pino, human-readable when stdout is a terminal. The only pino
 * import. Secrets never reach a log line: known secret fields are censored and every string
 * passes through redactSecrets (pre-signed URL signatures, tokens, PEM private keys).
 * The readable format escapes control characters: job documents come from the cloud, and an
 * ESC sequence in a step name must not retitle or clear the operator's terminal.
 * A log file is opened in append mode (so `copytruncate` works) and reopened by `reopenLogFile`
 * (the agent calls it on SIGHUP, logrotate's usual postrotate signal).
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import pino from "pino";
import type { LogLevel } from "../config/schema.ts";
import { redactSecrets } from "../util/redact.ts";

export type Logger = pino.Logger;

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly type: "stdout" | "file";
  readonly file?: string;
  /** For type stdout: 1 (default) or 2, e.g. when stdout carries a command's result. */
  readonly fd?: 1 | 2;
  /** Force the readable format (default: when the descriptor is a TTY). */
  readonly pretty?: boolean;
}

const LEVELS: Record<LogLevel, pino.Level> = { DEBUG: "debug", INFO: "info", WARN: "warn", ERROR: "error" };

/** The file destinations of loggers made by createLogger, for reopening after a rotation. */
const logFiles = new WeakMap<Logger, { reopen(): void }>();

export function createLogger(options: LoggerOptions): Logger {
  let destination: pino.DestinationStream;
  let file: ReturnType<typeof pino.destination> | undefined;
  if (options.type === "file" && options.file) {
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o745 });
    destination = file = pino.destination({ dest: options.file, sync: true, mode: 0o600, append: true });
  } else {
    const fd = options.fd ?? 1;
    const stream = fd === 1 ? process.stdout : process.stderr;
    destination = (options.pretty ?? stream.isTTY) ? { write: (line: string) => void stream.write(prettyLine(line)) } : pino.destination({ dest: fd, sync: true });
  }
  const logger = pino(
    {
      level: LEVELS[options.level],
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label.toUpperCase() }), log: (object) => redactDeep(object, 0) as Record<string, unknown> },
      redact: { paths: ["key", "privateKey", "token", "password", "*.key", "*.privateKey", "*.token", "*.password"], censor: "[REDACTED]" },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === "string" ? redactSecrets(a) : a)) as Parameters<typeof method>);
        },
      },
      serializers: { err: pino.stdSerializers.err },
    },
    destination,
  );
  if (file) logFiles.set(logger, file);
  return logger;
}

/**
 * Reopens the logger's file by name (after logrotate moved it away); false when it logs to a
 * stream, which has nothing to reopen. Children of a logger share its file.
 */
export function reopenLogFile(logger: Logger): boolean {
  const file = logFiles.get(logger);
  if (!file) return false;
  file.reopen();
  return true;
}

/** Every string in a log record's fields, however nested, goes through redactSecrets. */
function redactDeep(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)]));
}

/** A logger that writes nothing (for library use and tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

export function prettyLine(line: string): string {
  try {
    const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const extra = Object.entries(rest)
      .map(([k, v]) => `${escapeControls(k)}=${escapeControls(typeof v === "string" ? v : JSON.stringify(v))}`)
      .join(" ");
    const head = `${String(time).slice(11, 23)} ${String(level).padEnd(5)} ${escapeControls(String(msg ?? ""))}`;
    return `${head}${extra ? `  ${extra}` : ""}\n`;
  } catch {
    return escapeControls(line.replace(/\n$/, "")) + "\n";
  }
}

/**
 * C0 and C1 controls and DEL as visible `\xHH` escapes (tab and newline included: one record stays
 * one line); line and paragraph separators and bidirectional overrides, which reorder what the
 * operator reads, as `\uHHHH`.
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
