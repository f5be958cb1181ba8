/**
 * What a request must be before any route sees it: addressed to a Host this service answers to
 * (a DNS-rebinding page sends its own name), and — for writes — neither from another web origin
 * nor in an encoding a browser may send cross-origin without a CORS preflight (text/plain and the
 * form encodings). Every AWS SDK and the CLI send a loopback or IP Host, no Origin, and JSON or
 * (for the shadow blob) octet-stream or no Content-Type at all, so they pass unchanged.
 */
import { ServiceError } from "../errors.ts";

/** Content types a page can POST cross-origin without a preflight (the CORS-safelisted ones). */
const SIMPLE_CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"];

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * The host name of a Host header this service answers to, or a ServiceError. IP literals are
 * always served (DNS rebinding needs a name), and so are `localhost` and names under it; any
 * other name only when the operator named it (`extraHostNames`).
 */
export function checkHost(host: string | null, extraHostNames: readonly string[]): string {
  if (host === null || host === "") throw new ServiceError("InvalidRequest", "The request has no Host header");
  const m = HOST.exec(host);
  if (!m)
    throw new ServiceError("InvalidRequest", `The Host header ${JSON.stringify(host.slice(0, 100))} is malformed`);
  const name = m[1]!.toLowerCase();
  const served =
    IPV4.test(name) ||
    name.startsWith("[") ||
    name === "localhost" ||
    name.endsWith(".localhost") ||
    extraHostNames.some((n) => n.toLowerCase() === name);
  if (!served) {
    throw new ServiceError(
      "InvalidRequest",
      `Host ${name} is not a name this service answers to (IP addresses, localhost, and names given with --http-host-name)`,
    );
  }
  return host;
}

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Refuses writes a web page could have sent: from another origin, or in a preflight-free encoding. */
export function checkWrite(method: string, headers: Headers, host: string): void {
  if (!WRITE_METHODS.has(method)) return;
  const origin = headers.get("origin");
  if (origin !== null && origin !== `http://${host}` && origin !== `https://${host}`) {
    throw new ServiceError(
      "Unauthorized",
      `Writes from the web origin ${JSON.stringify(origin.slice(0, 200))} are refused; only the service's own origin may write`,
    );
  }
  const type = (headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (SIMPLE_CONTENT_TYPES.includes(type)) {
    throw new ServiceError(
      "InvalidRequest",
      `Content-Type ${type} is refused for writes (a browser sends it cross-origin without a preflight); send application/json`,
    );
  }
}

/** The signing name in a SigV4 credential scope (`Credential=AKID/date/region/SERVICE/aws4_request`). */
export function signingName(headers: Headers, query: URLSearchParams): string | undefined {
  const credential =
    /Credential=([^,\s]+)/.exec(headers.get("authorization") ?? "")?.[1] ?? query.get("X-Amz-Credential") ?? undefined;
  if (credential === undefined) return undefined;
  const parts = credential.split("/");
  return parts.length === 5 ? parts[3] : undefined;
}
