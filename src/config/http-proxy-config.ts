/**
 * The Device Client's HTTP proxy file, `http-proxy.conf`: JSON with `http-proxy-enabled`,
 * `http-proxy-host`, `http-proxy-port` (a string in the Device Client's sample, a number accepted
 * too), `http-proxy-auth-method` (`UserNameAndPassword` | `None`), `http-proxy-username`,
 * `http-proxy-password`. Read from `--http-proxy-config FILE`, else from `http-proxy.conf` beside
 * the config file (so `~/.aws-iot-device-client/http-proxy.conf` by default, as the Device Client).
 *
 * The file holds a password: like the Device Client, a file that group or others can read or write
 * is refused (run `chmod 600`). Unlike the Device Client, which takes only a private IPv4 literal,
 * the host may be any host name or address (IPv6 in brackets or bare): corporate proxies are
 * usually named (`proxy.corp.example`), and DNS is already trusted for the broker's own name.
 * A given file that is missing is an error; a missing default file means no proxy.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { readSmallJsonFile } from "./small-json-file.ts";

export const HTTP_PROXY_FILE_NAME = "http-proxy.conf";

export interface HttpProxy {
  readonly host: string;
  readonly port: number;
  /** Basic authentication; undefined for `None`. */
  readonly auth: { readonly username: string; readonly password: string } | undefined;
  /** The file it came from, for messages. */
  readonly source: string;
}

export type ProxyLoadResult = { ok: true; proxy: HttpProxy | undefined } | { ok: false; message: string };

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?|\[?[0-9A-Fa-f:.]+\]?)$/;

/** The proxy file in use: the flag's, or the one beside the config file when it exists. */
export function proxyFilePath(flagged: string | undefined, configFile: string): { path: string; given: boolean } {
  return flagged !== undefined
    ? { path: flagged, given: true }
    : { path: join(dirname(configFile), HTTP_PROXY_FILE_NAME), given: false };
}

/** Reads and checks the proxy file; `euid` for the owner check (the agent's user or root). */
export function loadHttpProxy(path: string, given: boolean, euid: number): ProxyLoadResult {
  if (!existsSync(path)) {
    return given
      ? { ok: false, message: `HTTP proxy config ${path} given with --http-proxy-config does not exist` }
      : { ok: true, proxy: undefined };
  }
  const file = readSmallJsonFile(path, "HTTP proxy config", (st) => {
    if (st.uid !== euid && st.uid !== 0 && euid !== 0)
      return `HTTP proxy config ${path} is owned by uid ${st.uid}, not by the agent's user or root; run: chown root ${path}`;
    const mode = st.mode & 0o777;
    if ((mode & 0o077) !== 0)
      return `HTTP proxy config ${path} has permissions ${mode.toString(8).padStart(3, "0")}; it may hold a password: run: chmod 600 ${path}`;
    return undefined;
  });
  if (!file.ok) return file;
  const value = file.value;
  const parsed = parseHttpProxy(value, path);
  return parsed.ok
    ? { ok: true, proxy: parsed.proxy }
    : { ok: false, message: `HTTP proxy config ${path}: ${parsed.message}` };
}

/** The file's keys, checked; never echoes the password. */
export function parseHttpProxy(value: unknown, source: string): ProxyLoadResult {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { ok: false, message: "expected a JSON object" };
  const o = value as Record<string, unknown>;
  const enabled = o["http-proxy-enabled"];
  if (enabled !== undefined && typeof enabled !== "boolean" && enabled !== "true" && enabled !== "false")
    return { ok: false, message: "http-proxy-enabled must be true or false" };
  if (enabled !== true && enabled !== "true") return { ok: true, proxy: undefined };
  const host = o["http-proxy-host"];
  if (typeof host !== "string" || !HOST.test(host))
    return { ok: false, message: "http-proxy-host must be a host name or an IP address" };
  const rawPort = o["http-proxy-port"];
  const port =
    typeof rawPort === "number"
      ? rawPort
      : typeof rawPort === "string" && /^\d{1,5}$/.test(rawPort)
        ? Number(rawPort)
        : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, message: "http-proxy-port must be a port number from 1 to 65535" };
  const method = o["http-proxy-auth-method"] ?? "None";
  if (method !== "None" && method !== "UserNameAndPassword")
    return { ok: false, message: "http-proxy-auth-method must be UserNameAndPassword or None" };
  let auth: HttpProxy["auth"];
  if (method === "UserNameAndPassword") {
    const username = o["http-proxy-username"];
    const password = o["http-proxy-password"];
    if (typeof username !== "string" || username === "" || username.includes(":"))
      return {
        ok: false,
        message: "http-proxy-username must be a non-empty string without ':' for UserNameAndPassword",
      };
    if (typeof password !== "string")
      return { ok: false, message: "http-proxy-password must be a string for UserNameAndPassword" };
    auth = { username, password };
  }
  return { ok: true, proxy: { host: host.replace(/^\[(.*)\]$/, "$1"), port, auth, source } };
}

/** host:port for messages and logs: never the credentials. */
export function describeProxy(proxy: HttpProxy): string {
  return `${proxy.host.includes(":") ? `[${proxy.host}]` : proxy.host}:${proxy.port}${proxy.auth ? ` (Basic authentication as ${proxy.auth.username})` : ""}`;
}
