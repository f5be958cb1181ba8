/**
 * A small router for the control-plane HTTP API: AWS REST paths with `{param}` segments, JSON in,
 * JSON out, AWS-shaped errors. Any malformed request gets a 400, never a crash.
 */
import { AwsError } from "../aws-error.ts";
import { httpError, ServiceError } from "../errors.ts";

export interface RequestContext {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  /** Parsed JSON body ({} when empty); routes added with `raw` get {} and use `raw`. */
  readonly body: Record<string, unknown>;
  readonly raw: Uint8Array;
}

export type Handler = (ctx: RequestContext) => unknown;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: string[];
  readonly handler: Handler;
  readonly raw: boolean;
}

/** Request bodies larger than this are refused (a job document is at most 32 KB). */
export const MAX_BODY_BYTES = 256 * 1024;

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler, options: { raw?: boolean } = {}): this {
    const names: string[] = [];
    const source = path
      .split("/")
      .map((segment) => {
        const m = /^\{(\w+)\}$/.exec(segment);
        if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(m[1]!);
        return "([^/]+)";
      })
      .join("/");
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler, raw: options.raw ?? false });
    return this;
  }

  async handle(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      const path = url.pathname.replace(/\/+$/, "") || "/";
      let pathMatched = false;
      for (const route of this.routes) {
        const m = route.pattern.exec(path);
        if (!m) continue;
        pathMatched = true;
        if (route.method !== request.method) continue;
        const params: Record<string, string> = {};
        route.names.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1]!)));
        const raw = await readBytes(request);
        const body = route.raw ? {} : parseBody(raw);
        const result = await route.handler({ params, query: url.searchParams, body, raw });
        return result instanceof Response ? result : json(200, result ?? {});
      }
      if (pathMatched) return error(new AwsError("MethodNotAllowedException", `${request.method} is not supported on ${path}`));
      return error(new AwsError("ResourceNotFoundException", `No API at ${request.method} ${path} in the local service`));
    } catch (e) {
      if (e instanceof AwsError) return error(e);
      if (e instanceof ServiceError) {
        const mapped = httpError(e);
        return json(mapped.status, { message: mapped.message }, { "x-amzn-ErrorType": mapped.type });
      }
      return error(new AwsError("InternalFailureException", `Internal failure: ${(e as Error).message}`));
    }
  }
}

async function readBytes(request: Request): Promise<Uint8Array> {
  const length = Number(request.headers.get("content-length") ?? "0");
  if (length > MAX_BODY_BYTES) throw new AwsError("RequestEntityTooLargeException", `The request body exceeds ${MAX_BODY_BYTES} bytes`);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.length > MAX_BODY_BYTES) throw new AwsError("RequestEntityTooLargeException", `The request body exceeds ${MAX_BODY_BYTES} bytes`);
  return bytes;
}

function parseBody(bytes: Uint8Array): Record<string, unknown> {
  if (bytes.length === 0) return {};
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new AwsError("InvalidRequestException", "The request body is not valid UTF-8");
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AwsError("InvalidRequestException", "The request body is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new AwsError("InvalidRequestException", "The request body must be a JSON object");
  return value as Record<string, unknown>;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}

export function error(e: AwsError): Response {
  return json(e.status, { message: e.message }, { "x-amzn-ErrorType": e.type });
}
