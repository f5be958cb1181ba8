/**
 * Logging: JSON lines through pino, human-readable when stdout is a terminal. The only pino
 * import. Secrets never reach a log line: known secret fields are censored and every string
 * passes through redactSecrets (pre-signed URL signatures, tokens, PEM private keys).
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

export function createLogger(options: LoggerOptions): Logger {
  let destination: pino.DestinationStream;
  if (options.type === "file" && options.file) {
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o745 });
    destination = pino.destination({ dest: options.file, sync: true, mode: 0o600 });
  } else {
    const fd = options.fd ?? 1;
    const stream = fd === 1 ? process.stdout : process.stderr;
    destination = (options.pretty ?? stream.isTTY) ? { write: (line: string) => void stream.write(prettyLine(line)) } : pino.destination({ dest: fd, sync: true });
  }
  return pino(
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

function prettyLine(line: string): string {
  try {
    const { time, level, msg, ...rest } = JSON.parse(line) as Record<string, unknown>;
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(" ");
    return `${String(time).slice(11, 23)} ${String(level).padEnd(5)} ${String(msg ?? "")}${extra ? `  ${extra}` : ""}\n`;
  } catch {
    return line;
  }
}
