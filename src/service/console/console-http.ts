/**
 * Everything under `/console`: the page and its assets (embedded, assets.ts), the read-only views
 * (`/console/api/…`, console-api.ts) and the live events (`/console/events`, events.ts). Only GET
 * and HEAD: the console changes state through the AWS REST operations, where request-guard.ts
 * applies its Origin and Content-Type rules like for any other caller. The same Host rule as the
 * API holds here (DNS rebinding), and the page may not be framed (clickjacking of Cancel).
 */
import { httpError, ServiceError } from "../errors.ts";
import { checkHost } from "../http/request-guard.ts";
import { ASSETS } from "./assets.ts";
import type { ConsoleEvents } from "./events.ts";

export const CONSOLE_PREFIX = "/console";

const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export const isConsolePath = (pathname: string) =>
  pathname === CONSOLE_PREFIX || pathname.startsWith(`${CONSOLE_PREFIX}/`);

export class ConsoleHttp {
  constructor(
    private readonly api: (path: string, query: URLSearchParams) => unknown,
    private readonly events: ConsoleEvents,
    private readonly hostNames: readonly string[],
  ) {}

  handle(request: Request, url: URL): Response {
    try {
      checkHost(request.headers.get("host"), this.hostNames);
      if (request.method !== "GET" && request.method !== "HEAD")
        throw new ServiceError("MethodNotAllowed", `${request.method} is not allowed on the console (it only reads)`);
      const path = url.pathname.slice(CONSOLE_PREFIX.length).replace(/\/$/, "");
      if (path === "/events") {
        const stream = this.events.open();
        if (!stream) throw new ServiceError("Throttling", "Too many consoles are open; close one and reload");
        return stream;
      }
      if (path.startsWith("/api/")) return json(200, this.api(path.slice(4), url.searchParams));
      const asset = ASSETS.get(path);
      if (!asset) throw new ServiceError("ResourceNotFound", `No console file ${path.slice(0, 200)}`);
      return new Response(asset.body, {
        headers: { "content-type": asset.type, "cache-control": "no-cache", ...PAGE_HEADERS },
      });
    } catch (error) {
      const e =
        error instanceof ServiceError
          ? error
          : new ServiceError("InternalFailure", `Internal failure: ${(error as Error).message}`);
      const { status, type, message } = httpError(e);
      return json(status, { message }, { "x-amzn-ErrorType": type });
    }
  }
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...PAGE_HEADERS, ...headers },
  });
}
