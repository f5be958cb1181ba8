/**
 * Wire messages of the Jobs device MQTT API, as TypeBox schemas [JOBS-API-payloads].
 * Shared by the agent and the local Jobs service; the only TypeBox import for Jobs messages.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";

export const JobExecutionStatus = Type.Union(
  ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"].map((s) => Type.Literal(s)),
);
export type JobExecutionStatus = "QUEUED" | "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "REJECTED" | "REMOVED" | "CANCELED";

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

export const RejectedErrorCode = Type.Union(
  [
    "InvalidTopic",
    "InvalidJson",
    "InvalidRequest",
    "InvalidStateTransition",
    "ResourceNotFound",
    "VersionMismatch",
    "InternalError",
    "RequestThrottled",
    "TerminalStateReached",
  ].map((s) => Type.Literal(s)),
);

export const RejectedResponse = Type.Object({
  code: Type.String(),
  message: Type.Optional(Type.String()),
  clientToken: Type.Optional(Type.String()),
  timestamp: Type.Optional(Type.Number()),
  executionState: Type.Optional(
    Type.Object({ status: Type.Optional(Type.String()), statusDetails: Type.Optional(StatusDetails), versionNumber: Type.Optional(Type.Number()) }),
  ),
});
export type RejectedResponse = Static<typeof RejectedResponse>;

export const UpdateAcceptedResponse = Type.Object({
  clientToken: Type.Optional(Type.String()),
  timestamp: Type.Optional(Type.Number()),
  executionState: Type.Optional(Type.Unknown()),
  jobDocument: Type.Optional(Type.Unknown()),
});
export type UpdateAcceptedResponse = Static<typeof UpdateAcceptedResponse>;

export const UpdateJobExecutionRequest = Type.Object({
  status: JobExecutionStatus,
  statusDetails: Type.Optional(StatusDetails),
  expectedVersion: Type.Optional(Type.Number()),
  executionNumber: Type.Optional(Type.Number()),
  includeJobExecutionState: Type.Optional(Type.Boolean()),
  includeJobDocument: Type.Optional(Type.Boolean()),
  stepTimeoutInMinutes: Type.Optional(Type.Number()),
  clientToken: Type.Optional(Type.String()),
});
export type UpdateJobExecutionRequest = Static<typeof UpdateJobExecutionRequest>;

export const StartNextRequest = Type.Object({
  statusDetails: Type.Optional(StatusDetails),
  stepTimeoutInMinutes: Type.Optional(Type.Number()),
  clientToken: Type.Optional(Type.String()),
});
export type StartNextRequest = Static<typeof StartNextRequest>;

/**
 * Decodes a payload against a schema; undefined for bad JSON or a shape that does not match.
 * Never throws: payloads come from the network.
 */
export function decodeMessage<T>(schema: TSchema, payload: Uint8Array | string): T | undefined {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === "string" ? payload : new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
  return checkerFor(schema).Check(value) ? (value as T) : undefined;
}

// Compiled once per schema: faster than Value.Check and ~1 MB less RSS than the Value module.
const checkers = new WeakMap<TSchema, TypeCheck<TSchema>>();
function checkerFor(schema: TSchema): TypeCheck<TSchema> {
  let checker = checkers.get(schema);
  if (!checker) checkers.set(schema, (checker = TypeCompiler.Compile(schema)));
  return checker;
}
