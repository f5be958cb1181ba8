/**
 * The configuration file of the AWS IoT Device Client, the keys this agent reads
 * [DC-CONFIG-keys]. Keys of other Device Client features (tunneling, device-defender, …) are
 * accepted and ignored, so an existing file works unchanged.
 */
import { MIN_PROGRESS_INTERVAL_SECONDS } from "../protocol/limits.ts";
import type { HttpProxy } from "./http-proxy-config.ts";
import * as v from "valibot";

const text = v.string("expected a string");
const level = v.pipe(
  text,
  v.transform((s) => s.toUpperCase()),
  v.picklist(["DEBUG", "INFO", "WARN", "ERROR"], 'expected "DEBUG", "INFO", "WARN" or "ERROR"'),
);
const logType = v.pipe(
  text,
  v.transform((s) => s.toLowerCase()),
  v.picklist(["stdout", "file"], 'expected "stdout" or "file"'),
);
const seconds = v.pipe(
  v.number("expected a number"),
  v.integer("expected a whole number"),
  v.minValue(0, "must not be negative"),
);

export const configFileSchema = v.looseObject(
  {
    endpoint: v.optional(text),
    cert: v.optional(text),
    key: v.optional(text),
    "root-ca": v.optional(text),
    "thing-name": v.optional(text),
    "state-dir": v.optional(text),
    logging: v.optional(
      v.looseObject(
        {
          level: v.optional(level),
          type: v.optional(logType),
          file: v.optional(text),
        },
        "expected an object",
      ),
    ),
    jobs: v.optional(
      v.looseObject(
        {
          enabled: v.optional(v.boolean("expected true or false")),
          "handler-directory": v.optional(text),
          "step-timeout-seconds": v.optional(seconds),
          "max-reruns": v.optional(seconds),
          "update-retry-seconds": v.optional(
            v.pipe(v.number("expected a number"), v.minValue(0.01, "must be positive")),
          ),
          "progress-interval-seconds": v.optional(
            v.pipe(
              v.number("expected a number"),
              v.minValue(
                MIN_PROGRESS_INTERVAL_SECONDS,
                `must be at least ${MIN_PROGRESS_INTERVAL_SECONDS} (the Jobs service throttles updates)`,
              ),
            ),
          ),
          "package-inventory-file": v.optional(text),
          signing: v.optional(
            v.looseObject(
              {
                "trusted-certificates": v.optional(text),
                required: v.optional(v.boolean("expected true or false")),
              },
              "expected an object",
            ),
          ),
        },
        "expected an object",
      ),
    ),
  },
  "expected a JSON object",
);

export type ConfigFile = v.InferOutput<typeof configFileSchema>;

export type LogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";

export interface SigningConfig {
  /** A PEM file, or a directory of them (certificates or public keys); undefined: none trusted. */
  readonly trustedCertificates: string | undefined;
  readonly required: boolean;
}

/** The agent's settings after file, flags and defaults are merged. */
export interface AgentConfig {
  readonly endpoint: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly rootCa: string | undefined;
  readonly thingName: string | undefined;
  readonly stateDir: string;
  readonly logging: { readonly level: LogLevel; readonly type: "stdout" | "file"; readonly file: string };
  readonly jobs: {
    readonly enabled: boolean;
    readonly handlerDirectory: string;
    /** 0 turns the step timeout off. */
    readonly stepTimeoutSeconds: number;
    /** Re-runs of one execution after the agent died during it, before it is FAILED. */
    readonly maxReruns: number;
    /** First wait for an update's reply; doubles up to 64× (the reference: 10 s to 640 s). */
    readonly updateRetrySeconds: number;
    /** At most one progress update per this many seconds (documents with reportProgress). */
    readonly progressIntervalSeconds: number;
    /** JSON file of installed package versions, reported to the `$package` shadow; undefined: off. */
    readonly packageInventoryFile: string | undefined;
    /** Code signing (src/signing): the device's trust anchors; required: artifacts must verify. */
    readonly signing: SigningConfig;
  };
  /** MQTT through this HTTP proxy (http-proxy.conf); undefined: direct. */
  readonly httpProxy?: HttpProxy;
  /** Where the config came from, for messages. */
  readonly source: string | undefined;
}

export function validateConfigFile(value: unknown): { ok: true; config: ConfigFile } | { ok: false; message: string } {
  const result = v.safeParse(configFileSchema, value);
  if (result.success) return { ok: true, config: result.output };
  const message = result.issues
    .map((issue) => {
      const path = (issue.path ?? []).map((p) => String(p.key)).join(".");
      const msg = issue.kind === "schema" && issue.received === "undefined" ? "required" : issue.message;
      return path ? `${path}: ${msg}` : msg;
    })
    .join("; ");
  return { ok: false, message };
}
