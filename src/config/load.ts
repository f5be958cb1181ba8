/**
 * Builds the agent's settings: config file (≤ 5000 bytes, JSON), then command-line flags over it,
 * then defaults [DC-CONFIG-precedence]; the fleet-provisioning runtime config, when provisioning
 * completed, over both for cert, key and thing name [DC-CONFIG-runtime]. Fatal problems come back as
 * one message that names the file and the fix; nothing here exits the process.
 */
import { existsSync } from "node:fs";
import type { ParsedArgs } from "./cli-args.ts";
import { checkForeignFeatures } from "./device-client-features.ts";
import { FP_RUNTIME_CONFIG_FILE, loadFleetProvisioningRuntime } from "./fleet-provisioning-runtime.ts";
import { loadHttpProxy, proxyFilePath } from "./http-proxy-config.ts";
import { readSmallJsonFile } from "./small-json-file.ts";
import { DEFAULT_PROGRESS_INTERVAL_SECONDS } from "../protocol/limits.ts";
import { validateConfigFile, type AgentConfig, type ConfigFile, type LogLevel } from "./schema.ts";

export const DEFAULT_CONFIG_FILE = "~/.aws-iot-device-client/aws-iot-device-client.conf";
export const DEFAULT_HANDLER_DIR = "~/.aws-iot-device-client/jobs/";
export const DEFAULT_STATE_DIR = "~/.aws-iot-device-client/state/";
export const DEFAULT_LOG_FILE = "/var/log/aws-iot-device-client/aws-iot-device-client.log";
export const DEFAULT_STEP_TIMEOUT_SECONDS = 3600;

/** notices: worth one INFO line at start (where the identity came from). */
export type LoadResult =
  | { ok: true; config: AgentConfig; warnings: string[]; notices: string[] }
  | { ok: false; message: string };

/** Expands `~` and `$VAR` / `${VAR}` as the Device Client's wordexp does for paths. */
export function expandPath(path: string, env: Record<string, string | undefined> = process.env): string {
  // node:os only when HOME is unset: a static import costs the idle agent ~0.5 MB (docs/BENCHMARKS.md).
  const home = env.HOME ?? (require("node:os") as typeof import("node:os")).homedir();
  let out = path === "~" ? home : path.startsWith("~/") ? home + path.slice(1) : path;
  out = out.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, a: string, b: string) => env[a ?? b] ?? "",
  );
  return out;
}

export function defaultSettings(): ConfigFile {
  return {
    endpoint: "<replace-with-your-endpoint>",
    cert: "~/.aws-iot-device-client/certs/device.pem.crt",
    key: "~/.aws-iot-device-client/certs/private.pem.key",
    "root-ca": "~/.aws-iot-device-client/certs/AmazonRootCA1.pem",
    "thing-name": "<replace-with-your-thing-name>",
    "state-dir": DEFAULT_STATE_DIR,
    logging: { level: "INFO", type: "stdout", file: DEFAULT_LOG_FILE },
    jobs: {
      enabled: true,
      "handler-directory": DEFAULT_HANDLER_DIR,
      "step-timeout-seconds": DEFAULT_STEP_TIMEOUT_SECONDS,
      "max-reruns": 3,
    },
  };
}

export function loadConfig(args: ParsedArgs, env: Record<string, string | undefined> = process.env): LoadResult {
  const warnings: string[] = [];
  const flagged = args.values["--config-file"];
  const path = expandPath(flagged ?? DEFAULT_CONFIG_FILE, env);
  let file: ConfigFile = {};
  let source: string | undefined;
  if (flagged !== undefined && !existsSync(path))
    return { ok: false, message: `Config file ${path} given with --config-file does not exist` };
  if (existsSync(path)) {
    const read = readConfigFile(path);
    if (!read.ok) return read;
    file = read.config;
    source = path;
    warnings.push(...read.warnings);
  }

  const v = args.values;
  const enableJobs = v["--enable-jobs"];
  const levelFlag = v["--log-level"]?.toUpperCase();
  if (levelFlag !== undefined && !["DEBUG", "INFO", "WARN", "ERROR"].includes(levelFlag))
    return { ok: false, message: `--log-level ${v["--log-level"]}: expected DEBUG, INFO, WARN or ERROR` };
  const typeFlag = v["--log-type"]?.toLowerCase();
  if (typeFlag !== undefined && typeFlag !== "stdout" && typeFlag !== "file")
    return { ok: false, message: `--log-type ${v["--log-type"]}: expected stdout or file` };

  const runtime = loadFleetProvisioningRuntime(expandPath(FP_RUNTIME_CONFIG_FILE, env));
  if (!runtime.ok) return runtime;
  warnings.push(...runtime.warnings);
  const provisioned = runtime.identity;
  const notices = provisioned
    ? [
        `Using the thing name, certificate and key of fleet provisioning (${provisioned.source}), ` +
          "over the config file's and the flags', as the Device Client does",
      ]
    : [];

  const pathOf = (value: string | undefined) =>
    value === undefined || value === "" ? undefined : expandPath(value, env);
  const config: AgentConfig = {
    endpoint: v["--endpoint"] ?? file.endpoint,
    cert: pathOf(provisioned?.cert ?? v["--cert"] ?? file.cert),
    key: pathOf(provisioned?.key ?? v["--key"] ?? file.key),
    rootCa: pathOf(v["--root-ca"] ?? file["root-ca"]),
    thingName: provisioned?.thingName ?? v["--thing-name"] ?? file["thing-name"],
    stateDir: expandPath(v["--state-dir"] ?? file["state-dir"] ?? DEFAULT_STATE_DIR, env),
    logging: {
      level: (levelFlag ?? file.logging?.level ?? "INFO") as LogLevel,
      type: (typeFlag ?? file.logging?.type ?? "stdout") as "stdout" | "file",
      file: expandPath(v["--log-file"] ?? file.logging?.file ?? DEFAULT_LOG_FILE, env),
    },
    jobs: {
      // [DC-CONFIG-enable-jobs] anything but "true" on the command line disables jobs.
      enabled: enableJobs !== undefined ? enableJobs === "true" : (file.jobs?.enabled ?? true),
      handlerDirectory: expandPath(
        nonEmpty(v["--jobs-handler-dir"]) ?? nonEmpty(file.jobs?.["handler-directory"]) ?? DEFAULT_HANDLER_DIR,
        env,
      ),
      stepTimeoutSeconds: file.jobs?.["step-timeout-seconds"] ?? DEFAULT_STEP_TIMEOUT_SECONDS,
      maxReruns: file.jobs?.["max-reruns"] ?? 3,
      updateRetrySeconds: file.jobs?.["update-retry-seconds"] ?? 10,
      progressIntervalSeconds: file.jobs?.["progress-interval-seconds"] ?? DEFAULT_PROGRESS_INTERVAL_SECONDS,
      packageInventoryFile: pathOf(v["--package-inventory-file"] ?? file.jobs?.["package-inventory-file"]),
      signing: {
        trustedCertificates: pathOf(file.jobs?.signing?.["trusted-certificates"]),
        required: file.jobs?.signing?.required ?? false,
      },
    },
    source,
  };
  if (config.jobs.signing.required && !config.jobs.signing.trustedCertificates) {
    const message = "jobs.signing.required is true but jobs.signing.trusted-certificates names no file or directory";
    return { ok: false, message: `${source ?? "config"}: ${message}` };
  }
  const proxyFile = proxyFilePath(pathOf(v["--http-proxy-config"]), path);
  const proxy = loadHttpProxy(proxyFile.path, proxyFile.given, process.geteuid?.() ?? 0);
  if (!proxy.ok) return proxy;
  if (proxy.proxy) Object.assign(config, { httpProxy: proxy.proxy });
  const foreign = checkForeignFeatures(args.foreign, file, config.key);
  if (!foreign.ok) return foreign;
  warnings.push(...foreign.warnings);
  return { ok: true, config, warnings, notices };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function readConfigFile(
  path: string,
): { ok: true; config: ConfigFile; warnings: string[] } | { ok: false; message: string } {
  const file = readSmallJsonFile(path, "Config file");
  if (!file.ok) return file;
  const warnings: string[] = [];
  const mode = file.stats.mode & 0o777;
  if ((mode & 0o022) !== 0)
    warnings.push(`Config file ${path} is writable by group or others (${mode.toString(8)}); run: chmod 640 ${path}`);
  const checked = validateConfigFile(file.value);
  if (!checked.ok) return { ok: false, message: `Config file ${path}: ${checked.message}` };
  return { ok: true, config: checked.config, warnings };
}
