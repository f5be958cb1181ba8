/**
 * The Jobs device API over HTTP (iot-jobs-data): the four operations a device calls, on the same
 * engine as the MQTT API and checked by the same request schemas (src/protocol/messages.ts), so a
 * request refused on one is refused on the other with the same words.
 */
import { ServiceError } from "../../errors.ts";
import type { JobsEngine } from "../../jobs/jobs-engine.ts";
import { decode, StartNextRequest, UpdateJobExecutionRequest } from "../../../protocol/messages.ts";
import type { Fleet } from "../../registry/fleet.ts";
import type { Operations } from "../router.ts";
import { deviceExecution } from "../shapes.ts";

/** The device API's rules for a request body: the schema the MQTT API decodes with. */
function checked<T>(result: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!result.ok) throw new ServiceError("InvalidRequest", result.message);
  return result.value;
}

/** The body an MQTT request would carry: the members given. */
const bodyOf = (input: Record<string, unknown>, members: readonly string[]) =>
  Object.fromEntries(members.filter((m) => input[m] !== undefined).map((m) => [m, input[m]]));

export function jobsDataRoutes(engine: JobsEngine, fleet: Fleet): Operations {
  const thing = (name: string) => fleet.thing(name).thingName;
  return {
    GetPendingJobExecutions: {
      honours: ["thingName"],
      handle: (input) => engine.pendingLists(thing(input.thingName)),
    },
    StartNextPendingJobExecution: {
      honours: ["thingName", "statusDetails", "stepTimeoutInMinutes"],
      handle: (input) => {
        const body = checked(decode(StartNextRequest, bodyOf(input, ["statusDetails", "stepTimeoutInMinutes"])));
        const e = engine.startNext(thing(input.thingName), body.statusDetails, body.stepTimeoutInMinutes);
        return e ? { execution: deviceExecution(engine, e, true) } : {};
      },
    },
    DescribeJobExecution: {
      honours: ["jobId", "thingName", "includeJobDocument", "executionNumber"],
      handle: (input) => {
        const name = thing(input.thingName);
        // As on MQTT, the document is included unless includeJobDocument is false.
        const withDocument = input.includeJobDocument !== false;
        if (input.jobId === "$next") {
          const next = engine.pending(name)[0];
          return next ? { execution: deviceExecution(engine, next, withDocument) } : {};
        }
        const e = engine.execution(input.jobId, name, input.executionNumber);
        if (!e)
          throw new ServiceError("ResourceNotFound", `Job execution for job ${input.jobId} on thing ${name} not found`);
        return { execution: deviceExecution(engine, e, withDocument) };
      },
    },
    UpdateJobExecution: {
      honours: [
        "jobId",
        "thingName",
        "status",
        "statusDetails",
        "stepTimeoutInMinutes",
        "expectedVersion",
        "includeJobExecutionState",
        "includeJobDocument",
        "executionNumber",
      ],
      handle: (input) => {
        const members = ["status", "statusDetails", "expectedVersion", "executionNumber", "stepTimeoutInMinutes"];
        const body = checked(decode(UpdateJobExecutionRequest, bodyOf(input, members)));
        const result = engine.update(thing(input.thingName), input.jobId, body);
        // The engine fails with the service's ServiceError; a refusal of the execution's state carries
        // it, as the model says InvalidStateTransitionException's body does (so does VersionMismatch's).
        if (!result.ok) {
          const { code, message } = result.error;
          if (!result.executionState) throw result.error;
          throw new ServiceError(code, message, { executionState: result.executionState });
        }
        return {
          ...(input.includeJobExecutionState === true ? { executionState: engine.state(result.value) } : {}),
          ...(input.includeJobDocument === true
            ? { jobDocument: JSON.stringify(engine.documentObject(input.jobId)) }
            : {}),
        };
      },
    },
  };
}
