/**
 * The HTTP front of the service, driven by the AWS models: a request is matched to an operation
 * of iot, iot-data or iot-jobs-data by its method and path (the API is told by the SigV4 credential
 * scope; unsigned requests go to the first API that has a route for them, iot first), its input is
 * read from the declared locations and checked against the model, and only then does the
 * operation's handler run. Operations of the models that are not implemented here, and paths no
 * model has, answer 501 NotImplementedException naming what was asked. Errors leave as
 * `ServiceError`s rendered by `httpError()` with the status the model declares.
 */
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../protocol/json-depth.ts";
import { httpError, ServiceError } from "../errors.ts";
import { HTTP_LIMITS } from "../limits.ts";
import {
  fromText,
  inputMembers,
  invalidInput,
  MODEL,
  type OperationSpec,
  type ServiceName,
  validate,
} from "./api-model.ts";
import { NOT_IMPLEMENTED } from "./not-implemented.ts";
import { checkHost, checkWrite, signingName } from "./request-guard.ts";

/** An operation's input: members by their model names (a blob payload as its bytes). */
// biome-ignore lint/suspicious/noExplicitAny: every member is checked against the model before a handler reads it
export type Input = Record<string, any>;

export interface Operation {
  /** Input members the handler acts on. */
  readonly honours: readonly string[];
  /** Input members refused when present, with the reason (never silently dropped). */
  readonly refuses?: Readonly<Record<string, string>>;
  /** Returns the JSON output (or a Response for blob outputs). */
  readonly handle: (input: Input) => unknown;
}

export type Operations = Readonly<Record<string, Operation>>;

interface Route {
  readonly spec: OperationSpec;
  readonly pattern: RegExp;
  readonly names: string[];
  /** Literal segments: more specific routes are tried first. */
  readonly literals: number;
}

const SIGNING: Record<string, ServiceName> = Object.fromEntries(
  (Object.keys(MODEL.models) as ServiceName[]).map((s) => [MODEL.models[s].signingName, s]),
);
const ORDER: readonly ServiceName[] = ["iot", "iot-data", "iot-jobs-data"];

function compile(spec: OperationSpec): Route {
  const names: string[] = [];
  let literals = 0;
  const source = spec.uri
    .split("?")[0]!
    .split("/")
    .map((segment) => {
      const m = /^\{(\w+)(\+?)\}$/.exec(segment);
      if (!m) {
        literals++;
        return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      }
      names.push(m[1]!);
      return m[2] ? "(.+)" : "([^/]+)";
    })
    .join("/");
  return { spec, pattern: new RegExp(`^${source.replace(/\/$/, "")}$`), names, literals };
}

export interface RouterOptions {
  /** Host names besides IP literals and localhost that requests may be addressed to. */
  readonly hostNames?: readonly string[];
}

export class Router {
  private readonly routes: Map<ServiceName, Route[]>;

  constructor(
    private readonly implemented: Readonly<Record<ServiceName, Operations>>,
    private readonly options: RouterOptions = {},
  ) {
    this.routes = new Map(
      ORDER.map((s) => [
        s,
        MODEL.operations
          .filter((o) => o.service === s)
          .map(compile)
          .sort((a, b) => b.literals - a.literals),
      ]),
    );
  }

  async handle(request: Request): Promise<Response> {
    let spec: OperationSpec | undefined;
    try {
      const host = checkHost(request.headers.get("host"), this.options.hostNames ?? []);
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        throw invalidInput("The request URL is malformed");
      }
      checkWrite(request.method, request.headers, host);
      // Decoded once to refuse malformed escapes; matched encoded, so an escaped '/' stays in its segment.
      const rawPath = url.pathname.replace(/\/+$/, "").replace(/%24/gi, "$") || "/";
      for (const segment of rawPath.split("/")) decodeSegment(segment);
      const match = this.match(request.method, rawPath, signingName(request.headers, url.searchParams));
      spec = match.route.spec;
      const operation = this.implemented[spec.service][spec.name];
      if (!operation) throw notImplemented(spec);
      const params: Record<string, string> = {};
      for (const [i, name] of match.route.names.entries()) params[name] = decodeSegment(match.values[i]!);
      const raw = await readBody(request);
      const input = readInput(spec, params, url.searchParams, request.headers, raw);
      if (spec.input) validate(spec.service, spec.input, input, "");
      for (const [member, reason] of Object.entries(operation.refuses ?? {})) {
        const value = member
          .split(".")
          .reduce<unknown>((v, key) => (v !== null && typeof v === "object" ? (v as Input)[key] : undefined), input);
        if (value !== undefined && value !== null)
          throw invalidInput(`${member} is not supported by iot-jobs-local: ${reason}`);
      }
      const result = await operation.handle(input);
      return result instanceof Response ? result : json(200, result ?? {});
    } catch (e) {
      if (e instanceof ServiceError) return errorResponse(httpError(e), spec);
      return errorResponse(
        httpError(new ServiceError("InternalFailure", `Internal failure: ${(e as Error).message}`)),
        spec,
      );
    }
  }

  private match(method: string, rawPath: string, signedFor: string | undefined): { route: Route; values: string[] } {
    let services: readonly ServiceName[] = ORDER;
    if (signedFor !== undefined) {
      const service = SIGNING[signedFor];
      if (!service) {
        const served = "it serves iot, iotdata and iot-jobs-data";
        throw new ServiceError(
          "NotImplemented",
          `Requests signed for the ${signedFor} API are not served here (${served})`,
        );
      }
      services = [service];
    }
    let pathKnown = false;
    for (const service of services) {
      for (const route of this.routes.get(service)!) {
        const m = route.pattern.exec(rawPath);
        if (!m) continue;
        pathKnown = true;
        if (route.spec.method === method) return { route, values: m.slice(1) };
      }
    }
    const apis = services.join(", ");
    if (pathKnown)
      throw new ServiceError("MethodNotAllowed", `${method} is not an operation on ${rawPath} in the ${apis} API`);
    throw new ServiceError(
      "NotImplemented",
      `No operation of the ${apis} API is ${method} ${rawPath}; docs/LOCAL-SERVICE.md lists what iot-jobs-local implements`,
    );
  }
}

function notImplemented(spec: OperationSpec): ServiceError {
  const why = NOT_IMPLEMENTED[`${spec.service}:${spec.name}`];
  return new ServiceError(
    "NotImplemented",
    `${spec.name} (${spec.service}) is not implemented by iot-jobs-local${why ? `: ${why.reason}` : ""}`,
  );
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidInput(`The path segment ${JSON.stringify(segment.slice(0, 100))} has malformed percent-encoding`);
  }
}

/** Reads the body, counting while it streams: past the limit the request is refused at once. */
async function readBody(request: Request): Promise<Uint8Array> {
  const tooLarge = () =>
    new ServiceError("RequestEntityTooLarge", `The request body exceeds ${HTTP_LIMITS.maxBodyBytes} bytes`);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > HTTP_LIMITS.maxBodyBytes) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > HTTP_LIMITS.maxBodyBytes) {
      void reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw invalidInput("The request body is not valid UTF-8");
  }
  if (nestsDeeperThan(text)) throw invalidInput(`The request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  try {
    return JSON.parse(text);
  } catch {
    throw invalidInput("The request body is not valid JSON");
  }
}

/** The operation's input from the path, query string, headers and body, as the model places them. */
function readInput(
  spec: OperationSpec,
  params: Record<string, string>,
  query: URLSearchParams,
  headers: Headers,
  raw: Uint8Array,
): Input {
  const members = inputMembers(spec);
  const input: Input = {};
  const shapeOf = spec.input ? MODEL.models[spec.service].shapes[spec.input] : undefined;
  const payload = shapeOf?.type === "structure" ? shapeOf.payload : undefined;
  for (const [name, member] of Object.entries(members)) {
    const at = member.name ?? name;
    if (member.location === "uri") {
      if (params[at] !== undefined) input[name] = fromText(spec.service, member.shape, [params[at]!], name);
    } else if (member.location === "querystring") {
      const values = query.getAll(at);
      if (values.length) input[name] = fromText(spec.service, member.shape, values, name);
    } else if (member.location === "header") {
      const value = headers.get(at);
      if (value !== null) input[name] = value;
    } else if (name === payload) {
      const shape = MODEL.models[spec.service].shapes[member.shape];
      if (shape?.type === "blob") input[name] = raw.length ? raw : undefined;
      else if (raw.length) input[name] = parseJson(raw);
    }
  }
  if (!payload && raw.length) {
    const body = parseJson(raw);
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw invalidInput("The request body must be a JSON object");
    for (const [name, value] of Object.entries(body)) {
      const member = members[name];
      if (!member || member.location) {
        throw invalidInput(
          `${name} is not a body member of ${spec.name}'s input; the request is refused rather than ignored`,
        );
      }
      input[name] = value;
    }
  }
  return input;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}

/**
 * When an operation does not declare the code an error has, the closest code it declares: the
 * package catalog's operations say ValidationException where the others say
 * InvalidRequestException, and Conflict where the registry says AlreadyExists or VersionConflict.
 */
const EQUIVALENT: Record<string, readonly string[]> = {
  InvalidRequestException: ["ValidationException"],
  ValidationException: ["InvalidRequestException"],
  ResourceNotFoundException: ["ValidationException", "InvalidRequestException"],
  InternalFailureException: ["InternalServerException"],
  ResourceAlreadyExistsException: ["ConflictException"],
  VersionConflictException: ["ConflictException", "InvalidStateTransitionException"],
  ConflictException: ["ResourceAlreadyExistsException", "InvalidStateTransitionException"],
  InvalidStateTransitionException: ["ConflictException"],
  TerminalStateException: ["InvalidStateTransitionException"],
  InvalidQueryException: ["InvalidRequestException"],
};

/** The last resort by status class: a client's mistake, or ours. */
const CLIENT_FALLBACK = ["InvalidRequestException", "ValidationException"] as const;
const SERVER_FALLBACK = ["InternalFailureException", "InternalServerException", "ServiceUnavailableException"] as const;

/** Answers about the request itself, before any operation runs: kept as they are (docs/LOCAL-SERVICE.md). */
const BEYOND_THE_MODELS = new Set([
  "NotImplementedException",
  "MethodNotAllowedException",
  "RequestEntityTooLargeException",
]);

/**
 * The code an operation answers with: the error's own when declared, else its closest declared
 * equivalent, else the declared code of its status class — never a code the model does not list
 * for the operation (the SDKs would surface it as an unknown error), except the answers about the
 * request itself that the docs list beyond the models.
 */
export function declaredErrorType(type: string, status: number, declared: readonly string[]): string {
  if (declared.includes(type) || BEYOND_THE_MODELS.has(type)) return type;
  const equivalent = EQUIVALENT[type]?.find((t) => declared.includes(t));
  if (equivalent) return equivalent;
  const fallback: readonly string[] = status >= 500 ? SERVER_FALLBACK : CLIENT_FALLBACK;
  return fallback.find((t) => declared.includes(t)) ?? type;
}

/** An error in the AWS REST-JSON shape, with a code the operation declares and the model's status. */
export function errorResponse(
  error: { type: string; message: string; status?: number; details?: Readonly<Record<string, unknown>> },
  spec: OperationSpec | undefined,
): Response {
  const type = spec ? declaredErrorType(error.type, error.status ?? 400, spec.errors) : error.type;
  const status =
    (spec ? MODEL.models[spec.service].errors[type] : undefined) ??
    error.status ??
    httpError(new ServiceError("InternalFailure", "")).status;
  return json(status, { ...error.details, message: error.message }, { "x-amzn-ErrorType": type });
}
