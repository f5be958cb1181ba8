/**
 * Wire messages of the Jobs device MQTT API as TypeBox schemas [JOBS-API-payloads], and `decode`,
 * whose result type follows from the schema. Requests are strict (the service and the test peer
 * refuse what AWS refuses, with the same code); responses are lenient (the agent reads what it
 * needs and tolerates what a newer service adds). The only TypeBox import of the project.
 */
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { type ValueError, ValueErrorType } from "@sinclair/typebox/errors";
import { DETAILS_KEY_PATTERN, DETAILS_VALUE_PATTERN } from "./ids.ts";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "./json-depth.ts";
import {
  CANCEL_STEP_TIMER,
  MAX_CLIENT_TOKEN_CHARS,
  MAX_STATUS_DETAIL_VALUE_CHARS,
  MAX_STATUS_DETAILS_ENTRIES,
  MAX_TIMEOUT_MINUTES,
  MIN_TIMEOUT_MINUTES,
} from "./limits.ts";
import { DEVICE_SETTABLE_STATUSES, JOB_EXECUTION_STATUSES, type JobExecutionStatus as Status } from "./statuses.ts";
import { type JobsRequestKind, parseJobsTopic } from "./topics.ts";

const literals = <T extends string>(values: readonly T[], description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  );

export const JobExecutionStatus = literals(
  JOB_EXECUTION_STATUSES,
  `must be one of ${JOB_EXECUTION_STATUSES.join(", ")}`,
);
export type JobExecutionStatus = Status;

// ---- request fields ---------------------------------------------------------------------------

export const ClientToken = Type.String({
  maxLength: MAX_CLIENT_TOKEN_CHARS,
  description: `must be a string of at most ${MAX_CLIENT_TOKEN_CHARS} characters`,
});

/** Strict: what a device may send (DetailsMap of botocore iot-jobs-data). */
export const StatusDetailsRequest = Type.Record(
  Type.RegExp(DETAILS_KEY_PATTERN),
  Type.RegExp(DETAILS_VALUE_PATTERN, {
    minLength: 1,
    maxLength: MAX_STATUS_DETAIL_VALUE_CHARS,
    description:
      `must be a string of 1-${MAX_STATUS_DETAIL_VALUE_CHARS} characters ` +
      "without control characters (\\n and \\t are allowed)",
  }),
  {
    additionalProperties: false,
    maxProperties: MAX_STATUS_DETAILS_ENTRIES,
    description:
      `must be an object of at most ${MAX_STATUS_DETAILS_ENTRIES} entries, ` +
      "keys of 1-128 characters of [a-zA-Z0-9:_-], string values",
  },
);

const timeoutRange = `between ${MIN_TIMEOUT_MINUTES} and ${MAX_TIMEOUT_MINUTES}`;
const StepTimeout = Type.Integer({
  minimum: MIN_TIMEOUT_MINUTES,
  maximum: MAX_TIMEOUT_MINUTES,
  description: `must be an integer ${timeoutRange}`,
});
const StepTimeoutOrCancel = Type.Union([Type.Literal(CANCEL_STEP_TIMER), StepTimeout], {
  description: `must be an integer ${timeoutRange}, or ${CANCEL_STEP_TIMER} to cancel the step timer`,
});
const Long = Type.Integer({ description: "must be an integer" });
const Bool = Type.Boolean({ description: "must be a boolean" });
const opt = Type.Optional;

// ---- requests ---------------------------------------------------------------------------------

/** `…/jobs/get`. */
export const GetPendingJobExecutionsRequest = Type.Object({ clientToken: opt(ClientToken) });
export type GetPendingJobExecutionsRequest = Static<typeof GetPendingJobExecutionsRequest>;

/** `…/jobs/start-next`. */
export const StartNextRequest = Type.Object({
  statusDetails: opt(StatusDetailsRequest),
  stepTimeoutInMinutes: opt(StepTimeout),
  clientToken: opt(ClientToken),
});
export type StartNextRequest = Static<typeof StartNextRequest>;

/** `…/jobs/<jobId|$next>/get`. */
export const DescribeJobExecutionRequest = Type.Object({
  executionNumber: opt(Long),
  includeJobDocument: opt(Bool),
  clientToken: opt(ClientToken),
});
export type DescribeJobExecutionRequest = Static<typeof DescribeJobExecutionRequest>;

/** `…/jobs/<jobId>/update`. */
export const UpdateJobExecutionRequest = Type.Object({
  status: literals(
    DEVICE_SETTABLE_STATUSES,
    `must be one of ${DEVICE_SETTABLE_STATUSES.join(", ")} (the others are set by the service)`,
  ),
  statusDetails: opt(StatusDetailsRequest),
  expectedVersion: opt(Long),
  executionNumber: opt(Long),
  includeJobExecutionState: opt(Bool),
  includeJobDocument: opt(Bool),
  stepTimeoutInMinutes: opt(StepTimeoutOrCancel),
  clientToken: opt(ClientToken),
});
export type UpdateJobExecutionRequest = Static<typeof UpdateJobExecutionRequest>;

// ---- responses and pushes (lenient) -----------------------------------------------------------

export const StatusDetails = Type.Record(Type.String(), Type.String());
export type StatusDetails = Record<string, string>;

export const JobExecution = Type.Object({
  jobId: Type.String(),
  thingName: Type.Optional(Type.String()),
  jobDocument: Type.Optional(Type.Unknown()),
  status: Type.Optional(Type.String()),
  statusDetails: Type.Optional(StatusDetails),
  queuedAt: Type.Optional(Type.Number()),
  startedAt: Type.Optional(Type.Number()),
  lastUpdatedAt: Type.Optional(Type.Number()),
  versionNumber: Type.Optional(Type.Number()),
  executionNumber: Type.Optional(Type.Number()),
});
export type JobExecution = Static<typeof JobExecution>;

/** start-next/accepted, `{jobId}/get/accepted` and notify-next share this shape. */
export const ExecutionResponse = Type.Object({
  execution: Type.Optional(JobExecution),
  timestamp: Type.Optional(Type.Number()),
  clientToken: Type.Optional(Type.String()),
});
export type ExecutionResponse = Static<typeof ExecutionResponse>;

export const JobExecutionState = Type.Object({
  status: Type.Optional(Type.String()),
  statusDetails: Type.Optional(StatusDetails),
  versionNumber: Type.Optional(Type.Number()),
});
export type JobExecutionState = Static<typeof JobExecutionState>;

/** The `code` of a rejection [DG-err]. */
export const REJECTED_ERROR_CODES = [
  "InvalidTopic",
  "InvalidJson",
  "InvalidRequest",
  "InvalidStateTransition",
  "ResourceNotFound",
  "VersionMismatch",
  "InternalError",
  "RequestThrottled",
  "TerminalStateReached",
] as const;
export type RejectedErrorCode = (typeof REJECTED_ERROR_CODES)[number];

export const RejectedResponse = Type.Object({
  code: Type.String(),
  message: Type.Optional(Type.String()),
  clientToken: Type.Optional(Type.String()),
  timestamp: Type.Optional(Type.Number()),
  executionState: Type.Optional(JobExecutionState),
});
export type RejectedResponse = Static<typeof RejectedResponse>;

export const UpdateAcceptedResponse = Type.Object({
  clientToken: Type.Optional(Type.String()),
  timestamp: Type.Optional(Type.Number()),
  executionState: Type.Optional(Type.Unknown()),
  jobDocument: Type.Optional(Type.Unknown()),
});
export type UpdateAcceptedResponse = Static<typeof UpdateAcceptedResponse>;

// ---- decoding ---------------------------------------------------------------------------------

export type Decoded<T extends TSchema> = { ok: true; value: Static<T> } | { ok: false; path: string; message: string };

/** Checks a value against a schema. Never throws; the failure names the first wrong field. */
export function decode<T extends TSchema>(schema: T, value: unknown): Decoded<T> {
  const checker = checkerFor(schema);
  if (checker.Check(value)) return { ok: true, value: value as Static<T> };
  const first = checker.Errors(value).First();
  const path = first
    ? first.path
        .split("/")
        .slice(1)
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
        .join(".")
    : "";
  return { ok: false, path, message: first ? issueText(path, first) : "The payload does not match the message schema" };
}

function issueText(path: string, error: ValueError): string {
  if (path === "")
    return error.type === ValueErrorType.Object ? "The payload must be a JSON object" : `The payload ${error.message}`;
  if (error.type === ValueErrorType.ObjectRequiredProperty) return `${path} is required`;
  const description = (error.schema as { description?: unknown }).description;
  const rule = typeof description === "string" ? description : error.message;
  if (error.type === ValueErrorType.ObjectAdditionalProperties) {
    // A key outside the record's key pattern: the error names the key, the schema is the record's.
    const at = path.lastIndexOf(".");
    const [record, key] = [path.slice(0, at), path.slice(at + 1)];
    return `${record} key ${JSON.stringify(key.slice(0, 140))} is not allowed: ${record} ${rule}`;
  }
  return `${path} ${rule}`;
}

/**
 * Decodes a JSON payload against a schema; undefined for bad JSON or a shape that does not match.
 * Never throws: payloads come from the network. The result type follows from the schema; an
 * explicit type argument (`decodeMessage<ExecutionResponse>(ExecutionResponse, …)`) still works.
 */
export function decodeMessage<R = never, T extends TSchema = TSchema>(
  schema: T,
  payload: Uint8Array | string,
): ([R] extends [never] ? Static<T> : R) | undefined {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === "string" ? payload : new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
  return checkerFor(schema).Check(value) ? (value as [R] extends [never] ? Static<T> : R) : undefined;
}

// Compiled once per schema, on first use: faster than Value.Check and ~1 MB less RSS than the
// Value module; the agent compiles only the three response schemas it reads.
const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();
function checkerFor(schema: TSchema): TypeCheck<TSchema> {
  let checker = checkers.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    checkers.set(schema, checker);
  }
  return checker;
}

// ---- Jobs requests, topic to typed body -------------------------------------------------------

export type JobsRequest =
  | { readonly kind: "get"; readonly thing: string; readonly body: GetPendingJobExecutionsRequest }
  | { readonly kind: "start-next"; readonly thing: string; readonly body: StartNextRequest }
  | {
      readonly kind: "describe";
      readonly thing: string;
      readonly jobId: string;
      readonly body: DescribeJobExecutionRequest;
    }
  | {
      readonly kind: "update";
      readonly thing: string;
      readonly jobId: string;
      readonly body: UpdateJobExecutionRequest;
    };

export type JobsRequestResult =
  | { readonly ok: true; readonly request: JobsRequest }
  | {
      readonly ok: false;
      readonly code: "InvalidTopic" | "InvalidJson" | "InvalidRequest";
      readonly message: string;
      /** Echoed in the rejection when the payload carried a usable one. */
      readonly clientToken?: string;
    };

export const REQUEST_SCHEMAS = {
  get: GetPendingJobExecutionsRequest,
  "start-next": StartNextRequest,
  describe: DescribeJobExecutionRequest,
  update: UpdateJobExecutionRequest,
} as const satisfies Record<JobsRequestKind, TSchema>;

/**
 * A publish on a Jobs topic → the typed request, or the rejection AWS gives: InvalidTopic (not a
 * request topic), InvalidJson (not UTF-8 JSON), InvalidRequest (the first field that breaks the
 * rules). An empty payload is an empty request. Never throws.
 */
export function decodeJobsRequest(topic: string, payload: Uint8Array | string): JobsRequestResult {
  const parsed = parseJobsTopic(topic);
  const t = parsed?.topic;
  if (!parsed || !t || t.kind === "notify" || t.kind === "notify-next" || t.reply) {
    return { ok: false, code: "InvalidTopic", message: `Topic ${topic} is not a Jobs API request topic` };
  }
  let body: unknown;
  try {
    const text = typeof payload === "string" ? payload : new TextDecoder("utf-8", { fatal: true }).decode(payload);
    if (nestsDeeperThan(text)) {
      return { ok: false, code: "InvalidRequest", message: `The payload nests deeper than ${MAX_JSON_DEPTH} levels` };
    }
    body = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    return { ok: false, code: "InvalidJson", message: "The payload is not valid UTF-8 JSON" };
  }
  const decoded = decode(REQUEST_SCHEMAS[t.kind], body);
  if (!decoded.ok)
    return { ok: false, code: "InvalidRequest", message: decoded.message, clientToken: clientTokenOf(body) };
  const thing = parsed.thing;
  switch (t.kind) {
    case "get":
      return { ok: true, request: { kind: t.kind, thing, body: decoded.value as GetPendingJobExecutionsRequest } };
    case "start-next":
      return { ok: true, request: { kind: t.kind, thing, body: decoded.value as StartNextRequest } };
    case "describe":
      return {
        ok: true,
        request: { kind: t.kind, thing, jobId: t.jobId, body: decoded.value as DescribeJobExecutionRequest },
      };
    case "update":
      return {
        ok: true,
        request: { kind: t.kind, thing, jobId: t.jobId, body: decoded.value as UpdateJobExecutionRequest },
      };
  }
}

/** The clientToken of a payload that failed to decode, if it is one that may be echoed. */
export function clientTokenOf(body: unknown): string | undefined {
  if (body === null || typeof body !== "object") return undefined;
  const token = (body as { clientToken?: unknown }).clientToken;
  return decode(ClientToken, token).ok ? (token as string) : undefined;
}

// ---- replies ----------------------------------------------------------------------------------

/** An accepted reply: the fields, then `timestamp` (epoch seconds) and the echoed `clientToken`. */
export function acceptedPayload(
  fields: object,
  timestamp: number,
  clientToken: string | undefined,
): Record<string, unknown> {
  return { ...fields, timestamp, ...(clientToken !== undefined ? { clientToken } : {}) };
}

/** A rejection [DG-err]; `executionState` only for InvalidStateTransition and VersionMismatch. */
export function rejectedPayload(
  code: RejectedErrorCode,
  message: string,
  timestamp: number,
  clientToken: string | undefined,
  executionState?: object,
): Record<string, unknown> {
  return {
    code,
    message,
    ...(clientToken !== undefined ? { clientToken } : {}),
    timestamp,
    ...(executionState ? { executionState } : {}),
  };
}
