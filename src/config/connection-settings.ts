/**
 * What the agent needs to connect, checked before it does [DC-CONFIG-required]: endpoint and thing
 * name always; certificate and key unless the endpoint is plain `mqtt://`. Credential files must
 * be "no more open than" the Device Client's modes: the key unreadable by group and others, the
 * certificate and CA not writable by them, all owned by the agent's user or root.
 */
import { type Stats, statSync } from "node:fs";
import { THING_NAME_PATTERN, THING_NAME_RULE } from "../protocol/ids.ts";
import type { HttpProxy } from "./http-proxy-config.ts";
import type { AgentConfig } from "./schema.ts";

export interface Endpoint {
  readonly protocol: "mqtt" | "mqtts";
  readonly host: string;
  readonly port: number;
  /** ALPN for AWS IoT on 443. */
  readonly alpn: string | undefined;
  /** A bare host name: AWS IoT Core, which needs mutual TLS. */
  readonly mutualTlsRequired: boolean;
}

export interface ConnectionSettings {
  readonly endpoint: Endpoint;
  readonly thingName: string;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly rootCa: string | undefined;
  /** Tunnel MQTT through this HTTP proxy. */
  readonly proxy?: HttpProxy;
}

export type SettingsResult = { ok: true; settings: ConnectionSettings } | { ok: false; message: string };

/** `mqtt://h:p`, `mqtts://h:p`, `host`, or `host:port`; a bare host is AWS IoT Core on 8883. */
export function parseEndpoint(endpoint: string): Endpoint | undefined {
  const url = /^(mqtts?):\/\/([^/:]+|\[[^\]]+\])(?::(\d+))?\/?$/.exec(endpoint);
  if (url) {
    const protocol = url[1] as "mqtt" | "mqtts";
    const port = url[3] ? Number(url[3]) : protocol === "mqtt" ? 1883 : 8883;
    return port > 0 && port < 65536
      ? { protocol, host: url[2]!, port, alpn: undefined, mutualTlsRequired: false }
      : undefined;
  }
  const bare = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(endpoint);
  if (!bare) return undefined;
  const port = bare[2] ? Number(bare[2]) : 8883;
  if (!(port > 0 && port < 65536)) return undefined;
  return {
    protocol: "mqtts",
    host: bare[1]!,
    port,
    alpn: port === 443 ? "x-amzn-mqtt-ca" : undefined,
    mutualTlsRequired: true,
  };
}

export function connectionSettings(config: AgentConfig, euid: number): SettingsResult {
  const where = config.source
    ? ` (config file ${config.source}, or the flag)`
    : " (set it with the flag or in the config file)";
  if (!config.endpoint) return { ok: false, message: `Endpoint is missing: give --endpoint${where}` };
  if (!config.thingName) return { ok: false, message: `Thing name is missing: give --thing-name${where}` };
  if (!THING_NAME_PATTERN.test(config.thingName))
    return { ok: false, message: `Thing name ${JSON.stringify(config.thingName)} is not valid: ${THING_NAME_RULE}` };
  const endpoint = parseEndpoint(config.endpoint);
  if (!endpoint)
    return {
      ok: false,
      message: `Endpoint ${JSON.stringify(config.endpoint)} is not a host name, host:port, mqtt://host:port or mqtts://host:port`,
    };
  if (endpoint.mutualTlsRequired) {
    if (!config.cert) return { ok: false, message: `Certificate is missing: give --cert${where}` };
    if (!config.key) return { ok: false, message: `Private Key is missing: give --key${where}` };
  }
  if (Boolean(config.cert) !== Boolean(config.key) && endpoint.protocol === "mqtts")
    return { ok: false, message: "Give both --cert and --key for mutual TLS, or neither" };
  for (const [what, file, forbidden, mode] of [
    ["Private key", config.key, 0o077, "600"],
    ["Certificate", config.cert, 0o022, "644"],
    ["Root CA", config.rootCa, 0o022, "644"],
  ] as const) {
    if (!file || endpoint.protocol === "mqtt") continue;
    const problem = credentialProblem(file, forbidden, euid);
    if (problem) {
      return { ok: false, message: `${what} ${file} ${problem.text}; ${credentialHint(problem.kind, file, mode)}` };
    }
  }
  return {
    ok: true,
    settings: {
      endpoint,
      thingName: config.thingName,
      cert: config.cert,
      key: config.key,
      rootCa: config.rootCa,
      ...(config.httpProxy ? { proxy: config.httpProxy } : {}),
    },
  };
}

type CredentialProblem = { kind: "missing" | "unreadable" | "not-a-file" | "owner" | "mode"; text: string };

function credentialProblem(file: string, forbidden: number, euid: number): CredentialProblem | undefined {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing", text: "does not exist" };
    return { kind: "unreadable", text: `cannot be read (${code ?? "error"})` };
  }
  if (!st.isFile()) return { kind: "not-a-file", text: "is not a file" };
  if (st.uid !== euid && st.uid !== 0 && euid !== 0) {
    return { kind: "owner", text: `is owned by uid ${st.uid}, not by the agent's user or root` };
  }
  const mode = st.mode & 0o777;
  if ((mode & forbidden) !== 0) {
    return { kind: "mode", text: `has permissions ${mode.toString(8).padStart(3, "0")}, which are too open` };
  }
  return undefined;
}

/** The fix that fits the problem: a chmod only fixes permissions. */
function credentialHint(kind: CredentialProblem["kind"], file: string, mode: string): string {
  switch (kind) {
    case "missing":
      return "check the path (--cert, --key, --root-ca or the config file), or copy the file there";
    case "unreadable":
      return `check the permissions of ${file} and of its directories`;
    case "not-a-file":
      return "give the path of the file itself";
    case "owner":
      return `run: chown root ${file} (or the agent's user)`;
    case "mode":
      return `run: chmod ${mode} ${file}`;
  }
}
