/**
 * Logging: JSON lines in pino's format (`{"level":"INFO","time":"…",<bindings>,<fields>,"msg":"…"}`,
 * `err` serialized as pino's stdSerializers.err does), human-readable when the descriptor is a
 * terminal. Written here rather than with pino itself: pino's Node.js build (streams, worker
 * threads, diagnostics channels) cost the idle agent ~13 MB of RSS for the five methods it uses
 * (docs/BENCHMARKS.md). The API is pino's subset the project calls — `info(obj?, msg?)` and
 * the other levels, `child`, `bindings`, `isLevelEnabled` — so a caller cannot tell.
 *
 * Secrets never reach a log line: known secret fields (`key`, `privateKey`, `token`, `password`,
 * at the top or one level down) are censored and every string passes through redactSecrets
 * (pre-signed URL signatures, tokens, PEM private keys), error messages and stacks included.
 * The readable format escapes control characters: job documents come from the cloud, and an
 * ESC sequence in a step name must not retitle or clear the operator's terminal.
 *
 * Lines are written synchronously through Bun's native file sinks (no node:stream). A log file is
 * opened in append mode (so `copytruncate` works) and reopened by `reopenLogFile` (the agent calls
 * it on SIGHUP, logrotate's usual postrotate signal).
 */
import { closeSync, mkdirSync, openSync, readlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { LogLevel } from "../config/schema.ts";
import { platform } from "../platform/current.ts";
import { REDACTED, redactSecrets } from "../util/redact.ts";

export type LevelName = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
type LogFn = {
  (msg: string): void;
  (obj: object, msg?: string): void;
};

export interface Logger {
  readonly level: LevelName | "silent";
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  bindings(): Record<string, unknown>;
  isLevelEnabled(level: LevelName): boolean;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly type: "stdout" | "file";
  readonly file?: string;
  /** For type stdout: 1 (default) or 2, e.g. when stdout carries a command's result. */
  readonly fd?: 1 | 2;
  /** Force the readable format (default: when the descriptor is a TTY). */
  readonly pretty?: boolean;
}

/** pino's numbers: a logger writes levels at or above its own. */
const VALUES: Record<LevelName | "silent", number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};
const LEVELS: Record<LogLevel, LevelName> = { DEBUG: "debug", INFO: "info", WARN: "warn", ERROR: "error" };
const SECRET_KEYS = new Set(["key", "privateKey", "token", "password"]);

/** Where lines go: one line at a time, whole. */
interface Destination {
  write(line: string): void;
  reopen?(): void;
}

/**
 * Where a logger made by createLogger keeps its file destination, for reopening after a rotation.
 * A registered symbol rather than a module-level map: Bun 1.4.5's bundler emits this module's
 * state twice in the Node build (createLogger and reopenLogFile then saw two different maps).
 */
const LOG_FILE = Symbol.for("iot-jobs-agent.log-file");
type WithFile = { [LOG_FILE]?: Destination };

export function createLogger(options: LoggerOptions): Logger {
  let destination: Destination;
  if (options.type === "file" && options.file) {
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o745 });
    destination = fileDestination(options.file);
  } else {
    const fd = options.fd ?? 1;
    const sink = platform.fdWriter(fd);
    const pretty = options.pretty ?? isTerminal(fd);
    destination = { write: (line) => sink.write(pretty ? prettyLine(line) : line) };
  }
  const logger = new JsonLogger(VALUES[LEVELS[options.level]], LEVELS[options.level], destination, "", {});
  if (destination.reopen) (logger as unknown as WithFile)[LOG_FILE] = destination;
  return logger;
}

/**
 * Reopens the logger's file by name (after logrotate moved it away); false when it logs to a
 * stream, which has nothing to reopen. Children of a logger share its file.
 */
export function reopenLogFile(logger: Logger): boolean {
  const file = (logger as unknown as WithFile)[LOG_FILE];
  if (!file?.reopen) return false;
  file.reopen();
  return true;
}

/** A logger that writes nothing (for library use and tests). */
export function silentLogger(): Logger {
  return new JsonLogger(Infinity, "silent", { write() {} }, "", {});
}

class JsonLogger implements Logger {
  constructor(
    private readonly threshold: number,
    readonly level: LevelName | "silent",
    private readonly destination: Destination,
    /** `,"k":v` for each binding, as pino keeps them. */
    private readonly chindings: string,
    private readonly bound: Record<string, unknown>,
  ) {}

  fatal: LogFn = (a: object | string, b?: string) => this.write(60, "FATAL", a, b);
  error: LogFn = (a: object | string, b?: string) => this.write(50, "ERROR", a, b);
  warn: LogFn = (a: object | string, b?: string) => this.write(40, "WARN", a, b);
  info: LogFn = (a: object | string, b?: string) => this.write(30, "INFO", a, b);
  debug: LogFn = (a: object | string, b?: string) => this.write(20, "DEBUG", a, b);
  trace: LogFn = (a: object | string, b?: string) => this.write(10, "TRACE", a, b);

  child(bindings: Record<string, unknown>): Logger {
    let chindings = this.chindings;
    for (const [k, v] of Object.entries(bindings)) {
      const json = stringifyValue(redactDeep(v, 0));
      if (json !== undefined) chindings += `,${JSON.stringify(k)}:${json}`;
    }
    return new JsonLogger(this.threshold, this.level, this.destination, chindings, { ...this.bound, ...bindings });
  }

  bindings(): Record<string, unknown> {
    return { ...this.bound };
  }

  isLevelEnabled(level: LevelName): boolean {
    return VALUES[level] >= this.threshold;
  }

  private write(value: number, label: string, a: object | string, b: string | undefined): void {
    if (value < this.threshold) return;
    let fields: object | undefined;
    let msg: string | undefined;
    if (typeof a === "string") msg = a;
    else if (a instanceof Error) {
      fields = { err: a };
      msg = b ?? a.message;
    } else {
      fields = a;
      // pino: an `err` field without a message lends its message.
      const err = (a as { err?: unknown }).err;
      msg = b ?? (err instanceof Error ? err.message : undefined);
    }
    let line = `{"level":"${label}","time":"${new Date().toISOString()}"${this.chindings}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        const json = stringifyValue(k === "err" ? serializeError(v) : SECRET_KEYS.has(k) ? REDACTED : redactDeep(v, 1));
        if (json !== undefined) line += `,${JSON.stringify(k)}:${json}`;
      }
    }
    if (msg !== undefined) line += `,"msg":${JSON.stringify(redactSecrets(String(msg)))}`;
    this.destination.write(`${line}}\n`);
  }
}

/** JSON for a field's value, or undefined to leave the field out (as pino: undefined, functions). */
function stringifyValue(value: unknown): string | undefined {
  if (value === undefined || typeof value === "function") return undefined;
  if (typeof value === "number" && !Number.isFinite(value)) return "null";
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return '"[unserializable]"';
  }
}

/**
 * Every string in a field's value, however nested, goes through redactSecrets; secret-named keys
 * one level down are censored (pino's `*.key` paths).
 */
function redactDeep(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return serializeError(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = depth === 1 && SECRET_KEYS.has(k) ? REDACTED : redactDeep(v, depth + 1);
  return out;
}

/** pino's stdSerializers.err: type, message, stack and the error's own fields; redacted. */
function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return redactDeep(value, 1);
  const out: Record<string, unknown> = {
    type: value.constructor?.name ?? "Error",
    message: redactSecrets(value.message),
  };
  if (value.stack) out.stack = redactSecrets(value.stack);
  for (const [k, v] of Object.entries(value)) {
    if (k !== "message" && k !== "stack") out[k] = SECRET_KEYS.has(k) ? REDACTED : redactDeep(v, 2);
  }
  if (value.cause !== undefined && !("cause" in out)) out.cause = serializeError(value.cause);
  return out;
}

/** Append mode and mode 600 for a new file; reopened by name after a rotation. */
function fileDestination(path: string): Destination {
  let fd = openSync(path, "a", 0o600);
  let sink = platform.fdWriter(fd);
  return {
    write: (line) => sink.write(line),
    // The directory may have gone with the rotation (or a clean-up): make it again first. A failure
    // throws before the old descriptor is closed, so logging goes on into the old file.
    reopen: () => {
      mkdirSync(dirname(path), { recursive: true, mode: 0o745 });
      const next = openSync(path, "a", 0o600);
      const old = fd;
      fd = next;
      sink = platform.fdWriter(next);
      closeSync(old);
    },
  };
}

/**
 * Whether the descriptor is a terminal, without node:tty or process.stdout (which load the Node
 * stream machinery): on Linux a terminal's /proc/self/fd link names /dev/pts/N, /dev/ttyX or /dev/console.
 */
function isTerminal(fd: number): boolean {
  try {
    return /^\/dev\/(?:pts\/|tty|console$)/.test(readlinkSync(`/proc/self/fd/${fd}`));
  } catch {
    return false;
  }
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
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point (terminal escapes)
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
