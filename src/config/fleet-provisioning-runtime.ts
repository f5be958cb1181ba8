/**
 * The Device Client's fleet-provisioning runtime config [DC-CONFIG-runtime]: after fleet
 * provisioning it writes the device's own identity to
 * `~/.aws-iot-device-client/aws-iot-device-client-runtime.conf`,
 * `{"runtime-config": {"completed-fp": true, "cert": …, "key": …, "thing-name": …}}`, and on every
 * start takes cert, key and thing name from it over the config file and the flags. The path is
 * fixed (HOME of the agent's user), whatever `--config-file` says. A device switched from the
 * Device Client after provisioning must connect as the provisioned thing, not as the claim.
 *
 * Like the Device Client: no file means fleet provisioning never ran (nothing to do); a file whose
 * `completed-fp` is not true is ignored (with a warning). Unlike it, a file that says provisioning
 * completed but cannot be used (not JSON, cert/key/thing-name missing) is fatal: the Device Client
 * then connects with the claim certificate, whose policy allows provisioning only — a device that
 * looks connected and never gets a job.
 */
import { readSmallJsonFile } from "./small-json-file.ts";

export const FP_RUNTIME_CONFIG_FILE = "~/.aws-iot-device-client/aws-iot-device-client-runtime.conf";

/** The provisioned identity; cert and key as written (the caller expands `~`). */
export interface ProvisionedIdentity {
  readonly cert: string;
  readonly key: string;
  readonly thingName: string;
  readonly source: string;
}

export type RuntimeConfigResult =
  | { ok: true; identity: ProvisionedIdentity | undefined; warnings: string[] }
  | { ok: false; message: string };

/** Reads the runtime config at `path` (already expanded); absent → no identity, no warning. */
export function loadFleetProvisioningRuntime(path: string): RuntimeConfigResult {
  const fix = "fix it, or remove it to use the config file's cert, key and thing-name";
  const file = readSmallJsonFile(path, "Fleet provisioning runtime config");
  if (!file.ok) {
    // No file: fleet provisioning never ran here.
    if (file.code === "ENOENT" || file.code === "ENOTDIR") return { ok: true, identity: undefined, warnings: [] };
    return { ok: false, message: `${file.message}; ${fix}` };
  }
  const warnings: string[] = [];
  const mode = file.stats.mode & 0o777;
  if ((mode & 0o022) !== 0)
    warnings.push(
      `Fleet provisioning runtime config ${path} is writable by group or others (${mode.toString(8)}); ` +
        `it picks the device's identity: run: chmod 640 ${path}`,
    );
  const parsed = parseRuntimeConfig(file.value, path);
  if (!parsed.ok) return { ok: false, message: `Fleet provisioning runtime config ${path}: ${parsed.message}; ${fix}` };
  if (!parsed.identity)
    warnings.push(
      `Fleet provisioning runtime config ${path} does not say "completed-fp": true; ` +
        "using the config file's cert, key and thing-name",
    );
  return { ok: true, identity: parsed.identity, warnings };
}

/** The file's content, checked: only `runtime-config` matters, as for the Device Client. */
export function parseRuntimeConfig(
  value: unknown,
  source: string,
): { ok: true; identity: ProvisionedIdentity | undefined } | { ok: false; message: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, message: "expected a JSON object" };
  const runtime = (value as Record<string, unknown>)["runtime-config"];
  if (runtime === undefined) return { ok: true, identity: undefined };
  if (typeof runtime !== "object" || runtime === null || Array.isArray(runtime))
    return { ok: false, message: "runtime-config: expected an object" };
  const r = runtime as Record<string, unknown>;
  const completed = r["completed-fp"];
  if (completed !== undefined && typeof completed !== "boolean")
    return { ok: false, message: "runtime-config.completed-fp: expected true or false" };
  if (completed !== true) return { ok: true, identity: undefined };
  const missing = ["cert", "key", "thing-name"].filter((k) => typeof r[k] !== "string" || r[k] === "");
  if (missing.length > 0)
    return {
      ok: false,
      message: `completed-fp is true but ${missing.map((k) => `runtime-config.${k}`).join(", ")} ${
        missing.length === 1 ? "is" : "are"
      } missing or empty`,
    };
  return {
    ok: true,
    identity: { cert: r.cert as string, key: r.key as string, thingName: r["thing-name"] as string, source },
  };
}
